//! The routes and handlers of the console (all under `/console`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use chrono::Utc;
use minijinja::Environment;
use schemas::{FindingCode, FindingStatus, Severity, StoredFinding};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::data::{self, PartnerInfo, ProjectInfo, SortKey, StatusFilter};
use crate::i18n::{self, Lang};
use crate::session::{self, CertificateCaller, Keys, Operator, OperatorDirectory, Via};
use crate::text;

/// What the console needs from the server.
pub struct ConsoleState {
    pub store: Arc<dyn store::Store>,
    pub directory: Arc<dyn OperatorDirectory>,
    pub default_lang: Lang,
    /// A partner with no file for this long is shown as late on the overview.
    pub late_after_hours: i64,
    pub keys: Keys,
    /// Signs evidence packs; without it the console says packs are not configured.
    pub evidence_key: Option<crate::evidence::SigningKey>,
    /// Operators who may reveal personal data in full.
    pub personal_data_viewers: Vec<String>,
    /// The reconciler's rules and calendar, for the project page's guarantee timeline.
    pub reconciler: reconciler::Config,
    pub calendar: reconciler::Calendar,
    env: Environment<'static>,
}

impl ConsoleState {
    pub fn new(
        store: Arc<dyn store::Store>,
        directory: Arc<dyn OperatorDirectory>,
        default_lang: Lang,
    ) -> ConsoleState {
        let mut env = Environment::new();
        for (name, src) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("message.html", include_str!("templates/message.html")),
            ("overview.html", include_str!("templates/overview.html")),
            ("findings.html", include_str!("templates/findings.html")),
            ("finding.html", include_str!("templates/finding.html")),
            ("files.html", include_str!("templates/files.html")),
            ("evidence.html", include_str!("templates/evidence.html")),
            ("project.html", include_str!("templates/project.html")),
        ] {
            env.add_template(name, src)
                .expect("the console's templates are valid");
        }
        ConsoleState {
            store,
            directory,
            default_lang,
            late_after_hours: 36,
            keys: Keys::random(),
            evidence_key: None,
            personal_data_viewers: Vec::new(),
            reconciler: reconciler::Config::default(),
            calendar: reconciler::Calendar::china(),
            env,
        }
    }
}

impl ConsoleState {
    /// The partners as the server knows them now (a SIGHUP reload replaces them).
    pub fn partners(&self) -> Arc<Vec<PartnerInfo>> {
        self.directory.partners()
    }
}

const CSS: &str = include_str!("templates/console.css");

/// The console's routes; the server merges them into its router.
pub fn router<S: Clone + Send + Sync + 'static>(state: Arc<ConsoleState>) -> Router<S> {
    let protected = Router::new()
        .route("/console", get(overview))
        .route("/console/findings", get(findings))
        .route("/console/findings.xlsx", get(findings_xlsx))
        .route("/console/findings/{id}", get(finding))
        .route("/console/findings/{id}/acknowledge", post(acknowledge))
        .route("/console/findings/{id}/dismiss", post(dismiss))
        .route("/console/findings/{id}/reveal", post(reveal))
        .route("/console/files", get(files))
        .route("/console/evidence", get(evidence_form))
        .route("/console/projects/{code}", get(project_page))
        .route(
            "/console/projects/{code}/reconciliation.xlsx",
            get(project_xlsx),
        )
        .route("/console/evidence.zip", get(evidence_zip))
        .route("/console/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_operator,
        ));
    Router::new()
        .route("/console/login", get(login_form).post(login))
        .route("/console/lang", get(switch_lang))
        .merge(protected)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_partners,
        ))
        .with_state(state)
}

/// The language of a request: the `wg_lang` cookie, else the configured default.
fn lang_of(state: &ConsoleState, headers: &HeaderMap) -> Lang {
    session::cookie(headers, session::LANG_COOKIE)
        .and_then(|v| v.parse().ok())
        .unwrap_or(state.default_lang)
}

/// A partner certificate (or one registered to nobody) gets 403 on every console path,
/// the login page included.
async fn refuse_partners(
    State(state): State<Arc<ConsoleState>>,
    request: Request,
    next: Next,
) -> Response {
    let key = match state.directory.certificate(request.extensions()) {
        CertificateCaller::Partner(_) => "forbidden_partner",
        CertificateCaller::Unknown => "forbidden_unknown",
        CertificateCaller::None | CertificateCaller::Operator(_) => return next.run(request).await,
    };
    let lang = lang_of(&state, request.headers());
    refuse(
        &state,
        lang,
        None,
        StatusCode::FORBIDDEN,
        text::get(key, lang),
    )
}

async fn require_operator(
    State(state): State<Arc<ConsoleState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let operator = match state.directory.certificate(request.extensions()) {
        CertificateCaller::Operator(name) => Some(Operator {
            csrf: state.keys.csrf_for(&Via::Certificate, &name),
            name,
            via: Via::Certificate,
        }),
        _ => match session::cookie(request.headers(), session::SESSION_COOKIE)
            .and_then(|cookie| Some((state.keys.check_session(&cookie, Utc::now())?, cookie)))
        {
            // A genuine session is only as good as the token it was opened with: a token
            // revoked or removed since ends it on its next request.
            Some((grant, cookie)) => match state.directory.still_valid(&grant.reference).await {
                Some(name) if name == grant.name => {
                    let via = Via::Session(cookie);
                    Some(Operator {
                        csrf: state.keys.csrf_for(&via, &name),
                        name,
                        via,
                    })
                }
                _ => {
                    tracing::warn!(operator = %grant.name, "console session of a token no longer valid: refused");
                    None
                }
            },
            None => None,
        },
    };
    match operator {
        Some(op) => {
            request.extensions_mut().insert(op);
            next.run(request).await
        }
        None if request.method() == axum::http::Method::GET => {
            Redirect::to("/console/login").into_response()
        }
        None => {
            let lang = lang_of(&state, request.headers());
            message(
                &state,
                lang,
                None,
                StatusCode::UNAUTHORIZED,
                text::get("login_title", lang),
                text::get("bad_token", lang),
            )
        }
    }
}

