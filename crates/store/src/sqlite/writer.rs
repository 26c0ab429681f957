//! The writer: one connection on a thread of its own, committing together
//! the writes that wait for it (group commit).
//!
//! A write is a job sent to the thread. The thread takes the first job and
//! every other one already waiting (at most [`MAX_BATCH`]), runs each in a
//! savepoint of one `BEGIN IMMEDIATE` transaction, commits once, and only
//! then answers each caller: fifty deliveries arriving together share one
//! sync of the log instead of queueing for fifty. A job that fails is rolled
//! back to its savepoint and answered with its error; the others commit. A
//! commit that fails fails every job of the batch, and none of them is kept.
//! Alone, a job is a transaction of its own, as before.
//!
//! A job can also be sent for later ([`Writer::later`]): work nobody
//! waits for and that its sender can redo after a crash (the search text of
//! new messages). Such jobs yield to the others: they run when no other job
//! waits (or once [`LATER_MAX`] have gathered), together, and their commit
//! is not synced (`synchronous=NORMAL`): the next synced commit makes them
//! durable with it, and a crash before loses them whole, never in part.
//!
//! The log is copied into the database by another thread ([`checkpointer`]),
//! never by a commit: a delivery's acknowledgement waits for its own log
//! write only.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{Use, opened};
use crate::StoreError;

/// Jobs committed together at most: a bound on the transaction's size (a
/// delivery carries a body of up to 64 KiB) and on a caller's wait.
const MAX_BATCH: usize = 64;

/// Later jobs gathered past which they run even while other jobs wait: a
/// bound on the memory they hold under a steady stream of writes.
const LATER_MAX: usize = 64;

/// Pages in the write-ahead log past which the checkpointer copies it into
/// the database (SQLite's own automatic threshold, about 4 MB).
const CHECKPOINT_PAGES: std::ffi::c_int = 1000;

/// Pages the log must gain since the checkpointer's last copy before it
/// copies again (about 0.5 MB). Under a steady stream of commits the log
/// does not restart between two copies (a commit lands while the
/// checkpointer works), so it stays past [`CHECKPOINT_PAGES`]; woken by
/// every commit, the checkpointer would copy each commit's few pages and
/// sync the database once per delivery, doubling the disk work of the
/// stream. Not more: the commit that meets a copy waits for the database
/// pages it syncs (scattered over the indexes, the costliest to sync), and
/// one client's slowest APPENDs are those commits. Measured against 250
/// pages, steps taking turns: one client's APPEND p99 4.1 -> 3.4 ms, SMTP
/// p99 4.6 -> 3.3-3.9 ms (bench README, "Smaller turns, measured again").
const CHECKPOINT_STEP: std::ffi::c_int = CHECKPOINT_PAGES / 8;

/// Pages past which the writer copies the rest of the log itself, as SQLite
/// would at [`CHECKPOINT_PAGES`]. The log restarts from its beginning only
/// when a checkpoint has caught up with the last commit; under a steady
/// stream of commits the checkpointer is always a little behind, and the log
/// would grow for as long as the stream lasts. The writer then copies only
/// what the checkpointer has not (the frames of the last few commits).
///
/// About 64 MB of log, the file kept that size once reached: the commits
/// that near the backstop are the slow ones of a stream (the checkpointer
/// then syncs the database after each of them), so they come once per
/// ~600 deliveries of 10 KB rather than ~150. Measured with one client
/// (`mss-bench smtp --size 10 --connections 1 --reuse` and `append`, two
/// rounds of 3 runs): p99 3.3-3.8 -> 2.4 ms for SMTP, 2.4-2.5 -> 2.0 ms for
/// APPEND. Reopening after a crash reads that much log at most.
const BACKSTOP_PAGES: std::ffi::c_int = 16 * CHECKPOINT_PAGES;

/// Attempts of the checkpointer per wake-up while part of the log is held
/// back, and the pause between two.
const CHECKPOINT_TRIES: usize = 50;
const CHECKPOINT_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// What a job leaves once it ran: how to answer its caller when the
/// transaction's fate is known (`Ok` once committed).
type Answer = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// A write, as the writer thread sees it.
trait Job: Send {
    /// Runs in the batch's transaction.
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Answer;
    /// Answers without running: no transaction could be had.
    fn refuse(self: Box<Self>, e: &StoreError);
}

