//! The web page and HTTP API of userimport, on axum: sign in, upload and
//! check a file, review it, execute it (at once or as a background job with
//! live progress), download the results.
//!
//! [`router`] returns an axum [`Router`] that a service can mount (nest it
//! under a path, add its own layers); [`serve`] runs it on a listener, as
//! `userimport serve` does. Everything it does goes through the library:
//! the store opened from a URL, the check of the importer built from
//! [`Settings`], `userimport::apply` (refused when the store moved since
//! the check), `userimport::launch` and `userimport::jobs` for background
//! jobs and their progress, `userimport::fix` for fix in place.
//!
//! Security: browser users sign in with a stored user's login ID (or
//! e-mail) and password (argon2id) and must hold a role the operator allows
//! ([`Config::allow_roles`]); the signed-in user is the importing actor of
//! every import. Sessions are HttpOnly, SameSite=Strict cookies (Secure
//! behind TLS) whose token the store keeps only as a SHA-256; every
//! state-changing request carries the session's CSRF token. API clients
//! send `Authorization: Bearer TOKEN` ([`create_token`]). Uploads stream to
//! mode-0600 files in [`Config::upload_dir`] under the size limit.
//!
//! State: checked imports (their report, options, upload path and the store
//! revision checked at), the results of imports applied at once and the
//! sign-in failures are kept in the store, not in memory: a restarted
//! server finds them, and every server on one store shares them. So does
//! the one apply at a time per store (a lock file beside a SQLite store, an
//! advisory lock on PostgreSQL). Unapplied uploads are deleted when they
//! expire ([`Config::upload_ttl`]); results are kept until deleted. Every
//! response carries a strict Content-Security-Policy (no inline script),
//! `X-Content-Type-Options: nosniff` and frame denial.
//!
//! # Example
//!
//! ```no_run
//! use userimport_web::{AppState, Config, router};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new("sqlite://userimport.db");
//! let state = AppState::new(config)?;
//! let app = axum::Router::new().nest("/import", router(state));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod api;
mod auth;
mod cookies;
mod engine;
mod error;
mod fix;
mod i18n;
mod imports;
mod intake;
mod invites;
mod jobs;
mod login;
mod pages;
mod runs;
mod stored;
mod upload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use userimport::schema::Profile;

pub use api::openapi_json;
pub use engine::{Settings, Store};
pub use error::ApiError;

/// How the server runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The store URL (`sqlite://…`, a path, `postgres://…`).
    pub db: String,
    /// Roles whose holders may sign in (compared case-insensitively;
    /// default `admin`).
    pub allow_roles: Vec<String>,
    /// Where uploads are kept (mode 0700, files 0600) until applied or expired.
    pub upload_dir: PathBuf,
    /// The largest upload, in bytes (a profile's own limit applies too).
    pub max_upload_bytes: u64,
    /// Files of more rows than this are applied as a background job.
    pub background_threshold: u64,
    /// Changes written per committed batch of a job.
    pub job_batch: usize,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// How long a checked upload is kept without being applied.
    pub upload_ttl: Duration,
    /// Always mark cookies `Secure` (otherwise only behind TLS, as
    /// `X-Forwarded-Proto: https` says).
    pub secure_cookies: bool,
    /// The set-password page invitation links point to.
    pub invite_base_url: Option<String>,
    /// Profiles offered besides the built-in ones.
    pub profiles: Vec<Profile>,
    /// Invitation templates offered besides the built-in one (name, text);
    /// the execute dialog also offers those queued before.
    pub invite_templates: Vec<(String, String)>,
    /// The TOML file each offered profile was read from, by profile name
    /// ([`Config::offer_profile`] fills both): a job records the file, so
    /// that a restarted server or `userimport jobs resume` reads it again.
    /// An offered profile without a file can be checked, not applied.
    pub profile_files: std::collections::BTreeMap<String, PathBuf>,
    /// How long a request may take before 408.
    pub request_timeout: Duration,
    /// Failed sign-ins allowed per account in [`Config::failure_window`].
    pub max_failures_per_account: u32,
    /// Failed sign-ins allowed per address in [`Config::failure_window`].
    pub max_failures_per_address: u32,
    /// The window failed sign-ins are counted in (and locked out for).
    pub failure_window: Duration,
    /// How long a failed sign-in waits before it answers.
    pub failure_delay: Duration,
}

impl Config {
    /// The defaults for a store URL.
    pub fn new(db: &str) -> Self {
        Config {
            db: db.to_string(),
            allow_roles: vec!["admin".to_string()],
            upload_dir: std::env::temp_dir().join("userimport-uploads"),
            max_upload_bytes: 256 * 1024 * 1024,
            background_threshold: 100,
            job_batch: 1000,
            session_ttl: Duration::from_secs(8 * 3600),
            upload_ttl: Duration::from_secs(24 * 3600),
            secure_cookies: false,
            invite_base_url: None,
            profiles: Vec::new(),
            invite_templates: Vec::new(),
            profile_files: std::collections::BTreeMap::new(),
            request_timeout: Duration::from_secs(300),
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            failure_window: Duration::from_secs(15 * 60),
            failure_delay: Duration::from_secs(1),
        }
    }
}

