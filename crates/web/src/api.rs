//! The HTTP API: JSON with the CLI's contracts, CSV downloads, server-sent
//! events; described by `/api/openapi.json`, generated from these handlers.

use std::convert::Infallible;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use userimport::sink::{Jobs, RowResult};
use userimport::validate::Issue;
use userimport::{ExportOptions, OutputCharset, write_issues_csv};
use utoipa::OpenApi;

use crate::AppState;
use crate::auth::{Caller, CsrfCaller};
use crate::engine::Settings;
use crate::error::{ApiError, ErrorBody, blocking};
use crate::imports::{self, Applied, ApplyRequest, Import};
use crate::intake::receive_and_check;
use crate::invites::{InviteTemplate, TemplateCheck, check_template, templates_of};
use crate::jobs::{self, job_of, jobs_of};
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

/// The `{id}` of an import's route; 404 unless it is an import ID.
struct ImportId(String);

impl FromRequestParts<AppState> for ImportId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        if upload::is_id(&id) {
            Ok(ImportId(id))
        } else {
            Err(ApiError::not_found(format!("no import {id}")))
        }
    }
}

/// The caller's import that the route's `{id}` names.
struct OwnImport(Import);

impl FromRequestParts<AppState> for OwnImport {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let ImportId(id) = ImportId::from_request_parts(parts, state).await?;
        Ok(OwnImport(imports::get(state, &caller, &id).await?))
    }
}

/// The report of a checked import.
#[utoipa::path(get, path = "/api/imports/{id}", params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, description = "The report", body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_import(OwnImport(import): OwnImport) -> Json<Value> {
    Json(import.report())
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

/// Per-row results, with each row's keys and the check's `issues`, as a
/// CSV download (formula-safe).
async fn results_download(
    state: &AppState,
    results: Vec<RowResult>,
    issues: Vec<Issue>,
    name: &str,
) -> Result<Response, ApiError> {
    let out = imports::results_csv(state, results, issues).await?;
    Ok(csv_download(out, name))
}

/// The error report: one issue a row (formula-safe CSV).
#[utoipa::path(get, path = "/api/imports/{id}/issues.csv", params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn import_issues(OwnImport(import): OwnImport) -> Result<Response, ApiError> {
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
    OwnImport(import): OwnImport,
) -> Result<Response, ApiError> {
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
    OwnImport(import): OwnImport,
) -> Result<Response, ApiError> {
    let results = match &import.applied {
        Some(Applied::Now(_)) => imports::results(&state, &import.id).await?,
        Some(Applied::Job(job)) => job_results_of(&state, *job).await?,
        None => {
            return Err(ApiError::not_found(format!(
                "import {} is not applied",
                import.id
            )));
        }
    };
    let name = format!("{}-results.csv", stem(&import.name));
    results_download(&state, results, import.checked.issues, &name).await
}

/// The uploaded (or corrected) file, as UTF-8 with the header first;
/// plaintext passwords are left out.
#[utoipa::path(get, path = "/api/imports/{id}/file.csv", params(("id" = String, Path, description = "The import's id")),
    responses((status = 200, description = "The file", content_type = "text/csv", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn import_file(
    State(state): State<AppState>,
    OwnImport(import): OwnImport,
) -> Result<Response, ApiError> {
    if !import.path.exists() {
        return Err(ApiError::not_found(format!(
            "the file of import {} is gone (applied or expired)",
            import.id
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
    CsrfCaller(caller): CsrfCaller,
    ImportId(id): ImportId,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
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
    CsrfCaller(caller): CsrfCaller,
    ImportId(id): ImportId,
) -> Result<StatusCode, ApiError> {
    imports::delete(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
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
    let results = job_results_of(&state, id).await?;
    let issues = imports::job_issues(&state, &caller, &job).await;
    results_download(&state, results, issues, &format!("job-{id}-results.csv")).await
}

/// The per-row results job `id` recorded.
async fn job_results_of(state: &AppState, id: i64) -> Result<Vec<RowResult>, ApiError> {
    state.read(move |store| Ok(store.job_results(id)?)).await
}

/// Cancel a running job (the rows written stay written; resume to finish).
#[utoipa::path(post, path = "/api/jobs/{id}/cancel", params(("id" = i64, Path, description = "The job's id")),
    responses((status = 202, description = "Cancelling", body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Not running here", body = ErrorBody)))]
async fn cancel_job(
    State(state): State<AppState>,
    CsrfCaller(caller): CsrfCaller,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    jobs::cancel(&state, &caller, id).await?;
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
    CsrfCaller(caller): CsrfCaller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    jobs::remove(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
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

/// Check an invitation template before sending: by the library's rules,
/// rendered for a sample user.
#[utoipa::path(post, path = "/api/invite-templates/check",
    request_body(content = TemplateCheck, content_type = "application/json"),
    responses((status = 200, description = "Valid: the subject and body for a sample user", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "The template breaks a rule", body = ErrorBody)))]
async fn check_invite_template(
    State(state): State<AppState>,
    _caller: CsrfCaller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
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
    let name = format!("{}-users.csv", profile.name);
    let bytes = state
        .read(move |store| {
            let mut out = Vec::new();
            userimport::export(&profile, store, &options, charset, &mut out).map_err(
                |e| match e {
                    userimport::Error::Refused(m) => ApiError::bad_options(m),
                    other => other.into(),
                },
            )?;
            Ok(out)
        })
        .await?;
    Ok(csv_download(bytes, &name))
}
