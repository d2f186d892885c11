//! The HTTP API: JSON with the CLI's contracts, CSV downloads, server-sent
//! events; described by `/api/openapi.json`, generated from these handlers.

use std::convert::Infallible;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use userimport::sink::{Invite, Recipient};
use userimport::sink::{Job, JobStatus, Jobs};
use userimport::{ExportOptions, OutputCharset, write_issues_csv};
use utoipa::OpenApi;

use crate::AppState;
use crate::auth::Caller;
use crate::engine::{Settings, Store};
use crate::error::{ApiError, ErrorBody, blocking};
use crate::imports::{self, Applied, ApplyRequest};
use crate::runs::Event;
use crate::upload;

#[derive(OpenApi)]
#[openapi(
    info(title = "userimport", description = "Bulk user import: upload and check, review, apply, jobs, results."),
    paths(
        healthz, openapi, create_import, get_import, import_issues, import_changes,
        import_results, import_file, apply_import, delete_import, list_jobs, get_job, job_events,
        job_results, cancel_job, delete_job, template, export_users, invite_templates,
        check_invite_template
    ),
    components(schemas(ErrorBody, Settings, ApplyRequest, UploadForm, InviteTemplate, TemplateCheck)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The multipart body of `POST /api/imports`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // only describes the body
struct UploadForm {
    /// The CSV file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The options (JSON of `Settings`).
    options: Option<String>,
}

pub fn routes(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi))
        .route(
            "/api/imports",
            post(create_import).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/imports/{id}", get(get_import).delete(delete_import))
        .route("/api/imports/{id}/issues.csv", get(import_issues))
        .route("/api/imports/{id}/changes.csv", get(import_changes))
        .route("/api/imports/{id}/results.csv", get(import_results))
        .route("/api/imports/{id}/file.csv", get(import_file))
        .route("/api/imports/{id}/apply", post(apply_import))
        .route("/api/jobs", get(list_jobs))
        .route("/api/jobs/{id}", get(get_job).delete(delete_job))
        .route("/api/jobs/{id}/events", get(job_events))
        .route("/api/jobs/{id}/results.csv", get(job_results))
        .route("/api/jobs/{id}/cancel", post(cancel_job))
        .route("/api/template", get(template))
        .route("/api/export", get(export_users))
        .route("/api/invite-templates", get(invite_templates))
        .route("/api/invite-templates/check", post(check_invite_template))
}

/// Alive.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "The server is up", body = Object)))]
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", security(()), responses((status = 200, description = "The OpenAPI document", body = Object)))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The OpenAPI document as JSON text.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// Upload and check a file: the `check --format json` report plus `id`.
#[utoipa::path(
    post, path = "/api/imports",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Checked: the report and the import's id", body = Object),
        (status = 400, description = "Bad options or body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "No CSRF token", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody),
        (status = 422, description = "File-level error", body = ErrorBody),
    )
)]
async fn create_import(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let import = receive_and_check(&state, &caller, &headers, multipart).await?;
    Ok((StatusCode::CREATED, Json(import.report())))
}

/// Receives an upload (API or page) and checks it.
pub async fn receive_and_check(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    multipart: Multipart,
) -> Result<imports::Import, ApiError> {
    let id = upload::new_id()?;
    let path = upload::path_of(&state.config().upload_dir, &id);
    let limit_state = state.clone();
    let received = upload::receive(multipart, &path, |options, fields| {
        let options = options
            .map(str::to_string)
            .or_else(|| crate::pages::options_from_fields(fields));
        Ok(imports::limit_for(&limit_state, options.as_deref()))
    })
    .await?;
    let fail = |e: ApiError| {
        let _ = std::fs::remove_file(&path);
        Err(e)
    };
    if let Err(e) = caller.check_csrf(headers, received.csrf.as_deref()) {
        return fail(e);
    }
    let Some((_, name)) = received.file else {
        return fail(ApiError::bad_request("the body has no `file` part"));
    };
    let options = received
        .options
        .or_else(|| crate::pages::options_from_fields(&received.fields));
    let settings = match imports::settings_for(state, caller, options.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    imports::check(state, caller, id, name, settings).await
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if upload::is_id(id) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no import {id}")))
    }
}

