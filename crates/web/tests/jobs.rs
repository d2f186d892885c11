//! Jobs through the web, on the real server over SQLite and PostgreSQL: a
//! job cancelled as soon as it is answered ends `cancelled` with its
//! upload removed; applying the same file again resumes it to the end,
//! leaving no upload behind; the results files name every row as the
//! CLI's `apply --results` does.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use userimport::plan::Directory;

/// How long a state may take to show on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(300);

/// Waits until `done` holds, failing with `what` after [`DEADLINE`].
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Applies import `id`, waiting while the server is busy finishing the
/// job before (its worker gives the apply lock back as it ends).
async fn apply_when_free(browser: &Browser, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let answer = apply(browser, id, json!({})).await;
        if answer.status() != StatusCode::CONFLICT {
            assert_eq!(answer.status(), StatusCode::OK);
            return answer.json().await.expect("apply JSON");
        }
        assert!(start.elapsed() < DEADLINE, "the server stayed busy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls job `job` until it no longer runs (within [`DEADLINE`]); returns
/// its record.
async fn wait_ended(browser: &Browser, job: i64) -> Value {
    let start = Instant::now();
    loop {
        let record: Value = browser
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
        assert!(
            start.elapsed() < DEADLINE,
            "job {job} did not end: {record}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn users_in(db: &str) -> u64 {
    tokio::task::block_in_place(|| {
        userimport::Store::open_existing(db)
            .expect("store")
            .user_count()
            .expect("users")
    })
}

const ROWS: u64 = 20_000;

async fn a_cancelled_job_applied_again_finishes_and_leaves_no_upload(server: Server) {
    let browser = sign_in(&server.url, "admin").await;
    let file = users_csv("again", ROWS as usize);
    let first = checked(&browser, file.clone()).await;
    let applied = apply_when_free(&browser, first["id"].as_str().unwrap()).await;
    let job = applied["job"]["id"].as_i64().expect("a job");
    // Cancelled as soon as it is answered: while its file is checked
    // again, or at a batch boundary.
    let cancel = browser
        .post(&format!("api/jobs/{job}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let record = wait_ended(&browser, job).await;
    assert_eq!(record["status"], "cancelled", "{record}");
    let done = record["rows_done"].as_u64().unwrap();
    assert!(done < ROWS, "{record}");
    assert_eq!(
        users_in(&server.db),
        1 + record["created"].as_u64().unwrap()
    );
    wait_for("the cancelled job's upload removed", || {
        server.uploads().is_empty()
    })
    .await;

    // The same file again: its job resumes from where it stopped.
    let second = checked(&browser, file).await;
    let applied = apply_when_free(&browser, second["id"].as_str().unwrap()).await;
    assert_eq!(applied["job"]["id"], job, "the cancelled job resumed");
    let record = wait_ended(&browser, job).await;
    assert_eq!(record["status"], "done", "{record}");
    assert_eq!(record["created"], ROWS);
    assert_eq!(users_in(&server.db), 1 + ROWS);
    wait_for("every upload removed", || server.uploads().is_empty()).await;
    let results = browser
        .get(&format!("api/jobs/{job}/results.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(results.lines().count() as u64, 1 + ROWS, "one row each");
}

fn tuned(c: &mut userimport_web::Config) {
    c.background_threshold = 10;
    c.job_batch = 50;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_job_applied_again_finishes_and_leaves_no_upload_on_sqlite() {
    let server = start(&["admin:admin"], tuned).await;
    a_cancelled_job_applied_again_finishes_and_leaves_no_upload(server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_job_applied_again_finishes_and_leaves_no_upload_on_postgresql() {
    let Some(schema) = Schema::fresh() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_on(dir, schema.url(), &["admin:admin"], tuned).await;
    a_cancelled_job_applied_again_finishes_and_leaves_no_upload(server).await;
}

/// A file of new users whose row `bad` (1-based) has an invalid e-mail.
fn with_a_bad_row(prefix: &str, rows: usize, bad: usize) -> Vec<u8> {
    let mut csv = String::from("Login ID,Name,Email address,Password hash\n");
    for i in 1..=rows {
        let email = match i == bad {
            true => format!("{prefix}{i}-at-example.com"),
            false => format!("{prefix}{i}@example.com"),
        };
        csv.push_str(&format!(
            "{prefix}{i},User {i},{email},\"{}\"\n",
            password_hash()
        ));
    }
    csv.into_bytes()
}

/// The results CSV's header and rows, keyed by data row.
fn parse_results(text: &str) -> (String, Vec<Vec<String>>) {
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let header = lines.next().expect("header").to_string();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// Each row names its user by login ID and e-mail: the valid ones as
/// stored, the refused one as typed.
fn assert_named(text: &str, prefix: &str, rows: usize, bad: usize) {
    let (header, lines) = parse_results(text);
    assert_eq!(header, "line,row,outcome,member_id,reason,login_id,email");
    assert_eq!(lines.len(), rows, "{text}");
    for (k, line) in lines.iter().enumerate() {
        let i = k + 1;
        assert_eq!(line[1], i.to_string(), "{line:?}");
        let n = line.len();
        assert_eq!(line[n - 2], format!("{prefix}{i}"), "{line:?}");
        if i == bad {
            assert_eq!(line[2], "failed", "{line:?}");
            assert_eq!(line[n - 1], format!("{prefix}{i}-at-example.com"));
        } else {
            assert_eq!(line[2], "created", "{line:?}");
            assert!(!line[3].is_empty(), "the member ID: {line:?}");
            assert_eq!(line[n - 1], format!("{prefix}{i}@example.com"));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn results_files_name_each_row_by_login_id_and_e_mail_as_the_cli_does() {
    let server = start(&["admin:admin"], |c| c.background_threshold = 10).await;
    let browser = sign_in(&server.url, "admin").await;
    let options = r#"{"skip_invalid": true}"#;

    // Applied at once.
    let answer = browser.upload(with_a_bad_row("now", 5, 2), options).await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let id = answer.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let applied = apply_when_free(&browser, &id).await;
    assert_eq!(applied["results"]["created"], 4, "{applied}");
    let text = browser
        .get(&format!("api/imports/{id}/results.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_named(&text, "now", 5, 2);

    // As a job.
    let answer = browser.upload(with_a_bad_row("job", 30, 17), options).await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let id = answer.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let applied = apply_when_free(&browser, &id).await;
    let job = applied["job"]["id"].as_i64().expect("a job");
    assert_eq!(wait_ended(&browser, job).await["status"], "done");
    for path in [
        format!("api/jobs/{job}/results.csv"),
        format!("api/imports/{id}/results.csv"),
    ] {
        let text = browser
            .get(&path)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_named(&text, "job", 30, 17);
    }
}
