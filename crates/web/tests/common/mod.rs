//! Shared by the web tests: a real server on a free port over a real
//! SQLite store (or a fresh PostgreSQL schema, [`Schema`]), restarted on
//! the same store or doubled by a second server beside it, users created
//! through the library with pre-hashed passwords, a small HTTP client that
//! keeps a session, and the files and waits the tests share.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE};
use reqwest::{Client, Response, StatusCode, redirect};
use userimport::Importer;
use userimport::schema::Profile;
use userimport_web::{AppState, Config, Store};

/// The password every test user has.
pub const PASSWORD: &str = "Correct-Horse-Battery-9";

/// One argon2id hash of [`PASSWORD`], made once (hashing is slow).
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| userimport::plan::hash_password(PASSWORD).expect("hash"))
}

/// A running server.
pub struct Server {
    pub url: String,
    pub db: String,
    /// The test's directory (the SQLite store, `uploads/`), shared by a
    /// restarted server and a second one beside it.
    pub dir: Arc<tempfile::TempDir>,
    pub state: AppState,
    /// The serving task (aborted by [`Server::stop`]).
    task: tokio::task::JoinHandle<()>,
    /// The configuration it was started with.
    config: Config,
}

impl Server {
    /// Stops serving and drops this server's state (its router, jobs
    /// table and everything in memory).
    pub fn stop(self) -> (Arc<tempfile::TempDir>, String, Config) {
        self.task.abort();
        (self.dir, self.db, self.config)
    }

    /// Stops the server and starts a new one on the same store and upload
    /// directory: what survives is what the store keeps.
    pub async fn restart(self) -> Server {
        let (dir, db, config) = self.stop();
        serve_with(dir, db, config).await
    }

    /// A second server on the same store and upload directory (as another
    /// process would be), with its own memory.
    pub async fn beside(&self) -> Server {
        serve_with(self.dir.clone(), self.db.clone(), self.config.clone()).await
    }

    pub fn upload_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("uploads")
    }

    /// Files left in the upload directory.
    pub fn uploads(&self) -> Vec<String> {
        std::fs::read_dir(self.upload_dir())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Starts a server over a new SQLite store with the users `login:roles:status`
/// (roles comma-separated with `;`), tuned by `tune`.
pub async fn start(users: &[&str], tune: impl FnOnce(&mut Config)) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    start_on(dir, db, users, tune).await
}

pub async fn start_on(
    dir: tempfile::TempDir,
    db: String,
    users: &[&str],
    tune: impl FnOnce(&mut Config),
) -> Server {
    let mut config = Config::new(&db);
    config.upload_dir = dir.path().join("uploads");
    config.failure_delay = Duration::from_millis(10);
    tune(&mut config);
    // Store work blocks (the PostgreSQL client cannot run on an async task).
    tokio::task::block_in_place(|| seed(&db, users));
    serve_with(Arc::new(dir), db, config).await
}

