//! Checked uploads: receive and check a file, keep its report, apply
//! exactly what was checked.

use std::path::PathBuf;

use serde_json::{Value, json};
use userimport::launch::{self, Started};
use userimport::plan::{ChangeKind, Directory, ReviewEntry, Summary};
use userimport::sink::{ApplyOutcome, ImportApplied, Invite, Job, RowResult, StoredImport};
use userimport::validate::Issue;
use userimport::{Checked, FileInfo, Format, Input, write_report};

use crate::AppState;
use crate::auth::Caller;
use crate::engine::{Settings, Store, apply_options};
use crate::error::{ApiError, blocking};
use crate::upload;

/// A checked upload, as the store keeps it (see [`crate::stored`]).
#[derive(Debug, Clone)]
pub struct Import {
    /// Its ID.
    pub id: String,
    /// The actor who uploaded it (only it may see or apply it).
    pub owner: String,
    /// The uploaded file.
    pub path: PathBuf,
    /// The file's name as uploaded (sanitised).
    pub name: String,
    /// The options it was checked with (actor set).
    pub settings: Settings,
    /// The check: its file facts, counts and issues (read back from the
    /// stored report; no plan, no change listing).
    pub checked: Checked,
    /// The `check --format json` report as shown when it was checked.
    pub stored_report: Value,
    /// The store revision it was checked against.
    pub revision: u64,
    /// When it expires unless applied (RFC 3339).
    pub expires_at: String,
    /// Once applied: the job, or the outcome of an apply at once (its
    /// per-row results are read with [`results`]).
    pub applied: Option<Applied>,
}

/// How an import was applied.
#[derive(Debug, Clone)]
pub enum Applied {
    /// At once: the outcome with its per-row results.
    Now(ApplyOutcome),
    /// As a background job.
    Job(i64),
}

impl Import {
    /// The `check --format json` report plus `id`.
    pub fn report(&self) -> Value {
        let mut report = self.stored_report.clone();
        report["id"] = json!(self.id);
        report
    }

    /// The import as stored.
    fn to_stored(&self) -> StoredImport {
        let settings = serde_json::to_string(&self.settings).unwrap_or_default();
        let report = serde_json::to_string(&self.stored_report).unwrap_or_default();
        StoredImport::new(
            &self.id,
            &self.owner,
            &self.name,
            &settings,
            &self.path.display().to_string(),
            &report,
            self.revision,
            &self.expires_at,
        )
    }

    /// The import a stored record describes.
    fn from_stored(stored: StoredImport) -> Result<Import, ApiError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            ApiError::internal(format!(
                "import {}: its stored {what} is unreadable: {e}",
                stored.id
            ))
        };
        let settings: Settings =
            serde_json::from_str(&stored.settings).map_err(|e| corrupt("options", e))?;
        let report: Value =
            serde_json::from_str(&stored.report).map_err(|e| corrupt("report", e))?;
        let checked = checked_of(&report).map_err(|e| corrupt("report", e))?;
        let applied = match (stored.applied_job, &stored.applied_outcome) {
            (Some(job), _) => Some(Applied::Job(job)),
            (None, Some(outcome)) => Some(Applied::Now(
                serde_json::from_str(outcome).map_err(|e| corrupt("outcome", e))?,
            )),
            (None, None) => None,
        };
        Ok(Import {
            id: stored.id,
            owner: stored.owner,
            path: PathBuf::from(stored.file),
            name: stored.name,
            settings,
            checked,
            stored_report: report,
            revision: stored.revision,
            expires_at: stored.expires_at,
            applied,
        })
    }
}

/// The check a stored report describes: its file facts, counts and issues.
fn checked_of(report: &Value) -> Result<Checked, serde_json::Error> {
    let file = &report["file"];
    let text = |k: &str| file[k].as_str().unwrap_or_default().to_string();
    let info = FileInfo {
        encoding: text("encoding"),
        delimiter: text("delimiter"),
        header_line: file["header_line"].as_u64().unwrap_or(0),
        rows: file["rows"].as_u64().unwrap_or(0),
        workbook: None,
    };
    let summary: Summary = serde_json::from_value(report["summary"].clone())?;
    let issues: Vec<Issue> = serde_json::from_value(report["issues"].clone())?;
    Ok(Checked::new(info, summary, issues, None))
}

/// The JSON report of a check with its `id`.
pub fn report_json(checked: &Checked, id: &str) -> Value {
    let mut bytes = Vec::new();
    let mut value = match write_report(checked, Format::Json, false, &mut bytes) {
        Ok(()) => serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({})),
        Err(_) => json!({}),
    };
    value["id"] = json!(id);
    value
}

