//! The benchmark harness: mss against Postfix + Dovecot (Postfix receiving,
//! Dovecot LMTP storing into Maildir, Dovecot IMAP serving), both on
//! loopback with TLS and durable delivery, driven by the same load
//! generator with the same messages in the same run. Prints a table of
//! figures and mss/peer ratios, and writes it as JSON and Markdown.
//!
//! Run (as root: private Postfix and Dovecot instances; installs
//! postfix, dovecot-imapd and dovecot-lmtpd when missing):
//!
//! ```sh
//! cargo build --release -p mss -p mss-bench && target/release/mss-bench [--quick] [--shared-network]
//! target/release/mss-bench annuaire [--lines N]   # Annuaire Santé figures only (annuaire.rs)
//! target/release/mss-bench mailboxes [--quick | --million]   # large mailboxes, IMAP and webmail (mailboxes.rs)
//! target/release/mss-bench stock [--quick]         # Python's imaplib as it comes (stock_clients.rs)
//! target/release/mss-bench nodes [--quick]         # PostgreSQL + S3, 1 and 2 nodes, against embedded (nodes.rs)
//! target/release/mss-bench smtp --size 200 --connections 1 --reuse   # one SMTP figure, to profile (one_figure.rs)
//! target/release/mss-bench append [--count N] [--after-search N]   # the IMAP APPEND figure alone (one_figure.rs)
//! target/release/mss-bench unseen [--messages N] [--runs N]   # UID SEARCH UNSEEN alone (one_figure.rs)
//! target/release/mss-bench fetch [--messages N]    # login+SELECT+FETCH alone, phase by phase (one_figure.rs)
//! ```

mod annuaire;
mod figures;
mod imap_load;
mod indicator;
mod interrupt;
mod mailboxes;
mod measure;
mod mss_side;
mod network;
mod nodes;
mod one_figure;
mod peer_side;
mod smtp_load;
mod stock_clients;
mod tls;
mod usage;

use std::path::PathBuf;
use std::time::Duration;

use figures::{Figure, Report};

/// How much load each figure gets.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Messages per SMTP figure.
    pub messages: usize,
    /// Messages in the mailbox for the UID SEARCH figure.
    pub search_mailbox: usize,
    /// Messages fetched in the header figure.
    pub fetch_messages: usize,
    pub appends: usize,
}

/// Runs of each SMTP figure, on each side: the figure is their median.
const SMTP_RUNS: usize = 3;

/// Runs of each IMAP figure, on each side: the figure is their median.
pub const IMAP_RUNS: usize = 3;

/// `runs` runs of a measurement on each side (`measure(true)` for mss,
/// `false` for the peer), the sides alternating so that a slow moment of the
/// machine does not fall on one side only, and taking turns at going first
/// ([`sides`]).
pub async fn alternate<T, F: std::future::Future<Output = T>>(
    runs: usize,
    mut measure: impl FnMut(bool) -> F,
) -> (Vec<T>, Vec<T>) {
    let (mut ours, mut theirs) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for round in 0..runs {
        for side in sides(round) {
            let result = measure(side).await;
            if side { ours.push(result) } else { theirs.push(result) }
        }
    }
    (ours, theirs)
}

/// The sides of round `round` in the order they run (`true` for mss): mss
/// first in even rounds, the peer first in odd ones. The first run after a
/// figure's set-up (mailboxes filled, the figure before) meets what the
/// set-up left behind, its writeback of dirty pages above all; always mss
/// until 2026-12-06.
pub fn sides(round: usize) -> [bool; 2] {
    if round.is_multiple_of(2) { [true, false] } else { [false, true] }
}

/// CPU seconds per 1,000 messages.
fn per_thousand(seconds: f64, messages: usize) -> f64 {
    seconds * 1000.0 / messages.max(1) as f64
}

/// Samples the memory of every process of each side until finished.
fn sample_both(mss: &mss_side::Mss, peer: &peer_side::Peer) -> measure::Sampler {
    let (mss_pid, peer_root) = (mss.pid(), peer.root.clone());
    measure::Sampler::start(move || measure::with_descendants(&[mss_pid]), move || peer_side::pids_under(&peer_root))
}

