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
    /// When the figure is the median of several runs: the smallest and
    /// largest run of mss, then of the peer.
    pub spread: Option<[f64; 4]>,
}

impl Figure {
    pub fn new(name: &str, unit: &'static str, mss: f64, peer: f64, higher_is_better: bool) -> Self {
        Self { name: name.to_string(), unit, mss, peer, higher_is_better, spread: None }
    }

    /// The median of several runs on each side, with their spread. A side
    /// without runs (no peer has this figure) is NaN.
    pub fn median(name: &str, unit: &'static str, ours: &[f64], theirs: &[f64], higher_is_better: bool) -> Self {
        let (mss, peer) = (median(ours), median(theirs));
        let mut figure = Self::new(name, unit, mss.0, peer.0, higher_is_better);
        figure.spread = Some([mss.1, mss.2, peer.1, peer.2]);
        figure
    }

    /// mss/peer.
    pub fn ratio(&self) -> f64 {
        if self.peer == 0.0 { f64::NAN } else { self.mss / self.peer }
    }

    /// The p50 latency, in milliseconds, of runs of many operations on each
    /// side: the median of the runs' p50s, with their spread.
    pub fn latency(name: &str, ours: &[Vec<Duration>], theirs: &[Vec<Duration>]) -> Self {
        let p50s = |runs: &[Vec<Duration>]| runs.iter().map(|times| percentile(times, 50.0)).collect::<Vec<f64>>();
        Self::median(&format!("{name}, p50"), "ms", &p50s(ours), &p50s(theirs), false)
    }
}

/// The median, smallest and largest of `runs` (NaN when there are none).
fn median(runs: &[f64]) -> (f64, f64, f64) {
    let mut sorted = runs.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => (f64::NAN, f64::NAN, f64::NAN),
        n if n % 2 == 1 => (sorted[n / 2], sorted[0], sorted[n - 1]),
        n => ((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0, sorted[0], sorted[n - 1]),
    }
}