/// The report of a checked import.
#[utoipa::path(get, path = "/api/imports/{id}", params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, description = "The report", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_id(&id)?;
    Ok(Json(imports::get(&state, &caller, &id).await?.report()))
}

/// A CSV download with a sanitised file name.
pub fn csv_download(bytes: Vec<u8>, name: &str) -> Response {
    let mut response = Body::from(bytes).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&upload::disposition(name, "download.csv")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// The error report: one issue a row (formula-safe CSV).
#[utoipa::path(get, path = "/api/imports/{id}/issues.csv", params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn import_issues(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let import = imports::get(&state, &caller, &id).await?;
    let issues: Vec<_> = import.checked.issues.iter().collect();
    let mut out = Vec::new();
    write_issues_csv(&issues, &mut out)?;
    Ok(csv_download(
        out,
        &format!("{}-errors.csv", stem(&import.name)),
    ))
}

fn stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

/// The changes the import would make, one changed field a row.
#[utoipa::path(get, path = "/api/imports/{id}/changes.csv", params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn import_changes(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let import = imports::get(&state, &caller, &id).await?;
    let lines = imports::changes(&state, &import, usize::MAX).await?;
    let mut writer = userimport::CsvWriter::new(Vec::new(), OutputCharset::UTF8_BOM)?;
    writer.write_row([
        "line",
        "action",
        "member_id",
        "user",
        "column",
        "old",
        "new",
    ])?;
    for l in &lines {
        let member = l.member.map(|m| m.to_string()).unwrap_or_default();
        writer.write_row([
            l.line.to_string().as_str(),
            l.action,
            &member,
            &l.who,
            &l.column,
            &l.old,
            &l.new,
        ])?;
    }
    Ok(csv_download(
        writer.finish()?,
        &format!("{}-changes.csv", stem(&import.name)),
    ))
}

/// The per-row results of an import applied at once.
#[utoipa::path(get, path = "/api/imports/{id}/results.csv", params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn import_results(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let import = imports::get(&state, &caller, &id).await?;
    let results = match &import.applied {
        Some(Applied::Now(_)) => imports::results(&state, &id).await?,
        Some(Applied::Job(job)) => {
            let (db, job) = (state.config().db.clone(), *job);
            blocking(move || Ok(Store::open_existing(&db)?.job_results(job)?)).await?
        }
        None => return Err(ApiError::not_found(format!("import {id} is not applied"))),
    };
    let out = imports::results_csv(&state, results, import.checked.issues).await?;
    Ok(csv_download(
        out,
        &format!("{}-results.csv", stem(&import.name)),
    ))
}

/// The uploaded (or corrected) file, as UTF-8 with the header first;
/// plaintext passwords are left out.
#[utoipa::path(get, path = "/api/imports/{id}/file.csv", params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, description = "The file", content_type = "text/csv", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn import_file(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let import = imports::get(&state, &caller, &id).await?;
    if !import.path.exists() {
        return Err(ApiError::not_found(format!(
            "the file of import {id} is gone (applied or expired)"
        )));
    }
    let offered = state.config().profiles.clone();
    let (settings, path) = (import.settings.clone(), import.path.clone());
    let bytes = blocking(move || crate::fix::masked_copy(&settings, &offered, &path)).await?;
    Ok(csv_download(bytes, &import.name))
}

/// Apply exactly what was checked: at once, or as a background job.
#[utoipa::path(post, path = "/api/imports/{id}/apply", params(("id" = String, Path, description = "The import's id")),
    request_body(content = Option<ApplyRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "The apply JSON: report, job, results", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The store moved, or an import is running", body = ErrorBody),
        (status = 422, description = "The file has errors", body = ErrorBody),
    ))]
async fn apply_import(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.check_csrf(&headers, None)?;
    check_id(&id)?;
    let request: ApplyRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ApplyRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_options(format!("body: {e}")))?
    };
    Ok(Json(imports::apply(&state, &caller, &id, request).await?))
}