/// KiB in MiB.
fn kib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Where the results go: `--out DIR`, else `bench/results`.
pub fn out_dir(args: &[String]) -> PathBuf {
    args.iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| PathBuf::from("bench/results"), PathBuf::from)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(problem) = usage::problem(&args) {
        eprint!("{problem}\n{}", usage::text());
        std::process::exit(2);
    }
    interrupt::install();
    // Outside the private network: it has none to install from.
    peer_side::install_if_missing();
    network::enter(&args);
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("annuaire") => return annuaire::run(rest),
        Some("mailboxes") => return mailboxes::run(rest),
        Some("indicator") => return indicator::run(rest),
        Some("stock") => return stock_clients::run(rest),
        Some("nodes") => return nodes::run(rest),
        Some("smtp") => return one_figure::run(rest),
        Some("append") => return one_figure::append(rest),
        Some("unseen") => return one_figure::unseen(rest),
        Some("fetch") => return one_figure::fetch(rest),
        _ => {}
    }
    let quick = args.iter().any(|a| a == "--quick");
    let out = out_dir(&args);
    let scale = if quick {
        Scale { messages: 300, search_mailbox: 20_000, fetch_messages: 1_000, appends: 200 }
    } else {
        Scale { messages: 3_000, search_mailbox: 100_000, fetch_messages: 1_000, appends: 1_000 }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    // A quick run does not replace the full run's results (README).
    let stem = if quick { "quick" } else { "latest" };
    let report = runtime.block_on(run(scale, stem));
    println!("{}", report.markdown());
    if let Err(e) = report.write(&out) {
        eprintln!("cannot write the results to {}: {e}", out.display());
        std::process::exit(1);
    }
    println!("results written to {}", out.display());
}

