//! The store's one error type.

/// Everything the store can fail with. Callers match on the typed variants (an HTTP layer
/// maps `NotFound` to 404, `InvalidTransition` and `Invalid` to 409/422) and log the rest.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} '{id}' not found")]
    NotFound { what: &'static str, id: String },

    #[error("{what} '{id}' cannot move from {from} to {to}")]
    InvalidTransition {
        what: &'static str,
        id: String,
        from: String,
        to: String,
    },

    /// The caller passed something the store refuses (an empty reason, a limit of zero, two
    /// different bodies under one key in one batch ...).
    #[error("invalid request: {}", .0.en)]
    Invalid(schemas::Msg),

    #[error("unsupported database url '{0}': expected sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),

    #[error("cannot prepare the database folder {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// From SQLite's own interface, which the SQLite store reads fact tables through.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),

    #[error("cannot encode or decode JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// A stored value that does not parse back (a status, a code, a severity): the database
    /// was edited by hand or written by a newer version.
    #[error("stored data is not understood: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The database could not be reached or gave up on the connection (no connection within
    /// the pool's acquire timeout, a broken or refused connection, the server shutting down
    /// or out of connections): nothing was done, and the same request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                // 08: connection exception; 57P01–57P03: shutting down, cannot connect now;
                // 53300: too many connections.
                c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
            }),
            _ => false,
        }
    }

    /// The database could not write for want of space: SQLite's "database or disk is full"
    /// (`SQLITE_FULL`), PostgreSQL's `disk_full` (53100), or the system's "no space left".
    /// Temporary: the same write succeeds once space is freed.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("13") | Some("53100"))
                    || is_storage_full_message(e.message())
            }
            StoreError::Database(e) => is_storage_full_message(&e.to_string()),
            // SQLite's own interface: the row-by-row inserts and the fact reads.
            StoreError::Sqlite(e) => {
                e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
                    || is_storage_full_message(&e.to_string())
            }
            StoreError::Io { source, .. } => is_storage_full_message(&source.to_string()),
            _ => false,
        }
    }

    /// What went wrong, in `lang`, causes included: the operator's words for the store's own
    /// refusals; the database driver's own text is kept, after a Chinese head, as
    /// `（数据库原文：…）`. English is `Display`.
    pub fn localized(&self, lang: schemas::Lang) -> String {
        use schemas::Lang;
        if lang == Lang::En {
            return self.to_string();
        }
        match self {
            StoreError::NotFound { what, id } => format!("{} {id} 不存在", what_zh(what)),
            StoreError::InvalidTransition { what, id, from, to } => format!(
                "{} {id} 不能从“{}”改为“{}”",
                what_zh(what),
                status_zh(what, from),
                status_zh(what, to)
            ),
            StoreError::Invalid(m) => format!("请求无效：{}", m.zh),
            StoreError::UnsupportedUrl(url) => {
                format!("不支持的数据库地址 '{url}'：应为 sqlite://路径 或 postgres://用户@主机/库")
            }
            StoreError::Io { path, source } => format!(
                "无法准备数据库目录 {path}：{}",
                schemas::io_error_text(source, lang)
            ),
            StoreError::Database(e) if self.is_unavailable() => {
                format!("无法连接数据库，或连接中断（数据库原文：{e}）")
            }
            StoreError::Database(_) | StoreError::Sqlite(_) if self.is_storage_full() => {
                format!(
                    "数据库所在磁盘已满，未能写入（数据库原文：{}）",
                    self.source_text()
                )
            }
            StoreError::Database(_) | StoreError::Sqlite(_) => {
                format!("数据库出错（数据库原文：{}）", self.source_text())
            }
            StoreError::Migration(e) => format!("数据库结构升级失败（原文：{e}）"),
            StoreError::Json(e) => format!("JSON 编码或解码失败（原文：{e}）"),
            StoreError::Corrupt(m) => {
                format!("数据库中的数据无法识别（可能被手工修改，或由更新的版本写入）：{m}")
            }
        }
    }

    fn source_text(&self) -> String {
        match self {
            StoreError::Database(e) => e.to_string(),
            StoreError::Sqlite(e) => e.to_string(),
            other => other.to_string(),
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> StoreError {
        StoreError::NotFound {
            what,
            id: id.into(),
        }
    }
}

/// Whether an error's text says the storage is full (for errors that crossed a boundary as
/// text): see [`StoreError::is_storage_full`].
pub fn is_storage_full_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("database or disk is full")
        || m.contains("no space left on device")
        || m.contains("could not extend file")
        || m.contains("sqlstate 53100")
}

/// The store's names of things, as the operator reads them.
fn what_zh(what: &str) -> &str {
    match what {
        "file" => "文件",
        "finding" => "预警",
        "pending outbox event" => "待发送的推送事件",
        other => other,
    }
}

/// A file's or a finding's stored status in the words the console and the CLI use.
fn status_zh<'a>(what: &str, status: &'a str) -> &'a str {
    let zh = schemas::Lang::Zh;
    let label = match what {
        "file" => status
            .parse::<crate::FileStatus>()
            .ok()
            .map(|s| s.label(zh)),
        "finding" => status
            .parse::<schemas::FindingStatus>()
            .ok()
            .map(|s| s.label(zh)),
        _ => None,
    };
    label.unwrap_or(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::Lang;

    #[test]
    fn a_refused_step_names_the_thing_and_its_statuses_in_the_operators_words() {
        let step = |what, from: &str, to: &str| StoreError::InvalidTransition {
            what,
            id: "X-1".into(),
            from: from.into(),
            to: to.into(),
        };
        assert_eq!(
            step("file", "parsed", "rejected").localized(Lang::Zh),
            "文件 X-1 不能从“已解析”改为“已拒收”"
        );
        assert_eq!(
            step("finding", "resolved", "acknowledged").localized(Lang::Zh),
            "预警 X-1 不能从“已解决”改为“已确认”"
        );
        // A status the store does not know is shown as stored, never as another one.
        assert_eq!(
            step("finding", "archived", "open").localized(Lang::Zh),
            "预警 X-1 不能从“archived”改为“待处理”"
        );
        assert_eq!(
            step("file", "parsed", "rejected").localized(Lang::En),
            "file 'X-1' cannot move from parsed to rejected"
        );
    }
}
