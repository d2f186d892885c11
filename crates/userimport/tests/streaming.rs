//! `Importer::apply_streaming` on a real SQLite file: the same users as
//! planning first and applying after, nothing written (and no job left)
//! when an error turns up at the very end of the file, and a job whose
//! progress and results cover every row.

use userimport::plan::Directory;
use userimport::sink::{JobSpec, JobStatus, Jobs, Outcome, Sink, SqliteSink};
use userimport::{ImportOptions, Importer, Phase, StreamOptions};

/// `n` new users with one pre-hashed password, each in one of three groups;
/// `tail` is appended as it is.
fn file(n: usize, tail: &str) -> Vec<u8> {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = HASH.get_or_init(|| userimport::plan::hash_password("Stream-Test-1").unwrap());
    let mut text = String::from("login_id,name,email,password_hash,groups\n");
    for i in 0..n {
        text.push_str(&format!(
            "user{i:06},User {i},user{i:06}@example.com,\"{hash}\",Team{}\n",
            i % 3
        ));
    }
    text.push_str(tail);
    text.into_bytes()
}

/// A reader that gives at most 4 KiB a read, as a pipe or a slow disk.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(4096);
        self.0.read(&mut buf[..n])
    }
}

fn importer() -> Importer {
    let mut options = ImportOptions::default();
    options.chunk_rows = 100; // many chunks, so many held writes
    Importer::builder(&userimport::schema::Profile::standard())
        .options(options)
        .build()
}

struct Store {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Store {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.db");
        SqliteSink::open(&path).unwrap();
        Store { _dir: dir, path }
    }
    fn writer(&self) -> SqliteSink {
        SqliteSink::open(&self.path).unwrap()
    }
    fn reader(&self) -> SqliteSink {
        SqliteSink::open_existing(&self.path).unwrap()
    }
    /// A streamed apply of `bytes` into this store (progress ignored).
    fn stream(&self, bytes: &[u8], options: &StreamOptions<'_>) -> userimport::StreamOutcome {
        importer()
            .apply_streaming(
                bytes,
                self.reader(),
                &mut self.writer(),
                options,
                &mut |_| true,
            )
            .unwrap()
    }

    /// Every user as (login, e-mail, attributes, groups), by login.
    fn users(&self) -> Vec<(String, String, String, String)> {
        let mut users = Vec::new();
        self.reader()
            .for_each_user(&mut |u| {
                users.push((
                    u.login.clone().unwrap_or_default(),
                    u.email.clone().unwrap_or_default(),
                    format!("{:?}", u.attributes),
                    format!("{:?}", u.groups),
                ));
                true
            })
            .unwrap();
        users.sort();
        users
    }
}

fn spec(rows: &str) -> JobSpec {
    JobSpec {
        file: "users.csv".into(),
        file_sha256: format!("sha-{rows}"),
        options: "{}".into(),
        rows_total: 0,
    }
}