impl Config {
    /// Offers the profile in the TOML file at `path` besides the built-in
    /// ones (a client names it by its `name`).
    pub fn offer_profile(&mut self, path: &std::path::Path) -> Result<(), ApiError> {
        let profile = Profile::from_toml_file(path)
            .map_err(|e| ApiError::config(format!("profile {}: {e}", path.display())))?;
        let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.profile_files.insert(profile.name.clone(), file);
        self.profiles.push(profile);
        Ok(())
    }
}

/// The server's shared state: configuration, templates and the jobs
/// running here. Checked imports, at-once results, sign-in failures and
/// the apply lock are kept in the store, so that they outlive a restart
/// and every server on one store sees them.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    templates: minijinja::Environment<'static>,
    runs: runs::Runs,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens (creating and migrating) the store, prepares the upload
    /// directory and the templates, and forgets (with their uploads) the
    /// checked imports that expired. This blocks: call it before starting
    /// the async runtime, or from `spawn_blocking` (the PostgreSQL client
    /// cannot connect from an async task).
    pub fn new(config: Config) -> Result<AppState, ApiError> {
        let store = Store::open(&config.db)?;
        drop(store);
        upload::prepare_dir(&config.upload_dir)?;
        let state = AppState(Arc::new(Inner {
            templates: pages::templates()?,
            runs: runs::Runs::default(),
            config,
        }));
        stored::expire(&state)?;
        Ok(state)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Resumes the jobs this server started that a stop interrupted
    /// (their upload is still in the upload directory); returns their IDs.
    pub fn resume_interrupted(&self) -> Result<Vec<i64>, ApiError> {
        runs::resume_interrupted(self)
    }

    /// Runs `work` off the async threads on the store as it is (never
    /// created or migrated).
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.config().db.clone();
        error::blocking(move || work(&Store::open_existing(&db)?)).await
    }

    /// Runs `work` off the async threads on the store opened for writing
    /// (created and migrated when new).
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.config().db.clone();
        error::blocking(move || work(&mut Store::open(&db)?)).await
    }
}

/// The security headers every response carries.
fn security_headers(router: Router) -> Router {
    let csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
               connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    let set = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::overriding(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    router
        .layer(set("content-security-policy", csp))
        .layer(set("x-content-type-options", "nosniff"))
        .layer(set("x-frame-options", "DENY"))
        .layer(set("referrer-policy", "no-referrer"))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cache-control"),
            HeaderValue::from_static("no-store"),
        ))
}

/// The web page and the HTTP API as one router, to serve or to mount.
pub fn router(state: AppState) -> Router {
    let upload_limit = usize::try_from(state.config().max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    let timeout = state.config().request_timeout;
    let app = Router::new()
        .merge(api::routes(upload_limit))
        .merge(pages::routes(upload_limit))
        .merge(login::routes())
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(state);
    security_headers(app)
}

/// Serves [`router`] on `listener` until the process is stopped (Ctrl-C or
/// SIGTERM); resumes interrupted jobs first.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let resuming = state.clone();
    match tokio::task::spawn_blocking(move || resuming.resume_interrupted()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => eprintln!("userimport serve: cannot resume interrupted jobs: {e}"),
        Err(e) => eprintln!("userimport serve: cannot resume interrupted jobs: {e}"),
    }
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Creates (blocking) an API token acting as `actor` (a stored user's login ID) and
/// returns its ID and the token, shown once: the store keeps only its hash.
pub fn create_token(db: &str, actor: &str, label: &str) -> Result<(i64, String), ApiError> {
    let mut store = Store::open(db)?;
    let who = engine::auth(&store)?
        .credential(actor)?
        .ok_or_else(|| ApiError::not_found(format!("no stored user {actor:?}")))?;
    let (token, hash) = userimport::sink::new_secret()?;
    let id = engine::auth_mut(&mut store)?.create_token(&who.actor(), label, &hash)?;
    Ok((id, token))
}

/// Revokes API token `id`; false when there was no such unrevoked token.
pub fn revoke_token(db: &str, id: i64) -> Result<bool, ApiError> {
    Ok(engine::auth_mut(&mut Store::open(db)?)?.revoke_token(id)?)
}

/// The API tokens of the store (hashes never leave the store).
pub fn tokens(db: &str) -> Result<Vec<userimport::sink::ApiToken>, ApiError> {
    Ok(engine::auth(&Store::open_existing(db)?)?.tokens()?)
}
