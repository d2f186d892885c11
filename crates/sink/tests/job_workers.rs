//! A job's worker on both stores: a job whose worker is gone reads as
//! interrupted and resumes; a job with a live worker cannot be resumed
//! beside it; a cancel request stops a job at its next batch boundary,
//! leaving exactly the batches before it, or before its first batch when
//! it came before; a job read as its worker ends it shows that end.

mod backends;

use backends::{Backend, TestStore};
use userimport_plan::{Directory, Plan, PlanOptions, Planner};
use userimport_schema::Profile;
use userimport_sink::{CancelToken, Error, JobSpec, JobStatus, Jobs, run_job};
use userimport_validate::{Cell, Row, Secret};

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0123456789abcdefghijklmnopqrstuvwxyzABCDE";

/// `n` new users with a pre-hashed password.
fn rows(n: u64) -> Vec<Row> {
    let p = Profile::standard();
    (1..=n)
        .map(|i| {
            let mut cells = vec![Cell::Absent; p.columns.len()];
            let mut set = |key: &str, cell: Cell| {
                cells[p.column_index(key).expect("column")] = cell;
            };
            set("login_id", Cell::Value(format!("user{i:04}")));
            set("name", Cell::Value(format!("User {i}")));
            set("email", Cell::Value(format!("user{i:04}@example.com")));
            set("password_hash", Cell::Secret(Secret::new(HASH)));
            set("groups", Cell::Blank);
            Row {
                line: i + 1,
                row: i,
                cells,
                valid: true,
            }
        })
        .collect()
}

fn plan(store: &impl Directory, n: u64) -> Plan {
    let plan = Planner::plan_rows(&Profile::standard(), PlanOptions::default(), rows(n), store)
        .expect("plan");
    assert!(plan.is_clean(), "{:?}", plan.issues);
    plan
}

fn new_job(store: &mut impl TestStore, rows_total: u64) -> i64 {
    store
        .create_job(&JobSpec {
            file: "users.csv".into(),
            file_sha256: "00".into(),
            options: "{}".into(),
            rows_total,
        })
        .expect("create job")
}

fn status(store: &impl TestStore, id: i64) -> JobStatus {
    store.job(id).expect("read job").expect("job exists").status
}

/// The job's status once its gone worker's lock is let go: PostgreSQL lets a
/// closed connection's lock go a moment later, and until then the job is
/// still running, as far as anyone can tell.
fn status_once_let_go(store: &impl TestStore, id: i64) -> JobStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while status(store, id) == JobStatus::Running && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    status(store, id)
}

fn a_job_whose_worker_is_gone_is_interrupted_and_resumes<B: Backend>(b: &B) {
    let mut worker = b.open();
    let id = new_job(&mut worker, 60);
    assert!(worker.claim_job(id).unwrap());
    assert!(worker.claim_job(id).unwrap(), "its own lock again");

    // Beside the live worker: running, and not resumable.
    let mut other = b.open();
    assert_eq!(status(&other, id), JobStatus::Running);
    assert!(!other.claim_job(id).unwrap());
    let again = plan(&other, 60);
    let err = run_job(
        &mut other,
        id,
        &again,
        None,
        25,
        &CancelToken::new(),
        &mut |_| true,
    )
    .unwrap_err();
    assert!(matches!(err, Error::JobRunning(i) if i == id), "{err}");
    assert_eq!(
        err.to_string(),
        format!("job {id} is running: another worker is writing it")
    );
    assert_eq!(other.user_count().unwrap(), 0);

    // The worker's process (its connection) ends without a word.
    drop(worker);
    assert_eq!(status_once_let_go(&other, id), JobStatus::Interrupted);
    assert_eq!(other.jobs().unwrap()[0].status, JobStatus::Interrupted);
    let done = run_job(
        &mut other,
        id,
        &again,
        None,
        25,
        &CancelToken::new(),
        &mut |_| true,
    )
    .unwrap();
    assert_eq!(
        (done.status, done.rows_done, done.created),
        (JobStatus::Done, 60, 60)
    );
    assert_eq!(other.user_count().unwrap(), 60);
    // Finished, the lock is given back: the job reads done anywhere.
    assert_eq!(status(&b.open(), id), JobStatus::Done);
}

