//! The server-rendered page: start, check (with fix in place), execute,
//! jobs. Markup lives in `templates/` (minijinja, autoescaped), behaviour in
//! `static/app.js`; both are compiled into the binary.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use userimport::parse::{ColumnMapping, Record};

use crate::AppState;
use crate::api;
use crate::auth::{Caller, caller_of};
use crate::engine::profile_names;
use crate::error::{ApiError, blocking};
use crate::i18n::Lang;
use crate::imports::{self, Applied, ApplyRequest};

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

/// The page's caller, or a redirect to the sign-in page.
async fn page_caller(
    state: &AppState,
    headers: &HeaderMap,
    root: &str,
) -> Result<Caller, Response> {
    match caller_of(state, headers).await {
        Ok(Some(caller)) if caller.is_session() => Ok(caller),
        Ok(_) => Err(Redirect::to(&format!("{root}login")).into_response()),
        Err(e) => Err(e.into_response()),
    }
}

/// [`page_caller`] for a form post: the signed-in user, whose form carries
/// the session's CSRF token.
async fn form_caller(
    state: &AppState,
    headers: &HeaderMap,
    root: &str,
    csrf: &str,
) -> Result<Caller, Response> {
    let caller = page_caller(state, headers, root).await?;
    caller
        .check_csrf(headers, Some(csrf))
        .map_err(IntoResponse::into_response)?;
    Ok(caller)
}

