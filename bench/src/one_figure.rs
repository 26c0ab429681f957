//! One SMTP figure, on its own: what to run while looking for where the
//! time or the memory of a figure goes (`perf record -g -p $(pgrep -f 'mss
//! serve')` beside it). The same load generator, messages and sides as the
//! main run, and the peak memory of each side during it; the table is
//! printed, nothing is written.
//!
//! ```sh
//! target/release/mss-bench smtp --size 200 --connections 1 --reuse [--messages 1000] [--runs 3] [--mss-only] [--prefill 72000]
//! target/release/mss-bench append [--count 1000] [--runs 3] [--prefill 72000] [--after-search 100000]
//! target/release/mss-bench unseen [--messages 100000] [--runs 50]
//! target/release/mss-bench fetch [--messages 1000] [--runs 3]
//! ```
//!
//! `--size` is in KB (10 unless told); `--mss-only` leaves the peer out
//! (it is not even started), so a profile of the machine sees mss alone.
//! `--prefill N` first stores N messages of 10 KB on each side (50
//! connections, reused), as the main run's later figures find the stores
//! (it delivers 72,000 of them before its 200 KB figures, then 36,000 of
//! 200 KB before its IMAP figures). `--after-search
//! N` first fills a mailbox of N messages on each side, as the main run
//! does for its UID SEARCH figure just before its APPEND figure.

use std::time::Duration;

use crate::figures::{self, Figure, Report};
use crate::{imap_load, measure, mss_side, peer_side, smtp_load, tls};

/// The value following `--name`, parsed, or `default`.
fn option(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}: a number, not {v}")))
}

