//! Embedding userimport in a learning platform (seeds 000 and 002): the
//! "Batch user registration/update" screen as a service would run it.
//!
//! ```sh
//! cargo run --example learning_platform
//! ```
//!
//! It registers the users of `examples/data/learning/users.csv` (every column
//! of seed 002) and of a Shift_JIS file with Japanese headers into an
//! in-memory store, then uploads an edited file and shows the review counts,
//! the errors of a bad file, and the users as the download would list them.

use userimport::plan::Directory;
use userimport::schema::Profile;
use userimport::sink::{Sink, SqliteSink};
use userimport::{Checked, ExportOptions, Importer, OutputCharset, export};

/// The platform's profile: the built-in `standard` one plus its default group
/// (`extends = "standard"` in TOML, so the file stays a few lines).
const PROFILE: &str = include_str!("profiles/learning.toml");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = Profile::from_toml(PROFILE)?;
    // A real service opens its database file; the example keeps it in memory.
    let mut store = SqliteSink::open_in_memory()?;
    // Default options: detect the charset and delimiter, upsert, keys
    // member ID → login ID → e-mail.
    let importer = Importer::builder(&profile).build();

    for (name, bytes) in [
        ("users.csv", &include_bytes!("data/learning/users.csv")[..]),
        (
            "users_shift_jis.csv",
            &include_bytes!("data/learning/users_shift_jis.csv")[..],
        ),
        (
            "update.csv",
            &include_bytes!("data/learning/update.csv")[..],
        ),
        (
            "errors.csv",
            &include_bytes!("data/learning/errors.csv")[..],
        ),
    ] {
        // "Upload and check": decode, validate and plan; nothing is written.
        let checked = importer.plan(bytes, &store)?;
        review(name, &checked);

        // "Execute registration": only a clean file, all or nothing. (The
        // platform runs files above 100 rows in the background; these are
        // small enough to run at once.)
        if checked.is_clean() {
            let plan = checked.plan.as_ref().expect("plan() keeps the plan");
            let outcome = store.apply(plan, &mut |progress| {
                // A service reports progress here (`false` cancels).
                let _ = (progress.done, progress.total);
                true
            })?;
            println!(
                "  executed: {} created, {} updated, {} unchanged",
                outcome.created, outcome.updated, outcome.unchanged
            );
        } else {
            println!("  not executed: fix the errors and re-upload");
        }
    }

    // "Download users": the canonical values, whatever spelling was uploaded.
    println!("\n{} users stored; the download:", store.user_count()?);
    let mut options = ExportOptions::default();
    options.columns = [
        "login_id",
        "name",
        "email",
        "country",
        "language",
        "date_format",
        "status",
        "groups",
    ]
    .map(String::from)
    .to_vec();
    let mut csv = Vec::new();
    export(&profile, &store, &options, OutputCharset::UTF8, &mut csv)?;
    print!("{}", String::from_utf8(csv)?);
    Ok(())
}

/// Prints what the review screen shows: the counts, then the errors with
/// their lines ("Show only errors" ticked).
fn review(name: &str, checked: &Checked) {
    let s = &checked.summary;
    println!(
        "\n{name} ({}): {} rows, {} to create, {} to update, {} unchanged, {} with errors, {} warnings",
        checked.file.encoding, s.rows, s.create, s.update, s.unchanged, s.invalid, s.warnings
    );
    for issue in checked.errors() {
        println!(
            "  line {:>2}  {:<26} {}",
            issue.line, issue.code, issue.message
        );
    }
}
