//! Large mailboxes: what a mail client and the webmail ask of a mailbox of
//! 10,000 and 100,000 messages (issue 14; 1,000,000 with `--million`), mss
//! against Dovecot in the same run, on the same generated messages (varied
//! senders, subjects, dates; a rare word in one body in a hundred).
//!
//! Both sides are filled the way a migration fills them: mss through its
//! store then `mss messages index` (the facts every message gets at
//! delivery), Dovecot by Maildir files that it indexes at the first SELECT.
//! Each command runs once untimed on each side (Dovecot builds its index
//! and cache then; mss marks the folder's rows for its sort indexes at the
//! first sort), then `RUNS` times, alternating sides; a figure is the
//! median with the smallest and largest run. Then a client in IDLE is told
//! of messages a peer operator sends to the mailbox, through each side's
//! MTA (Postfix hands them to Dovecot over LMTP). The webmail has no peer: its
//! figures are mss's p50 and p99 over `PAGES` requests of each kind.
//!
//! ```sh
//! cargo build --release -p mss -p mss-bench && target/release/mss-bench mailboxes [--quick | --million]
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mss_core::Civil;

use crate::figures::{Figure, Report, percentile, thousands};
use crate::imap_load::{Client, ImapTarget};
use crate::smtp_load::{Session, Target, source};
use crate::{mss_side, peer_side, tls};

/// Timed runs of each IMAP command on each side.
const RUNS: usize = 5;

/// Messages delivered to a client in IDLE, on each side.
const IDLE_RUNS: usize = 10;

/// Requests of each kind of webmail page.
const PAGES: usize = 60;

const SUBJECTS: [&str; 8] = [
    "Ordonnance renouvelée",
    "Compte-rendu de biologie",
    "Résultats d'analyses",
    "Demande d'avis",
    "Lettre de liaison",
    "Disponibilité d'un médicament",
    "Rendez-vous de suivi",
    "Courrier de sortie",
];

