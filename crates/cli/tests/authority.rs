//! An importing actor (`--actor LOGIN`) never grants or revokes a role or a
//! group it does not hold: not by the roles or groups column, not by a
//! role-valued column (the team profile's `role`), not in any mode, not
//! through a plan file (tampered, or made without an actor and applied
//! with one). Deleting or suspending the actor itself is refused. Each
//! refusal leaves the store exactly as it was.

use std::path::Path;

mod harness;

use harness::{Run, run};

/// The store every test starts from, made by the operator (no actor):
/// `lead` (the actor: role Editor, group Sales), `bob` (group Tokyo),
/// `boss` (role Admin, group Executives).
const USERS: &str = "login_id,name,email,password,groups,roles\r\n\
    lead,Lead,lead@example.com,Secret-pass-1,Sales,Editor\r\n\
    bob,Bob,bob@example.com,Secret-pass-2,Tokyo,\r\n\
    boss,Boss,boss@example.com,Secret-pass-3,Executives,Admin\r\n";

struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("users.csv"), USERS).unwrap();
        let r = run(
            &["apply", "users.csv", "--db", "store.db", "--create-groups"],
            None,
            dir.path(),
        );
        assert_eq!(r.code, 0, "setting up: {r:?}");
        Store { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Run {
        let r = run(args, None, self.path());
        assert!(matches!(r.code, 0..=2), "{args:?}: {r:?}");
        assert!(!r.stderr.contains("internal error"), "{args:?}: {r:?}");
        r
    }

    /// Everything the store holds, as an export plus the group list.
    fn snapshot(&self) -> String {
        let export = self.run(&[
            "export",
            "--db",
            "store.db",
            "--charset",
            "utf-8",
            "--columns",
            "member_id,login_id,name,email,status,groups,roles",
        ]);
        assert_eq!(export.code, 0, "{export:?}");
        let groups = self.run(&["groups", "--db", "store.db"]);
        format!("{}\ngroups: {}", export.stdout, groups.stdout)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(name), text).unwrap();
    }
}

/// `check` and `apply` of `file` as `--actor lead` (plus `args`) are
/// refused with a message containing `says`, and the store is unchanged.
fn refused(file: &str, args: &[&str], says: &[&str]) {
    let store = Store::new();
    store.write("in.csv", file);
    let before = store.snapshot();
    for command in ["check", "apply"] {
        let mut argv = vec![command, "in.csv", "--db", "store.db", "--actor", "lead"];
        // `--background-threshold N` is apply's alone.
        let mut rest = args.iter();
        while let Some(&arg) = rest.next() {
            if arg == "--background-threshold" && command == "check" {
                rest.next();
                continue;
            }
            argv.push(arg);
        }
        let r = store.run(&argv);
        let text = format!("{}{}", r.stdout, r.stderr);
        assert!(
            r.code == 1 || r.code == 2,
            "{argv:?}: exit {} — not refused\n{text}",
            r.code
        );
        for want in says {
            assert!(
                text.contains(want),
                "{argv:?}: does not say {want:?}\n{text}"
            );
        }
    }
    assert_eq!(store.snapshot(), before, "the store changed");
}

/// The same file applied by the operator (no actor) goes through: the
/// refusals above are about authority, not about the file.
fn allowed_without_actor(file: &str, args: &[&str]) {
    let store = Store::new();
    store.write("in.csv", file);
    let mut argv = vec!["apply", "in.csv", "--db", "store.db"];
    argv.extend_from_slice(args);
    let r = store.run(&argv);
    assert_eq!(r.code, 0, "{argv:?}: {r:?}");
}

const H: &str = "login_id,name,email,password,groups,roles\r\n";

fn with_header(rows: &str) -> String {
    format!("{H}{rows}")
}

#[test]
fn create_with_a_role_not_held() {
    let file = with_header("new1,New,new1@example.com,Secret-pass-9,Sales,Admin\r\n");
    refused(&file, &[], &["authority.denied", "Admin"]);
    allowed_without_actor(&file, &[]);
}

