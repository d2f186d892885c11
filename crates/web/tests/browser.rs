//! The page in a real headless Chromium, driven over WebDriver
//! (chromedriver) with fantoccini: sign in, upload a Shift_JIS file with
//! errors, show only errors, fix cells in place, re-check, review the
//! changes, execute above the threshold with invitations, watch the
//! progress, download the results, sign out. A screenshot of each screen
//! goes to `docs/screens/`.
//!
//! Without Chromium and chromedriver the test says it was skipped; in CI
//! (`CI=true`) it fails instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium =
        std::env::var_os("USERIMPORT_CHROMIUM").map_or(PathBuf::from(CHROMIUM), PathBuf::from);
    let driver = std::env::var_os("USERIMPORT_CHROMEDRIVER")
        .map_or(PathBuf::from(CHROMEDRIVER), PathBuf::from);
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    let why = format!(
        "browser test needs {} and {} (apt-get install chromium chromium-driver)",
        chromium.display(),
        driver.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}: in CI a missing browser is a failure");
    }
    eprintln!("skipped: {why}");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_browser(chromium: &Path, driver: &Path, profile: &Path) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1280,1200", "--lang=en-US",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("chromedriver did not answer on {url}");
}

fn docs() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screens");
    std::fs::create_dir_all(&dir).expect("docs/screens");
    dir
}

