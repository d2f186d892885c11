//! The HTTP API against a real server and a real SQLite store: every route,
//! its statuses and its refusals.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

const ADMIN: &str = "admin:admin";

#[tokio::test(flavor = "multi_thread")]
async fn health_and_the_openapi_document_need_no_sign_in_and_list_every_route() {
    let server = start(&[], |_| {}).await;
    let c = client();
    let health = c
        .get(format!("{}healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let doc: Value = c
        .get(format!("{}api/openapi.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    for route in [
        "/healthz",
        "/api/imports",
        "/api/imports/{id}",
        "/api/imports/{id}/issues.csv",
        "/api/imports/{id}/changes.csv",
        "/api/imports/{id}/apply",
        "/api/jobs",
        "/api/jobs/{id}",
        "/api/jobs/{id}/events",
        "/api/jobs/{id}/results.csv",
        "/api/jobs/{id}/cancel",
        "/api/template",
        "/api/export",
        "/api/invite-templates",
        "/api/invite-templates/check",
    ] {
        assert!(paths.contains_key(route), "{route} is documented");
    }
    assert!(paths["/api/imports/{id}"]["delete"].is_object());
    assert!(paths["/api/jobs/{id}"]["delete"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_api_route_refuses_a_caller_without_credentials_and_sets_security_headers() {
    let server = start(&[ADMIN], |_| {}).await;
    let c = client();
    let id = "0123456789abcdef0123456789abcdef";
    let gets = [
        "api/jobs".to_string(),
        "api/jobs/1".into(),
        "api/jobs/1/events".into(),
        "api/jobs/1/results.csv".into(),
        format!("api/imports/{id}"),
        format!("api/imports/{id}/issues.csv"),
        format!("api/imports/{id}/changes.csv"),
        "api/template".into(),
        "api/export".into(),
        "api/invite-templates".into(),
    ];
    for path in &gets {
        let answer = c.get(format!("{}{path}", server.url)).send().await.unwrap();
        let h = answer.headers().clone();
        assert_eq!(
            code_of(answer).await,
            (StatusCode::UNAUTHORIZED, "unauthorized".into()),
            "GET {path}"
        );
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
    }
    for path in [
        "api/imports".to_string(),
        format!("api/imports/{id}/apply"),
        "api/jobs/1/cancel".into(),
        "api/invite-templates/check".into(),
    ] {
        let answer = c
            .post(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            code_of(answer).await.0,
            StatusCode::UNAUTHORIZED,
            "POST {path}"
        );
    }
    let wrong = c
        .get(format!("{}api/jobs", server.url))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // The page sends a stranger to the sign-in form.
    let page = c.get(&server.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "./login");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_checks_the_password_the_role_and_the_status_and_sets_a_strict_cookie() {
    let server = start(&[ADMIN, "clerk:", "gone:admin:Invalid"], |_| {}).await;
    let wrong = post_login(&server.url, "admin", "wrong password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        cookies(wrong.headers())
            .iter()
            .all(|c| !c.starts_with("ui_session="))
    );
    for refused in ["clerk", "gone", "nobody"] {
        let answer = post_login(&server.url, refused, PASSWORD).await;
        assert_eq!(
            answer.status(),
            StatusCode::UNAUTHORIZED,
            "{refused} may not sign in"
        );
    }
    let ok = post_login(&server.url, "ADMIN@example.com", PASSWORD).await;
    assert_eq!(
        ok.status(),
        StatusCode::SEE_OTHER,
        "sign-in by e-mail, any case"
    );
    let set = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("ui_session="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    // Behind TLS the cookie is Secure.
    let browser = sign_in(&server.url, "admin").await;
    let jobs = browser.fetch("api/jobs").await;
    assert_eq!(jobs.status(), StatusCode::OK);
    // The store keeps only the session token's hash.
    let token = browser.cookie.trim_start_matches("ui_session=");
    let bytes = std::fs::read(server.dir.path().join("store.db")).unwrap();
    let wal = std::fs::read(server.dir.path().join("store.db-wal")).unwrap_or_default();
    for file in [&bytes, &wal] {
        assert!(
            !file.windows(token.len()).any(|w| w == token.as_bytes()),
            "the session token is not stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_form_without_its_csrf_token_is_refused() {
    let server = start(&[ADMIN], |_| {}).await;
    let answer = client()
        .post(format!("{}login", server.url))
        .form(&[("login", "admin"), ("password", PASSWORD), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(answer).await,
        (StatusCode::FORBIDDEN, "csrf".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_sign_ins_are_slowed_and_then_limited_per_account_and_per_address() {
    let server = start(&[ADMIN, "other:admin"], |c| {
        c.max_failures_per_account = 3;
        c.max_failures_per_address = 5;
        c.failure_delay = Duration::from_millis(200);
    })
    .await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(
            post_login(&server.url, "admin", "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "each failure waits"
    );
    // The account is locked now, even with the right password.
    let locked = post_login(&server.url, "admin", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another account from the same address: two more failures lock the address.
    for _ in 0..2 {
        assert_eq!(
            post_login(&server.url, "other", "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        post_login(&server.url, "other", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expire_and_sign_out_ends_them() {
    let server = start(&[ADMIN], |c| c.session_ttl = Duration::from_secs(2)).await;
    let browser = sign_in(&server.url, "admin").await;
    assert_eq!(
        browser.fetch("api/jobs").await.status(),
        StatusCode::OK,
        "a fresh session works"
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        browser.fetch("api/jobs").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let no_csrf = browser.sign_out("").await;
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let out = browser.sign_out(&browser.csrf).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        browser.fetch("api/jobs").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_post_without_the_csrf_token_is_refused_and_leaves_no_upload() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let answer = browser
        .post_bare("api/imports")
        .multipart(form(small_file(), "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(answer).await,
        (StatusCode::FORBIDDEN, "csrf".into())
    );
    assert!(server.uploads().is_empty(), "{:?}", server.uploads());
    // With the token as a form field it is accepted.
    let with_field = reqwest::multipart::Form::new()
        .text("csrf", browser.csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(small_file()).file_name("u.csv"),
        );
    let answer = browser
        .post_bare("api/imports")
        .multipart(with_field)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let id = answer.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let apply = browser
        .post_bare(&format!("api/imports/{id}/apply"))
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(apply).await, (StatusCode::FORBIDDEN, "csrf".into()));
    let cancel = browser.post_bare("api/jobs/1/cancel").send().await.unwrap();
    assert_eq!(
        code_of(cancel).await,
        (StatusCode::FORBIDDEN, "csrf".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_check_and_apply_at_once_with_the_cli_contracts() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let answer = browser.upload(small_file(), r#"{"mode": "upsert"}"#).await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let report: Value = answer.json().await.unwrap();
    assert_eq!(report["file"]["encoding"], "UTF-8");
    assert_eq!(report["summary"]["create"], 2);
    assert_eq!(report["issues"], Value::Array(vec![]));
    let id = report["id"].as_str().unwrap().to_string();
    let upload = server.upload_dir().join(format!("{id}.upload"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&upload).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the upload is private");
    }
    let again: Value = browser.json(&format!("api/imports/{id}")).await;
    assert_eq!(again, report);
    let changes = browser
        .fetch(&format!("api/imports/{id}/changes.csv"))
        .await;
    assert_eq!(changes.status(), StatusCode::OK);
    assert!(changes.text().await.unwrap().contains("tanaka"));

    let applied: Value = json_of(browser.submit(&format!("api/imports/{id}/apply")).await).await;
    assert_eq!(applied["job"], Value::Null);
    assert_eq!(applied["results"]["created"], 2);
    assert_eq!(applied["summary"]["create"], 2);
    assert!(!upload.exists(), "an applied upload is removed");
    let results = browser
        .fetch(&format!("api/imports/{id}/results.csv"))
        .await;
    assert!(
        results.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"users-results.csv\"")
    );
    let results = results.text().await.unwrap();
    assert_eq!(results.lines().count(), 3, "{results}");
    let twice = browser.submit(&format!("api/imports/{id}/apply")).await;
    assert_eq!(
        code_of(twice).await,
        (StatusCode::CONFLICT, "already_applied".into())
    );

    // The actor is the signed-in user: checking the same file again changes nothing.
    let report: Value = checked(&browser, small_file()).await;
    assert_eq!(report["summary"]["unchanged"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_with_errors_are_reported_and_the_file_is_not_applied() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let file = format!(
        "Login ID,Name,Email address,Password hash\nsato,Sato,not-an-email,\"{}\"\n",
        password_hash()
    );
    let report: Value = checked(&browser, file.into_bytes()).await;
    assert_eq!(report["issues"][0]["code"], "email.invalid");
    assert_eq!(report["issues"][0]["line"], 2);
    let id = report["id"].as_str().unwrap();
    let csv = browser.text(&format!("api/imports/{id}/issues.csv")).await;
    assert!(csv.contains("email.invalid"), "{csv}");
    let apply = browser.submit(&format!("api/imports/{id}/apply")).await;
    assert_eq!(
        code_of(apply).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "file".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_options_are_400_and_a_file_level_error_is_422() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    for options in [
        r#"{"mode": "explode"}"#,
        r#"{"profile": "/etc/passwd"}"#,
        r#"{"no_such_option": 1}"#,
        r#"{"charset": "ebcdic"}"#,
        "not json",
    ] {
        let (status, code) = code_of(browser.upload(small_file(), options).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "bad_options"),
            "{options}"
        );
    }
    let no_key = b"Name,Department\nTanaka,Sales\n".to_vec();
    let (status, code) = code_of(browser.upload(no_key, "{}").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "file")
    );
    let no_file = browser
        .post("api/imports")
        .multipart(reqwest::multipart::Form::new().text("options", "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(no_file).await.0, StatusCode::BAD_REQUEST);
    assert!(
        server.uploads().is_empty(),
        "refused uploads leave nothing: {:?}",
        server.uploads()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_over_the_limit_is_413_while_streaming_and_leaves_nothing() {
    let server = start(&[ADMIN], |c| c.max_upload_bytes = 4096).await;
    let browser = sign_in(&server.url, "admin").await;
    let big = users_csv("big", 200);
    assert!(big.len() > 4096);
    let (status, code) = code_of(browser.upload(big, "{}").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    );
    assert!(server.uploads().is_empty(), "{:?}", server.uploads());

    // The access profile's own limit (5 MB) holds under a larger server limit.
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let mut huge = b"user_id,name,email\n".to_vec();
    while huge.len() <= 5 * 1024 * 1024 {
        huge.extend_from_slice(b"1234567,Some Name,someone@example.com\n");
    }
    let (status, code) = code_of(browser.upload(huge, r#"{"profile": "access"}"#).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_script_in_a_name_is_shown_as_text_on_the_page() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let file = format!(
        "Login ID,Name,Email address,Password hash\n\"<script>alert(1)</script>\",<img src=x onerror=alert(2)>,bad-mail,\"{}\"\n",
        password_hash()
    );
    let report: Value = checked(&browser, file.into_bytes()).await;
    let id = report["id"].as_str().unwrap();
    let page = browser.fetch(&format!("imports/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "the name is escaped"
    );
    assert!(!html.contains("<img src=x"), "no markup from the file");
    assert!(!html.contains("<script>alert"), "no script from the file");
    assert!(
        !html.contains("<script>") || html.matches("<script").count() == 1,
        "only the page's own script tag"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_imports_and_jobs_are_invisible() {
    let server = start(&[ADMIN, "second:admin"], |c| c.background_threshold = 5).await;
    let owner = sign_in(&server.url, "admin").await;
    let other = sign_in(&server.url, "second").await;
    let report: Value = checked(&owner, users_csv("own", 20)).await;
    let id = report["id"].as_str().unwrap();
    for path in [
        format!("api/imports/{id}"),
        format!("api/imports/{id}/issues.csv"),
        format!("api/imports/{id}/file.csv"),
    ] {
        let answer = other.fetch(&path).await;
        assert_eq!(code_of(answer).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let apply = other.submit(&format!("api/imports/{id}/apply")).await;
    assert_eq!(code_of(apply).await.0, StatusCode::NOT_FOUND);
    // A session cookie copied into another's request is still the owner's session;
    // a made-up one is nobody's.
    let forged = client()
        .get(format!("{}api/imports/{id}", server.url))
        .header(
            COOKIE,
            "ui_session=00000000000000000000000000000000000000000000000000000000000000aa",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let applied: Value = json_of(owner.submit(&format!("api/imports/{id}/apply")).await).await;
    let job = applied["job"]["id"].as_i64().expect("a job");
    wait_done(&owner, job).await;
    assert_eq!(
        other.fetch("api/jobs").await.json::<Value>().await.unwrap(),
        Value::Array(vec![])
    );
    for path in [
        format!("api/jobs/{job}"),
        format!("api/jobs/{job}/results.csv"),
        format!("api/jobs/{job}/events"),
    ] {
        assert_eq!(
            other.fetch(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_is_refused_when_the_store_moved_since_the_check() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let first: Value = checked(&browser, small_file()).await;
    let second: Value = checked(&browser, users_csv("moved", 3)).await;
    let ok = browser.apply_checked(&second).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let moved = browser.apply_checked(&first).await;
    let (status, code) = code_of(moved).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "store_moved")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_file_runs_as_a_job_with_live_events_and_a_second_apply_waits() {
    let server = start(&[ADMIN], |c| {
        c.background_threshold = 100;
        c.job_batch = 25;
    })
    .await;
    let browser = sign_in(&server.url, "admin").await;
    let token = token_for(&server, "admin");
    let big: Value = checked(&browser, users_csv("job", 20_000)).await;
    let small: Value = checked(&browser, users_csv("wait", 3)).await;
    let applied: Value = json_of(browser.apply_checked(&big).await).await;
    let job = applied["job"]["id"].as_i64().expect("a job");
    assert_eq!(applied["job"]["rows_total"], 20_000);
    assert_eq!(
        applied["job"]["status"], "running",
        "answered while it runs"
    );
    // A second apply while the job runs: "an import is running".
    let second = browser.apply_checked(&small).await;
    assert_eq!(code_of(second).await, (StatusCode::CONFLICT, "busy".into()));
    // The rest of the API stays usable.
    assert_eq!(browser.fetch("api/jobs").await.status(), StatusCode::OK);

    // Live events over SSE, read with the API token.
    let mut events = client()
        .get(format!("{}api/jobs/{job}/events", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(120), events.chunk())
        .await
        .expect("events in time")
        .unwrap()
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        text.starts_with("event: job\n"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(text.contains("event: progress\n"), "progress events");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(
        last.starts_with("event: job\n") && last.contains("\"status\":\"done\""),
        "{last}"
    );

    let record = wait_done(&browser, job).await;
    assert_eq!(record["created"], 20_000);
    let results = browser.text(&format!("api/jobs/{job}/results.csv")).await;
    assert_eq!(results.lines().count(), 20_001);
    let cancel = browser.submit(&format!("api/jobs/{job}/cancel")).await;
    assert_eq!(
        code_of(cancel).await,
        (StatusCode::CONFLICT, "not_running".into())
    );
    assert!(
        server
            .uploads()
            .iter()
            .all(|f| !f.starts_with(big["id"].as_str().unwrap())),
        "a finished job's upload is removed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_job_can_be_cancelled() {
    let server = start(&[ADMIN], |c| {
        c.background_threshold = 10;
        c.job_batch = 10;
    })
    .await;
    let browser = sign_in(&server.url, "admin").await;
    let big: Value = checked(&browser, users_csv("stop", 20_000)).await;
    let applied: Value = json_of(browser.apply_checked(&big).await).await;
    let job = applied["job"]["id"].as_i64().unwrap();
    let cancel = browser.submit(&format!("api/jobs/{job}/cancel")).await;
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let record = wait_done(&browser, job).await;
    assert_eq!(record["status"], "cancelled");
    assert!(record["rows_done"].as_u64().unwrap() < 20_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn template_and_export_downloads_with_bearer_tokens_that_can_be_revoked() {
    let server = start(&[ADMIN], |_| {}).await;
    let token = token_for(&server, "admin");
    let c = client();
    let get = |path: &str| c.get(format!("{}{path}", server.url)).bearer_auth(&token);
    let template = get("api/template?profile=standard").send().await.unwrap();
    assert_eq!(template.status(), StatusCode::OK);
    assert!(
        template
            .bytes()
            .await
            .unwrap()
            .starts_with(b"\xEF\xBB\xBFLogin ID,")
    );
    let export = get("api/export?columns=login_id,email")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(export.contains("admin@example.com"), "{export}");
    assert!(!export.contains("argon2"), "no password hashes in exports");
    assert_eq!(
        code_of(get("api/export?charset=ebcdic").send().await.unwrap())
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        code_of(get("api/template?profile=nope").send().await.unwrap())
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    // Bearer requests need no CSRF token.
    let upload = c
        .post(format!("{}api/imports", server.url))
        .bearer_auth(&token)
        .multipart(form(small_file(), "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::CREATED);
    // Tokens are stored only as hashes, and revocable.
    let bytes = std::fs::read(server.dir.path().join("store.db")).unwrap();
    let wal = std::fs::read(server.dir.path().join("store.db-wal")).unwrap_or_default();
    for file in [&bytes, &wal] {
        assert!(!file.windows(token.len()).any(|w| w == token.as_bytes()));
    }
    revoke_newest(&server);
    assert_eq!(
        get("api/jobs").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_tls_the_session_cookie_is_secure() {
    let server = start(&[ADMIN], |_| {}).await;
    let c = client();
    let page = c.get(format!("{}login", server.url)).send().await.unwrap();
    let jar = cookies(page.headers()).join("; ");
    let csrf = csrf_in(&page.text().await.unwrap());
    let answer = c
        .post(format!("{}login", server.url))
        .header(COOKIE, jar)
        .header("x-forwarded-proto", "https")
        .form(&[
            ("login", "admin"),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let set: Vec<String> = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(set.iter().all(|c| c.contains("; Secure")), "{set:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_speaks_japanese_when_the_browser_asks_and_switches_on_request() {
    let server = start(&[ADMIN], |_| {}).await;
    let c = client();
    let ja = c
        .get(format!("{}login", server.url))
        .header("accept-language", "ja-JP,ja;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ja.contains("<html lang=\"ja\">") && ja.contains("サインイン"));
    let en = c
        .get(format!("{}login?lang=en", server.url))
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap();
    assert!(en.headers()["set-cookie"].to_str().is_ok());
    let en = en.text().await.unwrap();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Sign in"));
    // Every control of the start page has a label.
    let browser = sign_in(&server.url, "admin").await;
    let start = browser.text("").await;
    for id in [
        "file",
        "opt-mode",
        "opt-merge",
        "opt-charset",
        "map-login_id",
        "tpl-profile",
        "exp-random",
    ] {
        assert!(
            start.contains(&format!("for=\"{id}\"")),
            "a label for #{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_left_running_by_a_stop_is_resumed_when_the_server_starts() {
    use userimport::sink::{JobSpec, Jobs};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let uploads = dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    seed(&db, &[ADMIN]);
    // What a stopped server leaves: the upload, and a job recorded as running.
    let file = uploads.join("0123456789abcdef0123456789abcdef.upload");
    std::fs::write(&file, users_csv("resumed", 30)).unwrap();
    let settings = userimport_web::Settings {
        actor: Some("admin".into()),
        ..Default::default()
    };
    let job = {
        let mut store = userimport_web::Store::open(&db).unwrap();
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(std::fs::read(&file).unwrap()))
        };
        store
            .create_job(&JobSpec {
                file: file.display().to_string(),
                file_sha256: sha,
                options: serde_json::to_string(&settings).unwrap(),
                rows_total: 30,
            })
            .unwrap()
    };
    let server = start_on(dir, db, &[], |c| c.upload_dir = uploads.clone()).await;
    let browser = sign_in(&server.url, "admin").await;
    let mut record = Value::Null;
    for _ in 0..200 {
        record = browser.json(&format!("api/jobs/{job}")).await;
        if record["status"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(record["status"], "done", "{record}");
    assert_eq!(record["created"], 30);
    // The job reads done once its last batch commits; its worker removes
    // the upload just after.
    for _ in 0..100 {
        if !file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!file.exists(), "the finished job's upload is removed");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_download_leaves_plaintext_passwords_out() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let file = b"Login ID,Name,Email address,Password\nkimura,Kimura,kimura@example.com,Plain-Secret-4711\n".to_vec();
    let report: Value = checked(&browser, file).await;
    let id = report["id"].as_str().unwrap();
    let copy = browser.fetch(&format!("api/imports/{id}/file.csv")).await;
    assert_eq!(copy.status(), StatusCode::OK);
    let text = copy.text().await.unwrap();
    assert!(text.contains("kimura@example.com"), "{text}");
    assert!(!text.contains("Plain-Secret-4711"), "{text}");
    let page = browser.text(&format!("imports/{id}")).await;
    assert!(
        !page.contains("Plain-Secret-4711"),
        "the preview masks passwords"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_running_elsewhere_is_cancelled_through_the_store() {
    use userimport::sink::{JobSpec, Jobs};
    let server = start(&[ADMIN], |_| {}).await;
    let settings = userimport_web::Settings {
        actor: Some("admin".into()),
        ..Default::default()
    };
    // A job another process runs (its file is not in this server's uploads).
    let job = userimport_web::Store::open(&server.db)
        .unwrap()
        .create_job(&JobSpec {
            file: "/elsewhere/users.csv".into(),
            file_sha256: "00".into(),
            options: settings.to_job_options(),
            rows_total: 500,
        })
        .unwrap();
    let browser = sign_in(&server.url, "admin").await;
    let cancel = browser.submit(&format!("api/jobs/{job}/cancel")).await;
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let record: Value = browser.json(&format!("api/jobs/{job}")).await;
    assert_eq!(record["status"], "cancelled");
    let again = browser.submit(&format!("api/jobs/{job}/cancel")).await;
    assert_eq!(
        code_of(again).await,
        (StatusCode::CONFLICT, "not_running".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_refused_when_the_store_moved_since_the_check_and_none_is_recorded() {
    let server = start(&[ADMIN], |c| c.background_threshold = 10).await;
    let browser = sign_in(&server.url, "admin").await;
    let big: Value = checked(&browser, users_csv("late", 50)).await;
    let small: Value = checked(&browser, users_csv("first", 3)).await;
    let ok = browser.apply_checked(&small).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let moved = browser.apply_checked(&big).await;
    let status = moved.status();
    let body: Value = moved.json().await.unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("store_moved"))
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("check the file again"), "{message}");
    let jobs: Value = browser.json("api/jobs").await;
    assert_eq!(jobs, Value::Array(vec![]), "no job recorded");
    // Checked again, the same file runs as a job.
    let again: Value = checked(&browser, users_csv("late", 50)).await;
    let applied: Value = json_of(browser.apply_checked(&again).await).await;
    let job = applied["job"]["id"].as_i64().expect("a job");
    assert_eq!(wait_done(&browser, job).await["created"], 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offered_profile_applies_and_its_job_records_the_profile_file() {
    let profiles = tempfile::tempdir().unwrap();
    let toml = profiles.path().join("members.toml");
    std::fs::write(&toml, "name = \"members\"\nextends = \"standard\"\n").unwrap();
    let server = start(&[ADMIN], |c| {
        c.background_threshold = 10;
        c.offer_profile(&toml).unwrap();
    })
    .await;
    let browser = sign_in(&server.url, "admin").await;
    let options = r#"{"profile": "members"}"#;
    for (prefix, rows) in [("now", 3), ("job", 20)] {
        let report: Value = browser
            .upload(users_csv(prefix, rows), options)
            .await
            .json()
            .await
            .unwrap();
        let applied: Value = json_of(browser.apply_checked(&report).await).await;
        if let Some(job) = applied["job"]["id"].as_i64() {
            assert_eq!(wait_done(&browser, job).await["created"], rows);
        } else {
            assert_eq!(applied["results"]["created"], rows, "{applied} {report}");
        }
    }
    let store = userimport_web::Store::open(&server.db).unwrap();
    let jobs = userimport::jobs::list(&store).unwrap();
    assert_eq!(jobs.len(), 1);
    let settings = userimport::ImportSettings::from_json(&jobs[0].spec.options).unwrap();
    assert_eq!(
        std::path::PathBuf::from(&settings.profile),
        std::fs::canonicalize(&toml).unwrap(),
        "any frontend can read the profile again to resume"
    );
    assert_eq!(settings.load_profile().unwrap().name, "members");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cell_fixed_in_the_page_keeps_the_upload_shift_jis_and_is_checked_again() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let file = |email: &str| {
        let h = password_hash();
        let text = format!(
            "Login ID,Name,Email address,Password hash\r\n\
             tanaka,田中 花子,{email},\"{h}\"\r\n\
             sato,\"佐藤 \"\"一郎\"\"\",sato@example.com,\"{h}\"\r\n"
        );
        encoding_rs::SHIFT_JIS.encode(&text).0.into_owned()
    };
    let report: Value = checked(&browser, file("hanako@example")).await;
    assert_eq!(report["file"]["encoding"], "Shift_JIS");
    assert_eq!(report["summary"]["errors"], 1, "{report}");
    let fixed = browser
        .post(&format!("imports/{}/fix", report["id"].as_str().unwrap()))
        .form(&[
            ("csrf", browser.csrf.as_str()),
            ("line", "2"),
            ("column", "email"),
            ("value", "hanako@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(fixed.status(), StatusCode::SEE_OTHER);
    let location = fixed.headers()["location"].to_str().unwrap();
    let new_id = location.rsplit('/').next().unwrap();
    let again: Value = browser.json(&format!("api/imports/{new_id}")).await;
    assert_eq!(again["file"]["encoding"], "Shift_JIS");
    assert_eq!(
        (&again["summary"]["errors"], &again["summary"]["create"]),
        (&Value::from(0), &Value::from(2)),
        "{again}"
    );
    // Byte for byte the upload with the one cell changed (quotes kept right).
    let kept = std::fs::read(server.upload_dir().join(format!("{new_id}.upload"))).unwrap();
    assert_eq!(kept, file("hanako@example.com"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_and_its_results_are_kept_until_deleted() {
    let server = start(&[ADMIN, "other:admin"], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let other = sign_in(&server.url, "other").await;

    // The page discards an unapplied import with its upload.
    let report = checked(&browser, small_file()).await;
    let id = report["id"].as_str().unwrap().to_string();
    let page = browser.text(&format!("imports/{id}")).await;
    assert!(page.contains("id=\"discard\""));
    let discarded = browser
        .post_bare(&format!("imports/{id}/delete"))
        .form(&[("csrf", browser.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(discarded.status(), StatusCode::SEE_OTHER);
    assert!(server.uploads().is_empty());

    // An unapplied import: deleting it removes its upload.
    let report = checked(&browser, small_file()).await;
    let id = report["id"].as_str().unwrap().to_string();
    assert_eq!(server.uploads().len(), 1);
    let bare = browser
        .client
        .delete(format!("{}api/imports/{id}", server.url))
        .header(COOKIE, &browser.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(bare).await, (StatusCode::FORBIDDEN, "csrf".into()));
    assert_eq!(
        delete(&other, &format!("api/imports/{id}")).await.status(),
        StatusCode::NOT_FOUND,
        "another user's import is as absent as a missing one"
    );
    assert_eq!(
        delete(&browser, &format!("api/imports/{id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert!(server.uploads().is_empty());
    assert_eq!(
        browser.fetch(&format!("api/imports/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&browser, &format!("api/imports/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Applied at once: the results stay until deleted through the page.
    let report = checked(&browser, small_file()).await;
    let id = report["id"].as_str().unwrap().to_string();
    let applied = apply(&browser, &id, json!({})).await;
    assert_eq!(applied.status(), StatusCode::OK);
    let results = format!("api/imports/{id}/results.csv");
    assert_eq!(browser.fetch(&results).await.status(), StatusCode::OK);
    let gone = browser
        .post_bare(&format!("imports/{id}/delete"))
        .form(&[("csrf", browser.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        browser.fetch(&results).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_jobs_results_are_deleted_and_a_running_one_is_refused() {
    let server = start(&[ADMIN, "other:admin"], |c| {
        c.background_threshold = 100;
        c.job_batch = 25;
    })
    .await;
    let browser = sign_in(&server.url, "admin").await;
    let other = sign_in(&server.url, "other").await;
    let big = checked(&browser, users_csv("del", 20_000)).await;
    let applied: Value = apply(&browser, big["id"].as_str().unwrap(), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let job = applied["job"]["id"].as_i64().expect("a job");
    let running = delete(&browser, &format!("api/jobs/{job}")).await;
    assert_eq!(
        code_of(running).await,
        (StatusCode::CONFLICT, "job_running".into())
    );
    assert_eq!(wait_done(&browser, job).await["status"], "done");
    assert_eq!(
        delete(&other, &format!("api/jobs/{job}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // The jobs panel offers the button, labelled.
    let panel = browser.text("jobs").await;
    assert!(
        panel.contains(&format!("aria-label=\"Delete the results (Job {job})\"")),
        "{panel}"
    );
    assert_eq!(
        delete(&browser, &format!("api/jobs/{job}")).await.status(),
        StatusCode::NO_CONTENT
    );
    for path in [
        format!("api/jobs/{job}"),
        format!("api/jobs/{job}/results.csv"),
    ] {
        assert_eq!(
            browser.fetch(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let listed: Value = browser.json("api/jobs").await;
    assert_eq!(listed, json!([]));
    // The users it created stay.
    let export = browser.text("api/export?columns=login_id").await;
    assert!(export.contains("del000000"));
}

#[tokio::test(flavor = "multi_thread")]
async fn invitation_templates_are_offered_and_checked_by_the_library_rules() {
    let server = start(&[ADMIN], |c| {
        c.invite_base_url = Some("https://example.com/set-password".into());
        c.invite_templates = vec![(
            "Welcome".into(),
            "Subject: Welcome {{ name }}\n\nSet your password: {{ link }}\n".into(),
        )];
    })
    .await;
    let browser = sign_in(&server.url, "admin").await;
    let listed: Value = browser.json("api/invite-templates").await;
    assert_eq!(listed[0]["source"], "default");
    assert_eq!(listed[1]["source"], "server");
    assert_eq!(listed[1]["name"], "Welcome");
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let check = |body: Value| {
        let browser = browser.clone();
        async move {
            browser
                .post("api/invite-templates/check")
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let good: Value = check(json!({"template": "Subject: Hi {{ login }}\n\nGo to {{ link }}\n"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(good["subject"], "Hi tanaka", "{good}");
    assert!(
        good["body"]
            .as_str()
            .unwrap()
            .contains("https://example.com/set-password?token=")
    );
    for (template, says) in [
        ("Subject: Hi {{ nmae }}\n\n{{ link }}\n", "undefined"),
        ("Subject: Hi\n\nno link here\n", "link"),
        ("Hello {{ link }}\n", "Subject"),
    ] {
        let bad = check(json!({ "template": template })).await;
        let status = bad.status();
        let body: Value = bad.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{template}: {body}"
        );
        assert_eq!(body["error"]["code"], "bad_template");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{template}: {body}"
        );
    }
    let late =
        check(json!({"template": userimport::sink::DEFAULT_TEMPLATE, "send_at": "tomorrow"})).await;
    assert_eq!(late.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let garbled = check(json!({"text": "x"})).await;
    assert_eq!(code_of(garbled).await.0, StatusCode::BAD_REQUEST);
    let bare = browser
        .post_bare("api/invite-templates/check")
        .json(&json!({"template": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(bare).await, (StatusCode::FORBIDDEN, "csrf".into()));

    // The execute dialog offers them, labelled; a template sent once is
    // offered again.
    let report = checked(&browser, small_file()).await;
    let id = report["id"].as_str().unwrap();
    let page = browser.text(&format!("imports/{id}")).await;
    assert!(page.contains("<label for=\"template-choice\">"), "{page}");
    assert!(page.contains("Offered by the server: Welcome"));
    assert!(page.contains("<label for=\"invite-template\">"));
    assert!(page.contains("id=\"check-template\""));
    let custom = "Subject: Your account\n\nHello {{ name }}: {{ link }}\n";
    let applied = apply(
        &browser,
        id,
        json!({"invite": true, "invite_template": custom}),
    )
    .await;
    assert_eq!(applied.status(), StatusCode::OK);
    let listed: Value = browser.json("api/invite-templates").await;
    let used = &listed.as_array().unwrap()[2];
    assert_eq!(used["source"], "used", "{listed}");
    assert_eq!(used["text"], custom);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_template_and_the_export_are_written_with_the_chosen_header_language() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let header = |path: &'static str| {
        let browser = browser.clone();
        async move {
            let answer = browser.fetch(path).await;
            assert_eq!(answer.status(), StatusCode::OK, "{path}");
            let text = answer.text().await.unwrap();
            text.trim_start_matches('\u{feff}')
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        }
    };
    assert!(
        header("api/template?lang=ja")
            .await
            .starts_with("ログインID,")
    );
    assert!(
        header("api/template?lang=en")
            .await
            .starts_with("Login ID,")
    );
    assert!(header("api/template").await.starts_with("Login ID,"));
    assert!(
        header("api/export?lang=ja")
            .await
            .contains("メールアドレス")
    );
    let wrong = browser.fetch("api/template?lang=fr").await;
    assert_eq!(
        code_of(wrong).await,
        (StatusCode::BAD_REQUEST, "bad_options".into())
    );

    // The start page offers the choice, labelled, in the page's language.
    let page = browser.text("?lang=ja").await;
    assert!(
        page.contains("<label for=\"tpl-lang\">見出しの言語</label>"),
        "{page}"
    );
    assert!(page.contains("<option value=\"ja\" selected>日本語</option>"));
    assert!(page.contains("<label for=\"exp-lang\">"));
}