/// Renders `template` with the common context (words, language, operator) merged in.
fn render(
    state: &ConsoleState,
    lang: Lang,
    op: Option<&Operator>,
    template: &str,
    title: &str,
    back: &str,
    mut ctx: Value,
) -> Response {
    let other = match lang {
        Lang::Zh => Lang::En,
        Lang::En => Lang::Zh,
    };
    let common = json!({
        "t": text::all(lang),
        "lang_html": lang.html(),
        "other_lang": other.as_str(),
        "other_lang_html": other.html(),
        "title": title,
        "css": CSS,
        "back": back,
        "operator": op.map(|o| o.name.clone()),
        "logout": op.is_some_and(|o| matches!(o.via, Via::Session(_))),
        "csrf": op.map(|o| o.csrf.clone()),
    });
    if let (Value::Object(c), Value::Object(m)) = (&mut ctx, common) {
        for (k, v) in m {
            c.entry(k).or_insert(v);
        }
    }
    let html = state
        .env
        .get_template(template)
        .and_then(|t| t.render(&ctx));
    match html {
        Ok(html) => {
            let mut r = Html(html).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
                ),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, template, "console template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

fn message(
    state: &ConsoleState,
    lang: Lang,
    op: Option<&Operator>,
    status: StatusCode,
    title: &str,
    error: &str,
) -> Response {
    let mut r = render(
        state,
        lang,
        op,
        "message.html",
        title,
        "/console",
        json!({ "error": error }),
    );
    *r.status_mut() = status;
    r
}

/// A refusal page: its title follows from the status (未找到 / 请求有误 / 无权访问).
fn refuse(
    state: &ConsoleState,
    lang: Lang,
    op: Option<&Operator>,
    status: StatusCode,
    error: &str,
) -> Response {
    let key = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::FORBIDDEN => "forbidden",
        _ => "bad_request",
    };
    message(state, lang, op, status, text::get(key, lang), error)
}

fn internal(state: &ConsoleState, lang: Lang, op: Option<&Operator>, e: anyhow::Error) -> Response {
    tracing::error!(error = %e, "console page failed");
    message(
        state,
        lang,
        op,
        StatusCode::INTERNAL_SERVER_ERROR,
        lang.pick("服务器错误", "Server error"),
        lang.pick(
            "读取数据时出错，请稍后重试。",
            "Reading the data failed; try again later.",
        ),
    )
}

// ----- login, logout, language -----

async fn login_form(State(state): State<Arc<ConsoleState>>, headers: HeaderMap) -> Response {
    let lang = lang_of(&state, &headers);
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let mut r = render(
        &state,
        lang,
        None,
        "login.html",
        text::get("login_title", lang),
        "/console/login",
        json!({ "login_csrf": state.keys.login_csrf(&nonce) }),
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::LOGIN_COOKIE, &nonce, 600),
    );
    r
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = lang_of(&state, &headers);
    let csrf_ok = session::cookie(&headers, session::LOGIN_COOKIE).is_some_and(|nonce| {
        session::constant_time_eq(
            state.keys.login_csrf(&nonce).as_bytes(),
            form.csrf.as_bytes(),
        )
    });
    if !csrf_ok {
        return refuse(
            &state,
            lang,
            None,
            StatusCode::FORBIDDEN,
            text::get("csrf_refused", lang),
        );
    }
    let token = form.token.trim();
    let check = if token.is_empty() || token.len() > 512 {
        crate::TokenCheck::Refused
    } else {
        state.directory.token(&extensions, token).await
    };
    let grant = match check {
        crate::TokenCheck::Granted(grant) => grant,
        crate::TokenCheck::Throttled { retry_after_s } => {
            tracing::warn!(
                retry_after_s,
                "console login throttled after too many invalid tokens"
            );
            let mut r = message(
                &state,
                lang,
                None,
                StatusCode::TOO_MANY_REQUESTS,
                text::get("login_title", lang),
                &text::get("login_throttled", lang)
                    .replace("{seconds}", &retry_after_s.to_string()),
            );
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        crate::TokenCheck::Refused => {
            tracing::warn!("console login with an invalid operator token");
            return message(
                &state,
                lang,
                None,
                StatusCode::UNAUTHORIZED,
                text::get("login_title", lang),
                text::get("bad_token", lang),
            );
        }
    };
    tracing::info!(operator = %grant.name, "console login");
    let value = state.keys.session(
        &grant,
        Utc::now() + chrono::Duration::hours(session::SESSION_HOURS),
    );
    let mut r = Redirect::to("/console").into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(
            session::SESSION_COOKIE,
            &value,
            session::SESSION_HOURS * 3600,
        ),
    );
    h.append(
        header::SET_COOKIE,
        session::set_cookie(session::LOGIN_COOKIE, "", 0),
    );
    r
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

fn csrf_refused(
    state: &ConsoleState,
    lang: Lang,
    op: &Operator,
    form: &CsrfForm,
) -> Option<Response> {
    if session::constant_time_eq(op.csrf.as_bytes(), form.csrf.as_bytes()) {
        return None;
    }
    tracing::warn!(operator = %op.name, "console form without a valid CSRF token refused");
    Some(refuse(
        state,
        lang,
        Some(op),
        StatusCode::FORBIDDEN,
        text::get("csrf_refused", lang),
    ))
}

async fn logout(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lang = lang_of(&state, &headers);
    if let Some(r) = csrf_refused(&state, lang, &op, &form) {
        return r;
    }
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::SESSION_COOKIE, "", 0),
    );
    r
}

#[derive(Deserialize)]
struct LangQuery {
    to: String,
    #[serde(default)]
    back: String,
}

async fn switch_lang(Query(q): Query<LangQuery>) -> Response {
    let lang: Lang = q.to.parse().unwrap_or_default();
    // Only back into the console: never an open redirect.
    let back = if q.back.starts_with("/console") && !q.back.starts_with("//") {
        q.back
    } else {
        "/console".to_string()
    };
    let mut r = Redirect::to(&back).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::LANG_COOKIE, lang.as_str(), 365 * 24 * 3600),
    );
    r
}

// ----- pages -----

fn options<T: Copy>(
    items: &[T],
    key: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> String,
) -> Vec<Value> {
    items
        .iter()
        .map(|&i| json!({ "key": key(i), "label": label(i) }))
        .collect()
}

fn sev_key(s: Severity) -> &'static str {
    s.as_str()
}

fn project_name<'a>(projects: &'a HashMap<String, ProjectInfo>, code: &str) -> Option<&'a str> {
    projects.get(code).map(|p| p.name.as_str())
}

async fn overview(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&state, &headers);
    let loaded = async {
        let all = data::all_findings(state.store.as_ref()).await?;
        let projects = data::projects(state.store.as_ref()).await?;
        let files = state
            .store
            .list_files(&store::FileFilter {
                limit: Some(store::MAX_PAGE),
                ..Default::default()
            })
            .await?;
        anyhow::Ok((all, projects, files))
    }
    .await;
    let (all, projects, files) = match loaded {
        Ok(x) => x,
        Err(e) => return internal(&state, lang, Some(&op), e),
    };
    let now = Utc::now();
    let o = data::overview(&all, &projects, now, 30);
    let by_code: Vec<Value> = o
        .by_code
        .iter()
        .map(|(c, n)| json!({"key": c.as_str(), "label": i18n::code_label(*c, lang), "count": n}))
        .collect();
    let by_severity: Vec<Value> = o
        .by_severity
        .iter()
        .rev()
        .map(|(s, n)| json!({"key": s.as_str(), "label": i18n::severity_label(*s, lang), "count": n}))
        .collect();
    let by_region: Vec<Value> = o
        .by_region
        .iter()
        .map(|(r, n)| json!({"key": r, "label": i18n::region_label(r, lang), "count": n}))
        .collect();
    let risky: Vec<Value> = o
        .risky_projects
        .iter()
        .map(|(code, fen, n, s)| {
            let p = projects.get(code);
            json!({
                "code": code,
                "name": p.map(|p| p.name.as_str()).unwrap_or(code),
                "contractor": p.map(|p| p.contractor.as_str()).unwrap_or(""),
                "sev_key": s.as_str(),
                "sev": i18n::severity_label(*s, lang),
                "count": n,
                "amount": i18n::money(schemas::Money::from_fen(*fen)),
            })
        })
        .collect();
    // Partners: rejected files among the latest, or nothing received for too long.
    let mut partner_problems = Vec::new();
    for p in state
        .partners()
        .iter()
        .filter(|p| p.role == "bank" || p.role == "insurer")
    {
        let theirs: Vec<&store::RawFile> = files.iter().filter(|f| f.sender == p.id).collect();
        let rejected = theirs
            .iter()
            .filter(|f| f.status == store::FileStatus::Rejected)
            .count();
        let last = theirs.iter().map(|f| f.received_at).max();
        let late = last.is_none_or(|t| (now - t).num_hours() >= state.late_after_hours);
        let mut problems = Vec::new();
        if rejected > 0 {
            problems.push(format!("{} {rejected}", text::get("rejected_files", lang)));
        }
        if late {
            problems.push(text::get("late", lang).to_string());
        }
        if !problems.is_empty() {
            partner_problems.push(json!({
                "id": p.id,
                "name": p.name.clone().unwrap_or_else(|| p.id.clone()),
                "problem": problems.join(lang.pick("；", "; ")),
                "last": last.map(i18n::cst).unwrap_or_else(|| text::get("never", lang).to_string()),
            }));
        }
    }
    let svg = trend_svg(&o.trend, lang);
    render(
        &state,
        lang,
        Some(&op),
        "overview.html",
        text::get("overview", lang),
        "/console",
        json!({
            "active": o.active,
            "money_at_risk": i18n::money(schemas::Money::from_fen(o.money_at_risk)),
            "by_code": by_code,
            "by_severity": by_severity,
            "by_region": by_region,
            "risky": risky,
            "partner_problems": partner_problems,
            "trend_svg": svg,
        }),
    )
}