/// `mss-bench smtp`: one SMTP figure and each side's peak memory.
pub fn run(args: &[String]) {
    let size = option(args, "--size", 10) * 1024;
    let connections = option(args, "--connections", 1);
    let messages = option(args, "--messages", 1_000);
    let runs = option(args, "--runs", 3);
    let reuse = args.iter().any(|a| a == "--reuse");
    let mss_only = args.iter().any(|a| a == "--mss-only");
    let prefill = option(args, "--prefill", 0);
    let load = smtp_load::Load { messages, size, connections, reuse };
    let mode = if reuse { "connection reused" } else { "TLS handshake per message" };
    let name = format!("SMTP {} KB, {connections} conn., {mode}", size / 1024);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let figures = runtime.block_on(async {
        let pki = tls::Pki::new();
        let mss = mss_side::Mss::start(&pki).await;
        let peer = (!mss_only).then(|| peer_side::Peer::start(&pki));
        println!("mss serve: pid {}", mss.pid());
        if let Some(peer) = &peer {
            let ours = smtp_load::suite(&mss.smtp_target(&pki)).await;
            tls::same_suite("SMTP", ours, smtp_load::suite(&peer.smtp_target(&pki)).await);
        }
        fill_stores(&pki, &mss, peer.as_ref(), prefill).await;
        let mss_pid = mss.pid();
        let peer_root = peer.as_ref().map(|p| p.root.clone());
        let sampler = measure::Sampler::start(
            move || measure::with_descendants(&[mss_pid]),
            move || peer_root.as_deref().map(peer_side::pids_under).unwrap_or_default(),
        );
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..runs {
            for side in crate::sides(round) {
                match (side, &peer) {
                    (true, _) => ours.push(smtp_load::run(&[mss.smtp_target(&pki)], &load, || mss.delivered()).await),
                    (false, Some(peer)) => {
                        theirs.push(smtp_load::run(&[peer.smtp_target(&pki)], &load, || peer.delivered()).await)
                    }
                    (false, None) => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let (pss_ours, pss_theirs) = sampler.finish();
        if let Some(peer) = peer {
            peer.stop();
        }
        mss.stop();
        let mut figures = figures::smtp(&name, &ours, &theirs);
        let kib = |kib: u64| kib as f64 / 1024.0;
        figures.push(Figure::new("Peak memory (PSS, all processes)", "MiB", kib(pss_ours), kib(pss_theirs), false));
        figures
    });
    println!("{}", Report::named("one_figure", "One SMTP figure", figures).markdown());
}

/// `--prefill`: `messages` messages of 10 KB stored on each side, through
/// 50 reused connections.
async fn fill_stores(pki: &tls::Pki, mss: &mss_side::Mss, peer: Option<&peer_side::Peer>, messages: usize) {
    if messages == 0 {
        return;
    }
    let fill = smtp_load::Load { messages, size: 10 * 1024, connections: 50, reuse: true };
    smtp_load::run(&[mss.smtp_target(pki)], &fill, || mss.delivered()).await;
    if let Some(peer) = peer {
        smtp_load::run(&[peer.smtp_target(pki)], &fill, || peer.delivered()).await;
    }
}

/// The IMAP APPEND figure alone (10 KB messages, one session), the median
/// of `--runs` runs on each side.
pub fn append(args: &[String]) {
    let count = option(args, "--count", 1_000);
    let runs = option(args, "--runs", 3);
    let prefill = option(args, "--prefill", 0);
    let after_search = option(args, "--after-search", 0);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let (ours, theirs) = runtime.block_on(async {
        let pki = tls::Pki::new();
        let mss = mss_side::Mss::start(&pki).await;
        let peer = peer_side::Peer::start(&pki);
        println!("mss serve: pid {}", mss.pid());
        fill_stores(&pki, &mss, Some(&peer), prefill).await;
        if after_search > 0 {
            mss.imap_target(&pki, after_search).await;
            peer.imap_target(&pki, after_search);
        }
        let runs = crate::alternate(runs, |ours| imap_load::append_to_empty(&mss, &peer, &pki, ours, count)).await;
        peer.stop();
        mss.stop();
        runs
    });
    let figures = figures::rate("IMAP APPEND", &ours, &theirs);
    println!("{}", Report::named("one_figure", "IMAP APPEND", figures).markdown());
}

/// The UID SEARCH UNSEEN figure alone, on a mailbox of `--messages`
/// messages (one in ten unseen) on each side: the median of the p50s of
/// rounds of `--runs` searches.
pub fn unseen(args: &[String]) {
    let messages = option(args, "--messages", 100_000);
    let runs = option(args, "--runs", imap_load::SEARCH_RUNS);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let figure = runtime.block_on(async {
        let pki = tls::Pki::new();
        let mss = mss_side::Mss::start(&pki).await;
        let peer = peer_side::Peer::start(&pki);
        println!("mss serve: pid {}", mss.pid());
        let targets = (mss.imap_target(&pki, messages).await, peer.imap_target(&pki, messages));
        let (ours, theirs) = crate::alternate(crate::IMAP_RUNS, |ours| {
            imap_load::uid_search(if ours { &targets.0 } else { &targets.1 }, runs)
        })
        .await;
        peer.stop();
        mss.stop();
        Figure::latency(&format!("IMAP UID SEARCH UNSEEN on {messages} messages"), &ours, &theirs)
    });
    println!("{}", Report::named("one_figure", "IMAP UID SEARCH UNSEEN", vec![figure]).markdown());
}

/// The login+SELECT+FETCH figure alone, on a mailbox of `--messages`
/// messages on each side, whole and phase by phase.
pub fn fetch(args: &[String]) {
    let messages = option(args, "--messages", 1_000);
    let runs = option(args, "--runs", crate::IMAP_RUNS);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let figures = runtime.block_on(async {
        let pki = tls::Pki::new();
        let mss = mss_side::Mss::start(&pki).await;
        let peer = peer_side::Peer::start(&pki);
        println!("mss serve: pid {}", mss.pid());
        let targets = (mss.imap_target(&pki, messages).await, peer.imap_target(&pki, messages));
        let (ours, theirs) = crate::alternate(runs, |ours| {
            imap_load::fetch_headers(if ours { &targets.0 } else { &targets.1 }, messages)
        })
        .await;
        peer.stop();
        mss.stop();
        imap_load::FetchSession::figures(messages, &ours, &theirs)
    });
    println!("{}", Report::named("one_figure", "IMAP login+SELECT+FETCH", figures).markdown());
}