/// A caller's closure and where its result goes.
struct Write<F, T> {
    f: F,
    answer: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Job for Write<F, T>
where
    F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send,
    T: Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Answer {
        let Write { f, answer } = *self;
        match in_savepoint(tx, f) {
            Ok(value) => Box::new(move |committed| {
                let _ = answer.send(committed.map(|()| value).map_err(again));
            }),
            Err(e) => Box::new(move |_| {
                let _ = answer.send(Err(e));
            }),
        }
    }

    fn refuse(self: Box<Self>, e: &StoreError) {
        let _ = self.answer.send(Err(again(e)));
    }
}

/// A job as sent to the writer thread.
enum Work {
    /// Its caller waits for its commit.
    Now(Box<dyn Job>),
    /// Nobody waits: it yields to the others (see [`Writer::later`]).
    Later(Box<dyn Job>),
}

/// Sends jobs for later to the writer thread, from another thread (see
/// [`Writer::later`]).
#[derive(Clone)]
pub(super) struct LaterJobs(mpsc::Sender<Work>);

impl LaterJobs {
    /// Runs `f` in a later transaction (see [`Writer::later`]);
    /// `done` hears of its fate, once committed or not. False when the
    /// writer is gone (then `done` is not called).
    pub(super) fn send(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<(), StoreError> + Send + 'static,
        done: impl FnOnce(Result<(), &StoreError>) + Send + 'static,
    ) -> bool {
        self.0.send(Work::Later(Box::new(After { f, done }))).is_ok()
    }
}

/// A job for later: its closure and who hears of its fate.
struct After<F, D> {
    f: F,
    done: D,
}

impl<F, D> Job for After<F, D>
where
    F: FnOnce(&Transaction<'_>) -> Result<(), StoreError> + Send,
    D: FnOnce(Result<(), &StoreError>) + Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Answer {
        let After { f, done } = *self;
        match in_savepoint(tx, f) {
            Ok(()) => Box::new(done),
            Err(e) => Box::new(move |_| done(Err(&e))),
        }
    }

    fn refuse(self: Box<Self>, e: &StoreError) {
        (self.done)(Err(e));
    }
}