/// A bar chart of opened (red) and resolved (green) findings per day, as inline SVG with a
/// text alternative.
pub fn trend_svg(trend: &BTreeMap<chrono::NaiveDate, (u64, u64)>, lang: Lang) -> String {
    let (w, h, pad) = (900u64, 220u64, 30u64);
    let n = trend.len().max(1) as u64;
    let max = trend
        .values()
        .map(|(a, b)| (*a).max(*b))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = (w - 2 * pad) / n;
    let bar = (slot / 2).saturating_sub(1).max(1);
    let plot = h - 2 * pad;
    let total_opened: u64 = trend.values().map(|v| v.0).sum();
    let total_resolved: u64 = trend.values().map(|v| v.1).sum();
    let desc = match lang {
        Lang::Zh => format!("近{n}天共新增 {total_opened} 条、解决 {total_resolved} 条预警"),
        Lang::En => {
            format!("{total_opened} findings opened and {total_resolved} resolved in {n} days")
        }
    };
    let mut s = format!(
        r##"<svg role="img" aria-label="{desc}" viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px;background:#fff" xmlns="http://www.w3.org/2000/svg"><title>{desc}</title>"##
    );
    s.push_str(&format!(
        r##"<line x1="{pad}" y1="{y}" x2="{x2}" y2="{y}" stroke="#888"/><text x="4" y="{top}" font-size="11">{max}</text><text x="4" y="{y}" font-size="11">0</text>"##,
        y = h - pad,
        x2 = w - pad,
        top = pad + 4
    ));
    for (i, (day, (opened, resolved))) in trend.iter().enumerate() {
        let x = pad + i as u64 * slot;
        let ho = opened * plot / max;
        let hr = resolved * plot / max;
        s.push_str(&format!(
            r##"<rect x="{x}" y="{yo}" width="{bar}" height="{ho}" fill="#c62828"><title>{day} {lo} {opened}</title></rect><rect x="{x2}" y="{yr}" width="{bar}" height="{hr}" fill="#2e7d32"><title>{day} {lr} {resolved}</title></rect>"##,
            yo = h - pad - ho,
            yr = h - pad - hr,
            x2 = x + bar + 1,
            lo = text::get("opened", lang),
            lr = text::get("resolved", lang),
        ));
        if i % 5 == 0 {
            s.push_str(&format!(
                r##"<text x="{x}" y="{ty}" font-size="10">{}</text>"##,
                day.format("%m-%d"),
                ty = h - pad + 14
            ));
        }
    }
    s.push_str(&format!(
        r##"<rect x="{lx}" y="6" width="10" height="10" fill="#c62828"/><text x="{tx}" y="15" font-size="12">{}</text><rect x="{lx2}" y="6" width="10" height="10" fill="#2e7d32"/><text x="{tx2}" y="15" font-size="12">{}</text></svg>"##,
        text::get("opened", lang),
        text::get("resolved", lang),
        lx = w - 200,
        tx = w - 186,
        lx2 = w - 110,
        tx2 = w - 96,
    ));
    s
}

