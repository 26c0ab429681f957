//! Work that runs once per operator, not once per node. Several `mss serve`
//! nodes may share one PostgreSQL database; the daily housekeeping and the
//! liste blanche refresh must still run on one of them at a time. Each such
//! job has a lease in the store ([`mss_store::LeaseStore`]): every node asks
//! for it every `check`, and the node that gets it (its *holder*, renewing
//! it each time it asks) runs the job's rounds on its own schedule, while
//! the others only ask again. The use cases themselves stay in `mss_ops`
//! (`housekeeping::sweep`, `whitelist::import_bytes`), which a command line
//! runs whatever the leases say: when to run them, and where, is the
//! scheduler's business.
//!
//! A lease outlives a round plus one check: a round and the next renewal
//! follow each other in one task, so a holder renews before its lease
//! lapses. When the holder stops, it gives its leases up (a clean stop) or
//! they expire (a crash); another node takes the job over at its next
//! check and runs a round at once (it cannot know when the last one ran,
//! and a starting node always did), then once every period after the end
//! of its last round. The lengths:
//! - [`HOUSEKEEPING`]: a lease of 2 hours, asked for every 10 minutes. A
//!   sweep (the audit purge, emptying deleted mailboxes, collecting the
//!   unreferenced blobs of a large bucket) takes minutes; a daily job may
//!   wait two hours for a node to take it over.
//! - [`WHITELIST`]: a lease of 30 minutes, asked for every 5 minutes, or
//!   every refresh period when that is shorter. A round is one download
//!   (a few megabytes, 30 seconds of stall at most) and one import.
//!
//! A lease is a courtesy between nodes, not a lock: both jobs stay correct
//! when run twice, which a holder stalled past its lease may cause.
//!
//! The holder id is made once per `mss serve` process ([`Holder::of`]). On
//! a shared database: host name, process id and start time, never the same
//! for two processes. An embedded store has one node by construction (the
//! data directory's lock file), so its holder id is the same at every
//! start: a node restarted after a crash takes its leases back at once
//! rather than waiting for them to expire, and a single embedded node runs
//! its jobs exactly as it did before leases.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mss_store::{Store, StoreConfig, now_unix};
use tokio::time::Instant;

/// Who holds leases: one id per `mss serve` process (see the module notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder(String);

impl Holder {
    /// The holder id of this process, on the store of `config`.
    pub fn of(config: &StoreConfig) -> Self {
        match config {
            StoreConfig::Embedded { .. } => Self("embedded".into()),
            StoreConfig::Postgres { .. } => Self::this_process(),
        }
    }

    /// Host name, process id and start time (nanoseconds).
    fn this_process() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".into());
        let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Self(format!("{host} pid {} started {started}", std::process::id()))
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job that runs on one node at a time, and the terms of its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// The lease's name, one per job.
    pub name: &'static str,
    /// How long a lease taken or renewed lasts: longer than a round plus
    /// `check`.
    pub lease: Duration,
    /// How often a node asks for the lease (its holder renews it).
    pub check: Duration,
}

/// The daily housekeeping (`mss_ops::housekeeping::sweep`).
pub const HOUSEKEEPING: Job =
    Job { name: "housekeeping", lease: Duration::from_secs(2 * 3600), check: Duration::from_secs(600) };

/// The liste blanche refresh ([`super::whitelist`]).
pub const WHITELIST: Job =
    Job { name: "whitelist.refresh", lease: Duration::from_secs(1800), check: Duration::from_secs(300) };

impl Job {
    /// The turns of this node at the job, a round every `every`.
    pub fn turns(self, store: Store, holder: Holder, every: Duration) -> Turns {
        Turns { job: self, store, holder, every, holding: None, due: Instant::now(), given: false }
    }
}

/// When this node runs a job's rounds: [`Turns::next`] before each.
pub struct Turns {
    job: Job,
    store: Store,
    holder: Holder,
    every: Duration,
    /// Whether this node held the lease when it last asked (None: it has
    /// not had an answer yet).
    holding: Option<bool>,
    /// When the next round is due, while holding.
    due: Instant,
    /// Whether a round was given and has run since (the caller asks again
    /// when it is over).
    given: bool,
}