#[test]
fn streaming_writes_what_planning_then_applying_writes() {
    let bytes = file(2_500, "");
    let planned = Store::new();
    let mut sink = planned.writer();
    let checked = importer().plan(&bytes[..], &sink).unwrap();
    let outcome = sink
        .apply(checked.plan.as_ref().unwrap(), &mut |_| true)
        .unwrap();
    assert_eq!(outcome.created, 2_500);

    let streamed = Store::new();
    let mut sink = streamed.writer();
    let mut seen = Vec::new();
    let result = importer()
        .apply_streaming(
            Trickle(&bytes[..]),
            streamed.reader(),
            &mut sink,
            &StreamOptions {
                batch_rows: 400,
                hold_rows: 100,
                input_size: Some(bytes.len() as u64),
                ..StreamOptions::default()
            },
            &mut |p| {
                seen.push(*p);
                true
            },
        )
        .unwrap();
    assert!(
        result.outcome.committed,
        "{:?}",
        result.outcome.first_failure()
    );
    assert_eq!(result.outcome.created, 2_500);
    assert_eq!(result.outcome.results.len(), 2_500);
    assert!(
        result
            .outcome
            .results
            .iter()
            .all(|r| r.outcome == Outcome::Created && r.id.is_some())
    );
    assert_eq!(result.checked.summary, checked.summary);
    assert_eq!(
        result.outcome.created_groups.len(),
        3,
        "{:?}",
        result.outcome.created_groups
    );
    assert_eq!(streamed.users(), planned.users());
    // Writes were held while the file was read, then committed.
    assert!(seen.iter().any(|p| !p.checked), "{seen:?}");
    assert_eq!(
        seen.last().map(|p| (p.rows_written, p.checked)),
        Some((2_500, true))
    );
    assert_eq!(result.job, None);
    // The phases a frontend shows: checking (bytes read of the file's
    // size, rows checked), then writing (rows written of the file's rows).
    let size = bytes.len() as u64;
    let checking: Vec<_> = seen.iter().filter(|p| p.phase == Phase::Checking).collect();
    assert!(checking.len() >= 10, "a report per chunk checked: {seen:?}");
    assert!(
        checking
            .iter()
            .all(|p| p.bytes_total == Some(size) && p.bytes_read <= size)
    );
    assert!(
        checking
            .windows(2)
            .all(|w| w[0].bytes_read <= w[1].bytes_read && w[0].rows_read <= w[1].rows_read)
    );
    let last = seen.last().unwrap();
    assert_eq!(
        (last.phase, last.bytes_read, last.rows_read),
        (Phase::Writing, size, 2_500)
    );
    let first_writing = seen.iter().position(|p| p.phase == Phase::Writing).unwrap();
    assert!(
        seen[first_writing..]
            .iter()
            .all(|p| p.phase == Phase::Writing)
    );
}

/// Past what the reader sniffs (1 MiB), bytes are read as the file is
/// checked: progress moves through the file before the writes commit.
#[test]
fn progress_tells_bytes_checked_then_rows_written() {
    let bytes = file(12_000, "");
    let size = bytes.len() as u64;
    assert!(size > 1_500_000);
    let store = Store::new();
    let mut seen = Vec::new();
    let result = importer()
        .apply_streaming(
            Trickle(&bytes[..]),
            store.reader(),
            &mut store.writer(),
            &StreamOptions {
                input_size: Some(size),
                ..StreamOptions::default()
            },
            &mut |p| {
                seen.push(*p);
                true
            },
        )
        .unwrap();
    assert!(result.outcome.committed);
    let checking: Vec<u64> = seen
        .iter()
        .filter(|p| p.phase == Phase::Checking)
        .map(|p| p.bytes_read)
        .collect();
    let between = checking.iter().filter(|&&b| b > 0 && b < size).count();
    assert!(between >= 10, "bytes move while checking: {checking:?}");
    assert!(checking.windows(2).all(|w| w[0] <= w[1]));
    let last = seen.last().unwrap();
    assert_eq!(
        (last.phase, last.bytes_read, last.rows_written),
        (Phase::Writing, size, 12_000)
    );
}