/// Forget a checked import: its upload, its report and, once applied at
/// once, its results.
#[utoipa::path(delete, path = "/api/imports/{id}", params(("id" = String, Path, description = "The import's id")),
    responses((status = 204, description = "Forgotten"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete_import(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.check_csrf(&headers, None)?;
    check_id(&id)?;
    imports::delete(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// True when `job` was run by `caller`.
fn owned(job: &Job, caller: &Caller) -> bool {
    Settings::from_job_options(&job.spec.options)
        .ok()
        .and_then(|s| s.actor)
        .is_some_and(|a| a.eq_ignore_ascii_case(&caller.actor))
}

/// The caller's jobs, newest first.
pub async fn jobs_of(state: &AppState, caller: &Caller) -> Result<Vec<Job>, ApiError> {
    let db = state.config().db.clone();
    let mut jobs = blocking(move || Ok(Store::open_existing(&db)?.jobs()?)).await?;
    jobs.retain(|j| owned(j, caller));
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    Ok(jobs)
}

/// Job `id` of `caller`.
pub async fn job_of(state: &AppState, caller: &Caller, id: i64) -> Result<Job, ApiError> {
    let db = state.config().db.clone();
    let job = blocking(move || Ok(Store::open_existing(&db)?.job(id)?)).await?;
    job.filter(|j| owned(j, caller))
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

/// The caller's jobs.
#[utoipa::path(get, path = "/api/jobs", responses((status = 200, description = "Jobs, newest first", body = Object), (status = 401, body = ErrorBody)))]
async fn list_jobs(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let jobs = jobs_of(&state, &caller).await?;
    Ok(Json(serde_json::to_value(jobs).unwrap_or(Value::Null)))
}

/// One job.
#[utoipa::path(get, path = "/api/jobs/{id}", params(("id" = i64, Path, description = "The job's id")),
    responses((status = 200, description = "The job", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let job = job_of(&state, &caller, id).await?;
    Ok(Json(serde_json::to_value(job).unwrap_or(Value::Null)))
}

/// Live progress: `job` (the record, first and last) and `progress` events.
#[utoipa::path(get, path = "/api/jobs/{id}/events", params(("id" = i64, Path, description = "The job's id")),
    responses((status = 200, description = "Server-sent events", content_type = "text/event-stream", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn job_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    // Listen before reading the record, so that no event falls in between.
    let receiver = state.0.runs.subscribe(id);
    let job = job_of(&state, &caller, id).await?;
    let first = stream::once(async move { Ok(sse_of(&Event::Job(Box::new(job)))) });
    let rest = stream::unfold(receiver, |receiver| async move {
        let mut receiver = receiver?;
        loop {
            match receiver.recv().await {
                Ok(event) => {
                    let last = matches!(event, Event::Job(_));
                    return Some((Ok(sse_of(&event)), (!last).then_some(receiver)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(first.chain(rest)).keep_alive(KeepAlive::default()))
}

fn sse_of(event: &Event) -> SseEvent {
    let (name, data) = match event {
        Event::Progress(p) => ("progress", serde_json::to_string(p)),
        Event::Job(j) => ("job", serde_json::to_string(j)),
    };
    SseEvent::default()
        .event(name)
        .data(data.unwrap_or_default())
}

/// A job's per-row results.
#[utoipa::path(get, path = "/api/jobs/{id}/results.csv", params(("id" = i64, Path, description = "The job's id")),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn job_results(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let job = job_of(&state, &caller, id).await?;
    let db = state.config().db.clone();
    let results = blocking(move || Ok(Store::open_existing(&db)?.job_results(id)?)).await?;
    let issues = imports::job_issues(&state, &caller, &job).await;
    let out = imports::results_csv(&state, results, issues).await?;
    Ok(csv_download(out, &format!("job-{id}-results.csv")))
}

/// Cancel a running job (the rows written stay written; resume to finish).
#[utoipa::path(post, path = "/api/jobs/{id}/cancel", params(("id" = i64, Path, description = "The job's id")),
    responses((status = 202, description = "Cancelling", body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Not running here", body = ErrorBody)))]
async fn cancel_job(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.check_csrf(&headers, None)?;
    cancel(&state, &caller, id).await
}

/// Cancels job `id` of `caller`.
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let job = job_of(state, caller, id).await?;
    if state.0.runs.cancel(id) {
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"id": id, "cancelling": true})),
        ));
    }
    if !matches!(job.status, JobStatus::Running | JobStatus::Interrupted) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_running",
            format!("job {id} is {}, not running", job.status.as_str()),
        ));
    }
    // Running elsewhere (another server, the CLI) or left by a stop: the
    // library marks it cancelled; its writer stops at the next batch.
    let db = state.config().db.clone();
    blocking(move || {
        userimport::jobs::cancel(&mut Store::open(&db)?, id)?;
        Ok(())
    })
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "cancelling": true})),
    ))
}