/// The findings list's query string.
#[derive(Debug, Default, Deserialize, Clone, serde::Serialize)]
pub struct ListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub bank: String,
    #[serde(default)]
    pub partner: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub dir: String,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub per_page: Option<String>,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl ListParams {
    /// The filter, or what is wrong with the parameters (in the page's language).
    pub fn to_query(&self, lang: Lang) -> Result<data::Query, String> {
        let bad = |what: &str, v: &str| match lang {
            Lang::Zh => format!("参数 {what} 的值“{v}”无效"),
            Lang::En => format!("the value '{v}' of {what} is not valid"),
        };
        Ok(data::Query {
            code: opt(&self.code)
                .map(|c| c.parse::<FindingCode>().map_err(|_| bad("code", &c)))
                .transpose()?,
            severity: opt(&self.severity)
                .map(|c| c.parse::<Severity>().map_err(|_| bad("severity", &c)))
                .transpose()?,
            status: opt(&self.status)
                .map(|c| StatusFilter::parse(&c).map_err(|_| bad("status", &c)))
                .transpose()?,
            bank: opt(&self.bank),
            partner: opt(&self.partner),
            region: opt(&self.region),
            project: opt(&self.project),
            period: opt(&self.period),
            search: opt(&self.q),
            sort: opt(&self.sort)
                .map(|c| SortKey::parse(&c).map_err(|_| bad("sort", &c)))
                .transpose()?
                .unwrap_or_default(),
            descending: self.dir == "desc",
        })
    }

    /// `(page, per_page)`: page from 1, per_page 1..=500 (default 50).
    pub fn paging(&self, lang: Lang) -> Result<(usize, usize), String> {
        let num = |what: &str, v: &Option<String>, default: usize, max: usize| match v
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Ok(default),
            Some(s) => match s.parse::<usize>() {
                Ok(n) if n >= 1 && n <= max => Ok(n),
                _ => Err(match lang {
                    Lang::Zh => format!("参数 {what} 应为 1 到 {max} 之间的整数，而不是“{s}”"),
                    Lang::En => format!("{what} must be a whole number from 1 to {max}, not '{s}'"),
                }),
            },
        };
        Ok((
            num("page", &self.page, 1, 1_000_000)?,
            num("per_page", &self.per_page, 50, 500)?,
        ))
    }

    fn encoded(&self, page: Option<usize>) -> String {
        let mut p = self.clone();
        if let Some(n) = page {
            p.page = Some(n.to_string());
        }
        let pairs: Vec<(&str, String)> = [
            ("q", p.q),
            ("code", p.code),
            ("severity", p.severity),
            ("status", p.status),
            ("bank", p.bank),
            ("partner", p.partner),
            ("region", p.region),
            ("project", p.project),
            ("period", p.period),
            ("sort", p.sort),
            ("dir", p.dir),
            ("page", p.page.unwrap_or_default()),
            ("per_page", p.per_page.unwrap_or_default()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One row of the findings list and exports.
pub fn row(sf: &StoredFinding, projects: &HashMap<String, ProjectInfo>, lang: Lang) -> Value {
    let f = &sf.finding;
    let p = projects.get(&f.project);
    json!({
        "id": f.id,
        "sev_key": sev_key(f.severity),
        "sev": i18n::severity_label(f.severity, lang),
        "status": i18n::status_label(sf.status, lang),
        "code": i18n::code_label(f.code, lang),
        "code_id": f.code.as_str(),
        "project": f.project,
        "project_name": p.map(|p| p.name.as_str()).unwrap_or(""),
        "contractor": p.map(|p| p.contractor.as_str()).unwrap_or(""),
        "period": f.period,
        "amount": i18n::money(f.amount_short),
        "summary": i18n::summary(f, p.map(|p| p.name.as_str()), lang),
        "first_seen": i18n::cst(sf.first_seen),
    })
}

async fn findings(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Response {
    let lang = lang_of(&state, &headers);
    let bad = |e: String| refuse(&state, lang, Some(&op), StatusCode::BAD_REQUEST, &e);
    let q = match params.to_query(lang) {
        Ok(q) => q,
        Err(e) => return bad(e),
    };
    let (page, per_page) = match params.paging(lang) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let loaded = async {
        let all = data::all_findings(state.store.as_ref()).await?;
        let projects = data::projects(state.store.as_ref()).await?;
        anyhow::Ok((all, projects))
    }
    .await;
    let (all, projects) = match loaded {
        Ok(x) => x,
        Err(e) => return internal(&state, lang, Some(&op), e),
    };
    render_list(
        &state, lang, &op, &params, &q, page, per_page, &all, &projects,
    )
}

/// The findings page from loaded data (separate so the benchmark can time it alone).
#[allow(clippy::too_many_arguments)]
pub fn render_list(
    state: &ConsoleState,
    lang: Lang,
    op: &Operator,
    params: &ListParams,
    q: &data::Query,
    page: usize,
    per_page: usize,
    all: &[StoredFinding],
    projects: &HashMap<String, ProjectInfo>,
) -> Response {
    let selected = data::select(all, projects, &state.partners(), q, |sf| {
        i18n::summary(
            &sf.finding,
            project_name(projects, &sf.finding.project),
            lang,
        )
    });
    let total = selected.len();
    let pages = total.div_ceil(per_page).max(1);
    let rows: Vec<Value> = selected
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|sf| row(sf, projects, lang))
        .collect();
    let mut region_keys: Vec<&str> = projects.values().map(|p| p.region.as_str()).collect();
    region_keys.sort_unstable();
    region_keys.dedup();
    let regions: Vec<Value> = region_keys
        .iter()
        .map(|r| json!({"key": r, "label": i18n::region_label(r, lang)}))
        .collect();
    let statuses: Vec<Value> = std::iter::once(json!({"key": "active", "label": lang.pick("未处理（待处理+已确认）", "Active (open + acknowledged)")}))
        .chain(
            [
                FindingStatus::Open,
                FindingStatus::Acknowledged,
                FindingStatus::Resolved,
                FindingStatus::Dismissed,
            ]
            .iter()
            .map(|s| json!({"key": s.as_str(), "label": i18n::status_label(*s, lang)})),
        )
        .collect();
    let sorts: Vec<Value> = [
        ("severity", "预警等级", "Severity"),
        ("amount", "涉及金额", "Amount"),
        ("first_seen", "发现时间", "First seen"),
        ("updated", "更新时间", "Updated"),
        ("project", "项目", "Project"),
        ("code", "预警类型", "Type"),
    ]
    .iter()
    .map(|(k, zh, en)| json!({"key": k, "label": lang.pick(zh, en)}))
    .collect();
    let partners: Vec<Value> = state
        .partners()
        .iter()
        .filter(|p| p.role == "bank")
        .map(|p| json!({"key": p.id, "label": p.name.clone().unwrap_or_else(|| p.id.clone())}))
        .collect();
    render(
        state,
        lang,
        Some(op),
        "findings.html",
        text::get("findings", lang),
        &format!("/console/findings?{}", params.encoded(None)),
        json!({
            "f": params,
            "codes": options(FindingCode::ALL, |c| c.as_str(), |c| i18n::code_label(c, lang).to_string()),
            "severities": options(&[Severity::Red, Severity::Orange, Severity::Yellow], |s| s.as_str(), |s| i18n::severity_label(s, lang).to_string()),
            "statuses": statuses,
            "regions": regions,
            "partners": partners,
            "sorts": sorts,
            "total": total,
            "rows": rows,
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "query": params.encoded(None),
            "prev": (page > 1).then(|| params.encoded(Some(page - 1))),
            "next": (page < pages).then(|| params.encoded(Some(page + 1))),
        }),
    )
}

async fn findings_xlsx(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Response {
    let lang = lang_of(&state, &headers);
    let q = match params.to_query(lang) {
        Ok(q) => q,
        Err(e) => return refuse(&state, lang, Some(&op), StatusCode::BAD_REQUEST, &e),
    };
    let built = async {
        let all = data::all_findings(state.store.as_ref()).await?;
        let projects = data::projects(state.store.as_ref()).await?;
        let selected = data::select(&all, &projects, &state.partners(), &q, |sf| {
            i18n::summary(
                &sf.finding,
                project_name(&projects, &sf.finding.project),
                lang,
            )
        });
        let rows: Vec<crate::export::Row> = selected
            .iter()
            .map(|sf| crate::export::Row::new(sf, projects.get(&sf.finding.project), lang))
            .collect();
        crate::export::xlsx(&rows, lang)
    }
    .await;
    match built {
        Ok(bytes) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    ),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"findings.xlsx\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => internal(&state, lang, Some(&op), e),
    }
}

async fn finding(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&state, &headers);
    finding_page(&state, lang, &op, &id, None, false).await
}

async fn finding_page(
    state: &ConsoleState,
    lang: Lang,
    op: &Operator,
    id: &str,
    notice: Option<&str>,
    full: bool,
) -> Response {
    let loaded = async {
        let f = state.store.get_finding(id).await?;
        let (events, people, reveals) = match &f {
            Some(sf) => (
                state.store.finding_events(id).await?,
                crate::privacy::people(
                    state.store.as_ref(),
                    &sf.finding,
                    full,
                    lang,
                    state.reconciler.max_project_facts,
                )
                .await?,
                state.store.access_log(Some(id), 50).await?,
            ),
            None => (vec![], vec![], vec![]),
        };
        let projects = data::projects(state.store.as_ref()).await?;
        anyhow::Ok((f, events, people, reveals, projects))
    }
    .await;
    let (sf, events, people, reveals, projects) = match loaded {
        Ok(x) => x,
        Err(e) => return internal(state, lang, Some(op), e),
    };
    let Some(sf) = sf else {
        return refuse(
            state,
            lang,
            Some(op),
            StatusCode::NOT_FOUND,
            &match lang {
                Lang::Zh => format!("没有编号为 {id} 的预警"),
                Lang::En => format!("there is no finding {id}"),
            },
        );
    };
    let f = &sf.finding;
    let p = projects.get(&f.project);
    let evidence: Vec<Value> = f
        .evidence
        .iter()
        .map(|e| {
            json!({
                "kind": i18n::evidence_label(e.kind, lang),
                "description": e.description_in(lang),
                "amount": e.amount.map(i18n::money).unwrap_or_default(),
                "date": e.date.map(|d| d.to_string()).unwrap_or_default(),
                "key": e.key,
            })
        })
        .collect();
    let history: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "at": i18n::cst_seconds(e.event.at),
                "kind": i18n::event_label(e.kind, lang),
                "actor": e.event.actor,
                "to": i18n::status_label(e.event.to, lang),
                "reason": e.event.reason.clone().unwrap_or_default(),
            })
        })
        .collect();
    render(
        state,
        lang,
        Some(op),
        "finding.html",
        &format!("{} · {}", i18n::code_label(f.code, lang), f.id),
        &format!("/console/findings/{}", f.id),
        json!({
            "notice": notice,
            "id": f.id,
            "sev_key": sev_key(f.severity),
            "sev": i18n::severity_label(f.severity, lang),
            "status": i18n::status_label(sf.status, lang),
            "reason": sf.status_reason,
            "code": i18n::code_label(f.code, lang),
            "code_id": f.code.as_str(),
            "project": f.project,
            "project_name": p.map(|p| p.name.as_str()).unwrap_or(""),
            "contractor": p.map(|p| p.contractor.as_str()).unwrap_or(""),
            "period": f.period,
            "pack_period": f.period.get(..7).filter(|p| crate::evidence::check_period(p).is_ok()),
            "amount": i18n::money(f.amount_short),
            "due": f.due_date.map(|d| d.to_string()).unwrap_or_default(),
            "summary": i18n::summary(f, p.map(|p| p.name.as_str()), lang),
            "basis": i18n::basis(f.code, lang),
            "first_seen": i18n::cst(sf.first_seen),
            "updated": i18n::cst(sf.updated_at),
            "evidence": evidence,
            "computation": f.computation_in(lang),
            "detail": f.summary_in(lang),
            "history": history,
            "people": people,
            "full": full,
            "may_reveal": !people.is_empty() && !full && crate::privacy::may_reveal(&state.personal_data_viewers, &op.name),
            "reveals": reveals.iter().map(|r| json!({"at": i18n::cst_seconds(r.at), "actor": r.actor})).collect::<Vec<_>>(),
            "can_ack": sf.status == FindingStatus::Open,
            "can_dismiss": matches!(sf.status, FindingStatus::Open | FindingStatus::Acknowledged),
        }),
    )
}