#[test]
fn create_with_a_role_not_held_spelled_otherwise() {
    for roles in ["ADMIN", " admin ", "\"Editor,Admin\""] {
        let file = with_header(&format!(
            "new1,New,new1@example.com,Secret-pass-9,Sales,{roles}\r\n"
        ));
        refused(&file, &[], &["authority.denied"]);
    }
    // A look-alike spelling is no role at all: refused before authority.
    let file = with_header("new1,New,new1@example.com,Secret-pass-9,Sales,＇Admin\r\n");
    refused(&file, &[], &["role.unknown", "did you mean Admin?"]);
}

#[test]
fn create_in_a_group_not_held() {
    let file = with_header("new1,New,new1@example.com,Secret-pass-9,Executives,\r\n");
    refused(&file, &[], &["authority.denied", "Executives"]);
}

#[test]
fn create_in_a_new_group() {
    let file = with_header("new1,New,new1@example.com,Secret-pass-9,Brand-New,\r\n");
    refused(&file, &[], &["authority.denied", "Brand-New"]);
}

#[test]
fn update_grants_a_role_not_held() {
    refused(
        &with_header("bob,Bob,bob@example.com,,,Admin\r\n"),
        &[],
        &["authority.denied", "Admin"],
    );
}

#[test]
fn update_adds_a_group_not_held() {
    refused(
        &with_header("bob,Bob,bob@example.com,,Executives,\r\n"),
        &[],
        &["authority.denied", "Executives"],
    );
}

#[test]
fn update_removes_a_group_not_held() {
    refused(
        &with_header("bob,Bob,bob@example.com,,-Tokyo,\r\n"),
        &[],
        &["authority.denied", "Tokyo"],
    );
}

#[test]
fn update_clears_roles_and_groups_not_held() {
    refused(
        &with_header("boss,Boss,boss@example.com,,none,\r\n"),
        &[],
        &["authority.denied", "Executives"],
    );
    refused(
        &with_header("boss,Boss,boss@example.com,,,none\r\n"),
        &[],
        &["authority.denied", "Admin"],
    );
}

#[test]
fn every_mode_checks_authority() {
    let all = "lead,Lead,lead@example.com,,,\r\nboss,Boss,boss@example.com,,,\r\n";
    refused(
        &with_header("new1,New,new1@example.com,Secret-pass-9,Sales,Admin\r\n"),
        &["--mode", "create"],
        &["authority.denied"],
    );
    refused(
        &with_header("bob,Bob,bob@example.com,,,Admin\r\n"),
        &["--mode", "update"],
        &["authority.denied"],
    );
    refused(
        &with_header(&format!("{all}bob,Bob,bob@example.com,,,Admin\r\n")),
        &["--mode", "sync"],
        &["authority.denied"],
    );
    refused(
        &with_header(&format!("{all}bob,Bob,bob@example.com,,,Admin\r\n")),
        &["--mode", "upsert", "--merge", "keep-existing"],
        &["authority.denied"],
    );
}

/// Files above the background threshold run as jobs: the same refusals.
#[test]
fn background_jobs_check_authority_too() {
    let rows = "new1,New,new1@example.com,Secret-pass-9,Sales,Admin\r\n\
                new2,New,new2@example.com,Secret-pass-9,Sales,\r\n";
    refused(
        &with_header(rows),
        &["--background-threshold", "1"],
        &["authority.denied", "Admin"],
    );
    refused(
        "login_id,name,delete\r\nbob,Bob,\r\nlead,Lead,1\r\n",
        &["--background-threshold", "1"],
        &["lead"],
    );
}

