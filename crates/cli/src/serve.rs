//! `userimport serve`: the web page and HTTP API; `serve token …` manages
//! the API tokens clients send as `Authorization: Bearer TOKEN`.

use std::path::PathBuf;
use std::time::Duration;

use userimport_web::{AppState, Config};

use crate::Failure;
use crate::common::StoreArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    store: StoreArgs,
    /// The address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Users holding this role may sign in (repeatable; default: admin).
    #[arg(long = "allow-role", value_name = "ROLE")]
    allow_roles: Vec<String>,
    /// Where uploads are kept until applied or expired (default: a
    /// directory in the system's temporary directory).
    #[arg(long)]
    upload_dir: Option<PathBuf>,
    /// The largest upload in bytes (a profile's own limit applies too).
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    max_upload_bytes: u64,
    /// Files with more data rows than this are applied as a background job.
    #[arg(long, default_value_t = 100)]
    background_threshold: u64,
    /// Offer this profile (a TOML file) besides the built-in ones. Repeatable.
    #[arg(long = "profile", value_name = "FILE.toml")]
    profiles: Vec<String>,
    /// The set-password page invitation links point to (enables invitations).
    #[arg(long, env = "USERIMPORT_INVITE_BASE_URL")]
    invite_base_url: Option<String>,
    /// Offer this invitation template (a text file; named by its file
    /// name) in the execute dialog besides the built-in one. Repeatable.
    #[arg(long = "invite-template", value_name = "FILE")]
    invite_templates: Vec<PathBuf>,
    /// Always mark cookies Secure (set this when TLS ends in front of the server).
    #[arg(long)]
    secure_cookies: bool,
    /// How long a session lasts, in minutes.
    #[arg(long, default_value_t = 480)]
    session_minutes: u64,
    /// Changes written per committed batch of a job.
    #[arg(long, default_value_t = 1000, hide = true)]
    job_batch: usize,
    /// How long a failed sign-in waits before it answers, in milliseconds.
    #[arg(long, default_value_t = 1000, hide = true)]
    failure_delay_ms: u64,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// API tokens: create, list, revoke.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, clap::Subcommand)]
enum TokenAction {
    /// Create a token acting as a stored user; prints it once (the store
    /// keeps only its hash).
    Create {
        /// The login ID (or e-mail) of the user the token acts as.
        #[arg(long)]
        actor: String,
        /// A note saying what the token is for.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List the tokens (never the tokens themselves).
    List,
    /// Revoke a token by its ID.
    Revoke {
        /// The token's ID.
        id: i64,
    },
}

pub fn run(args: Args) -> Result<u8, Failure> {
    match &args.action {
        Some(Action::Token { action }) => token(&args.store.db, action),
        None => serve(args),
    }
}

fn token(db: &str, action: &TokenAction) -> Result<u8, Failure> {
    match action {
        TokenAction::Create { actor, label } => {
            let (id, token) = userimport_web::create_token(db, actor, label)?;
            println!("API token {id} acts as {actor}; it is shown only now: {token}");
        }
        TokenAction::List => {
            for t in userimport_web::tokens(db)? {
                let state = t
                    .revoked_at
                    .map_or("active".to_string(), |at| format!("revoked {at}"));
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id, t.actor, t.created_at, state, t.label
                );
            }
        }
        TokenAction::Revoke { id } => {
            if !userimport_web::revoke_token(db, *id)? {
                return Err(Failure(format!("no active API token {id}")));
            }
            println!("API token {id} revoked");
        }
    }
    Ok(0)
}

fn config(args: &Args) -> Result<Config, Failure> {
    let mut config = Config::new(&args.store.db);
    if !args.allow_roles.is_empty() {
        config.allow_roles = args.allow_roles.clone();
    }
    if let Some(dir) = &args.upload_dir {
        config.upload_dir = dir.clone();
    }
    config.max_upload_bytes = args.max_upload_bytes;
    config.background_threshold = args.background_threshold;
    config.job_batch = args.job_batch.max(1);
    config.invite_base_url = args.invite_base_url.clone();
    config.secure_cookies = args.secure_cookies;
    config.session_ttl = Duration::from_secs(args.session_minutes.max(1) * 60);
    config.failure_delay = Duration::from_millis(args.failure_delay_ms);
    config.invite_templates = args
        .invite_templates
        .iter()
        .map(|path| invite_template(path))
        .collect::<Result<_, _>>()?;
    for p in &args.profiles {
        match userimport::schema::Profile::builtin(p) {
            Some(builtin) => config.profiles.push(builtin),
            None => config
                .offer_profile(std::path::Path::new(p))
                .map_err(|e| Failure(e.message))?,
        }
    }
    Ok(config)
}

/// An invitation template file, read and checked by the library's rules:
/// its name (the file's stem) and text.
fn invite_template(path: &std::path::Path) -> Result<(String, String), Failure> {
    use userimport::sink::Invite;
    let refuse =
        |e: userimport::sink::Error| Failure(format!("--invite-template {}: {e}", path.display()));
    let text = Invite::read_template(path).map_err(refuse)?;
    Invite::new(text.clone(), "https://example.invalid/".into(), None).map_err(refuse)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok((name, text))
}

fn serve(args: Args) -> Result<u8, Failure> {
    let config = config(&args)?;
    // Opening the store blocks (and the PostgreSQL client cannot connect
    // from inside the async runtime): before it starts.
    let state = AppState::new(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| Failure(format!("cannot listen on {}: {e}", args.listen)))?;
        let addr = listener.local_addr()?;
        println!("userimport serve: listening on http://{addr}/");
        userimport_web::serve(state, listener).await?;
        Ok::<u8, Failure>(0)
    })
}