async fn acknowledge(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    change_status(
        &state,
        &op,
        &headers,
        &id,
        FindingStatus::Acknowledged,
        &form,
    )
    .await
}

async fn dismiss(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    change_status(&state, &op, &headers, &id, FindingStatus::Dismissed, &form).await
}

async fn change_status(
    state: &ConsoleState,
    op: &Operator,
    headers: &HeaderMap,
    id: &str,
    to: FindingStatus,
    form: &CsrfForm,
) -> Response {
    let lang = lang_of(state, headers);
    if let Some(r) = csrf_refused(state, lang, op, form) {
        return r;
    }
    let reason = form.reason.trim();
    if to == FindingStatus::Dismissed && reason.is_empty() {
        return refuse(
            state,
            lang,
            Some(op),
            StatusCode::BAD_REQUEST,
            text::get("reason_required", lang),
        );
    }
    let reason = (!reason.is_empty()).then_some(reason);
    match state
        .store
        .set_finding_status(id, to, &op.name, reason, Utc::now())
        .await
    {
        Ok(_) => {
            tracing::info!(finding_id = %id, to = %to.as_str(), operator = %op.name, "finding status changed in the console");
            let key = if to == FindingStatus::Dismissed {
                "dismissed_ok"
            } else {
                "acknowledged_ok"
            };
            let mut r = finding_page(state, lang, op, id, Some(text::get(key, lang)), false).await;
            if r.status() == StatusCode::OK {
                *r.status_mut() = StatusCode::OK;
            }
            r
        }
        Err(store::StoreError::NotFound { .. }) => {
            refuse(state, lang, Some(op), StatusCode::NOT_FOUND, id)
        }
        Err(e @ store::StoreError::InvalidTransition { .. }) => refuse(
            state,
            lang,
            Some(op),
            StatusCode::CONFLICT,
            &match lang {
                Lang::Zh => {
                    "该预警的当前状态不允许此操作（可能已被他人处理），请刷新页面。".to_string()
                }
                Lang::En => format!("not possible in the finding's current status ({e})"),
            },
        ),
        Err(e) => internal(state, lang, Some(op), e.into()),
    }
}