/// Builds the state (migrating the store, resuming interrupted jobs) and
/// serves it on a free port.
async fn serve_with(dir: Arc<tempfile::TempDir>, db: String, config: Config) -> Server {
    let state = tokio::task::block_in_place(|| AppState::new(config.clone()).expect("state"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let serving = state.clone();
    let task = tokio::spawn(async move {
        let _ = userimport_web::serve(serving, listener).await;
    });
    Server {
        url,
        db,
        dir,
        state,
        task,
        config,
    }
}

/// Creates users through the library: `login:roles:status` (roles joined
/// with `;`, status blank for Valid), each with [`PASSWORD`] pre-hashed.
pub fn seed(db: &str, users: &[&str]) {
    use userimport::sink::Sink;
    if users.is_empty() {
        return;
    }
    let mut csv = String::from("login_id,name,email,password_hash,roles,status,groups\n");
    for user in users {
        let mut parts = user.split(':');
        let login = parts.next().unwrap_or("");
        let roles = parts.next().unwrap_or("").replace(';', ",");
        let status = parts.next().unwrap_or("");
        csv.push_str(&format!(
            "{login},{login} name,{login}@example.com,\"{}\",\"{roles}\",{status},\n",
            password_hash()
        ));
    }
    let mut store = Store::open(db).expect("store");
    let profile = Profile::standard();
    let checked = Importer::builder(&profile)
        .build()
        .plan(csv.as_bytes(), &store)
        .expect("plan");
    assert!(checked.is_clean(), "seed users: {:?}", checked.issues);
    let plan = checked.plan.expect("plan");
    let outcome = store.apply(&plan, &mut |_| true).expect("apply");
    assert!(outcome.committed);
}

/// A client that keeps one session's cookie and CSRF token.
#[derive(Clone)]
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

pub fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of `name="csrf" value="…"` (or `data-csrf="…"`) in a page.
pub fn csrf_in(page: &str) -> String {
    for marker in ["name=\"csrf\" value=\"", "data-csrf=\""] {
        if let Some(start) = page.find(marker) {
            let rest = &page[start + marker.len()..];
            return rest[..rest.find('"').unwrap_or(0)].to_string();
        }
    }
    String::new()
}

/// The `name=value` of each `Set-Cookie`.
pub fn cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .collect()
}

/// Posts the sign-in form; returns the answer.
pub async fn post_login(base: &str, login: &str, password: &str) -> Response {
    let c = client();
    let page = c
        .get(format!("{base}login"))
        .send()
        .await
        .expect("login page");
    let jar = cookies(page.headers()).join("; ");
    let csrf = csrf_in(&page.text().await.expect("body"));
    c.post(format!("{base}login"))
        .header(COOKIE, jar)
        .form(&[
            ("login", login),
            ("password", password),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .expect("login")
}

/// Signs in; panics unless it works.
pub async fn sign_in(base: &str, login: &str) -> Browser {
    let answer = post_login(base, login, PASSWORD).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "sign-in of {login}");
    let session = cookies(answer.headers())
        .into_iter()
        .find(|c| c.starts_with("ui_session=") && c.len() > "ui_session=".len())
        .expect("session cookie");
    let c = client();
    let home = c
        .get(base)
        .header(COOKIE, &session)
        .send()
        .await
        .expect("home");
    assert_eq!(home.status(), StatusCode::OK);
    let csrf = csrf_in(&home.text().await.expect("home body"));
    assert_eq!(csrf.len(), 64, "the page carries the session's CSRF token");
    Browser {
        client: c,
        base: base.to_string(),
        cookie: session,
        csrf,
    }
}

impl Browser {
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
    }

    /// A POST with the CSRF header.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf)
    }

    /// GETs `path`; the answer.
    pub async fn fetch(&self, path: &str) -> Response {
        self.get(path).send().await.expect("GET")
    }

    /// GETs `path`; the body as text.
    pub async fn text(&self, path: &str) -> String {
        self.fetch(path).await.text().await.expect("a text body")
    }

    /// GETs `path`; the body as JSON.
    pub async fn json(&self, path: &str) -> serde_json::Value {
        json_of(self.fetch(path).await).await
    }

    /// POSTs to `path` with the CSRF header and no body; the answer.
    pub async fn submit(&self, path: &str) -> Response {
        self.post(path).send().await.expect("POST")
    }

    /// Posts the sign-out form with `csrf` in its field; the answer.
    pub async fn sign_out(&self, csrf: &str) -> Response {
        self.post_bare("logout")
            .form(&[("csrf", csrf)])
            .send()
            .await
            .expect("sign out")
    }

    /// A POST without the CSRF token.
    pub fn post_bare(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
    }

    /// Applies the import of a check's `report` with no body (the
    /// defaults); returns the answer.
    pub async fn apply_checked(&self, report: &serde_json::Value) -> Response {
        let id = report["id"].as_str().expect("the report has an id");
        self.post(&format!("api/imports/{id}/apply"))
            .send()
            .await
            .expect("apply")
    }

    /// Uploads `bytes` with `options`; returns the answer.
    pub async fn upload(&self, bytes: Vec<u8>, options: &str) -> Response {
        self.post("api/imports")
            .multipart(form(bytes, options))
            .send()
            .await
            .expect("upload")
    }
}