/// A count as figure names say it: « 10k », « 100k », « 1M ».
pub fn thousands(n: usize) -> String {
    match n {
        1_000_000.. if n.is_multiple_of(1_000_000) => format!("{}M", n / 1_000_000),
        1000.. => format!("{}k", n / 1000),
        _ => n.to_string(),
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

/// Throughput (delivered messages per second) and p50/p99 latency: the
/// median of the runs of each side, with their spread.
pub fn smtp(name: &str, ours: &[Outcome], theirs: &[Outcome]) -> Vec<Figure> {
    let rates = |runs: &[Outcome]| runs.iter().map(Outcome::rate).collect::<Vec<f64>>();
    let at = |runs: &[Outcome], p: f64| runs.iter().map(|run| percentile(&run.latencies, p)).collect::<Vec<f64>>();
    vec![
        Figure::median(&format!("{name}: delivered"), "msg/s", &rates(ours), &rates(theirs), true),
        Figure::median(&format!("{name}: latency p50"), "ms", &at(ours, 50.0), &at(theirs, 50.0), false),
        Figure::median(&format!("{name}: latency p99"), "ms", &at(ours, 99.0), &at(theirs, 99.0), false),
    ]
}

/// A rate (operations per second) and its p50/p99 latency, from runs of
/// (duration, each operation's time): the median of the runs of each side,
/// with their spread.
pub fn rate(name: &str, ours: &[(Duration, Vec<Duration>)], theirs: &[(Duration, Vec<Duration>)]) -> Vec<Figure> {
    let rates = |runs: &[(Duration, Vec<Duration>)]| -> Vec<f64> {
        runs.iter().map(|(elapsed, times)| times.len() as f64 / elapsed.as_secs_f64()).collect()
    };
    let at = |runs: &[(Duration, Vec<Duration>)], p: f64| -> Vec<f64> {
        runs.iter().map(|(_, times)| percentile(times, p)).collect()
    };
    vec![
        Figure::median(&format!("{name}: rate"), "op/s", &rates(ours), &rates(theirs), true),
        Figure::median(&format!("{name}: p50"), "ms", &at(ours, 50.0), &at(theirs, 50.0), false),
        Figure::median(&format!("{name}: p99"), "ms", &at(ours, 99.0), &at(theirs, 99.0), false),
    ]
}

pub struct Report {
    /// The files' name (`latest` for `latest.md` and `latest.json`) and the
    /// table's title.
    pub stem: &'static str,
    pub title: &'static str,
    /// What the two columns measure (`mss` and `peer` unless told).
    pub sides: [&'static str; 2],
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
    pub fn named(stem: &'static str, title: &'static str, figures: Vec<Figure>) -> Self {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string()))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map_or_else(String::new, |kib| format!("{} GiB", kib / 1024 / 1024));
        let machine = format!("{}, {cpus} cores, {memory}", command_output("uname", &["-sr"]));
        let load = std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let machine = format!("{machine}, load average {load} at the end");
        let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
        Self { stem, title, sides: ["mss", "peer"], figures, date, machine }
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "{}, {} on {}\n\n| figure | unit | {a} | {b} | {a}/{b} |\n|---|---|---:|---:|---:|\n",
            self.title,
            self.date,
            self.machine,
            a = self.sides[0],
            b = self.sides[1],
        );
        let value = |v: f64, low: Option<f64>, high: Option<f64>| match (v.is_nan(), low.zip(high)) {
            (true, _) => "-".to_string(),
            (false, Some((low, high))) => format!("{v:.1} ({low:.1}-{high:.1})"),
            (false, None) => format!("{v:.1}"),
        };
        for f in &self.figures {
            let better = if f.higher_is_better { "higher is better" } else { "lower is better" };
            let s = f.spread.map(|s| s.map(Some)).unwrap_or([None; 4]);
            let ratio = if f.ratio().is_nan() { "-".to_string() } else { format!("{:.2}", f.ratio()) };
            out.push_str(&format!(
                "| {} | {} ({better}) | {} | {} | {ratio} |\n",
                f.name,
                f.unit,
                value(f.mss, s[0], s[1]),
                value(f.peer, s[2], s[3]),
            ));
        }
        if self.figures.iter().any(|f| f.spread.is_some()) {
            out.push_str("\nA value with a range is the median of several runs (smallest-largest).\n");
        }
        out
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let figures: Vec<serde_json::Value> = self
            .figures
            .iter()
            .map(|f| {
                let number = |v: f64| if v.is_nan() { serde_json::Value::Null } else { serde_json::json!(v) };
                serde_json::json!({
                    "figure": f.name, "unit": f.unit, "mss": number(f.mss), "peer": number(f.peer),
                    "ratio": number(f.ratio()), "higher_is_better": f.higher_is_better,
                    "spread": f.spread.map(|s| serde_json::json!({
                        "mss_min": number(s[0]), "mss_max": number(s[1]),
                        "peer_min": number(s[2]), "peer_max": number(s[3]),
                    })),
                })
            })
            .collect();
        let json = serde_json::json!({
            "date": self.date, "machine": self.machine, "sides": { "mss": self.sides[0], "peer": self.sides[1] },
            "figures": figures,
        });
        std::fs::write(dir.join(format!("{}.json", self.stem)), serde_json::to_string_pretty(&json)?)?;
        std::fs::write(dir.join(format!("{}.md", self.stem)), self.markdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn a_latency_figure_is_the_median_of_the_runs_p50s() {
        let ours = [ms(&[1, 2, 3]), ms(&[5, 6, 7]), ms(&[3, 4, 100])];
        let figure = Figure::latency("SEARCH", &ours, &[ms(&[10, 10, 10])]);
        assert_eq!(figure.name, "SEARCH, p50");
        assert_eq!((figure.mss, figure.peer), (4.0, 10.0));
        assert_eq!(figure.spread, Some([2.0, 6.0, 10.0, 10.0]));
    }

    #[test]
    fn a_rate_figure_is_the_median_of_the_runs_rates() {
        let run = |seconds: u64, ops: usize| (Duration::from_secs(seconds), ms(&vec![1; ops]));
        let ours = [run(1, 100), run(2, 100), run(1, 300)];
        let figures = rate("APPEND", &ours, &[run(1, 40), run(1, 60)]);
        assert_eq!(figures[0].name, "APPEND: rate");
        assert_eq!((figures[0].mss, figures[0].peer), (100.0, 50.0));
        assert_eq!(figures[0].spread, Some([50.0, 300.0, 40.0, 60.0]));
        assert_eq!(figures[2].mss, 1.0, "p99 of each run's operations");
    }
}