/// Shows the finding's people in full to an operator allowed to see them, after writing the
/// reveal to the access log; anyone else gets 403 (and the refusal is logged).
async fn reveal(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lang = lang_of(&state, &headers);
    if let Some(r) = csrf_refused(&state, lang, &op, &form) {
        return r;
    }
    if !crate::privacy::may_reveal(&state.personal_data_viewers, &op.name) {
        tracing::warn!(operator = %op.name, finding_id = %id, "personal data reveal refused: not a personal-data viewer");
        return refuse(
            &state,
            lang,
            Some(&op),
            StatusCode::FORBIDDEN,
            text::get("reveal_refused", lang),
        );
    }
    let finding = match state.store.get_finding(&id).await {
        Ok(Some(f)) => f,
        Ok(None) => return refuse(&state, lang, Some(&op), StatusCode::NOT_FOUND, &id),
        Err(e) => return internal(&state, lang, Some(&op), e.into()),
    };
    let people = match crate::privacy::people(
        state.store.as_ref(),
        &finding.finding,
        false,
        lang,
        state.reconciler.max_project_facts,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return internal(&state, lang, Some(&op), e),
    };
    let entry = store::AccessLogEntry {
        at: Utc::now(),
        actor: op.name.clone(),
        action: crate::privacy::REVEAL.to_string(),
        subject: id.clone(),
        detail: people
            .iter()
            .map(|p| p.key.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    };
    // Audited first: if the log cannot be written, nothing is shown.
    if let Err(e) = state.store.append_access_log(&entry).await {
        return internal(&state, lang, Some(&op), e.into());
    }
    tracing::info!(operator = %op.name, finding_id = %id, records = people.len(), "personal data revealed in the console");
    finding_page(
        &state,
        lang,
        &op,
        &id,
        Some(text::get("revealed", lang)),
        true,
    )
    .await
}

#[derive(Deserialize)]
struct FilesParams {
    #[serde(default)]
    sender: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: Option<String>,
}

async fn files(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Query(params): Query<FilesParams>,
) -> Response {
    let lang = lang_of(&state, &headers);
    let status = match opt(&params.status)
        .map(|s| s.parse::<store::FileStatus>())
        .transpose()
    {
        Ok(s) => s,
        Err(_) => {
            return refuse(
                &state,
                lang,
                Some(&op),
                StatusCode::BAD_REQUEST,
                &params.status,
            )
        }
    };
    let page = params
        .page
        .as_deref()
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let per_page = 100u32;
    let list = state
        .store
        .list_files(&store::FileFilter {
            sender: opt(&params.sender),
            status,
            since: None,
            limit: Some(per_page + 1),
            offset: (page - 1) * u64::from(per_page),
        })
        .await;
    let mut list = match list {
        Ok(l) => l,
        Err(e) => return internal(&state, lang, Some(&op), e.into()),
    };
    let more = list.len() > per_page as usize;
    list.truncate(per_page as usize);
    let name_of = |id: &str| {
        state
            .partners()
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.name.clone())
            .map(|n| format!("{n}（{id}）"))
            .unwrap_or_else(|| id.to_string())
    };
    let rows: Vec<Value> = list
        .iter()
        .map(|f| {
            json!({
                "received": i18n::cst_seconds(f.received_at),
                "sender": name_of(&f.sender),
                "name": f.file_name.clone().unwrap_or_default(),
                "status": i18n::file_status_label(f.status, lang),
                "format": f.detected_format.clone().or_else(|| f.format_hint.clone()).unwrap_or_default(),
                "records": f.records_count,
                "error": f.error_in(lang).unwrap_or_default(),
                "id": f.id,
            })
        })
        .collect();
    let senders: Vec<Value> = state
        .partners()
        .iter()
        .filter(|p| p.role != "operator")
        .map(|p| json!({"key": p.id, "label": name_of(&p.id)}))
        .collect();
    let statuses: Vec<Value> = [
        store::FileStatus::Received,
        store::FileStatus::Parsed,
        store::FileStatus::Rejected,
    ]
    .iter()
    .map(|s| json!({"key": s.as_str(), "label": i18n::file_status_label(*s, lang)}))
    .collect();
    let base = format!(
        "sender={}&status={}",
        urlencode(&params.sender),
        urlencode(&params.status)
    );
    render(
        &state,
        lang,
        Some(&op),
        "files.html",
        text::get("files", lang),
        &format!("/console/files?{base}&page={page}"),
        json!({
            "f": {"sender": params.sender, "status": params.status},
            "senders": senders,
            "statuses": statuses,
            "rows": rows,
            "prev": (page > 1).then(|| format!("{base}&page={}", page - 1)),
            "next": more.then(|| format!("{base}&page={}", page + 1)),
        }),
    )
}

// ----- evidence packs -----

#[derive(Deserialize)]
struct EvidenceParams {
    #[serde(default)]
    project: String,
    #[serde(default)]
    period: String,
}

async fn evidence_form(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Query(params): Query<EvidenceParams>,
) -> Response {
    let lang = lang_of(&state, &headers);
    let projects = match data::projects(state.store.as_ref()).await {
        Ok(p) => p,
        Err(e) => return internal(&state, lang, Some(&op), e),
    };
    let mut list: Vec<Value> = projects
        .iter()
        .map(|(code, p)| json!({"code": code, "name": p.name}))
        .collect();
    list.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
    let period = opt(&params.period)
        .unwrap_or_else(|| i18n::cst_date(Utc::now()).format("%Y-%m").to_string());
    render(
        &state,
        lang,
        Some(&op),
        "evidence.html",
        text::get("evidence_pack", lang),
        "/console/evidence",
        json!({
            "can_sign": state.evidence_key.is_some(),
            "projects": list,
            "project": params.project,
            "period": period,
        }),
    )
}

async fn evidence_zip(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Query(params): Query<EvidenceParams>,
) -> Response {
    let lang = lang_of(&state, &headers);
    let bad = |status: StatusCode, e: &str| {
        message(
            &state,
            lang,
            Some(&op),
            status,
            text::get("evidence_pack", lang),
            e,
        )
    };
    let Some(key) = &state.evidence_key else {
        return bad(
            StatusCode::SERVICE_UNAVAILABLE,
            text::get("no_signing_key", lang),
        );
    };
    let project = params.project.trim();
    let period = params.period.trim();
    if project.is_empty() || project.len() > 64 {
        return bad(
            StatusCode::BAD_REQUEST,
            lang.pick("请选择项目。", "Choose a project."),
        );
    }
    if crate::evidence::check_period(period).is_err() {
        return bad(
            StatusCode::BAD_REQUEST,
            &match lang {
                Lang::Zh => format!(
                    "月份“{}”无效，应写作 YYYY-MM（如 2026-09）。",
                    period.chars().take(20).collect::<String>()
                ),
                Lang::En => format!(
                    "the month '{}' is not valid: write it YYYY-MM (e.g. 2026-09)",
                    period.chars().take(20).collect::<String>()
                ),
            },
        );
    }
    match data::projects(state.store.as_ref()).await {
        Ok(p) if p.contains_key(project) => {}
        Ok(_) => {
            return bad(
                StatusCode::NOT_FOUND,
                &match lang {
                    Lang::Zh => format!("登记信息中没有项目 {project}"),
                    Lang::En => format!("there is no project {project} in the registry"),
                },
            )
        }
        Err(e) => return internal(&state, lang, Some(&op), e),
    }
    match too_large(&state, project, lang).await {
        Ok(None) => {}
        Ok(Some(why)) => return bad(StatusCode::CONFLICT, &why),
        Err(e) => return internal(&state, lang, Some(&op), e),
    }
    let pack = crate::evidence::build(
        state.store.as_ref(),
        project,
        period,
        key,
        lang,
        &op.name,
        Utc::now(),
    )
    .await;
    match pack {
        Ok(pack) => {
            tracing::info!(operator = %op.name, project, period, findings = pack.manifest.findings.len(), files = pack.manifest.files.len(), "evidence pack downloaded from the console");
            let disposition = format!("attachment; filename=\"{}\"", pack.file_name);
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/zip"),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&disposition)
                            .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                pack.bytes,
            )
                .into_response()
        }
        Err(e) => internal(&state, lang, Some(&op), e),
    }
}

/// Why a project is not shown: more facts than the reconciler takes
/// (`reconciler.max_project_facts`), counted without loading them — its page and workbook
/// would hold them all, as its reconciliation would. `None` for any other project.
async fn too_large(state: &ConsoleState, code: &str, lang: Lang) -> anyhow::Result<Option<String>> {
    let limit = state.reconciler.max_project_facts;
    let facts = state
        .store
        .fact_counts(&[code.to_string()])
        .await?
        .remove(code)
        .map_or(0, |c| c.total());
    if facts <= limit {
        return Ok(None);
    }
    let why = reconciler::ReconcileError::TooManyFacts {
        project: code.to_string(),
        facts,
        limit,
    }
    .message(lang);
    Ok(Some(match lang {
        Lang::Zh => format!("{why}。该项目的数据过多，不在控制台中展开；其现有预警见预警列表"),
        Lang::En => format!(
            "{why}. Its facts are too many to show here; its findings are in the findings list"
        ),
    }))
}