impl Turns {
    /// Waits until this node holds the job's lease, just renewed, and a
    /// round is due: at once when it takes the lease, then `every` after
    /// the end of the last round. The caller runs one round, then asks
    /// again.
    pub async fn next(&mut self) {
        if self.given {
            self.given = false;
            self.due = Instant::now() + self.every;
        }
        loop {
            let wait = match self.ask().await {
                Some(true) => match self.due.checked_duration_since(Instant::now()) {
                    None | Some(Duration::ZERO) => {
                        self.given = true;
                        return;
                    }
                    Some(left) => left.min(self.job.check),
                },
                Some(false) => self.job.check,
                None => self.job.check.min(self.every),
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes or renews the lease; whether this node holds it (None when
    /// the store did not answer).
    async fn ask(&mut self) -> Option<bool> {
        let now = now_unix();
        let until = now.saturating_add(i64::try_from(self.job.lease.as_secs()).unwrap_or(i64::MAX));
        let name = self.job.name;
        let held = match self.store.meta.take_lease(name, &self.holder.0, now, until).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(job = name, error = %e, "lease not taken or renewed: asking again later");
                return None;
            }
        };
        if self.holding != Some(held) {
            if held {
                tracing::info!(job = name, holder = %self.holder, "this node runs the job");
                // Whoever held it before: its schedule is unknown here.
                self.due = Instant::now();
            } else {
                tracing::info!(job = name, "another node runs the job");
            }
            self.holding = Some(held);
        }
        Some(held)
    }
}

/// Gives up the leases of `jobs` this node holds (a clean stop): another
/// node takes them over at its next check rather than when they expire.
pub async fn release(store: &Store, holder: &Holder, jobs: &[Job]) {
    for job in jobs {
        if let Err(e) = store.meta.release_lease(job.name, &holder.0).await {
            tracing::warn!(job = job.name, error = %e, "lease not released: it will expire");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Job = Job { name: "test", lease: Duration::from_secs(2), check: Duration::from_millis(50) };

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
        (store, dir)
    }

    fn node(id: &str) -> Holder {
        Holder(id.into())
    }

    async fn gets_a_turn_within(turns: &mut Turns, wait: Duration) -> bool {
        tokio::time::timeout(wait, turns.next()).await.is_ok()
    }

    #[tokio::test]
    async fn a_single_node_runs_at_once_then_every_period() {
        let (store, _dir) = store().await;
        let mut turns = FAST.turns(store, node("a"), Duration::from_millis(300));
        let start = Instant::now();
        turns.next().await;
        assert!(start.elapsed() < Duration::from_millis(100), "at once");
        turns.next().await;
        turns.next().await;
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(600) && elapsed < Duration::from_millis(900), "{elapsed:?}");
    }

    #[tokio::test]
    async fn one_node_runs_the_job_and_another_takes_it_over_once_released_or_expired() {
        let (store, _dir) = store().await;
        let every = Duration::from_millis(100);
        let mut a = FAST.turns(store.clone(), node("a"), every);
        let mut b = FAST.turns(store.clone(), node("b"), every);
        assert!(gets_a_turn_within(&mut a, Duration::from_millis(100)).await);
        assert!(!gets_a_turn_within(&mut b, Duration::from_millis(300)).await, "a holds it");
        // A renews as it runs its rounds: b still waits.
        for _ in 0..3 {
            assert!(gets_a_turn_within(&mut a, Duration::from_millis(300)).await);
        }
        assert!(!gets_a_turn_within(&mut b, Duration::from_millis(300)).await, "a holds it");
        // A stops cleanly: b takes over at its next check, and runs at once.
        release(&store, &node("a"), &[FAST]).await;
        assert!(gets_a_turn_within(&mut b, Duration::from_millis(200)).await);
        assert!(!gets_a_turn_within(&mut a, Duration::from_millis(300)).await, "b holds it now");
        // B dies (asks no more): a takes over once the lease has expired.
        drop(b);
        assert!(gets_a_turn_within(&mut a, Duration::from_secs(4)).await);
    }

    #[test]
    fn a_lease_outlives_a_round_and_a_check_and_embedded_holders_are_stable() {
        for job in [HOUSEKEEPING, WHITELIST] {
            assert!(job.lease >= 5 * job.check, "{job:?}");
        }
        let embedded = StoreConfig::Embedded { dir: "/tmp/x".into() };
        assert_eq!(Holder::of(&embedded), Holder::of(&embedded));
        let one = Holder::this_process();
        assert!(one.0.contains(&format!("pid {}", std::process::id())), "{one}");
        assert_ne!(one, Holder::this_process(), "another start, another holder");
    }
}