/// Delete a finished job with its per-row results (and its upload, if
/// still kept); a running or resumable job is cancelled first.
#[utoipa::path(delete, path = "/api/jobs/{id}", params(("id" = i64, Path, description = "The job's id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Running: cancel it first", body = ErrorBody)))]
async fn delete_job(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.check_csrf(&headers, None)?;
    remove_job(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes finished job `id` of `caller` with its results.
pub async fn remove_job(state: &AppState, caller: &Caller, id: i64) -> Result<(), ApiError> {
    let job = job_of(state, caller, id).await?;
    if matches!(job.status, JobStatus::Running | JobStatus::Interrupted) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "job_running",
            format!(
                "job {id} is {}: cancel it first, then delete its results",
                job.status.as_str()
            ),
        ));
    }
    let (db, dir) = (state.config().db.clone(), state.config().upload_dir.clone());
    blocking(move || {
        let mut store = Store::open(&db)?;
        crate::stored::imports_mut(&mut store)?.delete_job(id)?;
        let file = std::path::Path::new(&job.spec.file);
        if file.parent() == Some(dir.as_path()) {
            crate::stored::remove_upload(&job.spec.file);
        }
        Ok(())
    })
    .await
}

/// An invitation template the execute dialog offers.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InviteTemplate {
    /// `default`, `server` (offered by the operator) or `used` (queued before).
    pub source: &'static str,
    /// Its name (the operator's), or when it was last used.
    pub name: String,
    /// The template (minijinja: a `Subject:` line, a blank line, the body
    /// with `{{ link }}`).
    pub text: String,
}

/// The invitation templates to choose from: the built-in one, the
/// operator's, and those queued before (newest first).
pub async fn templates_of(state: &AppState) -> Result<Vec<InviteTemplate>, ApiError> {
    let mut list = vec![InviteTemplate {
        source: "default",
        name: "default".into(),
        text: userimport::sink::DEFAULT_TEMPLATE.to_string(),
    }];
    for (name, text) in &state.config().invite_templates {
        list.push(InviteTemplate {
            source: "server",
            name: name.clone(),
            text: text.clone(),
        });
    }
    let db = state.config().db.clone();
    let used = blocking(move || {
        let store = Store::open_existing(&db)?;
        Ok(crate::stored::imports(&store)?.invite_templates(10)?)
    })
    .await?;
    for (text, last) in used {
        if !list.iter().any(|t| t.text == text) {
            list.push(InviteTemplate {
                source: "used",
                name: last,
                text,
            });
        }
    }
    Ok(list)
}

/// The invitation templates to choose from.
#[utoipa::path(get, path = "/api/invite-templates",
    responses((status = 200, description = "Templates: default, the operator's, those used before", body = [InviteTemplate]), (status = 401, body = ErrorBody)))]
async fn invite_templates(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<InviteTemplate>>, ApiError> {
    Ok(Json(templates_of(&state).await?))
}

/// An invitation template to check.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateCheck {
    /// The template text.
    pub template: String,
    /// When the invitations are due (RFC 3339), checked too.
    #[serde(default)]
    pub send_at: Option<String>,
}

/// Checks an invitation template by the library's rules (every variable
/// known, a `Subject:` line, the `{{ link }}`, the size limit) and renders
/// it for a sample user.
pub fn check_template(state: &AppState, check: &TemplateCheck) -> Result<Value, ApiError> {
    let base = state
        .config()
        .invite_base_url
        .clone()
        .unwrap_or_else(|| "https://example.invalid/set-password".into());
    let send_at = check.send_at.as_deref().filter(|s| !s.trim().is_empty());
    let invite = Invite::new(check.template.clone(), base, send_at).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_template",
            e.to_string(),
        )
    })?;
    let sample = Recipient {
        name: Some("Hanako Tanaka".into()),
        login: Some("tanaka".into()),
        email: "hanako@example.com".into(),
    };
    let link = userimport::sink::link(&invite.base_url, "TOKEN");
    let rendered = userimport::sink::render(&invite.template, &sample, &link).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_template",
            e.to_string(),
        )
    })?;
    Ok(json!({"ok": true, "subject": rendered.subject, "body": rendered.body}))
}