async fn shot(c: &Client, name: &str, section: Option<&str>) {
    if let Some(id) = section {
        let script = "document.getElementById(arguments[0]).scrollIntoView()";
        c.execute(script, vec![json!(id)]).await.expect("scroll");
    }
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(docs().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Eight users in Shift_JIS, two with errors (an e-mail without @, a
/// misspelt country).
fn shift_jis_file() -> Vec<u8> {
    let rows = [
        ("yamada", "山田 太郎", "taro@example.com", "Japan"),
        ("sato", "佐藤 花子", "hanako-at-example.com", "Japan"),
        ("suzuki", "鈴木 一郎", "ichiro@example.com", "Japan"),
        ("takahashi", "高橋 美咲", "misaki@example.com", "Japn"),
        ("tanaka", "田中 健", "ken@example.com", "Japan"),
        ("ito", "伊藤 さくら", "sakura@example.com", "Japan"),
        ("watanabe", "渡辺 翔", "sho@example.com", "Japan"),
        ("nakamura", "中村 優", "yu@example.com", "Japan"),
    ];
    let mut text = String::from("ログインID,氏名,メールアドレス,Password hash,国・地域\r\n");
    for (login, name, email, country) in rows {
        text.push_str(&format!(
            "{login},{name},{email},\"{}\",{country}\r\n",
            password_hash()
        ));
    }
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// Clicks the element with `id`.
async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("#{id} cannot be clicked: {e}"));
}

/// Waits for the element at `locator` (`what` says which page it shows).
async fn wait_for(c: &Client, locator: Locator<'_>, what: &str) -> Element {
    c.wait()
        .for_element(locator)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .expect(css)
        .text()
        .await
        .expect("text")
}

async fn visible_issue_rows(c: &Client) -> Vec<String> {
    let rows = c
        .find_all(Locator::Css("#issue-table tr.issue"))
        .await
        .expect("rows");
    let mut shown = Vec::new();
    for row in rows {
        if row.is_displayed().await.unwrap_or(false) {
            shown.push(row.text().await.unwrap_or_default());
        }
    }
    shown
}

/// Fixes the cell of the issue whose row mentions `code`, and waits for the new check.
async fn fix(c: &Client, code: &str, value: &str) {
    let row = c
        .find(Locator::XPath(&format!(
            "//tr[contains(@class,'issue')][.//code[text()='{code}']]"
        )))
        .await
        .expect("issue row");
    let input = row
        .find(Locator::Css("input.fix-value"))
        .await
        .expect("fix input");
    input.clear().await.expect("clear");
    input.send_keys(value).await.expect("type");
    let before = c.current_url().await.expect("url");
    row.find(Locator::Css("button.fix-save"))
        .await
        .expect("save")
        .click()
        .await
        .expect("click");
    for _ in 0..100 {
        if c.current_url().await.expect("url") != before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fixing {code} did not lead to a new check");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_flow_in_a_headless_browser() {
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let server = start(&["admin:admin"], |c| {
        c.background_threshold = 5;
        c.job_batch = 2;
        c.invite_base_url = Some("https://example.com/set-password".into());
        c.invite_templates = vec![(
            "Welcome".into(),
            "Subject: Welcome, {{ name }}\n\nChoose your password: {{ link }}\n".into(),
        )];
    })
    .await;
    let profile = tempfile::tempdir().expect("profile dir");
    let (_driver, c) = start_browser(&chromium, &driver, profile.path()).await;
    let upload = server.dir.path().join("社員_shift_jis.csv");
    std::fs::write(&upload, shift_jis_file()).expect("file");

    // Sign in.
    c.goto(&server.url).await.expect("open");
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    shot(&c, "01-sign-in", None).await;
    c.find(Locator::Id("login"))
        .await
        .unwrap()
        .send_keys("admin")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click(&c, "sign-in").await;
    wait_for(&c, Locator::Id("upload-form"), "start page").await;
    assert!(text_of(&c, ".who").await.contains("admin"));
    shot(&c, "02-start", None).await;

    // Upload the Shift_JIS file with errors.
    c.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(&upload.display().to_string())
        .await
        .unwrap();
    click(&c, "upload-check").await;
    wait_for(&c, Locator::Id("issue-table"), "check page").await;
    assert_eq!(text_of(&c, "#fact-encoding").await, "Shift_JIS");
    assert_eq!(text_of(&c, "#fact-rows").await, "8");
    assert_eq!(text_of(&c, "#count-errors").await, "2");
    let preview = text_of(&c, "#preview").await;
    assert!(
        preview.contains("山田 太郎"),
        "the preview shows the decoded names: {preview}"
    );
    assert!(
        !preview.contains("argon2"),
        "no password hash in the preview"
    );
    shot(&c, "03-check", None).await;

    // Show only errors.
    let all = visible_issue_rows(&c).await;
    click(&c, "only-errors").await;
    let errors = visible_issue_rows(&c).await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.len() <= all.len());
    assert!(errors.iter().all(|r| r.contains("error")), "{errors:?}");
    shot(&c, "04-only-errors", Some("issues")).await;

    // Fix both cells in the page and check again.
    fix(&c, "email.invalid", "hanako@example.com").await;
    wait_for(&c, Locator::Id("issue-table"), "issue-table").await;
    assert_eq!(text_of(&c, "#count-errors").await, "1");
    shot(&c, "05-fixed-one", Some("issues")).await;
    fix(&c, "country.unknown", "Japan").await;
    wait_for(&c, Locator::Id("issue-table"), "issue-table").await;
    assert_eq!(text_of(&c, "#count-errors").await, "0");
    assert_eq!(text_of(&c, "#count-create").await, "8");

    // Review the changes; the corrected file can be downloaded.
    let changes = text_of(&c, "#change-table").await;
    assert!(
        changes.contains("hanako@example.com") && changes.contains("create"),
        "{changes}"
    );
    let corrected = fetch_text(&c, "download-file").await;
    assert!(
        corrected.contains("hanako@example.com") && corrected.contains("佐藤 花子"),
        "{corrected}"
    );
    shot(&c, "06-review", Some("changes")).await;

    // Execute above the threshold, with invitations.
    click(&c, "open-execute").await;
    wait_for(&c, Locator::Id("execute-confirm"), "execute-confirm").await;
    click(&c, "invite").await;
    c.find(Locator::Id("send-at"))
        .await
        .unwrap()
        .send_keys("2030-01-01T09:00:00+09:00")
        .await
        .unwrap();
    shot(&c, "07-execute", None).await;

    // A template that breaks the library's rules is refused before sending;
    // choosing the server's template fills the text, which checks clean.
    let text = c.find(Locator::Id("invite-template")).await.unwrap();
    text.clear().await.unwrap();
    text.send_keys("Subject: Hi {{ nmae }}\n\n{{ link }}")
        .await
        .unwrap();
    click(&c, "execute-confirm").await;
    let refused = wait_for(
        &c,
        Locator::Id("template-error"),
        "the template is refused in the dialog",
    )
    .await;
    assert!(refused.text().await.unwrap().contains("undefined"));
    assert!(
        c.current_url().await.unwrap().path().contains("/imports/"),
        "nothing was sent"
    );
    shot(&c, "07b-template-refused", None).await;
    c.find(Locator::Id("template-choice"))
        .await
        .unwrap()
        .select_by_value("1")
        .await
        .unwrap();
    let chosen = text.prop("value").await.unwrap().unwrap_or_default();
    assert!(chosen.starts_with("Subject: Welcome"), "{chosen}");
    text.send_keys(" Thank you.").await.unwrap();
    click(&c, "check-template").await;
    let preview = wait_for(&c, Locator::Id("template-preview"), "a preview").await;
    let preview = preview.text().await.unwrap();
    assert!(
        preview.contains("Subject: Welcome, Hanako Tanaka") && preview.contains("Thank you."),
        "{preview}"
    );
    shot(&c, "07c-template-checked", None).await;
    click(&c, "execute-confirm").await;
    wait_for(&c, Locator::Css("tr.job"), "jobs panel").await;
    shot(&c, "08-progress", None).await;

    // Watch the progress (server-sent events) until the job is done.
    let mut status = String::new();
    for _ in 0..200 {
        status = text_of(&c, "tr.job .status").await;
        if status != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "done");
    assert_eq!(text_of(&c, "tr.job .c-created").await, "8");
    assert_eq!(text_of(&c, "tr.job .done").await, "8");
    shot(&c, "09-done", None).await;
    let outbox = {
        use userimport::sink::Outbox;
        userimport_web::Store::open_existing(&server.db)
            .unwrap()
            .outbox()
            .unwrap()
    };
    assert_eq!(outbox.len(), 8, "one invitation per created user");
    assert!(
        outbox[0].template.starts_with("Subject: Welcome")
            && outbox[0].template.contains("Thank you."),
        "the chosen, edited template is sent"
    );

    // Download the results.
    let results = fetch_text(&c, "").await;
    assert_eq!(results.lines().count(), 9, "{results}");
    assert!(results.contains("created"), "{results}");

    // Delete the results, with the keyboard.
    let delete = c.find(Locator::Css("button.delete-results")).await.unwrap();
    delete.send_keys("\u{E007}").await.unwrap();
    wait_for(&c, Locator::Css("table#jobs"), "table#jobs").await;
    for _ in 0..100 {
        if c.find_all(Locator::Css("tr.job")).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        c.find_all(Locator::Css("tr.job")).await.unwrap().is_empty(),
        "the job and its results are gone"
    );
    shot(&c, "09b-results-deleted", None).await;

    // Sign out.
    click(&c, "sign-out").await;
    wait_for(&c, Locator::Id("login-form"), "signed out").await;
    shot(&c, "10-signed-out", None).await;
    c.goto(&server.url).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    c.close().await.expect("close");
}

/// Fetches the link with `id` (or the first results link) with the
/// browser's own cookies, as a download would.
async fn fetch_text(c: &Client, id: &str) -> String {
    let selector = if id.is_empty() {
        "a.download-results".to_string()
    } else {
        format!("#{id}")
    };
    let script = "const [sel, done] = arguments; \
                  fetch(document.querySelector(sel).href).then(r => r.text()).then(done);";
    let value: Value = c
        .execute_async(script, vec![json!(selector)])
        .await
        .expect("download");
    value.as_str().unwrap_or_default().to_string()
}
