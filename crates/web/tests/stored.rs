//! What the store keeps for the web frontend, so that it outlives a restart
//! and every server on one store shares it: checked imports and at-once
//! results found again by a restarted server, expired uploads deleted, the
//! sign-in throttle and the one-apply lock seen by a second server beside
//! the first (a real SQLite file; `postgres.rs` does the same on
//! PostgreSQL).

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADMIN: &str = "admin:admin";

/// The same signed-in browser, talking to `server` (sessions are stored).
fn at(browser: &Browser, server: &Server) -> Browser {
    Browser {
        base: server.url.clone(),
        ..browser.clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_server_finds_the_checked_import_and_the_results_again() {
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let report = checked(&browser, small_file()).await;
    let id = report["id"].as_str().unwrap().to_string();
    assert_eq!(server.uploads().len(), 1, "the upload is kept");

    let server = server.restart().await;
    let browser = at(&browser, &server);
    let found: Value = browser.json(&format!("api/imports/{id}")).await;
    assert_eq!(found, report, "the same report, the same ID");
    let page = browser.text(&format!("imports/{id}")).await;
    assert!(page.contains("id=\"open-execute\""), "still executable");

    let applied: Value = apply(&browser, &id, json!({})).await.json().await.unwrap();
    assert_eq!(applied["results"]["created"], 2, "{applied}");
    assert!(server.uploads().is_empty(), "an applied upload is removed");

    let server = server.restart().await;
    let browser = at(&browser, &server);
    let again = apply(&browser, &id, json!({})).await;
    assert_eq!(
        code_of(again).await,
        (StatusCode::CONFLICT, "already_applied".into())
    );
    let results = browser
        .fetch(&format!("api/imports/{id}/results.csv"))
        .await;
    assert_eq!(results.status(), StatusCode::OK);
    let results = results.text().await.unwrap();
    assert_eq!(results.lines().count(), 3, "{results}");
    assert!(results.contains("created"), "{results}");
    let page = browser.text(&format!("imports/{id}")).await;
    assert!(page.contains("id=\"applied\""), "the counts are shown");
    assert!(page.contains("id=\"delete-results\""), "and can be deleted");
    let issues = browser.fetch(&format!("api/imports/{id}/issues.csv")).await;
    assert_eq!(issues.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_uploads_are_deleted_with_their_record() {
    let server = start(&[ADMIN], |c| c.upload_ttl = Duration::from_secs(1)).await;
    let browser = sign_in(&server.url, "admin").await;
    let report = checked(&browser, small_file()).await;
    let id = report["id"].as_str().unwrap().to_string();
    assert_eq!(server.uploads().len(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let server = server.restart().await;
    assert!(
        server.uploads().is_empty(),
        "the expired upload is deleted on start: {:?}",
        server.uploads()
    );
    let browser = at(&browser, &server);
    let gone = browser.fetch(&format!("api/imports/{id}")).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // An upload also forgets the expired ones.
    let first = checked(&browser, small_file()).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let second = checked(&browser, users_csv("later", 2)).await;
    assert_eq!(
        server.uploads().len(),
        1,
        "only the new upload is left: {:?}",
        server.uploads()
    );
    let gone = browser
        .fetch(&format!("api/imports/{}", first["id"].as_str().unwrap()))
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let kept = browser
        .fetch(&format!("api/imports/{}", second["id"].as_str().unwrap()))
        .await;
    assert_eq!(kept.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_server_on_the_store_refuses_an_apply_while_the_first_runs_one() {
    let first = start(&[ADMIN], |c| {
        c.background_threshold = 100;
        c.job_batch = 25;
    })
    .await;
    let second = first.beside().await;
    let browser = sign_in(&first.url, "admin").await;
    let big = checked(&browser, users_csv("job", 20_000)).await;
    let elsewhere = at(&browser, &second);
    let small = checked(&elsewhere, users_csv("wait", 3)).await;

    let applied: Value = apply(&browser, big["id"].as_str().unwrap(), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let job = applied["job"]["id"].as_i64().expect("a job");
    let refused = apply(&elsewhere, small["id"].as_str().unwrap(), json!({})).await;
    let status = refused.status();
    let body: Value = refused.json().await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "busy");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("an import is running"),
        "{body}"
    );
    // The rest of the second server stays usable.
    let listed = elsewhere.fetch("api/jobs").await;
    assert_eq!(listed.status(), StatusCode::OK);

    assert_eq!(wait_done(&browser, job).await["status"], "done");
    // The lock is gone with the job: the second server applies now (its
    // file checked again: the job moved the store).
    let refused = apply(&elsewhere, small["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(
        code_of(refused).await,
        (StatusCode::CONFLICT, "store_moved".into())
    );
    let small = checked(&elsewhere, users_csv("wait", 3)).await;
    let mut answer = Value::Null;
    for _ in 0..100 {
        let response = apply(&elsewhere, small["id"].as_str().unwrap(), json!({})).await;
        if response.status() != StatusCode::CONFLICT {
            answer = response.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer["results"]["created"], 3, "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_failures_count_on_every_server_of_the_store() {
    let first = start(&[ADMIN], |c| {
        c.max_failures_per_account = 2;
        c.max_failures_per_address = 100;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            post_login(&first.url, "admin", "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let second = first.beside().await;
    assert_eq!(
        post_login(&second.url, "admin", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the account is locked on the other server too"
    );
    let restarted = first.restart().await;
    assert_eq!(
        post_login(&restarted.url, "admin", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "and after a restart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_waits_while_another_program_writes_a_job_in_the_store() {
    use userimport::sink::{JobSpec, Jobs};
    let server = start(&[ADMIN], |_| {}).await;
    let browser = sign_in(&server.url, "admin").await;
    let report = checked(&browser, small_file()).await;
    // What `userimport apply` of a large file leaves while it runs: a job
    // and its live worker's lock.
    let mut elsewhere = tokio::task::block_in_place(|| {
        let mut store = userimport_web::Store::open(&server.db).unwrap();
        let job = store
            .create_job(&JobSpec {
                file: "/elsewhere/users.csv".into(),
                file_sha256: "00".into(),
                options: "{}".into(),
                rows_total: 500,
            })
            .unwrap();
        assert!(store.claim_job(job).unwrap());
        (store, job)
    });
    let id = report["id"].as_str().unwrap();
    let refused = apply(&browser, id, json!({})).await;
    assert_eq!(
        code_of(refused).await,
        (StatusCode::CONFLICT, "busy".into())
    );
    tokio::task::block_in_place(|| {
        let (store, job) = &mut elsewhere;
        store
            .finish_job(*job, userimport::sink::JobStatus::Done, None)
            .unwrap();
        store.release_job(*job).unwrap();
    });
    let applied: Value = apply(&browser, id, json!({})).await.json().await.unwrap();
    assert_eq!(applied["results"]["created"], 2, "{applied}");
    tokio::task::block_in_place(|| drop(elsewhere));
}
