//! The web frontend over the real PostgreSQL server named by
//! `USERIMPORT_TEST_POSTGRES` (a fresh schema per test): sign-in, sessions,
//! API tokens, upload, apply, a job. Skipped, saying so, without the
//! variable; a failure in CI (`CI=true`).

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_tokens_upload_apply_and_a_job_on_postgresql() {
    let Some(schema) = Schema::fresh() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_on(dir, schema.url(), &["admin:admin", "clerk:"], |c| {
        c.background_threshold = 10;
        c.job_batch = 7;
    })
    .await;
    assert_eq!(
        post_login(&server.url, "admin", "wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_login(&server.url, "clerk", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let browser = sign_in(&server.url, "admin").await;

    let report: Value = checked(&browser, users_csv("pg", 3)).await;
    assert_eq!(report["summary"]["create"], 3);
    let applied: Value = json_of(browser.apply_checked(&report).await).await;
    assert_eq!(applied["results"]["created"], 3);

    let report: Value = checked(&browser, users_csv("pgjob", 50)).await;
    let applied: Value = json_of(browser.apply_checked(&report).await).await;
    let job = applied["job"]["id"].as_i64().expect("a job");
    let mut record = Value::Null;
    for _ in 0..200 {
        record = browser.json(&format!("api/jobs/{job}")).await;
        if record["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(record["status"], "done");
    assert_eq!(record["created"], 50);

    let token = token_for(&server, "admin");
    let c = client();
    let jobs = c
        .get(format!("{}api/jobs", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.status(), StatusCode::OK);
    revoke_newest(&server);
    let revoked = c
        .get(format!("{}api/jobs", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);

    let out = browser.sign_out(&browser.csrf).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        browser.fetch("api/jobs").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_results_the_throttle_and_the_apply_lock_live_in_postgresql() {
    use serde_json::json;
    let Some(schema) = Schema::fresh() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_on(dir, schema.url(), &["admin:admin"], |c| {
        c.background_threshold = 100;
        c.job_batch = 25;
        c.max_failures_per_account = 2;
    })
    .await;
    let browser = sign_in(&server.url, "admin").await;
    let report = checked(&browser, small_file()).await;
    let id = report["id"].as_str().unwrap().to_string();

    // A restart finds the import; its at-once results survive another.
    let server = server.restart().await;
    let browser = Browser {
        base: server.url.clone(),
        ..browser
    };
    let found: Value = browser.json(&format!("api/imports/{id}")).await;
    assert_eq!(found, report);
    let applied: Value = apply(&browser, &id, json!({})).await.json().await.unwrap();
    assert_eq!(applied["results"]["created"], 2, "{applied}");
    let server = server.restart().await;
    let browser = Browser {
        base: server.url.clone(),
        ..browser
    };
    let results = browser.text(&format!("api/imports/{id}/results.csv")).await;
    assert_eq!(results.lines().count(), 3, "{results}");

    // A second server beside it: one apply at a time for the store.
    let second = server.beside().await;
    let elsewhere = Browser {
        base: second.url.clone(),
        ..browser.clone()
    };
    let big = checked(&browser, users_csv("pgbig", 20_000)).await;
    let small = checked(&elsewhere, users_csv("pgsmall", 3)).await;
    let job = apply(&browser, big["id"].as_str().unwrap(), json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap()["job"]["id"]
        .as_i64()
        .expect("a job");
    let refused = apply(&elsewhere, small["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(
        code_of(refused).await,
        (StatusCode::CONFLICT, "busy".into())
    );
    assert_eq!(wait_done(&browser, job).await["status"], "done");
    let small = checked(&elsewhere, users_csv("pgsmall", 3)).await;
    let mut created = Value::Null;
    for _ in 0..100 {
        let answer = apply(&elsewhere, small["id"].as_str().unwrap(), json!({})).await;
        if answer.status() != StatusCode::CONFLICT {
            created = answer.json::<Value>().await.unwrap()["results"]["created"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(created, 3);

    // Sign-in failures count for both servers.
    for _ in 0..2 {
        assert_eq!(
            post_login(&server.url, "admin", "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        post_login(&second.url, "admin", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