async fn project_xlsx(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let lang = lang_of(&state, &headers);
    if code.is_empty() || code.len() > 64 {
        return refuse(&state, lang, Some(&op), StatusCode::BAD_REQUEST, &code);
    }
    match data::projects(state.store.as_ref()).await {
        Ok(p) if p.contains_key(&code) => {}
        Ok(_) => {
            return refuse(
                &state,
                lang,
                Some(&op),
                StatusCode::NOT_FOUND,
                &match lang {
                    Lang::Zh => format!("登记信息中没有项目 {code}"),
                    Lang::En => format!("there is no project {code} in the registry"),
                },
            )
        }
        Err(e) => return internal(&state, lang, Some(&op), e),
    }
    match too_large(&state, &code, lang).await {
        Ok(None) => {}
        Ok(Some(why)) => return refuse(&state, lang, Some(&op), StatusCode::CONFLICT, &why),
        Err(e) => return internal(&state, lang, Some(&op), e),
    }
    match crate::reconciliation::project_xlsx(state.store.as_ref(), &code, lang).await {
        Ok((bytes, name)) => {
            // RFC 6266: an ASCII fallback and the UTF-8 name.
            let disposition = format!(
                "attachment; filename=\"reconciliation.xlsx\"; filename*=UTF-8''{}",
                urlencode(&name)
            );
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        ),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&disposition)
                            .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => internal(&state, lang, Some(&op), e),
    }
}

/// A line per account of its closing balances over time, as inline SVG with a text
/// alternative (the table above it has the numbers).
pub fn balance_svg(series: &BTreeMap<String, Vec<(chrono::NaiveDate, i64)>>, lang: Lang) -> String {
    let points: Vec<&(chrono::NaiveDate, i64)> = series.values().flatten().collect();
    let (Some(first), Some(last)) = (
        points.iter().map(|p| p.0).min(),
        points.iter().map(|p| p.0).max(),
    ) else {
        return String::new();
    };
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let min = points.iter().map(|p| p.1).min().unwrap_or(0).min(0);
    let (w, h, pad) = (900i64, 200i64, 30i64);
    let days = (last - first).num_days().max(1);
    let x = |d: chrono::NaiveDate| pad + (d - first).num_days() * (w - 2 * pad) / days;
    let y = |v: i64| {
        let span = i128::from(max - min).max(1);
        let off = i128::from(v - min) * i128::from(h - 2 * pad) / span;
        h - pad - i64::try_from(off).unwrap_or(0)
    };
    let desc = match lang {
        Lang::Zh => format!("工资专用账户余额：{first} 至 {last}"),
        Lang::En => format!("Wage account balances, {first} to {last}"),
    };
    let colours = ["#1565c0", "#6a1b9a", "#ef6c00", "#2e7d32"];
    let mut s = format!(
        r##"<svg role="img" aria-label="{desc}" viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px;background:#fff" xmlns="http://www.w3.org/2000/svg"><title>{desc}</title><line x1="{pad}" y1="{yb}" x2="{xe}" y2="{yb}" stroke="#888"/><text x="4" y="{yt}" font-size="11">{top}</text><text x="4" y="{yb}" font-size="11">{bottom}</text><text x="{pad}" y="{yd}" font-size="10">{first}</text><text x="{xl}" y="{yd}" font-size="10">{last}</text>"##,
        yb = h - pad,
        xe = w - pad,
        yt = pad,
        yd = h - pad + 14,
        xl = w - pad - 60,
        top = i18n::money(schemas::Money::from_fen(max)),
        bottom = i18n::money(schemas::Money::from_fen(min)),
    );
    for (i, (account, pts)) in series.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|(d, v)| format!("{},{}", x(*d), y(*v)))
            .collect();
        s.push_str(&format!(
            r##"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{account}</title></polyline>"##,
            path.join(" ")
        ));
    }
    s.push_str("</svg>");
    s
}

/// The guarantee cover (a step line) against the requirement (a dashed line) from the start
/// of the requirement to its end, with today marked and the days short shaded; the table
/// beside it says the same in words (never colour alone).
pub fn guarantee_svg(
    t: &reconciler::GuaranteeTimeline,
    today: chrono::NaiveDate,
    lang: Lang,
) -> String {
    let (first, last) = (t.cover_from, t.cover_to.max(t.cover_from));
    let max = t
        .points
        .iter()
        .map(|p| p.1.fen())
        .chain([t.required.fen()])
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, pad) = (900i64, 200i64, 30i64);
    let days = (last - first).num_days().max(1);
    let x = |d: chrono::NaiveDate| {
        pad + (d.clamp(first, last) - first).num_days() * (w - 2 * pad) / days
    };
    let y = |v: i64| {
        let off = i128::from(v.max(0)) * i128::from(h - 2 * pad) / i128::from(max);
        h - pad - i64::try_from(off).unwrap_or(0)
    };
    let desc = match lang {
        Lang::Zh => format!(
            "工资保证金时间轴：{first} 至 {last}，应缴 {}（虚线），实际保证金（实线）",
            i18n::money(t.required)
        ),
        Lang::En => format!(
            "Guarantee cover, {first} to {last}: required {} (dashed), held (solid)",
            i18n::money(t.required)
        ),
    };
    let end = today.min(last);
    let mut s = format!(
        r##"<svg role="img" aria-label="{desc}" viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px;background:#fff" xmlns="http://www.w3.org/2000/svg"><title>{desc}</title><line x1="{pad}" y1="{yb}" x2="{xe}" y2="{yb}" stroke="#888"/><text x="4" y="{yt}" font-size="11">{top}</text><text x="{pad}" y="{yd}" font-size="10">{first}</text><text x="{xl}" y="{yd}" font-size="10">{last}</text>"##,
        yb = h - pad,
        xe = w - pad,
        yt = pad - 6,
        yd = h - pad + 14,
        xl = w - pad - 60,
        top = i18n::money(schemas::Money::from_fen(max)),
    );
    // The steps, with the days short shaded.
    let mut path = Vec::new();
    for (i, (day, cover)) in t.points.iter().enumerate() {
        let until = t.points.get(i + 1).map_or(end, |n| n.0);
        let (x0, x1, yc) = (x(*day), x(until).max(x(*day) + 1), y(cover.fen()));
        if *cover < t.required {
            s.push_str(&format!(
                r##"<rect x="{x0}" y="{yr}" width="{wd}" height="{hr}" fill="#c62828" fill-opacity="0.15"/>"##,
                yr = y(t.required.fen()),
                wd = x1 - x0,
                hr = (yc - y(t.required.fen())).max(0),
            ));
        }
        path.push(format!("{x0},{yc} {x1},{yc}"));
    }
    s.push_str(&format!(
        r##"<line x1="{pad}" y1="{yr}" x2="{xe}" y2="{yr}" stroke="#c62828" stroke-width="2" stroke-dasharray="6 4"><title>{req}</title></line><polyline fill="none" stroke="#2e7d32" stroke-width="2" points="{pts}"/><line x1="{xt}" y1="{pad}" x2="{xt}" y2="{yb}" stroke="#555" stroke-dasharray="2 3"/><text x="{xtl}" y="{ytt}" font-size="10">{today_label}</text>"##,
        yr = y(t.required.fen()),
        xe = w - pad,
        req = i18n::money(t.required),
        pts = path.join(" "),
        xt = x(end),
        xtl = x(end) + 3,
        ytt = pad + 10,
        yb = h - pad,
        today_label = lang.pick("今天", "today"),
    ));
    s.push_str("</svg>");
    s
}

