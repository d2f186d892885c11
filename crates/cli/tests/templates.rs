//! Every built-in and example profile's template passes its own `check`
//! against an empty store, and the CLI reads files as administrators meant
//! them: Excel's stray quotes, short Japanese files, typed dates, groups
//! and roles.

mod harness;

use harness::{example_path, run};
use serde_json::Value;

fn profiles() -> Vec<String> {
    let mut all: Vec<String> = userimport::schema::Profile::builtin_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let dir = std::path::Path::new(&example_path("profiles")).to_path_buf();
    for entry in std::fs::read_dir(&dir).expect("examples/profiles") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            all.push(path.display().to_string());
        }
    }
    assert!(all.len() >= 5, "{all:?}");
    all
}

#[test]
fn every_profile_template_passes_its_own_check() {
    for profile in profiles() {
        let dir = tempfile::tempdir().unwrap();
        let made = run(
            &["template", "--profile", &profile, "-o", "template.csv"],
            None,
            dir.path(),
        );
        assert_eq!(made.code, 0, "{profile}: {made:?}");
        let check = run(
            &[
                "check",
                "template.csv",
                "--profile",
                &profile,
                "--format",
                "json",
            ],
            None,
            dir.path(),
        );
        assert_eq!(check.code, 0, "{profile}: {}{}", check.stdout, check.stderr);
        let report: Value = serde_json::from_str(&check.stdout).unwrap();
        assert_eq!(report["summary"]["errors"], 0, "{profile}: {report:#}");
        assert_eq!(report["summary"]["create"], 1, "{profile}: {report:#}");
    }
}

fn check_json(dir: &std::path::Path, file: &str, text: &[u8], args: &[&str]) -> (i32, Value) {
    std::fs::write(dir.join(file), text).unwrap();
    let mut argv = vec!["check", file, "--format", "json"];
    argv.extend_from_slice(args);
    let r = run(&argv, None, dir);
    assert!(matches!(r.code, 0..=2), "{r:?}");
    let report = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, report)
}

fn codes(report: &Value) -> Vec<(u64, String)> {
    report["issues"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    (
                        i["line"].as_u64().unwrap_or(0),
                        i["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_stray_quote_is_read_as_excel_reads_it_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = check_json(
        dir.path(),
        "quotes.csv",
        b"login_id,name,password\r\nbob,Bob \"The Builder\" Smith,Secret-pass-1\r\nobrien,O\"Brien,Secret-pass-2\r\n",
        &[],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["create"], 2);
    assert_eq!(
        codes(&report),
        [
            (2, "field.stray_quote".to_string()),
            (3, "field.stray_quote".to_string())
        ]
    );
    // A file that ends inside an open quote is still refused, naming the
    // line where the quote opened.
    std::fs::write(
        dir.path().join("open.csv"),
        "login_id,name\r\nann,\"Ann\r\nbob,Bob\r\n",
    )
    .unwrap();
    let r = run(&["check", "open.csv"], None, dir.path());
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("line 2, column 2: unterminated quoted field"),
        "{r:?}"
    );
}

#[test]
fn short_half_width_katakana_files_are_shift_jis_and_a_guess_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = check_json(
        dir.path(),
        "kana.csv",
        b"login_id,name,password\r\nsuzuki,\xbd\xbd\xde\xb7 \xca\xc5\xba,Secret-pass-1\r\ntakahashi,\xc0\xb6\xca\xbc \xb2\xc1\xdb\xb3,Secret-pass-2\r\n",
        &[],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["file"]["encoding"], "Shift_JIS");
    // Two bytes that are one kanji in EUC-JP, two half-width katakana in
    // Shift_JIS: a file-level warning names both.
    let (_, report) = check_json(
        dir.path(),
        "short.csv",
        b"login_id,name,password\r\nu1,\xb0\xa1,Secret-pass-1\r\n",
        &[],
    );
    let issue = report["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "charset.uncertain")
        .unwrap_or_else(|| panic!("{report:#}"));
    let message = issue["message"].as_str().unwrap();
    assert!(
        message.contains("Shift_JIS") && message.contains("EUC-JP"),
        "{message}"
    );
    assert_eq!(issue["severity"], "warning");
}

#[test]
fn typed_dates_code_tables_groups_and_roles() {
    let dir = tempfile::tempdir().unwrap();
    let header = "login_id,name,password,timezone,country,language,due_date_type,valid_days_or_due_date,groups,roles\r\n";
    let good = format!(
        "{header}a1,A,Secret-pass-1,Asia/Calcutta,日本,日本語,ExpirationDate,2027年3月31日,,GroupManager\r\n\
         a2,B,Secret-pass-2,Asia/Tokyo,Japan,ja_JP,ExpirationDate,2027/3/31,,SystemAdmin\r\n"
    );
    let (code, report) = check_json(dir.path(), "good.csv", good.as_bytes(), &[]);
    assert_eq!(code, 0, "{report:#}");
    let bad = format!(
        "{header}b1,A,Secret-pass-1,JST,Japan,ja_JP,,,,Superuser\r\n\
         b2,B,Secret-pass-2,America/New_York,Japan,ja_JP,,,,\r\n"
    );
    let (code, report) = check_json(dir.path(), "bad.csv", bad.as_bytes(), &[]);
    assert_eq!(code, 1, "{report:#}");
    let text = report.to_string();
    assert!(text.contains("did you mean Asia/Tokyo"), "{text}");
    assert!(text.contains("role.unknown"), "{text}");
    assert!(
        codes(&report).contains(&(3, "timezone.unknown".to_string())),
        "{text}"
    );

    // Groups: the team profile creates none; a typo suggests the group.
    let r = run(&["groups", "add", "Sales"], None, dir.path());
    assert_eq!(r.code, 0, "{r:?}");
    let team = "Current Status,Display Name,Primary Email,Role,Groups\r\nActive,Ann,ann@example.com,User,Saels\r\n";
    let (code, report) = check_json(
        dir.path(),
        "team.csv",
        team.as_bytes(),
        &["--profile", "team"],
    );
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report.to_string().contains("did you mean \\\"Sales\\\"?"),
        "{report:#}"
    );
    // Where groups are created, the typo is a warning that suggests it,
    // and a new group is listed.
    let (code, report) = check_json(
        dir.path(),
        "team.csv",
        b"Current Status,Display Name,Primary Email,Role,Groups\r\nActive,Ann,ann@example.com,User,\"Saels,Marketing\"\r\n",
        &["--profile", "team", "--create-groups"],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        codes(&report),
        [
            (2, "group.similar".to_string()),
            (2, "group.new".to_string())
        ]
    );
    assert!(
        report.to_string().contains("did you mean \\\"Sales\\\"?"),
        "{report:#}"
    );
}