pub fn form(bytes: Vec<u8>, options: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("options", options.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("users.csv"),
        )
}

/// An API client with a bearer token made for `actor`.
pub fn token_for(server: &Server, actor: &str) -> String {
    tokio::task::block_in_place(|| {
        userimport_web::create_token(&server.db, actor, "test")
            .expect("token")
            .1
    })
}

/// Revokes the newest API token.
pub fn revoke_newest(server: &Server) {
    tokio::task::block_in_place(|| {
        let id = userimport_web::tokens(&server.db).expect("tokens")[0].id;
        assert!(userimport_web::revoke_token(&server.db, id).expect("revoke"));
    })
}

/// `rows` new users with pre-hashed passwords, as a CSV file.
pub fn users_csv(prefix: &str, rows: usize) -> Vec<u8> {
    let mut csv = String::from("Login ID,Name,Email address,Password hash\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "{prefix}{i:06},User {i},{prefix}{i:06}@example.com,\"{}\"\n",
            password_hash()
        ));
    }
    csv.into_bytes()
}

/// The JSON body of an answer.
pub async fn json_of(answer: Response) -> serde_json::Value {
    answer.json().await.expect("a JSON body")
}

/// The `error.code` of a JSON error answer.
pub async fn code_of(answer: Response) -> (StatusCode, String) {
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

/// Two new users with pre-hashed passwords (applied at once).
pub fn small_file() -> Vec<u8> {
    format!(
        "Login ID,Name,Email address,Password hash\n\
         tanaka,Tanaka Hanako,hanako@example.com,\"{h}\"\n\
         suzuki,Suzuki Ichiro,ichiro@example.com,\"{h}\"\n",
        h = password_hash()
    )
    .into_bytes()
}

/// Polls job `job` until it is no longer running; returns its record.
pub async fn wait_done(browser: &Browser, job: i64) -> serde_json::Value {
    for _ in 0..600 {
        let record: serde_json::Value = browser
            .get(&format!("api/jobs/{job}"))
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("job JSON");
        if record["status"] != "running" {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {job} did not finish");
}

/// Uploads `bytes` and returns the report (asserting 201).
pub async fn checked(browser: &Browser, bytes: Vec<u8>) -> serde_json::Value {
    let answer = browser.upload(bytes, "{}").await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    answer.json().await.expect("report")
}

/// Applies import `id` with `body` (JSON); returns the answer.
pub async fn apply(browser: &Browser, id: &str, body: serde_json::Value) -> Response {
    browser
        .post(&format!("api/imports/{id}/apply"))
        .json(&body)
        .send()
        .await
        .expect("apply")
}

/// A DELETE with the CSRF header.
pub async fn delete(browser: &Browser, path: &str) -> Response {
    browser
        .client
        .delete(format!("{}{path}", browser.base))
        .header(COOKIE, &browser.cookie)
        .header("x-csrf-token", &browser.csrf)
        .send()
        .await
        .expect("delete")
}

/// A fresh PostgreSQL schema on `USERIMPORT_TEST_POSTGRES`, dropped at the
/// end; `None` (saying the test was skipped) without the variable, a
/// failure in CI (`CI=true`).
pub struct Schema {
    base: String,
    name: String,
}

impl Schema {
    pub fn fresh() -> Option<Schema> {
        let base = match std::env::var("USERIMPORT_TEST_POSTGRES") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                    panic!(
                        "USERIMPORT_TEST_POSTGRES is not set in CI: the PostgreSQL tests must run"
                    );
                }
                eprintln!("skipped: USERIMPORT_TEST_POSTGRES is not set");
                return None;
            }
        };
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "web{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        tokio::task::block_in_place(|| {
            let mut client = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
            client
                .batch_execute(&format!("CREATE SCHEMA {name}"))
                .expect("schema");
        });
        Some(Schema { base, name })
    }

    /// The store URL of this schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        tokio::task::block_in_place(|| {
            if let Ok(mut client) = postgres::Client::connect(&self.base, postgres::NoTls) {
                let _ =
                    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
            }
        });
    }
}