/// A streamed file is known clean only at its end, and what is left to
/// write then (the chunks in flight) commits with the held writes, in one
/// transaction: there is no batch boundary after the check, so a cancel
/// asked for once the file is checked comes too late to stop anything, and
/// the job ends done with every row.
#[test]
fn a_streamed_job_commits_once_when_its_file_is_checked() {
    let bytes = file(1_500, "");
    let store = Store::new();
    let mut requests = store.writer();
    let mut asked = 0;
    let result = importer().apply_streaming(
        &bytes[..],
        store.reader(),
        &mut store.writer(),
        &StreamOptions {
            batch_rows: 200,
            hold_rows: 100,
            job: Some((spec("cancel"), 100)),
            invite: None,
            input_size: None,
        },
        &mut |p| {
            if !p.checked {
                // A slow writer: the check gets ahead (as far as the chunks
                // it may queue), so writes remain once the file is clean.
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            if let (Some(id), true) = (p.job, p.checked) {
                asked += 1;
                requests.request_cancel(id).unwrap();
            }
            true
        },
    );
    let result = result.unwrap();
    assert!(result.outcome.committed);
    assert!(
        asked > 0,
        "a cancel was asked for once the file was checked"
    );
    let job = store.reader().jobs().unwrap().remove(0);
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    assert_eq!((job.rows_done, job.created), (1_500, 1_500));
    assert_eq!(store.reader().user_count().unwrap(), 1_500);
}

#[test]
fn an_error_in_the_last_row_writes_nothing() {
    // The last row repeats the first one's login: an in-file duplicate
    // only known at the end, long after the first rows were written (held).
    let bytes = file(3_000, "user000000,Again,again@example.com,,\n");
    let store = Store::new();
    // One writing connection for both applies: it stays usable after the
    // rollback.
    let mut sink = store.writer();
    let options = StreamOptions {
        batch_rows: 100,
        hold_rows: 100,
        job: Some((spec("dup"), 100)),
        invite: None,
        input_size: None,
    };
    let result = importer()
        .apply_streaming(&bytes[..], store.reader(), &mut sink, &options, &mut |_| {
            true
        })
        .unwrap();
    assert!(!result.outcome.committed);
    assert_eq!(result.outcome.created, 0);
    assert!(
        result
            .checked
            .issues
            .iter()
            .any(|i| i.code == "key.duplicate" && i.row == 3_001),
        "{:?}",
        result.checked.issues
    );
    assert!(!result.checked.is_clean());
    assert_eq!(store.reader().user_count().unwrap(), 0, "nothing written");
    assert_eq!(store.reader().revision().unwrap(), 0);
    assert!(
        store.reader().jobs().unwrap().is_empty(),
        "no job left behind"
    );
    // The store is usable afterwards.
    let clean = file(10, "");
    let result = importer()
        .apply_streaming(
            &clean[..],
            store.reader(),
            &mut sink,
            &StreamOptions::default(),
            &mut |_| true,
        )
        .unwrap();
    assert!(result.outcome.committed);
    assert_eq!(store.reader().user_count().unwrap(), 10);
}

/// A file over the threshold is a job that records every row, whether it
/// was known to be one from the first chunk (threshold 100) or only after
/// rows were written, held (threshold 700: those rows are recorded with it).
#[test]
fn a_large_file_becomes_a_job_with_every_row_recorded() {
    let bytes = file(1_500, "");
    for threshold in [100, 700] {
        let store = Store::new();
        let result = store.stream(
            &bytes,
            &StreamOptions {
                batch_rows: 200,
                hold_rows: 100,
                job: Some((spec("job"), threshold)),
                invite: None,
                input_size: None,
            },
        );
        let id = result.job.expect("a job");
        let job = store.reader().job(id).unwrap().expect("recorded");
        assert_eq!(job.status, JobStatus::Done);
        // The job records the SHA-256 of exactly the bytes it read.
        use sha2::Digest;
        assert_eq!(
            job.spec.file_sha256,
            hex::encode(sha2::Sha256::digest(&bytes))
        );
        assert_eq!(
            (job.spec.rows_total, job.rows_done, job.created),
            (1_500, 1_500, 1_500),
            "threshold {threshold}"
        );
        let results = store.reader().job_results(id).unwrap();
        let rows: Vec<u64> = results.iter().map(|r| r.row).collect();
        assert_eq!(
            rows,
            (1..=1_500).collect::<Vec<u64>>(),
            "threshold {threshold}"
        );
        assert_eq!(results[0].line, 2);
        assert!(
            results
                .iter()
                .all(|r| r.outcome == Outcome::Created && r.id.is_some())
        );
        assert_eq!(store.reader().user_count().unwrap(), 1_500);
    }

    // A file at or under the threshold is no job.
    let small = Store::new();
    let result = small.stream(
        &file(100, ""),
        &StreamOptions {
            batch_rows: 200,
            hold_rows: 100,
            job: Some((spec("small"), 100)),
            invite: None,
            input_size: None,
        },
    );
    assert_eq!(result.job, None);
    assert!(small.reader().jobs().unwrap().is_empty());
    assert_eq!(small.reader().user_count().unwrap(), 100);
}

#[test]
fn stopping_before_the_file_is_checked_writes_nothing() {
    let bytes = file(5_000, "");
    let store = Store::new();
    let mut sink = store.writer();
    let result = importer().apply_streaming(
        &bytes[..],
        store.reader(),
        &mut sink,
        &StreamOptions {
            hold_rows: 100,
            ..StreamOptions::default()
        },
        &mut |p| p.checked,
    );
    assert!(result.is_err(), "cancelled");
    assert_eq!(store.reader().user_count().unwrap(), 0);
}

#[test]
fn skip_invalid_is_refused() {
    let mut options = ImportOptions::default();
    options.plan.skip_invalid = true;
    let importer = Importer::builder(&userimport::schema::Profile::standard())
        .options(options)
        .build();
    let store = Store::new();
    let mut sink = store.writer();
    let result = importer.apply_streaming(
        &file(5, "")[..],
        store.reader(),
        &mut sink,
        &StreamOptions::default(),
        &mut |_| true,
    );
    assert!(result.is_err());
}

/// Generated files (with and without defects, pre-hashed passwords): the
/// streamed apply leaves the store exactly as planning and then applying
/// does, and reports the same summary — committed when the file is clean,
/// nothing written when it is not.
#[test]
fn streaming_agrees_with_plan_then_apply_on_generated_files() {
    use userimport::schema::{Purpose, SampleRows};
    use userimport::{CsvWriter, OutputCharset};

    let profile = userimport::schema::Profile::standard();
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = HASH.get_or_init(|| userimport::plan::hash_password("Stream-Test-2").unwrap());
    for (seed, defects) in [(1, 0.0), (2, 0.0), (3, 0.01), (4, 0.05)] {
        let mut sample = SampleRows::new(&profile, seed).defect_rate(defects);
        let mut header = sample.header().to_vec();
        let password = profile.column_for(Purpose::Password).unwrap();
        let at = header.iter().position(|h| *h == password.label).unwrap();
        header[at] = profile
            .column_for(Purpose::PasswordHash)
            .unwrap()
            .label
            .clone();
        let mut w = CsvWriter::new(Vec::new(), OutputCharset::parse("utf-8").unwrap()).unwrap();
        w.write_row(&header).unwrap();
        for _ in 0..600 {
            let (mut cells, _) = sample.next_row();
            if !cells[at].is_empty() {
                cells[at].clone_from(hash);
            }
            w.write_row(&cells).unwrap();
        }
        let bytes = w.finish().unwrap();

        let planned = Store::new();
        let mut sink = planned.writer();
        let checked = importer().plan(&bytes[..], &sink).unwrap();
        if checked.is_clean() {
            let plan = checked.plan.as_ref().unwrap();
            assert!(sink.apply(plan, &mut |_| true).unwrap().committed);
        }

        let streamed = Store::new();
        let mut sink = streamed.writer();
        let result = importer()
            .apply_streaming(
                &bytes[..],
                streamed.reader(),
                &mut sink,
                &StreamOptions {
                    batch_rows: 50,
                    hold_rows: 64,
                    job: Some((spec(&format!("gen{seed}")), 100)),
                    invite: None,
                    input_size: None,
                },
                &mut |_| true,
            )
            .unwrap();
        assert_eq!(result.checked.summary, checked.summary, "seed {seed}");
        assert_eq!(result.checked.issues, checked.issues, "seed {seed}");
        assert_eq!(result.outcome.committed, checked.is_clean(), "seed {seed}");
        assert_eq!(streamed.users(), planned.users(), "seed {seed}");
        if defects > 0.0 {
            assert!(!checked.is_clean(), "seed {seed}: the defects were found");
            assert!(streamed.users().is_empty());
        } else {
            assert_eq!(streamed.users().len(), 600, "seed {seed}");
        }
    }
}