/// Sets the language cookie when `?lang=` chose one.
fn remember_lang(mut response: Response, query: Option<&str>, lang: Lang) -> Response {
    if query.is_some_and(|q| q.split('&').any(|p| p.starts_with("lang="))) {
        let cookie = format!(
            "ui_lang={}; Path=/; SameSite=Strict; Max-Age=31536000",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
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

async fn start(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(q): Query<StartQuery>,
) -> Response {
    let caller = match page_caller(&state, &headers, "./").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let names = profile_names(&state.config().profiles);
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
    let page = render(
        &state,
        "start.html",
        lang,
        "./",
        Some(&caller),
        error.as_deref(),
        json!({
            "profiles": names,
            "profile": profile.name,
            "columns": columns,
            "out_charsets": ["utf-8-bom", "utf-8", "shift_jis"],
            "in_charsets": ["auto", "utf-8", "shift_jis", "euc-jp", "utf-16le", "utf-16be", "windows-1252"],
            "header_lang": lang.code(),
        }),
    );
    remember_lang(page.into_response(), uri.query(), lang)
}

/// The import options a start-page form carries, as the `options` JSON.
pub fn options_from_fields(fields: &[(String, String)]) -> Option<String> {
    if fields.is_empty() {
        return None;
    }
    let mut options = serde_json::Map::new();
    let mut maps = Vec::new();
    for (name, value) in fields {
        let value = value.trim();
        if let Some(field) = name.strip_prefix("map.") {
            if !value.is_empty() {
                maps.push(json!(format!("{field}={value}")));
            }
            continue;
        }
        let key = if name == "profile_choice" {
            "profile"
        } else {
            name.as_str()
        };
        let v = match key {
            "generate_passwords" | "update_passwords" | "skip_invalid" => json!(value == "true"),
            "header_row" if value.is_empty() => continue,
            "header_row" => match value.parse::<u64>() {
                Ok(n) => json!(n),
                Err(_) => json!(value),
            },
            "key" | "default_group" | "sources" if value.is_empty() => continue,
            "profile" | "charset" | "delimiter" | "mode" | "merge" | "card_id_type" | "key"
            | "default_group" | "sources" => json!(value),
            _ => continue,
        };
        options.insert(key.to_string(), v);
    }
    options.insert("maps".into(), Value::Array(maps));
    serde_json::to_string(&Value::Object(options)).ok()
}

async fn upload(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let caller = match page_caller(&state, &headers, "./").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match api::receive_and_check(&state, &caller, &headers, multipart).await {
        Ok(import) => Redirect::to(&format!("imports/{}", import.id)).into_response(),
        Err(e) => error_page(&state, lang, "./", &caller, e),
    }
}

fn error_page(state: &AppState, lang: Lang, root: &str, caller: &Caller, e: ApiError) -> Response {
    let message = format!("{}: {}", lang.t("error"), e.message);
    let page = render(
        state,
        "start.html",
        lang,
        root,
        Some(caller),
        Some(&message),
        json!({
            "profiles": profile_names(&state.config().profiles),
            "profile": "standard",
            "columns": [],
            "out_charsets": ["utf-8-bom", "utf-8", "shift_jis"],
            "in_charsets": ["auto", "utf-8", "shift_jis"],
            "header_lang": lang.code(),
        }),
    );
    (e.status, page).into_response()
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
    lang: Lang,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    Query(q): Query<CheckQuery>,
) -> Response {
    let caller = match page_caller(&state, &headers, "../").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let import = match imports::get(&state, &caller, &id).await {
        Ok(i) => i,
        Err(e) => return error_page(&state, lang, "../", &caller, e),
    };
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
        api::templates_of(&state).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let delimiter_shown = match report["file"]["delimiter"].as_str() {
        Some("\t") => "tab".to_string(),
        Some(d) => d.to_string(),
        None => String::new(),
    };
    let page = render(
        &state,
        "check.html",
        lang,
        "../",
        Some(&caller),
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
    );
    remember_lang(page.into_response(), uri.query(), lang)
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

async fn execute(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ExecuteForm>,
) -> Response {
    let caller = match form_caller(&state, &headers, "../../", &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let request = ApplyRequest {
        invite: form.invite.as_deref() == Some("true"),
        invite_template: form.invite_template,
        send_at: form.send_at,
    };
    match imports::apply(&state, &caller, &id, request).await {
        Ok(result) => match result["job"]["id"].as_i64() {
            Some(job) => Redirect::to(&format!("../../jobs#job-{job}")).into_response(),
            None => Redirect::to(&format!("../{id}")).into_response(),
        },
        Err(e) => error_page(&state, lang, "../../", &caller, e),
    }
}

#[derive(Debug, Deserialize)]
struct FixForm {
    #[serde(default)]
    csrf: String,
    line: u64,
    column: String,
    value: String,
}

/// Fixes one cell of the uploaded file and checks the corrected file as a
/// new import.
async fn fix(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<FixForm>,
) -> Response {
    let caller = match form_caller(&state, &headers, "../../", &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match crate::fix::fix_cell(&state, &caller, &id, form.line, &form.column, &form.value).await {
        Ok(new_id) => Redirect::to(&format!("../{new_id}")).into_response(),
        Err(e) => error_page(&state, lang, "../../", &caller, e),
    }
}

async fn jobs_page(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let caller = match page_caller(&state, &headers, "./").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let jobs = match api::jobs_of(&state, &caller).await {
        Ok(jobs) => jobs,
        Err(e) => return e.into_response(),
    };
    let page = render(
        &state,
        "jobs.html",
        lang,
        "./",
        Some(&caller),
        None,
        json!({ "jobs": jobs }),
    );
    remember_lang(page.into_response(), uri.query(), lang)
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    let caller = match form_caller(&state, &headers, "../../", &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match api::cancel(&state, &caller, id).await {
        Ok(_) => Redirect::to(&format!("../../jobs#job-{id}")).into_response(),
        Err(e) if e.status == StatusCode::CONFLICT => {
            Redirect::to(&format!("../../jobs#job-{id}")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Forgets an import and its results (the page's "Delete results").
async fn delete_import(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    let caller = match form_caller(&state, &headers, "../../", &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match imports::delete(&state, &caller, &id).await {
        Ok(()) => Redirect::to("../../").into_response(),
        Err(e) => error_page(&state, lang, "../../", &caller, e),
    }
}

/// Deletes a finished job's results (the jobs panel's "Delete results").
async fn delete_job(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    let caller = match form_caller(&state, &headers, "../../", &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match api::remove_job(&state, &caller, id).await {
        Ok(()) => Redirect::to("../../jobs").into_response(),
        Err(e) => error_page(&state, lang, "../../", &caller, e),
    }
}