/// The counts of an apply (`results` of the apply JSON).
pub fn counts(o: &ApplyOutcome) -> Value {
    json!({
        "created": o.created, "updated": o.updated, "deleted": o.deleted,
        "unchanged": o.unchanged, "skipped": o.skipped, "failed": o.failed,
    })
}

/// The import `id` of `caller` (another user's is as absent as a missing
/// one), read from the store.
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> Result<Import, ApiError> {
    let (db, key) = (state.config().db.clone(), id.to_string());
    let stored = blocking(move || crate::stored::load(&db, &key)).await?;
    stored
        .filter(|i| i.owner.eq_ignore_ascii_case(&caller.actor))
        .map(Import::from_stored)
        .transpose()?
        .ok_or_else(|| ApiError::not_found(format!("no import {id}")))
}

/// The per-row results of import `id` applied at once (read from the store).
pub async fn results(state: &AppState, id: &str) -> Result<Vec<RowResult>, ApiError> {
    let (db, id) = (state.config().db.clone(), id.to_string());
    blocking(move || {
        let store = crate::engine::Store::open_existing(&db)?;
        Ok(crate::stored::imports(&store)?.import_results(&id)?)
    })
    .await
}

/// The results CSV of an import applied at once or of a job: the columns
/// and values of the CLI's `apply --results` (the same library function),
/// each row's member ID, login ID and e-mail taken from `issues` (a
/// refused row's keys as typed) or from the stored user.
pub async fn results_csv(
    state: &AppState,
    results: Vec<RowResult>,
    issues: Vec<Issue>,
) -> Result<Vec<u8>, ApiError> {
    let db = state.config().db.clone();
    blocking(move || {
        let store = Store::open_existing(&db)?;
        let mut out = Vec::new();
        let listing = userimport::ChangeListing::default();
        userimport::write_results_csv_listed(&results, &issues, &listing, &store, &mut out)?;
        Ok(out)
    })
    .await
}

/// The issues of the upload that started `job` (its check's), for the
/// job's results file; none when the job's file is not an upload of
/// `caller`'s here.
pub async fn job_issues(state: &AppState, caller: &Caller, job: &Job) -> Vec<Issue> {
    let (dir, file) = (
        &state.config().upload_dir,
        std::path::Path::new(&job.spec.file),
    );
    let id = file
        .file_stem()
        .and_then(|stem| stem.to_str())
        .filter(|stem| upload::is_id(stem) && upload::path_of(dir, stem) == file);
    match id {
        Some(id) => get(state, caller, id)
            .await
            .map(|import| import.checked.issues)
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Records that `import` was applied (at once: with its per-row results);
/// false when another server recorded it first.
pub async fn record_applied(
    state: &AppState,
    import: &Import,
    applied: &Applied,
) -> Result<bool, ApiError> {
    let (db, id, applied) = (
        state.config().db.clone(),
        import.id.clone(),
        applied.clone(),
    );
    blocking(move || {
        let mut store = crate::engine::Store::open(&db)?;
        let imports = crate::stored::imports_mut(&mut store)?;
        let recorded = match &applied {
            Applied::Job(job) => imports.mark_import_applied(&id, ImportApplied::Job(*job))?,
            Applied::Now(outcome) => {
                let counts = ApplyOutcome {
                    results: Vec::new(),
                    ..outcome.clone()
                };
                let counts = serde_json::to_string(&counts).unwrap_or_default();
                imports.mark_import_applied(
                    &id,
                    ImportApplied::Now {
                        outcome: &counts,
                        results: &outcome.results,
                    },
                )?
            }
        };
        Ok(recorded)
    })
    .await
}

/// Forgets import `id` of `caller` with its results and its upload.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let import = get(state, caller, id).await?;
    let (db, id) = (state.config().db.clone(), import.id.clone());
    blocking(move || {
        let mut store = crate::engine::Store::open(&db)?;
        if let Some(gone) = crate::stored::imports_mut(&mut store)?.delete_import(&id)?
            && gone.applied_job.is_none()
        {
            crate::stored::remove_upload(&gone.file);
        }
        Ok(())
    })
    .await
}

/// Parses the client's options and makes the signed-in user the actor.
pub fn settings_for(
    state: &AppState,
    caller: &Caller,
    options: Option<&str>,
) -> Result<Settings, ApiError> {
    let mut settings: Settings = match options.map(str::trim).filter(|o| !o.is_empty()) {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| ApiError::bad_options(format!("options: {e}")))?,
        None => Settings::default(),
    };
    settings.actor = Some(caller.actor.clone());
    settings.invite = None;
    // Build once now, so that bad options are a 400 before any work.
    settings.importer(&state.config().profiles)?;
    Ok(settings)
}