const NAMES: [&str; 10] =
    ["Durand", "Lefèvre", "Moreau", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent"];

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The `n`th message of a large mailbox, about 3 KB: one of 40 senders, 8
/// subjects, dates spread over three years out of arrival order, and the
/// word « hyperkaliémie » in one body in a hundred.
pub fn message(n: usize, recipient: &str) -> Vec<u8> {
    let name = NAMES[n % NAMES.len()];
    // Addresses are ASCII, as real ones are (« Lefèvre » writes lefevre@).
    let local = name.to_lowercase().replace('è', "e");
    let sender = format!("\"Dr {name}\" <{local}.{}@hopital-{}.test>", n % 4, n % 7);
    let subject = format!("{} - dossier {}", SUBJECTS[(n / 3) % SUBJECTS.len()], n % 997);
    let sent = 1_700_000_000 + (n.wrapping_mul(7_919) % 100_000) as i64 * 900;
    let at = Civil::from_unix(sent);
    let date = format!(
        "{} {} {} {:02}:{:02}:{:02} +0000",
        at.day,
        MONTHS[(at.month - 1) as usize],
        at.year,
        at.hour,
        at.minute,
        at.second
    );
    let mut text = format!(
        "From: {sender}\r\nTo: <{recipient}>\r\nSubject: {subject}\r\nMessage-ID: <large-{n}@hopital.test>\r\n\
         Date: {date}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\nBonjour,\r\n\r\n"
    );
    if n % 100 == 42 {
        text.push_str("Kaliémie à 6,1 mmol/l : hyperkaliémie à contrôler rapidement.\r\n");
    }
    let line = "Compte-rendu de biologie : valeurs dans les normes, aucune anomalie détectée.\r\n";
    while text.len() + line.len() < 3 * 1024 {
        text.push_str(line);
    }
    text.push_str("Bien confraternellement.\r\n");
    text.into_bytes()
}

pub fn run(args: &[String]) {
    let quick = args.iter().any(|a| a == "--quick");
    // A million messages on each side is a run of its own (about 3 GB per
    // side), with its own results file.
    let million = args.iter().any(|a| a == "--million");
    let out = crate::out_dir(args);
    let sizes: &[usize] = match (quick, million) {
        (_, true) => &[1_000_000],
        (true, false) => &[2_000, 10_000],
        (false, false) => &[10_000, 100_000],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let figures = runtime.block_on(measure(sizes));
    let report = match million {
        true => Report::named(
            "mailboxes_1m",
            "A mailbox of 1,000,000 messages: mss against Dovecot, and the webmail",
            figures,
        ),
        false => Report::named("mailboxes", "Large mailboxes: mss against Dovecot (IMAP), and the webmail", figures),
    };
    println!("{}", report.markdown());
    if let Err(e) = report.write(&out) {
        eprintln!("cannot write the results to {}: {e}", out.display());
        std::process::exit(1);
    }
}

async fn measure(sizes: &[usize]) -> Vec<Figure> {
    let pki = tls::Pki::new();
    let mss = mss_side::Mss::start(&pki).await;
    let peer = peer_side::Peer::start(&pki);
    let mut figures = Vec::new();
    let mut webmail = None;
    for (i, &size) in sizes.iter().enumerate() {
        eprintln!("filling two mailboxes of {size} messages");
        let (address, cookie) = mss.personal_with_session(&format!("large-{size}"), &national_id(i)).await;
        mss.fill(&address, size, message).await;
        let ours = mss.login(&pki, address.clone());
        let theirs = peer.filled(&pki, size, message);
        figures.extend(imap(&ours, &theirs, size).await);
        let senders = [mss.smtp_target(&pki), peer.smtp_target(&pki)];
        let recipients = [address.clone(), peer_side::address(&theirs.user)];
        figures.extend(idle([&ours, &theirs], &recipients, &senders, size).await);
        webmail = Some((address, cookie, size));
    }
    if let Some((address, cookie, size)) = webmail {
        figures.extend(pages(mss.http(), &address, &cookie, size));
    }
    peer.stop();
    mss.stop();
    figures
}

/// The IMAP figures on a mailbox of `size` messages on each side.
async fn imap(ours: &ImapTarget, theirs: &ImapTarget, size: usize) -> Vec<Figure> {
    let n = thousands(size);
    let mut figures = Vec::new();
    let login = |target: &ImapTarget| {
        let target = ImapTarget {
            addr: target.addr,
            tls: target.tls.clone(),
            user: target.user.clone(),
            password: target.password.clone(),
        };
        async move {
            let t = Instant::now();
            let mut c = Client::connect(&target).await;
            c.cmd("SELECT INBOX").await;
            let elapsed = t.elapsed();
            c.logout().await;
            elapsed
        }
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    login(ours).await;
    login(theirs).await;
    for _ in 0..RUNS {
        a.push(ms(login(ours).await));
        b.push(ms(login(theirs).await));
    }
    figures.push(Figure::median(&format!("IMAP {n}: login + SELECT"), "ms", &a, &b, false));

    let mut mine = Client::connect(ours).await;
    let mut peer = Client::connect(theirs).await;
    mine.cmd("SELECT INBOX").await;
    peer.cmd("SELECT INBOX").await;
    let commands = [
        (
            "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)".to_string(),
            "FETCH of every message (FLAGS ENVELOPE BODYSTRUCTURE)",
        ),
        (
            format!("FETCH {}:* (UID FLAGS ENVELOPE)", size.saturating_sub(49).max(1)),
            "FETCH of the newest 50 (envelopes)",
        ),
        ("UID SEARCH SUBJECT \"liaison\"".to_string(), "UID SEARCH SUBJECT (one in eight)"),
        ("UID SEARCH FROM \"durand\"".to_string(), "UID SEARCH FROM (one in ten)"),
        ("UID SEARCH BODY \"hyperkali\"".to_string(), "UID SEARCH BODY (one in a hundred)"),
        ("UID SORT (REVERSE DATE) UTF-8 ALL".to_string(), "UID SORT (REVERSE DATE)"),
        ("UID SORT (SUBJECT) UTF-8 ALL".to_string(), "UID SORT (SUBJECT)"),
        ("UID SORT (FROM) UTF-8 ALL".to_string(), "UID SORT (FROM)"),
    ];
    let mut sorted_once = false;
    for (command, name) in commands {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let t = Instant::now();
        mine.cmd(&command).await;
        let first_mine = ms(t.elapsed());
        let t = Instant::now();
        peer.cmd(&command).await;
        let first_peer = ms(t.elapsed());
        // The first sort of the folder: Dovecot adds the sort keys to its
        // cache, mss marks the folder's rows for its sort indexes.
        if command.starts_with("UID SORT") && !std::mem::replace(&mut sorted_once, true) {
            figures.push(Figure::median(
                &format!("IMAP {n}: {name}, the first"),
                "ms",
                &[first_mine],
                &[first_peer],
                false,
            ));
        }
        for _ in 0..RUNS {
            let t = Instant::now();
            mine.cmd(&command).await;
            a.push(ms(t.elapsed()));
            let t = Instant::now();
            peer.cmd(&command).await;
            b.push(ms(t.elapsed()));
        }
        figures.push(Figure::median(&format!("IMAP {n}: {name}"), "ms", &a, &b, false));
    }
    mine.logout().await;
    peer.logout().await;
    figures
}

/// How long after a peer operator starts sending a message (MAIL FROM) the
/// recipient's client, in IDLE on its INBOX, is told of it (`* n EXISTS`):
/// the sending MTA's work, the delivery, and the IMAP server's
/// notification, on each side; `IDLE_RUNS` messages per side, alternating.
async fn idle(clients: [&ImapTarget; 2], recipients: &[String; 2], senders: &[Target; 2], size: usize) -> Vec<Figure> {
    let mut times = [Vec::new(), Vec::new()];
    for run in 0..=IDLE_RUNS {
        for side in 0..2 {
            let (client, recipient, sender) = (clients[side], &recipients[side], &senders[side]);
            let mut imap = Client::connect(client).await;
            imap.cmd("SELECT INBOX").await;
            let mut smtp = Session::open(source(0), sender.addr, sender.tls.clone()).await;
            // From the load generator's own domain: mss refuses a sender of
            // a domain the connecting operator's certificate does not cover.
            let body = crate::smtp_load::message(size + run, 3 * 1024, &sender.sender, recipient);
            let elapsed = imap.idle_until_exists(smtp.send(&sender.sender, recipient, &body)).await;
            smtp.quit().await;
            imap.logout().await;
            // The first run of each side warms it up.
            if run > 0 {
                times[side].push(ms(elapsed));
            }
        }
    }
    let name = format!("IMAP {}: IDLE, told of a delivery (from MAIL FROM to EXISTS)", thousands(size));
    vec![Figure::median(&name, "ms", &times[0], &times[1], false)]
}

/// The webmail's folder pages on the mailbox of `size` messages: p50 and
/// p99 of each kind of page (mss only: Dovecot has no webmail).
fn pages(http: SocketAddr, address: &str, cookie: &str, size: usize) -> Vec<Figure> {
    let n = thousands(size);
    let base = format!("/portail/boites/{address}/courrier?dossier=INBOX");
    let deep = size / 50 / 2;
    let kinds = [
        (format!("{base}&page=1"), "first page, newest first"),
        (format!("{base}&page={deep}"), "a page in the middle"),
        (format!("{base}&tri=expediteur&page=1"), "sorted by sender"),
        (format!("{base}&tri=objet&page=1"), "sorted by subject"),
        (format!("{base}&q=hyperkali%C3%A9mie"), "search, a rare word"),
        (format!("{base}&q=liaison"), "search, a frequent word"),
    ];
    let mut figures = Vec::new();
    for (path, name) in kinds {
        get(http, &path, cookie);
        let times: Vec<Duration> = (0..PAGES).map(|_| get(http, &path, cookie)).collect();
        for p in [50.0, 99.0] {
            let label = format!("Webmail {n}: {name}, p{p}");
            figures.push(Figure::new(&label, "ms", percentile(&times, p), f64::NAN, false));
        }
    }
    figures
}

/// One GET on a fresh connection, read to its end; its duration.
fn get(http: SocketAddr, path: &str, cookie: &str) -> Duration {
    let t = Instant::now();
    let mut stream = TcpStream::connect(http).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n")
        .expect("write");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read");
    let elapsed = t.elapsed();
    let status = String::from_utf8_lossy(&reply[..reply.len().min(12)]).to_string();
    assert!(status.starts_with("HTTP/1.1 200"), "GET {path}: {status}");
    elapsed
}

/// The `i`th RPPS-based national id of the run (« 8 » and 11 digits, the
/// last a Luhn key).
fn national_id(i: usize) -> String {
    let payload = format!("1000000{i:03}");
    format!("8{payload}{}", mss_core::luhn_check_digit(&payload).expect("digits"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