#[test]
fn what_the_actor_holds_it_may_grant() {
    let store = Store::new();
    store.write(
        "in.csv",
        &with_header("bob,Bob,bob@example.com,,Sales,Editor\r\n"),
    );
    let r = store.run(&["apply", "in.csv", "--db", "store.db", "--actor", "lead"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(store.snapshot().contains("\"Sales,Tokyo\",Editor"));
}

/// A user holding a role the actor lacks is out of its reach: changing their
/// e-mail or password would be a way into that role.
#[test]
fn users_above_the_actor_are_out_of_reach() {
    refused(
        &with_header("boss,Boss,attacker@example.com,,,\r\n"),
        &[],
        &["authority.denied", "Admin"],
    );
    refused(
        &with_header("boss,Boss,boss@example.com,New-Secret-pass-7,,\r\n"),
        &["--update-passwords"],
        &["authority.denied", "Admin"],
    );
    refused(
        "login_id,name,delete\r\nboss,Boss,1\r\n",
        &[],
        &["authority.denied", "Admin"],
    );
    // Sync would delete boss (absent from the file).
    refused(
        &with_header("lead,Lead,lead@example.com,,,\r\nbob,Bob,bob@example.com,,,\r\n"),
        &["--mode", "sync", "--max-delete", "100"],
        &["authority.denied", "boss"],
    );
    // The same rows are fine for the operator.
    allowed_without_actor(&with_header("boss,Boss,new-boss@example.com,,,\r\n"), &[]);
    // A user with no more authority than the actor can be changed.
    let store = Store::new();
    store.write("in.csv", &with_header("bob,Bob,bob2@example.com,,,\r\n"));
    let r = store.run(&["apply", "in.csv", "--db", "store.db", "--actor", "lead"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn deleting_the_actor_itself_is_refused() {
    refused("login_id,name,delete\r\nlead,Lead,1\r\n", &[], &["lead"]);
    refused("login_id,name,delete\r\nLEAD ,Lead,1\r\n", &[], &["lead"]);
    allowed_without_actor("login_id,name,delete\r\nlead,Lead,1\r\n", &[]);
}

#[test]
fn suspending_the_actor_itself_is_refused() {
    for status in ["Suspended", "Temporarily suspended", "Invalid"] {
        refused(
            &format!("login_id,name,status\r\nlead,Lead,{status}\r\n"),
            &[],
            &["lead"],
        );
    }
}

#[test]
fn sync_never_deletes_or_suspends_the_actor() {
    let file = with_header("bob,Bob,bob@example.com,,,\r\nboss,Boss,boss@example.com,,,\r\n");
    refused(&file, &["--mode", "sync", "--max-delete", "100"], &["lead"]);
    refused(
        &file,
        &[
            "--mode",
            "sync",
            "--sync-action",
            "suspend",
            "--max-delete",
            "100",
        ],
        &["lead"],
    );
}

#[test]
fn team_profile_role_column_is_authority_checked() {
    let store = Store::new();
    // The team profile keys on the e-mail and holds the role as a value.
    store.write(
        "team.csv",
        "Primary Email,Display Name,Role\r\nlead@example.com,Lead,User\r\nbob@example.com,Bob,Admin\r\n",
    );
    let r = store.run(&["apply", "team.csv", "--db", "store.db", "--profile", "team"]);
    assert_eq!(r.code, 0, "{r:?}");
    let before = store.snapshot();
    // lead is a User: it may not make anyone an Admin or Supervisor, itself
    // included, nor take Admin away from bob.
    for file in [
        "Primary Email,Display Name,Role\r\nnew@example.com,New,Admin\r\n",
        "Primary Email,Display Name,Role\r\nlead@example.com,Lead,Supervisor\r\n",
        "Primary Email,Display Name,Role\r\nbob@example.com,Bob,User\r\n",
    ] {
        store.write("in.csv", file);
        for command in ["check", "apply"] {
            let r = store.run(&[
                command,
                "in.csv",
                "--db",
                "store.db",
                "--profile",
                "team",
                "--actor",
                "lead",
            ]);
            assert!(
                r.code == 1 || r.code == 2,
                "{command} {file:?} as lead: exit {}\n{}{}",
                r.code,
                r.stdout,
                r.stderr
            );
            assert!(r.stdout.contains("authority.denied"), "{r:?}");
        }
    }
    assert_eq!(store.snapshot(), before);
    // The baseline role needs no authority.
    store.write(
        "in.csv",
        "Primary Email,Display Name,Role\r\nnew@example.com,New,User\r\n",
    );
    let r = store.run(&[
        "apply",
        "in.csv",
        "--db",
        "store.db",
        "--profile",
        "team",
        "--actor",
        "lead",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
}

/// Plans are written by `plan`, reviewed, and applied later: a plan file
/// edited in between, or applied by an actor it was not made for, must not
/// carry a grant past the actor's authority.
#[test]
fn plan_files_cannot_carry_a_grant_past_the_actor() {
    let store = Store::new();
    // A benign plan made for lead: rename bob.
    store.write(
        "rename.csv",
        &with_header("bob,Robert,bob@example.com,,,\r\n"),
    );
    let r = store.run(&[
        "plan",
        "rename.csv",
        "--db",
        "store.db",
        "--actor",
        "lead",
        "-o",
        "plan.json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let plan = std::fs::read_to_string(store.path().join("plan.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(json["options"]["actor"], "lead");
    let before = store.snapshot();

    // Tampered: the update now also grants Admin and adds a group.
    let change = json["changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["op"] == "update")
        .expect("an update");
    change["roles"] = serde_json::json!({"added": ["Admin"]});
    change["groups"] = serde_json::json!({"added": ["Executives"]});
    store.write("tampered.json", &json.to_string());
    let r = store.run(&["apply", "tampered.json", "--db", "store.db"]);
    assert_eq!(r.code, 2, "a tampered plan is refused: {r:?}");
    assert!(r.stderr.contains("Admin"), "{r:?}");
    assert_eq!(store.snapshot(), before);

    // Tampered: the actor deletes itself.
    let lead_id = before
        .lines()
        .find(|l| l.contains(",lead,"))
        .and_then(|l| l.split(',').next())
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&plan).unwrap();
    json["changes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"op": "delete", "line": 9, "row": 8, "id": lead_id}));
    store.write("suicide.json", &json.to_string());
    let r = store.run(&["apply", "suicide.json", "--db", "store.db"]);
    assert_eq!(r.code, 2, "deleting the actor is refused: {r:?}");
    assert_eq!(store.snapshot(), before);

    // Tampered: the update now targets boss (who holds Admin).
    let boss_id = before
        .lines()
        .find(|l| l.contains(",boss,"))
        .and_then(|l| l.split(',').next())
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&plan).unwrap();
    for change in json["changes"].as_array_mut().unwrap() {
        if change["op"] == "update" {
            change["id"] = serde_json::json!(boss_id);
        }
    }
    store.write("above.json", &json.to_string());
    let r = store.run(&["apply", "above.json", "--db", "store.db"]);
    assert_eq!(
        r.code, 2,
        "changing a user above the actor is refused: {r:?}"
    );
    assert_eq!(store.snapshot(), before);

    // Made by the operator (no actor), applied as lead: lead's authority holds.
    store.write(
        "grant.csv",
        &with_header("bob,Bob,bob@example.com,,,Admin\r\n"),
    );
    let r = store.run(&["plan", "grant.csv", "--db", "store.db", "-o", "grant.json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = store.run(&["apply", "grant.json", "--db", "store.db", "--actor", "lead"]);
    assert_eq!(
        r.code, 2,
        "an operator's plan applied as lead is refused: {r:?}"
    );
    assert_eq!(store.snapshot(), before);

    // Made for another actor, applied as lead: refused.
    let r = store.run(&[
        "plan",
        "rename.csv",
        "--db",
        "store.db",
        "--actor",
        "boss",
        "-o",
        "boss.json",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = store.run(&["apply", "boss.json", "--db", "store.db", "--actor", "lead"]);
    assert_eq!(
        r.code, 2,
        "a plan made for boss applied as lead is refused: {r:?}"
    );
    assert_eq!(store.snapshot(), before);

    // The untampered plan applies.
    let r = store.run(&["apply", "plan.json", "--db", "store.db", "--actor", "lead"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(store.snapshot().contains("Robert"));
}

#[test]
fn an_unknown_actor_is_refused() {
    let store = Store::new();
    store.write("in.csv", &with_header("bob,Robert,bob@example.com,,,\r\n"));
    let r = store.run(&["check", "in.csv", "--db", "store.db", "--actor", "nobody"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("nobody"), "{r:?}");
}
