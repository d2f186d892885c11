//! The server-rendered page: start, check (with fix in place), execute,
//! jobs. Markup lives in `templates/` (minijinja, autoescaped), behaviour in
//! `static/app.js`; both are compiled into the binary.

use axum::Router;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Path, Query, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, context};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use userimport::parse::{ColumnMapping, Record};

use crate::AppState;
use crate::auth::{Caller, caller_of};
use crate::cookies::lang_cookie;
use crate::engine::profile_names;
use crate::error::{ApiError, blocking};
use crate::i18n::Lang;
use crate::imports::{self, Applied, ApplyRequest};
use crate::intake::receive_and_check;
use crate::invites::templates_of;
use crate::jobs;

/// The templates, compiled in.
pub fn templates() -> Result<Environment<'static>, ApiError> {
    let mut env = Environment::new();
    let files = [
        ("base.html", include_str!("../templates/base.html")),
        ("login.html", include_str!("../templates/login.html")),
        ("start.html", include_str!("../templates/start.html")),
        ("check.html", include_str!("../templates/check.html")),
        ("jobs.html", include_str!("../templates/jobs.html")),
    ];
    for (name, source) in files {
        env.add_template(name, source)
            .map_err(|e| ApiError::internal(format!("template {name}: {e}")))?;
    }
    Ok(env)
}

