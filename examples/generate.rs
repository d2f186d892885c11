//! Writes a realistic user file of N rows for any profile and charset, with an
//! optional defect rate, for benchmarks and tests (no large data is committed).
//!
//! ```sh
//! cargo run --release --example generate -- --rows 1000000 --out bench-data/users-1m.csv
//! cargo run --release --example generate -- --rows 20000 --defects 0.01 --charset shift_jis --out x.csv
//! ```
//! Options: `--rows N` (default 1000), `--profile NAME|FILE.toml` (standard),
//! `--charset utf-8|utf-8-bom|shift_jis` (utf-8), `--defects RATE` (0),
//! `--seed S` (1), `--out FILE` (standard output). Defective lines are listed
//! on standard error as `line<TAB>column<TAB>what` when `--list-defects` is given.
//! `--prehashed` replaces the plaintext password column with a `password_hash`
//! column holding one argon2id PHC string (hashed once, at start), the shape of
//! a migration from another system (for apply benchmarks that leave hashing out).

use std::io::Write;

use userimport::plan::{Change, NewUser, PasswordSource};
use userimport::schema::{Profile, Purpose, SampleRows};
use userimport::validate::Secret;
use userimport::{CsvWriter, OutputCharset};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rows = 1000u64;
    let mut profile = "standard".to_string();
    let mut charset = "utf-8".to_string();
    let mut defects = 0.0f64;
    let mut seed = 1u64;
    let mut out: Option<String> = None;
    let mut list_defects = false;
    let mut prehashed = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--rows" => rows = value()?.parse()?,
            "--profile" => profile = value()?,
            "--charset" => charset = value()?,
            "--defects" => defects = value()?.parse()?,
            "--seed" => seed = value()?.parse()?,
            "--out" | "-o" => out = Some(value()?),
            "--list-defects" => list_defects = true,
            "--prehashed" => prehashed = true,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let profile = Profile::load(&profile)?;
    let charset = OutputCharset::parse(&charset).ok_or("unknown charset")?;
    let sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = CsvWriter::new(std::io::BufWriter::with_capacity(1 << 20, sink), charset)?;
    let mut sample = SampleRows::new(&profile, seed).defect_rate(defects);
    let mut header = sample.header().to_vec();
    // `--prehashed`: (column index, the one PHC hash every row gets).
    let hashed = match prehashed {
        false => None,
        true => {
            let password = profile
                .column_for(Purpose::Password)
                .ok_or("--prehashed: the profile has no password column")?;
            let at = header
                .iter()
                .position(|h| *h == password.label || *h == password.key)
                .ok_or("--prehashed: the sample rows have no password column")?;
            let hash_column = profile
                .column_for(Purpose::PasswordHash)
                .ok_or("--prehashed: the profile has no password hash column")?;
            header[at] = hash_column.label.clone();
            Some((at, one_hash()?))
        }
    };
    writer.write_row(&header)?;
    let stderr = std::io::stderr();
    let mut stderr = stderr.lock();
    for i in 0..rows {
        let (mut cells, defect) = sample.next_row();
        if let Some((at, hash)) = &hashed
            && let Some(cell) = cells.get_mut(*at)
            && !cell.is_empty()
        {
            cell.clone_from(hash);
        }
        writer.write_row(&cells)?;
        if let (true, Some(defect)) = (list_defects, defect) {
            writeln!(stderr, "{}\t{}\t{}", i + 2, defect.column, defect.what)?;
        }
    }
    writer.finish()?.flush()?;
    Ok(())
}

/// One argon2id PHC string, hashed by the engine's own password hashing.
fn one_hash() -> Result<String, Box<dyn std::error::Error>> {
    let change = Change::Create {
        line: 2,
        row: 1,
        user: NewUser {
            password: Some(PasswordSource::Plain(Secret::new("Pw-prehashed-benchmark"))),
            ..NewUser::default()
        },
    };
    let hashes = userimport::sink::prepare_passwords(std::slice::from_ref(&change))?;
    let hash = hashes.into_iter().flatten().next().ok_or("no hash")?;
    Ok(hash.into_owned())
}
