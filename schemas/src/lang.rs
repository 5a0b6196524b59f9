//! The language of user-facing text: Simplified Chinese first, English on request. One enum
//! for the whole workspace (the reconciler's sentences, the console, the CLI and the exports),
//! defined here because a [`crate::Finding`] carries its sentences in both languages.

use std::fmt;
use std::str::FromStr;

/// The language of user-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// 简体中文, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The value of an HTML `lang` attribute.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Picks the Chinese or the English text.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// As [`Lang::pick`], but the English when the Chinese is empty: a text stored before it
    /// had its Chinese.
    pub fn pick_stored<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh if !zh.is_empty() => zh,
            _ => en,
        }
    }
}

/// A sentence for a person in both languages: Simplified Chinese (what an operator reads by
/// default) and English (`--lang en`, the logs, the `message` of the API). Written side by
/// side where the sentence is made, with [`crate::msg!`], never looked up by its English.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Msg {
    pub zh: String,
    pub en: String,
}

impl Msg {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Msg {
        Msg {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The text in `lang`.
    pub fn pick(&self, lang: Lang) -> &str {
        lang.pick(&self.zh, &self.en)
    }

    /// "reading PATH", said first when a file or directory cannot be read (the cause, the
    /// system's reason, follows it).
    pub fn reading(path: &std::path::Path) -> Msg {
        let shown = path.display();
        crate::msg!("无法读取 {shown}", "reading {shown}")
    }

    /// Both texts put through `f` (masking, a prefix).
    pub fn map(self, f: impl Fn(&str) -> String) -> Msg {
        Msg {
            zh: f(&self.zh),
            en: f(&self.en),
        }
    }
}

/// A [`Msg`] from two format strings, Chinese first, that share their arguments:
/// `msg!("缺少期末余额 {tag}", "no closing balance {tag}")`. Positional arguments after
/// the two strings are used by both, so each must use every one.
#[macro_export]
macro_rules! msg {
    ($zh:literal, $en:literal $(,)?) => {
        $crate::Msg {
            zh: ::std::format!($zh),
            en: ::std::format!($en),
        }
    };
    ($zh:literal, $en:literal, $($arg:tt)+) => {
        $crate::Msg {
            zh: ::std::format!($zh, $($arg)+),
            en: ::std::format!($en, $($arg)+),
        }
    };
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" | "zh-hans" | "cn" | "chinese" => Ok(Lang::Zh),
            "en" | "en-us" | "en-gb" | "en_us" | "english" => Ok(Lang::En),
            other => Err(format!(
                "unknown language '{other}': use zh (简体中文) or en (English)"
            )),
        }
    }
}

/// An error whose text is written in both languages, for the command line's refusals (a
/// bad setting, a file that cannot be read). `Display` is the English (the logs, tests that
/// name a key); [`render_error`] picks the reader's language along the whole chain of causes.
#[derive(Debug)]
pub struct LocalizedError {
    pub msg: Msg,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl LocalizedError {
    pub fn new(msg: Msg) -> LocalizedError {
        LocalizedError { msg, source: None }
    }

    /// `msg`, caused by `source` (printed after it: `读取 a.toml 失败：文件不存在`).
    pub fn caused_by(
        msg: Msg,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> LocalizedError {
        LocalizedError {
            msg,
            source: Some(source.into()),
        }
    }
}

impl fmt::Display for LocalizedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg.en)
    }
}

impl std::error::Error for LocalizedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `.context(..)` in both languages: `fs::read(p).with_msg(|| msg!("读取 {p} 失败", "reading {p}"))`.
pub trait WithMsg<T> {
    /// The error, with `msg` said before it.
    fn with_msg(self, msg: impl FnOnce() -> Msg) -> Result<T, LocalizedError>;
}

impl<T, E> WithMsg<T> for Result<T, E>
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    fn with_msg(self, msg: impl FnOnce() -> Msg) -> Result<T, LocalizedError> {
        self.map_err(|e| LocalizedError::caused_by(msg(), e))
    }
}

/// An I/O error as a person reads it: the common kinds said in words (`文件或目录不存在`),
/// the system's own text kept in English only for the rest and for `--lang en`.
pub fn io_error_text(e: &std::io::Error, lang: Lang) -> String {
    use std::io::ErrorKind as K;
    if lang == Lang::En {
        return e.to_string();
    }
    let zh = match e.kind() {
        K::NotFound => "文件或目录不存在",
        K::PermissionDenied => "没有访问权限",
        K::AlreadyExists => "文件已存在",
        K::IsADirectory => "这是一个目录，不是文件",
        K::NotADirectory => "路径中有一段不是目录",
        K::DirectoryNotEmpty => "目录不是空的",
        K::ReadOnlyFilesystem => "文件系统只读",
        K::StorageFull => "磁盘空间已满",
        K::FileTooLarge => "文件太大",
        K::InvalidData => "内容无效（例如不是 UTF-8 文本）",
        K::UnexpectedEof => "文件提前结束",
        K::TimedOut => "操作超时",
        K::Interrupted => "操作被中断",
        K::ConnectionRefused => "连接被拒绝",
        K::ConnectionReset => "连接被重置",
        K::AddrInUse => "地址已被占用",
        K::AddrNotAvailable => "地址不可用",
        K::OutOfMemory => "内存不足",
        _ => return format!("输入输出错误（{e}）"),
    };
    zh.to_string()
}

/// An error and its causes on one line in `lang`, joined as anyhow's `{:#}` joins them
/// (`：` in Chinese, `: ` in English). Causes written in both languages
/// ([`LocalizedError`]) and I/O errors ([`io_error_text`]) are given in `lang`; any other
/// library's text is kept as it is.
pub fn render_error(e: &(dyn std::error::Error + 'static), lang: Lang) -> String {
    render_error_with(e, lang, &|_, _| None)
}

/// [`render_error`], with `own` asked first about each error of the chain: the errors of
/// crates this one cannot name (the store's) say themselves in `lang`. `Some(text)` is that
/// error's whole text, its causes included: the chain ends there.
pub fn render_error_with(
    e: &(dyn std::error::Error + 'static),
    lang: Lang,
    own: &dyn Fn(&(dyn std::error::Error + 'static), Lang) -> Option<String>,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(text) = own(e, lang) {
            if parts.last() != Some(&text) {
                parts.push(text);
            }
            break;
        }
        let text = if let Some(l) = e.downcast_ref::<LocalizedError>() {
            l.msg.pick(lang).to_string()
        } else if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_error_text(io, lang)
        } else {
            e.to_string()
        };
        // A wrapper that repeats its cause's text (or says nothing) adds nothing.
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(lang.pick("：", ": "))
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_unknown_ones_are_refused() {
        assert_eq!("zh-CN".parse::<Lang>().unwrap(), Lang::Zh);
        assert_eq!("EN".parse::<Lang>().unwrap(), Lang::En);
        assert_eq!("chinese".parse::<Lang>().unwrap(), Lang::Zh);
        let e = "fr".parse::<Lang>().unwrap_err();
        assert!(e.contains("fr") && e.contains("zh"), "{e}");
        assert_eq!(Lang::default(), Lang::Zh);
    }
}