/// Check an invitation template before sending: by the library's rules,
/// rendered for a sample user.
#[utoipa::path(post, path = "/api/invite-templates/check",
    request_body(content = TemplateCheck, content_type = "application/json"),
    responses((status = 200, description = "Valid: the subject and body for a sample user", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "The template breaks a rule", body = ErrorBody)))]
async fn check_invite_template(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.check_csrf(&headers, None)?;
    let check: TemplateCheck =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
    Ok(Json(check_template(&state, &check)?))
}

/// Template and export options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// The profile (default standard).
    profile: Option<String>,
    /// utf-8-bom (default), utf-8, shift_jis …
    charset: Option<String>,
    /// Export: only users of these groups (comma-separated).
    groups: Option<String>,
    /// Export: FIELD=VALUE filters (comma-separated).
    #[serde(rename = "where")]
    filter: Option<String>,
    /// Export: a random sample of N users.
    random: Option<usize>,
    /// Export: these columns (comma-separated).
    columns: Option<String>,
    /// The language of the headers: `en` (default) or `ja`, as `--lang`.
    lang: Option<String>,
}

impl DownloadQuery {
    fn profile(&self, state: &AppState) -> Result<userimport::schema::Profile, ApiError> {
        let settings = Settings {
            profile: self.profile.clone().unwrap_or_else(|| "standard".into()),
            ..Settings::default()
        };
        settings.profile(&state.config().profiles)
    }

    fn lang(&self) -> Result<userimport::schema::Lang, ApiError> {
        match self
            .lang
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            None => Ok(userimport::schema::Lang::En),
            Some(text) => text.parse().map_err(|_| {
                ApiError::bad_options(format!("unknown language {text:?}: use en or ja"))
            }),
        }
    }

    fn charset(&self) -> Result<OutputCharset, ApiError> {
        let name = self
            .charset
            .as_deref()
            .filter(|c| !c.is_empty())
            .unwrap_or("utf-8-bom");
        OutputCharset::parse(name).ok_or_else(|| {
            ApiError::bad_options(format!(
                "unknown charset {name:?}: use utf-8-bom, utf-8 or shift_jis"
            ))
        })
    }
}

fn list(text: &Option<String>) -> Vec<String> {
    text.as_deref()
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The CSV template of a profile.
#[utoipa::path(get, path = "/api/template", params(DownloadQuery),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn template(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let profile = q.profile(&state)?;
    let bytes = userimport::write_template_in(&profile, q.lang()?, q.charset()?, Vec::new())?;
    Ok(csv_download(
        bytes,
        &format!("{}-template.csv", profile.name),
    ))
}

/// The stored users as an import file.
#[utoipa::path(get, path = "/api/export", params(DownloadQuery),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn export_users(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let profile = q.profile(&state)?;
    let charset = q.charset()?;
    let mut filters = Vec::new();
    for item in list(&q.filter) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| ApiError::bad_options(format!("where {item:?}: write FIELD=VALUE")))?;
        filters.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut options = ExportOptions::default();
    options.groups = list(&q.groups);
    options.filters = filters;
    options.random = q.random;
    options.columns = list(&q.columns);
    options.lang = q.lang()?;
    let db = state.config().db.clone();
    let name = format!("{}-users.csv", profile.name);
    let bytes = blocking(move || {
        let store = Store::open_existing(&db)?;
        let mut out = Vec::new();
        userimport::export(&profile, &store, &options, charset, &mut out).map_err(|e| match e {
            userimport::Error::Refused(m) => ApiError::bad_options(m),
            other => other.into(),
        })?;
        Ok(out)
    })
    .await?;
    Ok(csv_download(bytes, &name))
}