async fn run(scale: Scale, stem: &'static str) -> Report {
    let pki = tls::Pki::new();
    let mss = mss_side::Mss::start(&pki).await;
    let peer = peer_side::Peer::start(&pki);
    let mut figures: Vec<Figure> = Vec::new();

    let mss_pid = mss.pid();
    let sampler = sample_both(&mss, &peer);
    // Idle: both started, nothing sent yet.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = (measure::pss_kib(&measure::with_descendants(&[mss_pid])), measure::pss_kib(&peer.pids()));
    figures.push(Figure::new("Memory idle (PSS, all processes)", "MiB", kib(idle.0), kib(idle.1), false));
    let suites = (smtp_load::suite(&mss.smtp_target(&pki)).await, smtp_load::suite(&peer.smtp_target(&pki)).await);
    tls::same_suite("SMTP", suites.0, suites.1);
    let cpu_before = (measure::cpu_seconds(&[mss.pid()]), measure::cpu_seconds(&peer.pids()));
    let mut sent = 0;
    for (size, label) in [(10 * 1024, "10 KB"), (200 * 1024, "200 KB")] {
        // The concurrency curve on 10 KB; 1 and 50 connections on both sizes.
        let curve: &[usize] = if size == 10 * 1024 { &[1, 10, 50, 200] } else { &[1, 50] };
        for &connections in curve {
            for reuse in [false, true] {
                let mode = if reuse { "connection reused" } else { "TLS handshake per message" };
                let name = format!("SMTP {label}, {connections} conn., {mode}");
                let load = smtp_load::Load { messages: scale.messages, size, connections, reuse };
                // Runs alternate between the sides, so that a slow moment of
                // the machine does not fall on one side only.
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                // What the figure costs each side: CPU per message (a median
                // of the runs), and memory at its peak over the runs.
                let (mut cpu_ours, mut cpu_theirs) = (Vec::new(), Vec::new());
                let peak = sample_both(&mss, &peer);
                for round in 0..SMTP_RUNS {
                    for side in sides(round) {
                        if side {
                            let before = measure::cpu_seconds(&[mss_pid]);
                            ours.push(smtp_load::run(&[mss.smtp_target(&pki)], &load, || mss.delivered()).await);
                            cpu_ours.push(per_thousand(measure::cpu_seconds(&[mss_pid]) - before, scale.messages));
                        } else {
                            let before = measure::cpu_seconds(&peer.pids());
                            theirs.push(smtp_load::run(&[peer.smtp_target(&pki)], &load, || peer.delivered()).await);
                            cpu_theirs.push(per_thousand(measure::cpu_seconds(&peer.pids()) - before, scale.messages));
                        }
                    }
                    sent += scale.messages;
                    // Each run starts from empty mailboxes' worth of work.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                let (peak_ours, peak_theirs) = peak.finish();
                figures.extend(figures::smtp(&name, &ours, &theirs));
                let cpu = format!("{name}: CPU per 1,000 messages");
                figures.push(Figure::median(&cpu, "s", &cpu_ours, &cpu_theirs, false));
                let memory = format!("{name}: peak memory (PSS)");
                figures.push(Figure::new(&memory, "MiB", kib(peak_ours), kib(peak_theirs), false));
            }
        }
    }
    let (pss_ours, pss_theirs) = sampler.finish();
    let cpu_after = (measure::cpu_seconds(&[mss.pid()]), measure::cpu_seconds(&peer.pids()));
    figures.push(Figure::new(
        "Peak memory under the SMTP load (PSS, all processes)",
        "MiB",
        kib(pss_ours),
        kib(pss_theirs),
        false,
    ));
    figures.push(Figure::new(
        "CPU per 1,000 messages received and stored",
        "s",
        per_thousand(cpu_after.0 - cpu_before.0, sent),
        per_thousand(cpu_after.1 - cpu_before.1, sent),
        false,
    ));
    let stored = (mss.delivered().await.max(1), peer.delivered().await.max(1));
    figures.push(Figure::new(
        "Bytes on disk per stored message (mixed 10 KB / 200 KB)",
        "B",
        measure::disk_bytes(&mss.data) as f64 / stored.0 as f64,
        (measure::disk_bytes(&peer.root.join("mail")) + measure::disk_bytes(&peer.root.join("queue"))) as f64
            / stored.1 as f64,
        false,
    ));

    let fetch = (mss.imap_target(&pki, scale.fetch_messages).await, peer.imap_target(&pki, scale.fetch_messages));
    let suites = (imap_load::Client::suite(&fetch.0).await, imap_load::Client::suite(&fetch.1).await);
    tls::same_suite("IMAP", suites.0, suites.1);
    let (ours, theirs) = alternate(IMAP_RUNS, |ours| {
        imap_load::fetch_headers(if ours { &fetch.0 } else { &fetch.1 }, scale.fetch_messages)
    })
    .await;
    figures.extend(imap_load::FetchSession::figures(scale.fetch_messages, &ours, &theirs));
    let search = (mss.imap_target(&pki, scale.search_mailbox).await, peer.imap_target(&pki, scale.search_mailbox));
    let (ours, theirs) = alternate(IMAP_RUNS, |ours| {
        imap_load::uid_search(if ours { &search.0 } else { &search.1 }, imap_load::SEARCH_RUNS)
    })
    .await;
    figures.push(Figure::latency(&format!("IMAP UID SEARCH on {} messages", scale.search_mailbox), &ours, &theirs));
    let (ours, theirs) =
        alternate(IMAP_RUNS, |ours| imap_load::append_to_empty(&mss, &peer, &pki, ours, scale.appends)).await;
    figures.extend(figures::rate("IMAP APPEND", &ours, &theirs));

    peer.stop();
    mss.stop();
    Report::named(stem, "mss against Postfix + Dovecot", figures)
}

#[cfg(test)]
mod tests {
    use super::{alternate, sides};

    /// Each round runs each side once; the side that goes first changes
    /// from one round to the next, and each side's results keep their order.
    #[test]
    fn the_sides_take_turns_at_going_first() {
        assert_eq!(sides(0), [true, false]);
        assert_eq!(sides(1), [false, true]);
        assert_eq!(sides(2), [true, false]);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut order = Vec::new();
        let (ours, theirs) = runtime.block_on(alternate(4, |side| {
            order.push(side);
            let n = order.len();
            async move { n }
        }));
        assert_eq!(order, [true, false, false, true, true, false, false, true]);
        assert_eq!((ours, theirs), (vec![1, 4, 5, 8], vec![2, 3, 6, 7]));
    }
}