/// The size limit for an upload with these options so far: the server's,
/// and the profile's own if it has one.
pub fn limit_for(state: &AppState, options: Option<&str>) -> u64 {
    let max = state.config().max_upload_bytes;
    let settings: Settings = options
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or_default();
    match settings.profile(&state.config().profiles) {
        Ok(p) => p.limits.max_bytes.map_or(max, |m| m.min(max)),
        Err(_) => max,
    }
}

/// Checks the uploaded file at `path` and records the import.
pub async fn check(
    state: &AppState,
    caller: &Caller,
    id: String,
    name: String,
    settings: Settings,
) -> Result<Import, ApiError> {
    let path = upload::path_of(&state.config().upload_dir, &id);
    let bytes = std::fs::metadata(&path)?.len();
    let profile = settings.profile(&state.config().profiles)?;
    if let Some(max) = profile.limits.max_bytes
        && bytes > max
    {
        let _ = std::fs::remove_file(&path);
        return Err(ApiError::too_large(max));
    }
    let (db, offered) = (state.config().db.clone(), state.config().profiles.clone());
    let (file, s) = (path.clone(), settings.clone());
    let result = blocking(move || {
        let importer = s.importer(&offered)?;
        let store = Store::open_existing(&db)?;
        let revision = store.revision()?;
        let mut checked = importer.check(std::fs::File::open(&file)?, &store)?;
        importer.fill_end_of_file_issues(std::fs::File::open(&file)?, &mut checked.issues)?;
        Ok((checked, revision))
    })
    .await;
    let (checked, revision) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    };
    let stored_report = report_json(&checked, &id);
    let import = Import {
        id: id.clone(),
        owner: caller.actor.clone(),
        path,
        name: upload::display_name(&name),
        settings,
        checked,
        stored_report,
        revision,
        expires_at: crate::stored::at_offset(state.config().upload_ttl, true),
        applied: None,
    };
    let (saving, record) = (state.clone(), import.to_stored());
    if let Err(e) = blocking(move || crate::stored::save(&saving, &record)).await {
        let _ = std::fs::remove_file(&import.path);
        return Err(e);
    }
    Ok(import)
}

/// What the client may say when applying.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ApplyRequest {
    /// Queue an invitation e-mail for every created user.
    pub invite: bool,
    /// The invitation template (default: the built-in one).
    pub invite_template: Option<String>,
    /// When the invitations are due (RFC 3339; default now).
    pub send_at: Option<String>,
}

impl ApplyRequest {
    fn invite(&self, state: &AppState) -> Result<Option<Invite>, ApiError> {
        if !self.invite {
            return Ok(None);
        }
        let base = state.config().invite_base_url.clone().ok_or_else(|| {
            ApiError::bad_options("invitations are off: the server has no set-password page (serve --invite-base-url)")
        })?;
        let template = self
            .invite_template
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| userimport::sink::DEFAULT_TEMPLATE.to_string());
        let send_at = self.send_at.as_deref().filter(|s| !s.trim().is_empty());
        Invite::new(template, base, send_at)
            .map(Some)
            .map_err(|e| ApiError::bad_options(e.to_string()))
    }
}

/// Applies import `id` exactly as checked, through the library: refused
/// when the store moved since (`store_moved`), when another apply is
/// running, or when it has errors. At or below the background threshold
/// it is `userimport::apply`, done at once; above, `launch::start` records
/// the job, which runs on a worker thread while the answer carries its ID.
pub async fn apply(
    state: &AppState,
    caller: &Caller,
    id: &str,
    request: ApplyRequest,
) -> Result<Value, ApiError> {
    let import = get(state, caller, id).await?;
    if import.applied.is_some() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "already_applied",
            format!("import {id} was applied already: upload the file again to import it again"),
        ));
    }
    if !import.checked.is_clean() && (!import.settings.skip_invalid || import.checked.is_refused())
    {
        return Err(has_errors(import.checked.summary.errors));
    }
    let invite = request.invite(state)?;
    let guard = crate::runs::try_apply(state).await?;
    let mut settings = import.settings.clone();
    // The signed-in user is the actor, whatever was stored with the upload.
    settings.actor = Some(caller.actor.clone());
    settings.invite = invite;
    let library = settings.for_apply(state.config())?;
    let how = apply_options(state.config(), import.revision);
    let (db, path) = (state.config().db.clone(), import.path.clone());
    let mut report = import.report();
    let applied = if import.checked.file.rows > how.background_threshold {
        let started = blocking(move || Ok(launch::start(&db, &path, &library, &how)?)).await?;
        let (done, worker) = match started {
            Started::Refused(done) => return Err(has_errors(done.summary.errors)),
            Started::Job(done, worker) => (done, worker),
        };
        let job = worker.id();
        crate::runs::start(state, worker, import.path.clone(), guard);
        add_results(&mut report, &done);
        Applied::Job(job)
    } else {
        let done = blocking(move || {
            let input = Input::Path(path);
            Ok(userimport::apply(&db, input, &library, &how, &mut |_| {
                true
            })?)
        })
        .await?;
        drop(guard);
        if done.refused {
            return Err(has_errors(done.summary.errors));
        }
        let _ = std::fs::remove_file(&import.path);
        add_results(&mut report, &done);
        Applied::Now(outcome_of(done))
    };
    record_applied(state, &import, &applied).await?;
    Ok(report)
}

