//! What the servers cost: memory as PSS summed over all their processes
//! (RSS would count shared pages once per process), CPU time including
//! reaped children, bytes on disk.

use std::path::Path;

/// The processes of `roots` and all their descendants.
pub fn with_descendants(roots: &[u32]) -> Vec<u32> {
    let mut all: Vec<u32> = roots.to_vec();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return all;
    };
    let parents: Vec<(u32, u32)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?.ppid)))
        .collect();
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, ppid) in &parents {
            if all.contains(ppid) && !all.contains(pid) {
                all.push(*pid);
                grew = true;
            }
        }
    }
    all
}

/// This process's descendants whose command is `name` (`postgres`, `mss`).
pub fn descendants_named(name: &str) -> Vec<u32> {
    with_descendants(&[std::process::id()])
        .into_iter()
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name))
        .collect()
}

struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields start after the last ')'.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat { ppid: field(1)? as u32, ticks: field(11)? + field(12)? + field(13)? + field(14)? })
}

/// PSS of these processes, in KiB.
pub fn pss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
            text.lines().find_map(|l| l.strip_prefix("Pss:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        })
        .sum()
}

/// CPU seconds used by these processes and their reaped children.
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    let ticks: u64 = pids.iter().filter_map(|pid| stat(*pid)).map(|s| s.ticks).sum();
    ticks as f64 / 100.0
}

/// Bytes of the files under `dir`.
pub fn disk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Samples the PSS of both sides every 200 ms; keeps the peaks.
pub struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl Sampler {
    /// `ours`, `theirs`: the process lists to sample, read again each time
    /// (Postfix and Dovecot start and stop processes under load).
    pub fn start(ours: impl Fn() -> Vec<u32> + Send + 'static, theirs: impl Fn() -> Vec<u32> + Send + 'static) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut peak_ours, mut peak_theirs) = (0, 0);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak_ours = peak_ours.max(pss_kib(&ours()));
                peak_theirs = peak_theirs.max(pss_kib(&theirs()));
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            (peak_ours, peak_theirs)
        });
        Self { stop, thread }
    }

    /// The peaks, in KiB: (ours, theirs).
    pub fn finish(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0))
    }
}