async fn project_page(
    State(state): State<Arc<ConsoleState>>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let lang = lang_of(&state, &headers);
    match too_large(&state, &code, lang).await {
        Ok(None) => {}
        Ok(Some(why)) => return refuse(&state, lang, Some(&op), StatusCode::CONFLICT, &why),
        Err(e) => return internal(&state, lang, Some(&op), e),
    }
    let d = match crate::reconciliation::load(state.store.as_ref(), &code).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            let code: String = code.chars().take(64).collect();
            return refuse(
                &state,
                lang,
                Some(&op),
                StatusCode::NOT_FOUND,
                &match lang {
                    Lang::Zh => format!("登记信息中没有项目 {code}"),
                    Lang::En => format!("there is no project {code} in the registry"),
                },
            );
        }
        Err(e) => return internal(&state, lang, Some(&op), e),
    };
    let active: Vec<&StoredFinding> = d
        .findings
        .iter()
        .filter(|f| matches!(f.status, FindingStatus::Open | FindingStatus::Acknowledged))
        .collect();
    let at_risk: i64 = active.iter().map(|f| f.finding.amount_short.fen()).sum();
    // Closing balances per account, by date (the latest statement of a day wins).
    let mut series: BTreeMap<String, BTreeMap<chrono::NaiveDate, i64>> = BTreeMap::new();
    for st in &d.statements {
        if let Some(b) = st.closing_balance {
            series
                .entry(st.account.clone())
                .or_default()
                .insert(b.date, b.amount.fen());
        }
    }
    let series: BTreeMap<String, Vec<(chrono::NaiveDate, i64)>> = series
        .into_iter()
        .map(|(a, m)| (a, m.into_iter().collect()))
        .collect();
    let accounts: Vec<Value> = d
        .accounts
        .iter()
        .map(|a| {
            json!({
                "no": a.account_no,
                "bank": a.bank_code,
                "balance": series.get(&a.account_no).and_then(|p| p.last()).map(|(day, fen)| format!("{} （{day}）", i18n::money(schemas::Money::from_fen(*fen)))).unwrap_or_default(),
            })
        })
        .collect();
    let payer_accounts: Vec<&str> = d
        .accounts
        .iter()
        .flat_map(|a| a.payer_accounts.iter().map(String::as_str))
        .collect();
    let credits: Vec<Value> = d
        .entries()
        .into_iter()
        .filter(|(_, e)| e.direction == schemas::Direction::Credit && !e.reversal)
        .filter(|(_, e)| {
            payer_accounts.is_empty()
                || e.counterparty_account
                    .as_deref()
                    .is_some_and(|c| payer_accounts.contains(&c))
        })
        .map(|(_, e)| {
            json!({
                "date": e.booking_date.to_string(),
                "amount": i18n::money(e.amount),
                "from": e.counterparty_name.clone().unwrap_or_default(),
                "text": e.remittance.clone().unwrap_or_default(),
            })
        })
        .collect();
    let obligations: Vec<Value> = d
        .obligations
        .iter()
        .map(|o| json!({"id": o.obligation_id, "period": o.period.to_string(), "amount": i18n::money(o.amount), "due": o.due_date.to_string()}))
        .collect();
    let months: Vec<Value> = d
        .months()
        .into_iter()
        .map(|(p, (n, _, net))| json!({"period": p, "lines": n, "net": i18n::money(schemas::Money::from_fen(net))}))
        .collect();
    let batches: Vec<Value> = d
        .batches()
        .into_iter()
        .map(|(b, (_, paid, paid_fen, other, other_fen))| {
            json!({
                "id": b,
                "paid": format!("{paid} · {}", i18n::money(schemas::Money::from_fen(paid_fen))),
                "other": format!("{other} · {}", i18n::money(schemas::Money::from_fen(other_fen))),
            })
        })
        .collect();
    // The workers of the active wage findings, masked.
    let mut unpaid = Vec::new();
    for f in active.iter().filter(|f| {
        matches!(
            f.finding.code,
            FindingCode::WagesUnpaid
                | FindingCode::WagesShort
                | FindingCode::PaymentFailedUnresolved
        )
    }) {
        match crate::privacy::people(
            state.store.as_ref(),
            &f.finding,
            false,
            lang,
            state.reconciler.max_project_facts,
        )
        .await
        {
            Ok(people) => {
                for p in people.into_iter().filter(|p| {
                    p.source == i18n::evidence_label(schemas::EvidenceKind::PaySheetLine, lang)
                }) {
                    unpaid.push(json!({"name": p.name, "id_number": p.id_number, "card_number": p.card_number, "finding": f.finding.id}));
                }
            }
            Err(e) => return internal(&state, lang, Some(&op), e),
        }
    }
    let letters: Vec<Value> = d
        .letters
        .iter()
        .map(|g| {
            json!({
                "number": g.number,
                "issuer": g.issuer_name,
                "amount": i18n::money(g.guaranteed_amount),
                "from": g.valid_from.to_string(),
                "to": g.valid_to.to_string(),
                "status": crate::reconciliation::guarantee_status(g.status, lang),
            })
        })
        .collect();
    let today = i18n::cst_date(Utc::now());
    let timeline = d.guarantee_timeline(today, &state.reconciler, &state.calendar);
    let cover_rows: Vec<Value> = timeline
        .as_ref()
        .map(|t| {
            t.points
                .iter()
                .map(|(day, cover)| {
                    let short = t.required.saturating_sub(*cover);
                    json!({
                        "from": day.to_string(),
                        "cover": i18n::money(*cover),
                        "short": if short.fen() > 0 { i18n::money(short) } else { String::new() },
                        "ok": short.fen() <= 0,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let p = &d.project;
    render(
        &state,
        lang,
        Some(&op),
        "project.html",
        &format!("{} · {}", text::get("project_page", lang), p.name),
        &format!("/console/projects/{}", urlencode(&p.code)),
        json!({
            "code": p.code,
            "name": p.name,
            "region": i18n::region_label(p.province.key(), lang),
            "contractor": p.general_contractor.name,
            "construction_unit": p.construction_unit.name,
            "contract_amount": i18n::money(p.contract_amount),
            "active": active.len(),
            "money_at_risk": i18n::money(schemas::Money::from_fen(at_risk)),
            "accounts": accounts,
            "balance_svg": balance_svg(&series, lang),
            "obligations": obligations,
            "credits": credits,
            "months": months,
            "batches": batches,
            "unpaid": unpaid,
            "letters": letters,
            "required": timeline.as_ref().map(|t| i18n::money(t.required)),
            "cover_span": timeline.as_ref().map(|t| format!("{} – {}", t.cover_from, t.cover_to)),
            "cover_rows": cover_rows,
            "guarantee_svg": timeline.as_ref().map(|t| guarantee_svg(t, today, lang)).unwrap_or_default(),
        }),
    )
}