fn has_errors(errors: u64) -> ApiError {
    ApiError::file(format!(
        "the file has {errors} error(s): fix them (or apply the valid rows with skip_invalid)"
    ))
}

/// The apply JSON: the check report plus the library's `job`, `results`,
/// `committed`, `revision` and `created_groups`.
fn add_results(report: &mut Value, applied: &userimport::Applied) {
    if let Ok(Value::Object(done)) = serde_json::to_value(applied) {
        for key in ["job", "results", "committed", "revision", "created_groups"] {
            report[key] = done.get(key).cloned().unwrap_or(Value::Null);
        }
    }
}

/// The outcome of an apply done at once, per-row results included.
fn outcome_of(applied: userimport::Applied) -> ApplyOutcome {
    let mut outcome = ApplyOutcome::default();
    let r = applied.results;
    outcome.committed = applied.committed;
    outcome.revision = applied.revision;
    (outcome.created, outcome.updated, outcome.deleted) = (r.created, r.updated, r.deleted);
    (outcome.unchanged, outcome.skipped, outcome.failed) = (r.unchanged, r.skipped, r.failed);
    outcome.created_groups = applied.created_groups;
    outcome.results = applied.rows;
    outcome
}

/// One line of the change listing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChangeLine {
    /// Physical line (0 for sync changes).
    pub line: u64,
    /// create, update, delete, suspend, unchanged.
    pub action: &'static str,
    /// The member ID, for existing users.
    pub member: Option<i64>,
    /// The login ID or e-mail of a new user.
    pub who: String,
    /// The field (or list) that changes.
    pub column: String,
    /// The stored value.
    pub old: String,
    /// The new value.
    pub new: String,
}

/// The changes of import `id` against the store as it is now, one line
/// per changed field (at most `limit` lines): the library's review listing
/// of a fresh check.
pub async fn changes(
    state: &AppState,
    import: &Import,
    limit: usize,
) -> Result<Vec<ChangeLine>, ApiError> {
    let config = state.config().clone();
    let (settings, path) = (import.settings.clone(), import.path.clone());
    blocking(move || {
        let store = Store::open_existing(&config.db)?;
        let importer = settings.importer_listing(&config.profiles, limit)?;
        let checked = importer.check(std::fs::File::open(&path)?, &store)?;
        let mut lines = Vec::new();
        for entry in &checked.review.entries {
            change_lines(entry, &mut lines);
        }
        lines.truncate(limit);
        Ok(lines)
    })
    .await
}

fn change_lines(entry: &ReviewEntry, out: &mut Vec<ChangeLine>) {
    let user = &entry.user;
    let who = [&user.login_id, &user.email, &user.name, &entry.group]
        .into_iter()
        .find_map(|v| v.clone())
        .unwrap_or_default();
    let line = |column: &str, old: String, new: String| ChangeLine {
        line: entry.line,
        action: entry.kind.name(),
        member: user.member_id,
        who: who.clone(),
        column: column.to_string(),
        old,
        new,
    };
    if !matches!(entry.kind, ChangeKind::Update) {
        out.push(line("", String::new(), String::new()));
    }
    if matches!(entry.kind, ChangeKind::Create) {
        for (key, value) in [
            ("login_id", &user.login_id),
            ("email", &user.email),
            ("name", &user.name),
        ] {
            if let Some(value) = value {
                out.push(line(key, String::new(), value.clone()));
            }
        }
    }
    for field in &entry.fields {
        out.push(line(
            &field.column,
            field.old.clone().unwrap_or_default(),
            field.new.clone().unwrap_or_default(),
        ));
    }
    for (name, list) in [
        ("groups", &entry.groups),
        ("roles", &entry.roles),
        ("identities", &entry.identities),
    ] {
        if !list.added.is_empty() || !list.removed.is_empty() {
            let removed: Vec<String> = list.removed.iter().map(|r| format!("-{r}")).collect();
            out.push(line(name, removed.join(","), list.added.join(",")));
        }
    }
}
