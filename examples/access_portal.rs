//! Embedding userimport in an access-control portal (seed 004): "Import
//! multiple users" with the built-in `access` profile.
//!
//! ```sh
//! cargo run --example access_portal
//! ```
//!
//! Configure data (header row, card ID type, overwrite or keep existing),
//! preview, import the valid rows, and show the results: how many succeeded,
//! how many failed and why. A file that is not UTF-8 is refused as a whole.

use userimport::parse::{ReaderBuilder, preview};
use userimport::plan::{Directory, Merge};
use userimport::schema::Profile;
use userimport::sink::{Outcome, Sink, SqliteSink};
use userimport::validate::CardIdType;
use userimport::{ImportOptions, Importer};

const EMPLOYEES: &[u8] = include_bytes!("data/access/employees.csv");
const UPDATE: &[u8] = include_bytes!("data/access/update.csv");
const SHIFT_JIS: &[u8] = include_bytes!("data/access/employees_shift_jis.csv");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = Profile::access();
    let mut store = SqliteSink::open_in_memory()?;

    // Configure data: the header is on line 3 (two title lines above it),
    // card IDs are hexadecimal, the CSV overwrites what the portal has.
    let mut options = ImportOptions::default();
    options.header_row = Some(3);
    options.validate.card_id_type = CardIdType::Hex;
    options.plan.merge = Merge::Overwrite;
    // Import the rows that are fine; report the others.
    options.plan.skip_invalid = true;

    // Preview: the header and the first rows exactly as parsed.
    let mut reader = ReaderBuilder::new();
    reader.header_row(options.header_row);
    let shown = preview(&reader, EMPLOYEES, 2)?;
    println!(
        "preview: header on line {}: {:?}",
        shown.header_line, shown.header
    );
    for record in &shown.records {
        println!("  line {}: {:?}", record.line, record.fields);
    }

    // Import users, then see results.
    let importer = Importer::builder(&profile).options(options.clone()).build();
    let checked = importer.plan(EMPLOYEES, &store)?;
    let plan = checked.plan.as_ref().expect("plan() keeps the plan");
    let outcome = store.apply(plan, &mut |_| true)?;
    let failed: Vec<_> = checked.errors().collect();
    println!(
        "\nimported: {} users succeeded, {} rows failed",
        outcome.created + outcome.updated,
        checked.summary.invalid
    );
    for issue in &failed {
        println!("  line {}: {} ({})", issue.line, issue.message, issue.code);
    }
    for result in outcome
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Created)
    {
        println!(
            "  line {}: created user {}",
            result.line,
            result.id.unwrap_or(0)
        );
    }

    // A second file with "Keep existing info": only blanks are filled.
    options.header_row = None;
    options.plan.merge = Merge::KeepExisting;
    options.plan.skip_invalid = false;
    let keep = Importer::builder(&profile).options(options.clone()).build();
    let checked = keep.plan(UPDATE, &store)?;
    let s = &checked.summary;
    println!(
        "\nkeep existing: {} to update (blanks filled), {} unchanged",
        s.update, s.unchanged
    );
    store.apply(checked.plan.as_ref().expect("a plan"), &mut |_| true)?;

    // UTF-8 only: a Shift_JIS file is a file-level error that names it.
    match keep.check(SHIFT_JIS, &store) {
        Err(e) => println!("\nShift_JIS file refused: {e}"),
        Ok(_) => println!("\nShift_JIS file unexpectedly accepted"),
    }
    println!("\n{} users in the portal", store.user_count()?);
    Ok(())
}
