//! The web frontend over the real PostgreSQL server named by
//! `USERIMPORT_TEST_POSTGRES` (a fresh schema per test): sign-in, sessions,
//! API tokens, upload, apply, a job. Skipped, saying so, without the
//! variable; a failure in CI (`CI=true`).

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

/// A fresh schema, dropped at the end.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    fn fresh() -> Option<Schema> {
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
        let name = format!(
            "web{}_{}",
            std::process::id(),
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

    fn url(&self) -> String {
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

    let report: Value = browser
        .upload(users_csv("pg", 3), "{}")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["summary"]["create"], 3);
    let applied: Value = browser
        .post(&format!(
            "api/imports/{}/apply",
            report["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(applied["results"]["created"], 3);

    let report: Value = browser
        .upload(users_csv("pgjob", 50), "{}")
        .await
        .json()
        .await
        .unwrap();
    let applied: Value = browser
        .post(&format!(
            "api/imports/{}/apply",
            report["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = applied["job"]["id"].as_i64().expect("a job");
    let mut record = Value::Null;
    for _ in 0..200 {
        record = browser
            .get(&format!("api/jobs/{job}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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

    let out = browser
        .post_bare("logout")
        .form(&[("csrf", browser.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        browser.get("api/jobs").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}