fn a_cancel_request_stops_a_job_at_its_next_batch_boundary<B: Backend>(b: &B) {
    let mut store = b.open();
    let id = new_job(&mut store, 100);
    let first = plan(&store, 100);
    // Another connection (a web request, `jobs cancel`) asks it to stop
    // once its first batch of 20 is committed.
    let mut requests = b.open();
    let err = run_job(
        &mut store,
        id,
        &first,
        None,
        20,
        &CancelToken::new(),
        &mut |p| {
            if p.rows_done == 20 {
                let job = requests.request_cancel(id).unwrap().expect("job");
                assert_eq!(job.status, JobStatus::Running);
                assert!(job.cancel_requested);
            }
            true
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    let job = requests.job(id).unwrap().unwrap();
    assert_eq!(
        (job.status, job.rows_done, job.created, job.cancel_requested),
        (JobStatus::Cancelled, 20, 20, false)
    );
    assert_eq!(
        requests.user_count().unwrap(),
        20,
        "exactly the first batch"
    );

    // Resumed, it finishes; each user is written once.
    let rest = plan(&store, 100);
    let done = run_job(
        &mut store,
        id,
        &rest,
        None,
        20,
        &CancelToken::new(),
        &mut |_| true,
    )
    .unwrap();
    assert_eq!(
        (done.status, done.rows_done, done.created),
        (JobStatus::Done, 100, 100)
    );
    assert_eq!(requests.user_count().unwrap(), 100);

    // A finished job is left alone; one without a worker stops at once.
    assert_eq!(
        requests.request_cancel(id).unwrap().unwrap().status,
        JobStatus::Done
    );
    let idle = new_job(&mut store, 10);
    assert_eq!(status(&requests, idle), JobStatus::Interrupted);
    let cancelled = requests.request_cancel(idle).unwrap().unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(cancelled.finished_at.is_some());
    assert!(requests.request_cancel(idle + 1000).unwrap().is_none());
}

/// `jobs cancel` sent after a worker took its job but before its first
/// batch: the worker acts on it before writing anything (it used to drop
/// the request as it started, and write the whole file).
fn a_cancel_requested_before_the_first_batch_writes_nothing<B: Backend>(b: &B) {
    let mut worker = b.open();
    let id = new_job(&mut worker, 60);
    assert!(worker.claim_job(id).unwrap());
    let mut requests = b.open();
    let asked = requests.request_cancel(id).unwrap().expect("job");
    assert_eq!(
        (asked.status, asked.cancel_requested),
        (JobStatus::Running, true)
    );
    let first = plan(&worker, 60);
    let err = run_job(
        &mut worker,
        id,
        &first,
        None,
        20,
        &CancelToken::new(),
        &mut |_| true,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    let job = requests.job(id).unwrap().unwrap();
    assert_eq!(
        (job.status, job.rows_done, job.cancel_requested),
        (JobStatus::Cancelled, 0, false)
    );
    assert_eq!(requests.user_count().unwrap(), 0, "nothing written");

    // Resumed like any cancelled job, it finishes.
    let again = plan(&worker, 60);
    let done = run_job(
        &mut worker,
        id,
        &again,
        None,
        20,
        &CancelToken::new(),
        &mut |_| true,
    )
    .unwrap();
    assert_eq!((done.status, done.created), (JobStatus::Done, 60));
}

/// A job asked to stop whose worker is gone before it could (killed, say)
/// stopped as asked: it reads cancelled, not interrupted, and a resume
/// runs it (the old request dropped).
fn a_job_asked_to_stop_whose_worker_is_gone_reads_cancelled<B: Backend>(b: &B) {
    let mut worker = b.open();
    let id = new_job(&mut worker, 30);
    assert!(worker.claim_job(id).unwrap());
    let mut other = b.open();
    assert!(other.request_cancel(id).unwrap().unwrap().cancel_requested);
    drop(worker);
    assert_eq!(status_once_let_go(&other, id), JobStatus::Cancelled);
    assert_eq!(other.jobs().unwrap()[0].status, JobStatus::Cancelled);
    let rest = plan(&other, 30);
    let done = run_job(
        &mut other,
        id,
        &rest,
        None,
        10,
        &CancelToken::new(),
        &mut |_| true,
    )
    .unwrap();
    assert_eq!((done.status, done.created), (JobStatus::Done, 30));
    assert!(!done.cancel_requested);
}

/// Rounds of a worker ending its job while another connection reads it.
const ROUNDS: usize = 30;

/// Read while its worker ends it (records its end, then lets its lock go:
/// what every worker does), a job reads `running`, then its end; never
/// `interrupted`, which a read of its row before the end and of its lock
/// after used to give (seen as `jobs cancel` showing a running job
/// interrupted on a busy PostgreSQL server).
fn a_job_read_while_its_worker_ends_it_never_reads_interrupted<B>(b: &B)
where
    B: Backend + Sync,
{
    let mut worker = b.open();
    for round in 0..ROUNDS {
        let id = new_job(&mut worker, 1);
        assert!(worker.claim_job(id).unwrap());
        let reading = std::sync::Barrier::new(2);
        let seen = std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let reader = b.open();
                let mut seen = vec![status(&reader, id)];
                reading.wait();
                let start = std::time::Instant::now();
                while seen.last() == Some(&JobStatus::Running) {
                    assert!(start.elapsed().as_secs() < 120, "the job never ended");
                    seen.push(status(&reader, id));
                }
                seen
            });
            reading.wait();
            worker
                .finish_job(id, JobStatus::Cancelled, None)
                .expect("record the end");
            worker.release_job(id).expect("release");
            reader.join().expect("reader")
        });
        assert!(
            seen.iter()
                .all(|s| matches!(s, JobStatus::Running | JobStatus::Cancelled)),
            "round {round}: {seen:?}"
        );
        assert_eq!(seen.last(), Some(&JobStatus::Cancelled));
    }
}

backends::both_backends!(
    a_job_whose_worker_is_gone_is_interrupted_and_resumes,
    a_cancel_request_stops_a_job_at_its_next_batch_boundary,
    a_cancel_requested_before_the_first_batch_writes_nothing,
    a_job_asked_to_stop_whose_worker_is_gone_reads_cancelled,
    a_job_read_while_its_worker_ends_it_never_reads_interrupted,
);
