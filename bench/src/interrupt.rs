//! An interrupted run (Ctrl-C, SIGTERM) stops what it started, as a run
//! that fails does by unwinding: each side says how to stop it while it
//! runs ([`on_interrupt`]), and a thread waiting for the signal runs those
//! stops, newest first (a side's processes before its directory), then
//! exits. Without it, an interrupted run left `mss serve`, Dovecot and
//! gigabytes of mailboxes behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

type Stop = Box<dyn Fn() + Send>;

/// What to stop, in the order it was started.
static STOPS: Mutex<BTreeMap<u64, Stop>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A stop to run on interrupt; forgotten when dropped (the side stopped).
pub struct OnInterrupt(u64);

impl Drop for OnInterrupt {
    fn drop(&mut self) {
        STOPS.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.0);
    }
}

/// Runs `stop` if the run is interrupted while the returned value lives.
pub fn on_interrupt(stop: impl Fn() + Send + 'static) -> OnInterrupt {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    STOPS.lock().unwrap_or_else(|e| e.into_inner()).insert(id, Box::new(stop));
    OnInterrupt(id)
}

/// A temporary directory, removed when dropped or when the run is
/// interrupted.
pub struct TempDir {
    dir: tempfile::TempDir,
    _removed: OnInterrupt,
}

impl TempDir {
    pub fn create() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().to_path_buf();
        let _removed = on_interrupt(move || {
            let _ = std::fs::remove_dir_all(&path);
        });
        Self { dir, _removed }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Stops `pid` (SIGTERM) if the run is interrupted while the returned value
/// lives.
pub fn kills(pid: u32) -> OnInterrupt {
    on_interrupt(move || terminate(pid))
}

/// Sends SIGTERM to `pid`: a server of the run stops as it would in
/// service (a clean shutdown), unlike `Child::kill`'s SIGKILL.
pub fn terminate(pid: u32) {
    let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
}

/// Waits on a thread of its own for SIGINT or SIGTERM, then runs every stop
/// still registered, newest first, and exits with status 130.
pub fn install() {
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
                let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            });
            eprintln!("interrupted: stopping what the run started");
            let stops = std::mem::take(&mut *STOPS.lock().unwrap_or_else(|e| e.into_inner()));
            for stop in stops.into_values().rev() {
                stop();
            }
            std::process::exit(130);
        })
        .expect("the interrupt thread");
}