/// The way to the writer thread. Dropping it (with the last store handle)
/// lets the thread finish the jobs sent and close the connection, then the
/// checkpointer close its own; the drop waits for both, so that a command
/// that ends leaves no log behind (the last connection closed removes it).
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Work>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn` (migrated) and its checkpointer.
    pub(super) fn start(path: &Path, mut conn: Connection) -> Result<Self, StoreError> {
        let checkpointer = checkpointer(path, &mut conn)?;
        let (jobs, queue) = mpsc::channel::<Work>();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(&mut conn, &queue))
            .map_err(StoreError::io(path))?;
        // The writer first: its connection holds the checkpointer's wake-up.
        Ok(Self { jobs: Some(jobs), threads: vec![thread, checkpointer] })
    }

    /// Runs `f` in the writer's transaction; returns once that transaction
    /// is committed (or `f`'s error, its writes undone).
    pub(super) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = Work::Now(Box::new(Write { f, answer }));
        let gone = || StoreError::Task("the SQLite writer is gone".into());
        self.jobs.as_ref().ok_or_else(gone)?.send(job).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }

    /// A way to send jobs for later: each runs in a transaction that yields
    /// to the jobs callers wait for, committed without a sync of its own
    /// (durable with the next synced commit, lost whole in a crash before).
    /// Whoever holds it must drop it before the writer is dropped: the
    /// thread ends once every sender is gone.
    pub(super) fn later(&self) -> Option<LaterJobs> {
        self.jobs.clone().map(LaterJobs)
    }
}

/// The writer thread: jobs callers wait for, committed together; jobs for
/// later when none waits (or past [`LATER_MAX`]), and before the thread
/// ends.
fn serve(conn: &mut Connection, queue: &mpsc::Receiver<Work>) {
    let mut later: Vec<Box<dyn Job>> = Vec::new();
    loop {
        let first = if later.is_empty() {
            queue.recv().ok()
        } else {
            match queue.try_recv() {
                Ok(work) => Some(work),
                Err(mpsc::TryRecvError::Empty) => match commit_later(conn, std::mem::take(&mut later)) {
                    Ok(()) => continue,
                    Err(_) => return,
                },
                Err(mpsc::TryRecvError::Disconnected) => None,
            }
        };
        let Some(first) = first else { break };
        let mut now = Vec::new();
        for work in std::iter::once(first).chain(queue.try_iter().take(MAX_BATCH - 1)) {
            match work {
                Work::Now(job) => now.push(job),
                Work::Later(job) => later.push(job),
            }
        }
        if !now.is_empty() {
            commit_together(conn, now);
        }
        if later.len() >= LATER_MAX && commit_later(conn, std::mem::take(&mut later)).is_err() {
            return;
        }
    }
    if !later.is_empty() {
        let _ = commit_later(conn, later);
    }
}

/// Jobs for later, in one transaction committed without a sync. An error
/// when the writer cannot sync its commits again: it must stop.
fn commit_later(conn: &mut Connection, batch: Vec<Box<dyn Job>>) -> Result<(), rusqlite::Error> {
    // Failing, the commit is synced: slower, never less safe.
    if let Err(e) = conn.pragma_update(None, "synchronous", "NORMAL") {
        tracing::warn!(error = %e, "cannot commit the SQLite writer's later jobs without a sync");
    }
    commit_together(conn, batch);
    conn.pragma_update(None, "synchronous", "FULL").inspect_err(|e| {
        // Nothing acknowledged may depend on a commit that is not synced.
        tracing::error!(error = %e, "cannot sync the SQLite writer's commits again: the writer stops");
    })
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One transaction for the batch, then each caller answered.
fn commit_together(conn: &mut Connection, batch: Vec<Box<dyn Job>>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = StoreError::from(e);
            for job in batch {
                job.refuse(&e);
            }
            return;
        }
    };
    let answers: Vec<Answer> = batch.into_iter().map(|job| job.run(&tx)).collect();
    let committed = tx.commit().map_err(StoreError::from);
    for answer in answers {
        answer(committed.as_ref().map(|_| ()));
    }
}

/// Runs `f` between `SAVEPOINT` and `RELEASE`; on its error or panic, its
/// writes are rolled back and the others of the transaction stand.
fn in_savepoint<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    tx.prepare_cached("SAVEPOINT job")?.execute([])?;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| f(tx)))
        .unwrap_or_else(|_| Err(StoreError::Task("a store write panicked".into())));
    match outcome {
        Ok(value) => {
            tx.prepare_cached("RELEASE job")?.execute([])?;
            Ok(value)
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO job; RELEASE job")?;
            Err(e)
        }
    }
}

/// The batch's failure, for one more of its callers. A transaction fails in
/// SQLite (busy, disk full, I/O): that error is rebuilt as it was, so that
/// each caller can tell a full disk from the rest.
fn again(e: &StoreError) -> StoreError {
    match e {
        StoreError::Database(rusqlite::Error::SqliteFailure(code, message)) => {
            StoreError::Database(rusqlite::Error::SqliteFailure(*code, message.clone()))
        }
        other => StoreError::Task(other.to_string()),
    }
}

/// Copies the log into the database on a thread of its own, woken by the
/// writer's commits once the log passes [`CHECKPOINT_PAGES`], then every
/// [`CHECKPOINT_STEP`] pages the log gains (see [`after_commit`]); replaces
/// SQLite's automatic checkpoint, which runs inside the commit that passes
/// the threshold (a delivery or an APPEND now and then waiting for 4 MB to
/// be copied and the database synced). Passive: it never blocks the writer
/// or a reader, and what a reader still needs is copied at the next turn.
/// The thread ends with the writer connection (its hook holds the wake-up).
/// Its connection opens at the first checkpoint: a store that never fills
/// the log does not hold a parse of the schema for it.
fn checkpointer(path: &Path, writer: &mut Connection) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let database = path.to_path_buf();
    let (wake, woken) = mpsc::sync_channel::<()>(1);
    // Frames of the log the checkpointer had copied at its last turn.
    let copied = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
    let copied_by_checkpointer = copied.clone();
    let thread = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut slot = None;
            while woken.recv().is_ok() {
                let conn = match opened(&mut slot, &database, Use::Write) {
                    Ok(conn) => conn,
                    Err(e) => {
                        // The writer copies the log itself past its backstop.
                        tracing::warn!(error = %e, "cannot open the SQLite checkpointer's connection");
                        continue;
                    }
                };
                // A reader (or the writer's own snapshot) can hold back part
                // of the log, or all of it for a moment: try again shortly,
                // a bounded number of times, until the log is all copied.
                for _ in 0..CHECKPOINT_TRIES {
                    match conn.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE) {
                        Ok((log, done)) => {
                            copied_by_checkpointer.store(done, Ordering::Relaxed);
                            if done >= log {
                                break;
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "checkpoint of the SQLite log held back; retried"),
                    }
                    std::thread::sleep(CHECKPOINT_RETRY);
                }
            }
        })
        .map_err(StoreError::io(path))?;
    writer.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
        match after_commit(pages, copied.load(Ordering::Relaxed)) {
            Checkpoint::ByWriter => {
                if let Err(e) = wal.checkpoint_v2(rusqlite::wal::CheckpointMode::PASSIVE) {
                    tracing::warn!(error = %e, "checkpoint of the SQLite log by the writer failed");
                }
            }
            Checkpoint::ByCheckpointer => {
                // Full: a checkpoint is already asked for.
                let _ = wake.try_send(());
            }
            Checkpoint::NotYet => {}
        }
        Ok(())
    }))?;
    Ok(thread)
}

/// Who copies the log into the database after a commit.
#[derive(Debug, PartialEq)]
enum Checkpoint {
    NotYet,
    ByCheckpointer,
    ByWriter,
}

/// What a commit leaving `pages` in the log asks for, `copied` being the
/// frames the checkpointer had copied at its last turn (all of the log is
/// new once it has restarted from its beginning since: it is then shorter).
fn after_commit(pages: std::ffi::c_int, copied: std::ffi::c_int) -> Checkpoint {
    let new = if pages < copied { pages } else { pages - copied };
    if pages >= BACKSTOP_PAGES {
        Checkpoint::ByWriter
    } else if pages >= CHECKPOINT_PAGES && (new >= CHECKPOINT_STEP || pages >= BACKSTOP_PAGES - CHECKPOINT_STEP) {
        // Near the backstop, after every commit: what the writer copies
        // itself there (inside a delivery's commit) stays a commit or two.
        Checkpoint::ByCheckpointer
    } else {
        Checkpoint::NotYet
    }
}

#[cfg(test)]
mod tests {
    use super::super::connect;
    use super::*;

    fn writer(dir: &Path) -> Writer {
        let path = dir.join("w.sqlite3");
        let conn = connect(&path, Use::Write).unwrap();
        conn.busy_timeout(std::time::Duration::from_millis(300)).unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)").unwrap();
        Writer::start(&path, conn).unwrap()
    }

    fn count(dir: &Path) -> i64 {
        let conn = Connection::open(dir.join("w.sqlite3")).unwrap();
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    /// Past [`CHECKPOINT_PAGES`] in the log, the checkpointer (its
    /// connection opened then) copies the log into the database file; no
    /// one else does below the backstop.
    #[tokio::test]
    async fn a_full_log_is_copied_into_the_database_by_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(dir.path());
        let database = dir.path().join("w.sqlite3");
        let before = std::fs::metadata(&database).unwrap().len();
        writer
            .write(|tx| {
                tx.execute_batch("CREATE TABLE pages (data BLOB)")?;
                let rows = CHECKPOINT_PAGES + 100;
                tx.execute(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                            INSERT INTO pages SELECT zeroblob(4000) FROM n",
                    [rows],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let copied = 4000 * CHECKPOINT_PAGES as u64;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::metadata(&database).unwrap().len() < before + copied {
            assert!(std::time::Instant::now() < deadline, "the log was not copied into the database");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// A log past the threshold wakes the checkpointer once per step of
    /// new pages, not at every commit; a restarted log counts from zero.
    #[test]
    fn the_checkpointer_copies_the_log_by_steps() {
        use Checkpoint::*;
        assert_eq!(after_commit(CHECKPOINT_PAGES - 1, 0), NotYet);
        assert_eq!(after_commit(CHECKPOINT_PAGES, 0), ByCheckpointer);
        // Copied through 1,200 frames: the next commits of 30 pages wait.
        let copied = CHECKPOINT_PAGES + 200;
        assert_eq!(after_commit(copied + 30, copied), NotYet);
        assert_eq!(after_commit(copied + CHECKPOINT_STEP - 1, copied), NotYet);
        assert_eq!(after_commit(copied + CHECKPOINT_STEP, copied), ByCheckpointer);
        // Restarted since that copy: its new frames are all of it.
        assert_eq!(after_commit(CHECKPOINT_PAGES, BACKSTOP_PAGES - 10), ByCheckpointer);
        assert_eq!(after_commit(CHECKPOINT_PAGES / 2, BACKSTOP_PAGES - 10), NotYet);
        // Near the backstop, every commit: the writer will have little left.
        assert_eq!(
            after_commit(BACKSTOP_PAGES - CHECKPOINT_STEP, BACKSTOP_PAGES - CHECKPOINT_STEP - 30),
            ByCheckpointer
        );
        assert_eq!(after_commit(BACKSTOP_PAGES - CHECKPOINT_STEP - 1, BACKSTOP_PAGES - CHECKPOINT_STEP - 31), NotYet);
        // The backstop, whatever the checkpointer did.
        assert_eq!(after_commit(BACKSTOP_PAGES, BACKSTOP_PAGES - 1), ByWriter);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writes_sent_together_stand_or_fall_each_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let writer = std::sync::Arc::new(writer(dir.path()));
        let mut tasks = Vec::new();
        for n in 0..200_i64 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                writer
                    .write(move |tx| {
                        tx.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                        match n % 10 {
                            // Written, then refused: its row must go.
                            3 => Err(StoreError::Invalid(format!("job {n} refused"))),
                            // Written, then the job panics: its row must go too.
                            7 => panic!("job {n} panics"),
                            _ => Ok(n),
                        }
                    })
                    .await
            }));
        }
        let mut kept = 0;
        for (n, task) in tasks.into_iter().enumerate() {
            match (n % 10, task.await.unwrap()) {
                (3, Err(StoreError::Invalid(why))) => assert_eq!(why, format!("job {n} refused")),
                (7, Err(StoreError::Task(why))) => assert!(why.contains("panicked"), "{why}"),
                (3 | 7, other) => panic!("job {n}: {other:?}"),
                (_, answer) => {
                    assert_eq!(answer.unwrap(), n as i64);
                    kept += 1;
                }
            }
        }
        assert_eq!(kept, 160);
        assert_eq!(count(dir.path()), 160, "refused and panicking jobs left rows");
    }

    /// Jobs for later stand or fall each on its own, their senders hear
    /// of it, the writer's commits are synced again after theirs, and
    /// those sent before the writer is dropped are committed first.
    #[tokio::test]
    async fn jobs_for_later_are_committed_each_on_its_own_before_the_writer_ends() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(dir.path());
        let later = writer.later().unwrap();
        let (heard, fates) = mpsc::channel();
        for n in 0..3_i64 {
            let heard = heard.clone();
            let insert = move |tx: &Transaction<'_>| {
                tx.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                if n == 1 { Err(StoreError::Invalid("refused".into())) } else { Ok(()) }
            };
            assert!(later.send(insert, move |fate| heard.send((n, fate.is_ok())).unwrap()));
        }
        let mut fates: Vec<(i64, bool)> = (0..3).map(|_| fates.recv().unwrap()).collect();
        fates.sort_unstable();
        assert_eq!(fates, [(0, true), (1, false), (2, true)]);
        let synchronous = writer.write(|tx| Ok(tx.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))?));
        assert_eq!(synchronous.await.unwrap(), 2, "FULL again");
        // Sent last, the writer dropped at once: committed all the same.
        let (heard, fate) = mpsc::channel();
        later.send(|tx| Ok(tx.execute_batch("INSERT INTO t (n) VALUES (3)")?), move |f| heard.send(f.is_ok()).unwrap());
        drop(later);
        drop(writer);
        assert!(fate.recv().unwrap());
        assert_eq!(count(dir.path()), 3);
    }

    #[tokio::test]
    async fn a_transaction_that_cannot_begin_fails_its_jobs_and_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(dir.path());
        // Another process holds the write lock past the busy timeout.
        let mut other = Connection::open(dir.path().join("w.sqlite3")).unwrap();
        let held = other.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        let started = std::time::Instant::now();
        let refused = writer.write(|tx| Ok(tx.execute("INSERT INTO t (n) VALUES (1)", [])?)).await;
        assert!(started.elapsed() >= std::time::Duration::from_millis(300), "no busy wait");
        match refused {
            Err(StoreError::Database(e)) => assert_eq!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy)),
            other => panic!("{other:?}"),
        }
        held.rollback().unwrap();
        drop(other);
        writer.write(|tx| Ok(tx.execute("INSERT INTO t (n) VALUES (2)", [])?)).await.unwrap();
        drop(writer);
        assert_eq!(count(dir.path()), 1);
    }
}
