//! Stock clients: Python's imaplib and smtplib, as they come (no `TCP_NODELAY`; an
//! APPEND's literal and its closing CRLF in two writes), against mss and
//! Dovecot in the same run, on mailboxes of the same generated messages
//! (`mailboxes::message`). Unlike the harness's own load generator, such a
//! client waits for the server's ACK before its next small write: a server
//! that delays its ACKs costs it 40 ms a command (issue 20).
//!
//! Each IMAP figure is the median of every timed command over `RUNS`
//! sessions per side, with the smallest and largest. smtplib sends
//! `SMTP_MESSAGES` messages of 10 KB to each side's trust-space MTA
//! (STARTTLS, the load generator's certificate), each on its own
//! connection then all on one, `SMTP_RUNS` times: the messages accepted per
//! second, median and spread. It also cross-checks the harness: Postfix's
//! figure here is what a plain client gets from it.
//!
//! ```sh
//! cargo build --release -p mss -p mss-bench && target/release/mss-bench stock [--quick]
//! ```

use std::collections::BTreeMap;
use std::process::Command;

use crate::figures::{Figure, Report};
use crate::imap_load::ImapTarget;
use crate::smtp_load::Target;
use crate::{mailboxes, mss_side, peer_side, tls};

/// Sessions per side.
const RUNS: usize = 5;
/// smtplib runs per side, and messages in each mode of a run.
const SMTP_RUNS: usize = 3;
const SMTP_MESSAGES: usize = 200;

/// Operation durations (ms) by name, as the script prints them.
type Samples = BTreeMap<String, Vec<f64>>;

pub fn run(args: &[String]) {
    let quick = args.iter().any(|a| a == "--quick");
    let out = crate::out_dir(args);
    let size = if quick { 2_000 } else { 10_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let figures = runtime.block_on(measure(size));
    let report = Report::named(
        "stock_clients",
        "Stock clients (Python's imaplib and smtplib): mss against Dovecot and Postfix",
        figures,
    );
    println!("{}", report.markdown());
    if let Err(e) = report.write(&out) {
        eprintln!("cannot write the results to {}: {e}", out.display());
        std::process::exit(1);
    }
}

/// imaplib's timings against `target`.
fn imaplib(target: &ImapTarget, cafile: &std::path::Path) -> Samples {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/imaplib_figures.py");
    let out = Command::new("python3")
        .arg(script)
        .args([
            target.addr.ip().to_string(),
            target.addr.port().to_string(),
            cafile.display().to_string(),
            target.user.clone(),
            target.password.clone(),
            RUNS.to_string(),
        ])
        .output()
        .expect("python3");
    assert!(out.status.success(), "imaplib: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the script's JSON")
}

/// smtplib's rates against `target`, `SMTP_RUNS` times: per message, reused.
fn smtplib(target: &Target, files: &[std::path::PathBuf; 3]) -> (Vec<f64>, Vec<f64>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/smtplib_figures.py");
    let mut rates = (Vec::new(), Vec::new());
    for _ in 0..SMTP_RUNS {
        let out = Command::new("python3")
            .arg(script)
            .args([target.addr.ip().to_string(), target.addr.port().to_string()])
            .args(files.iter().map(|f| f.display().to_string()))
            .args([target.sender.clone(), target.recipients.join(","), SMTP_MESSAGES.to_string(), "10240".into()])
            .output()
            .expect("python3");
        assert!(out.status.success(), "smtplib: {}", String::from_utf8_lossy(&out.stderr));
        let run: BTreeMap<String, f64> = serde_json::from_slice(&out.stdout).expect("the script's JSON");
        rates.0.push(run["per_message"]);
        rates.1.push(run["reused"]);
    }
    rates
}

async fn measure(size: usize) -> Vec<Figure> {
    let pki = tls::Pki::new();
    let cafile = pki.dir.path().join("ca.pem");
    std::fs::write(&cafile, pki.ca.cert_pem()).expect("CA file");
    let mss = mss_side::Mss::start(&pki).await;
    let peer = peer_side::Peer::start(&pki);
    let files = [cafile.clone(), pki.dir.path().join("loadgen.pem"), pki.dir.path().join("loadgen.key")];
    std::fs::write(&files[1], &pki.load_generator.chain_pem).expect("certificate file");
    std::fs::write(&files[2], &pki.load_generator.key_pem).expect("key file");
    eprintln!("smtplib against both MTAs");
    let smtp = (smtplib(&mss.smtp_target(&pki), &files), smtplib(&peer.smtp_target(&pki), &files));
    eprintln!("filling two mailboxes of {size} messages");
    let address = mss.personal_with_session("stock", "810003621892").await.0;
    mss.fill(&address, size, mailboxes::message).await;
    let ours = imaplib(&mss.login(&pki, address), &cafile);
    let theirs = imaplib(&peer.filled(&pki, size, mailboxes::message), &cafile);
    peer.stop();
    mss.stop();
    let names = [
        ("login", "imaplib: connect, STARTTLS, LOGIN".to_string()),
        ("select", "imaplib: SELECT".to_string()),
        ("fetch", format!("imaplib: FETCH 1:* (FLAGS ENVELOPE), {size} messages")),
        ("search_subject", format!("imaplib: UID SEARCH SUBJECT, {size} messages")),
        ("search_body", format!("imaplib: UID SEARCH BODY (a literal), {size} messages")),
        ("append", "imaplib: APPEND 2 KB (literal and CRLF in two writes)".to_string()),
    ];
    let mut figures: Vec<Figure> = names
        .iter()
        .map(|(key, name)| {
            let side = |samples: &Samples| samples.get(*key).cloned().unwrap_or_default();
            Figure::median(name, "ms", &side(&ours), &side(&theirs), false)
        })
        .collect();
    let ((ours_each, ours_reused), (theirs_each, theirs_reused)) = smtp;
    let name = "smtplib: 10 KB, 1 conn., TLS handshake per message (no resumption)";
    figures.push(Figure::median(name, "msg/s", &ours_each, &theirs_each, true));
    let name = "smtplib: 10 KB, 1 conn., connection reused";
    figures.push(Figure::median(name, "msg/s", &ours_reused, &theirs_reused, true));
    figures
}
