//! Figures, their mss/peer ratios, and the report (Markdown and JSON).

use std::path::Path;
use std::time::Duration;

use crate::smtp_load::Outcome;

/// One compared figure.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub unit: &'static str,
    pub mss: f64,
    pub peer: f64,
    /// Whether more is better (throughput) or less (latency, memory).
    pub higher_is_better: bool,
}

impl Figure {
    pub fn new(name: &str, unit: &'static str, mss: f64, peer: f64, higher_is_better: bool) -> Self {
        Self { name: name.to_string(), unit, mss, peer, higher_is_better }
    }

    /// mss/peer.
    pub fn ratio(&self) -> f64 {
        if self.peer == 0.0 { f64::NAN } else { self.mss / self.peer }
    }

    /// p50 of two latency samples, in milliseconds.
    pub fn latency(name: &str, ours: &[Duration], theirs: &[Duration]) -> Self {
        Self::new(&format!("{name}, p50"), "ms", percentile(ours, 50.0), percentile(theirs, 50.0), false)
    }
}

/// Milliseconds at the `p`th percentile.
pub fn percentile(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted: Vec<Duration> = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank].as_secs_f64() * 1000.0
}

/// Throughput (delivered messages per second) and p50/p99 latency.
pub fn smtp(name: &str, ours: &Outcome, theirs: &Outcome) -> Vec<Figure> {
    let rate = |o: &Outcome| o.messages as f64 / o.elapsed.as_secs_f64();
    vec![
        Figure::new(&format!("{name}: delivered"), "msg/s", rate(ours), rate(theirs), true),
        Figure::new(
            &format!("{name}: latency p50"),
            "ms",
            percentile(&ours.latencies, 50.0),
            percentile(&theirs.latencies, 50.0),
            false,
        ),
        Figure::new(
            &format!("{name}: latency p99"),
            "ms",
            percentile(&ours.latencies, 99.0),
            percentile(&theirs.latencies, 99.0),
            false,
        ),
    ]
}

/// A rate (operations per second) and its p50/p99 latency.
pub fn rate(name: &str, ours: &(Duration, Vec<Duration>), theirs: &(Duration, Vec<Duration>)) -> Vec<Figure> {
    let per_second = |(elapsed, times): &(Duration, Vec<Duration>)| times.len() as f64 / elapsed.as_secs_f64();
    vec![
        Figure::new(&format!("{name}: rate"), "op/s", per_second(ours), per_second(theirs), true),
        Figure::new(&format!("{name}: p50"), "ms", percentile(&ours.1, 50.0), percentile(&theirs.1, 50.0), false),
        Figure::new(&format!("{name}: p99"), "ms", percentile(&ours.1, 99.0), percentile(&theirs.1, 99.0), false),
    ]
}

pub struct Report {
    pub figures: Vec<Figure>,
    pub date: String,
    pub machine: String,
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

impl Report {
    pub fn new(figures: Vec<Figure>) -> Self {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string()))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map_or_else(String::new, |kib| format!("{} GiB", kib / 1024 / 1024));
        let machine = format!("{}, {cpus} cores, {memory}", command_output("uname", &["-sr"]));
        Self { figures, date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]), machine }
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "mss against Postfix + Dovecot, {} on {}\n\n| figure | unit | mss | Postfix + Dovecot | mss/peer |\n|---|---|---:|---:|---:|\n",
            self.date, self.machine
        );
        for f in &self.figures {
            let better = if f.higher_is_better { "higher is better" } else { "lower is better" };
            out.push_str(&format!(
                "| {} | {} ({better}) | {:.1} | {:.1} | {:.2} |\n",
                f.name,
                f.unit,
                f.mss,
                f.peer,
                f.ratio()
            ));
        }
        out
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let figures: Vec<serde_json::Value> = self
            .figures
            .iter()
            .map(|f| {
                serde_json::json!({
                    "figure": f.name, "unit": f.unit, "mss": f.mss, "peer": f.peer,
                    "ratio": f.ratio(), "higher_is_better": f.higher_is_better,
                })
            })
            .collect();
        let json = serde_json::json!({ "date": self.date, "machine": self.machine, "figures": figures });
        std::fs::write(dir.join("latest.json"), serde_json::to_string_pretty(&json)?)?;
        std::fs::write(dir.join("latest.md"), self.markdown())
    }
}