pub fn routes(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/", get(start))
        .route(
            "/imports",
            post(upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/imports/{id}", get(check_page))
        .route("/imports/{id}/apply", post(execute))
        .route("/imports/{id}/fix", post(fix))
        .route("/imports/{id}/delete", post(delete_import))
        .route("/jobs", get(jobs_page))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/jobs/{id}/delete", post(delete_job))
        .route("/static/app.js", get(app_js))
        .route("/static/app.css", get(app_css))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

async fn app_js() -> Response {
    asset(
        include_str!("../static/app.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn app_css() -> Response {
    asset(include_str!("../static/app.css"), "text/css; charset=utf-8")
}

/// Renders a template with the common context.
fn render(
    state: &AppState,
    name: &str,
    lang: Lang,
    root: &str,
    caller: Option<&Caller>,
    error: Option<&str>,
    extra: Value,
) -> Html<String> {
    let base = json!({
        "lang": lang.code(),
        "other_lang": lang.other().code(),
        "t": lang.texts(),
        "root": root,
        "actor": caller.map(|c| c.actor.clone()),
        "csrf": caller.map(|c| c.csrf().to_string()).unwrap_or_default(),
        "error": error,
    });
    let mut ctx = base;
    if let (Value::Object(ctx), Value::Object(extra)) = (&mut ctx, extra) {
        ctx.extend(extra);
    }
    let page = state
        .0
        .templates
        .get_template(name)
        .and_then(|t| t.render(context! { ..minijinja::Value::from_serialize(&ctx) }));
    match page {
        Ok(html) => Html(html),
        Err(e) => Html(format!("template error: {}", html_escape(&e.to_string()))),
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The sign-in page.
pub fn render_login(
    state: &AppState,
    lang: Lang,
    login_csrf: &str,
    error: Option<&str>,
) -> Html<String> {
    render(
        state,
        "login.html",
        lang,
        "./",
        None,
        error,
        json!({ "login_csrf": login_csrf }),
    )
}

/// A page request of a signed-in browser user: who, in which language,
/// the relative way back to the site's root (so that the router can be
/// mounted under any path), and the request's headers. Anyone else is sent
/// to the sign-in page.
struct Page {
    caller: Caller,
    lang: Lang,
    root: String,
    lang_asked: bool,
    headers: HeaderMap,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let root = root_of(parts.uri.path());
        match caller_of(state, &parts.headers).await {
            Ok(Some(caller)) if caller.is_session() => Ok(Page {
                caller,
                lang: Lang::of(&parts.headers, parts.uri.query()),
                root,
                lang_asked: parts
                    .uri
                    .query()
                    .is_some_and(|q| q.split('&').any(|p| p.starts_with("lang="))),
                headers: parts.headers.clone(),
            }),
            Ok(_) => Err(Redirect::to(&format!("{root}login")).into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The root relative to a route's path: `./` for `/` and `/jobs`, one
/// `../` for each segment after the first.
fn root_of(path: &str) -> String {
    match path.split('/').filter(|s| !s.is_empty()).count() {
        0 | 1 => "./".to_string(),
        depth => "../".repeat(depth - 1),
    }
}

/// A form the page posts: it carries the session's CSRF token.
trait PageForm {
    /// The form's `csrf` field.
    fn csrf(&self) -> &str;
}

/// A form posted from the page by its signed-in user, refused (403) unless
/// it carries the session's CSRF token (in its `csrf` field or the header).
struct Posted<T>(Page, T);

impl<T> FromRequest<AppState> for Posted<T>
where
    T: PageForm + DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let page = Page::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let axum::Form(form) = axum::Form::<T>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        page.caller
            .check_csrf(&page.headers, Some(form.csrf()))
            .map_err(IntoResponse::into_response)?;
        Ok(Posted(page, form))
    }
}

impl Page {
    /// Template `name` rendered for this page, with `extra` beside the
    /// common context; the language cookie is set when `?lang=` chose one.
    fn show(&self, state: &AppState, name: &str, error: Option<&str>, extra: Value) -> Response {
        let html = render(
            state,
            name,
            self.lang,
            &self.root,
            Some(&self.caller),
            error,
            extra,
        );
        let mut response = html.into_response();
        if self.lang_asked
            && let Some(v) = lang_cookie(self.lang.code())
        {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    }

    /// The start page with profile `profile` chosen and its `columns` to map.
    fn start(
        &self,
        state: &AppState,
        profile: &str,
        columns: &[ColumnView],
        error: Option<&str>,
    ) -> Response {
        let extra = json!({
            "profiles": profile_names(&state.config().profiles),
            "profile": profile,
            "columns": columns,
            "out_charsets": ["utf-8-bom", "utf-8", "shift_jis"],
            "in_charsets": ["auto", "utf-8", "shift_jis", "euc-jp", "utf-16le", "utf-16be", "windows-1252"],
            "header_lang": self.lang.code(),
        });
        self.show(state, "start.html", error, extra)
    }

    /// The start page saying what went wrong, answered with `e`'s status.
    fn error(&self, state: &AppState, e: ApiError) -> Response {
        let message = format!("{}: {}", self.lang.t("error"), e.message);
        let page = self.start(state, "standard", &[], Some(&message));
        (e.status, page).into_response()
    }
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    profile: Option<String>,
}

#[derive(Serialize)]
struct ColumnView {
    key: String,
    label: String,
}

async fn start(State(state): State<AppState>, page: Page, Query(q): Query<StartQuery>) -> Response {
    let settings = crate::Settings {
        profile: q.profile.clone().unwrap_or_else(|| "standard".into()),
        ..Default::default()
    };
    let (profile, error) = match settings.profile(&state.config().profiles) {
        Ok(p) => (p, None),
        Err(e) => (userimport::schema::Profile::standard(), Some(e.message)),
    };
    let columns: Vec<ColumnView> = profile
        .columns
        .iter()
        .map(|c| ColumnView {
            key: c.key.clone(),
            label: c.label.clone(),
        })
        .collect();
    page.start(&state, &profile.name, &columns, error.as_deref())
}

async fn upload(
    State(state): State<AppState>,
    page: Page,
    multipart: Multipart,
) -> Result<Redirect, Response> {
    let import = receive_and_check(&state, &page.caller, &page.headers, multipart)
        .await
        .map_err(|e| page.error(&state, e))?;
    Ok(Redirect::to(&format!("imports/{}", import.id)))
}

#[derive(Debug, Deserialize)]
struct CheckQuery {
    only_errors: Option<String>,
}

#[derive(Serialize)]
struct PreviewView {
    header: Vec<String>,
    rows: Vec<PreviewRow>,
}

#[derive(Serialize)]
struct PreviewRow {
    line: u64,
    cells: Vec<String>,
}

/// The first rows of the file as mapped onto the profile's columns
/// (passwords masked).
async fn preview(state: &AppState, import: &imports::Import, rows: usize) -> Option<PreviewView> {
    let offered = state.config().profiles.clone();
    let (settings, path) = (import.settings.clone(), import.path.clone());
    blocking(move || {
        let importer = settings.importer(&offered)?;
        let profile = importer.profile().clone();
        let mut reader = importer.reader(std::fs::File::open(&path)?)?;
        let header = reader.header().clone();
        let mapping = ColumnMapping::new(&profile, &header, &importer.options().maps, false)
            .map_err(|e| ApiError::file(e.to_string()))?;
        let mapped: Vec<(usize, usize)> = (0..profile.columns.len())
            .filter_map(|c| mapping.index(c).map(|i| (c, i)))
            .collect();
        let mut view = PreviewView {
            header: mapped
                .iter()
                .map(|(c, _)| profile.columns[*c].label.clone())
                .collect(),
            rows: Vec::new(),
        };
        let mut record = Record::new();
        while view.rows.len() < rows
            && reader
                .read_record(&mut record)
                .map_err(|e| ApiError::file(e.to_string()))?
        {
            let cells = mapped
                .iter()
                .map(|(c, i)| {
                    let cell = record.get(*i).unwrap_or("");
                    if profile.columns[*c].kind.is_secret() && !cell.is_empty() {
                        "***".to_string()
                    } else {
                        cell.to_string()
                    }
                })
                .collect();
            view.rows.push(PreviewRow {
                line: record.line(),
                cells,
            });
        }
        Ok(view)
    })
    .await
    .ok()
}

async fn check_page(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<CheckQuery>,
) -> Result<Response, Response> {
    let import = imports::get(&state, &page.caller, &id)
        .await
        .map_err(|e| page.error(&state, e))?;
    let report = import.report();
    let preview = preview(&state, &import, 5).await;
    // Planning again keeps every change in memory: large files list their
    // changes only in the download.
    let changes = if import.checked.file.rows <= 5_000 {
        imports::changes(&state, &import, 500)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let (applied_job, applied_now) = match &import.applied {
        Some(Applied::Job(job)) => (Some(*job), None),
        Some(Applied::Now(outcome)) => (None, Some(imports::counts(outcome))),
        None => (None, None),
    };
    let can_apply =
        import.checked.is_clean() || (import.settings.skip_invalid && !import.checked.is_refused());
    let invite_templates = if can_apply && import.applied.is_none() {
        templates_of(&state).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let delimiter_shown = match report["file"]["delimiter"].as_str() {
        Some("\t") => "tab".to_string(),
        Some(d) => d.to_string(),
        None => String::new(),
    };
    Ok(page.show(
        &state,
        "check.html",
        None,
        json!({
            "id": import.id,
            "name": import.name,
            "profile": import.settings.profile,
            "report": report,
            "issues": report["issues"],
            "delimiter_shown": delimiter_shown,
            "only_errors": q.only_errors.is_some(),
            "preview": preview,
            "changes": changes,
            "can_apply": can_apply,
            "applied_job": applied_job,
            "applied_now": applied_now,
            "invites_on": state.config().invite_base_url.is_some(),
            "default_template": userimport::sink::DEFAULT_TEMPLATE,
            "invite_templates": invite_templates,
        }),
    ))
}

#[derive(Debug, Deserialize)]
struct ExecuteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    invite: Option<String>,
    #[serde(default)]
    invite_template: Option<String>,
    #[serde(default)]
    send_at: Option<String>,
}

impl PageForm for ExecuteForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn execute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted(page, form): Posted<ExecuteForm>,
) -> Result<Redirect, Response> {
    let request = ApplyRequest {
        invite: form.invite.as_deref() == Some("true"),
        invite_template: form.invite_template,
        send_at: form.send_at,
    };
    let result = imports::apply(&state, &page.caller, &id, request)
        .await
        .map_err(|e| page.error(&state, e))?;
    Ok(Redirect::to(&match result["job"]["id"].as_i64() {
        Some(job) => format!("../../jobs#job-{job}"),
        None => format!("../{id}"),
    }))
}

#[derive(Debug, Deserialize)]
struct FixForm {
    #[serde(default)]
    csrf: String,
    line: u64,
    column: String,
    value: String,
}

impl PageForm for FixForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Fixes one cell of the uploaded file and checks the corrected file as a
/// new import.
async fn fix(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted(page, form): Posted<FixForm>,
) -> Result<Redirect, Response> {
    let (line, column, value) = (form.line, &form.column, &form.value);
    let new_id = crate::fix::fix_cell(&state, &page.caller, &id, line, column, value)
        .await
        .map_err(|e| page.error(&state, e))?;
    Ok(Redirect::to(&format!("../{new_id}")))
}

async fn jobs_page(State(state): State<AppState>, page: Page) -> Result<Response, ApiError> {
    let jobs = jobs::jobs_of(&state, &page.caller).await?;
    Ok(page.show(&state, "jobs.html", None, json!({ "jobs": jobs })))
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl PageForm for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted(page, _): Posted<CsrfForm>,
) -> Result<Redirect, Response> {
    match jobs::cancel(&state, &page.caller, id).await {
        Err(e) if e.status != StatusCode::CONFLICT => Err(e.into_response()),
        _ => Ok(Redirect::to(&format!("../../jobs#job-{id}"))),
    }
}

/// Forgets an import and its results (the page's "Delete results").
async fn delete_import(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted(page, _): Posted<CsrfForm>,
) -> Result<Redirect, Response> {
    imports::delete(&state, &page.caller, &id)
        .await
        .map_err(|e| page.error(&state, e))?;
    Ok(Redirect::to("../../"))
}

/// Deletes a finished job's results (the jobs panel's "Delete results").
async fn delete_job(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted(page, _): Posted<CsrfForm>,
) -> Result<Redirect, Response> {
    jobs::remove(&state, &page.caller, id)
        .await
        .map_err(|e| page.error(&state, e))?;
    Ok(Redirect::to("../../jobs"))
}
