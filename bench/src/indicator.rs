//! The pharmacy's 5 % indicator at scale (issue 17): a pharmacy of 100,000
//! dispensations a year (5,000 patients, one in ten of whom wrote to it)
//! declared by its software over HTTP, then read back by the API and the
//! portal page; then the same with 10,000 pharmacies. dispensations in the
//! store. mss only: no peer computes this. Ingestion is events per second
//! over the whole declaration (batches of 10,000, 3 runs: the first
//! inserts, the others replace); reads are p50 and p99 over 30 requests.
//!
//! ```sh
//! cargo build --release -p mss -p mss-bench && target/release/mss-bench indicator [--quick]
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mss_core::{Civil, MailboxKind, Role};
use mss_store::{NewMailbox, StoredDispensation, now_unix};

use crate::figures::{Figure, Report, percentile, thousands};
use crate::{mss_side, tls};

/// The pharmacy measured (the bench's applicative mailboxes carry it).
const FINESS: &str = "750000002";
const BATCH: usize = 10_000;
const PATIENTS: usize = 5_000;
const READS: usize = 30;

pub fn run(args: &[String]) {
    let quick = args.iter().any(|a| a == "--quick");
    let out = crate::out_dir(args);
    let (dispensations, pharmacies) = if quick { (20_000, 500) } else { (100_000, 10_000) };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let figures = runtime.block_on(measure(dispensations, pharmacies));
    let report = Report::named("indicator", "The pharmacy's 5 % indicator: ingestion and reads (mss only)", figures);
    println!("{}", report.markdown());
    if let Err(e) = report.write(&out) {
        eprintln!("cannot write the results to {}: {e}", out.display());
        std::process::exit(1);
    }
}

/// The `i`th patient's INS (a valid NIR key).
fn ins(i: usize) -> String {
    let payload = 1_800_175_000_000u64 + i as u64;
    format!("{payload:013}{:02}", 97 - payload % 97)
}

/// A message from the `n`th patient who wrote (one in ten).
fn patient_message(n: usize, to: &str) -> Vec<u8> {
    let from = ins((n * 10) % PATIENTS);
    format!("From: <{from}@patient.mssante.fr>\r\nTo: <{to}>\r\nSubject: Ordonnance {n}\r\n\r\nBonjour.\r\n")
        .into_bytes()
}

/// The `i`th dispensation of the year: spread over the past 360 days.
fn dispensation(i: usize, year_start: i64) -> serde_json::Value {
    let at = Civil::paris(year_start + (i as i64 * 311) % (360 * 86_400));
    serde_json::json!({
        "id": format!("B{i:07}"),
        "date": format!("{:04}-{:02}-{:02}T{:02}:{:02}", at.year, at.month, at.day, at.hour, at.minute),
        "patient_ins": ins(i % PATIENTS),
    })
}

async fn measure(dispensations: usize, pharmacies: usize) -> Vec<Figure> {
    let pki = tls::Pki::new();
    let mss = mss_side::Mss::start(&pki).await;
    let software = mss.recipients[0].clone();
    let token = mss.token(&software);
    // The pharmacy's shared mailbox, and its Administrateur's portal session.
    let (_, cookie) = mss.personal_with_session("gestion", "810000013994").await;
    let pharmacy = NewMailbox::of_structure(
        "pharmacie@bench.test".parse().expect("address"),
        MailboxKind::Organisational,
        FINESS.parse().expect("FINESS"),
        "Pharmacie du banc",
    );
    let store = mss.store();
    let mailbox = store.meta.create_mailbox(&pharmacy).await.expect("mailbox");
    store.meta.grant_role(mailbox.id, &"810000013994".parse().expect("id"), Role::Administrateur).await.expect("role");
    eprintln!("filling the pharmacy's mailbox with {} patients' messages", PATIENTS / 10);
    mss.fill("pharmacie@bench.test", PATIENTS / 10 * 2, patient_message).await;

    let now = now_unix();
    let year = Civil::paris(now).year;
    let year_start = mss_core::civil::paris_midnight(year, 1, 1).min(now - 360 * 86_400);
    let batches: Vec<String> = (0..dispensations)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|chunk| {
            let items: Vec<serde_json::Value> = chunk.iter().map(|&i| dispensation(i, year_start)).collect();
            serde_json::json!({ "dispensations": items }).to_string()
        })
        .collect();
    let http = mss.http();
    let mut figures = Vec::new();
    let mut rates = Vec::new();
    for run in 0..3 {
        let t = Instant::now();
        for body in &batches {
            let (status, reply) =
                request(http, "POST", &format!("/api/pharmacies/{FINESS}/dispensations"), Some(&token), None, body);
            assert_eq!(status, 200, "declaration refused: {reply}");
        }
        let rate = dispensations as f64 / t.elapsed().as_secs_f64();
        eprintln!("declaration run {run}: {rate:.0} dispensations/s");
        rates.push(rate);
    }
    let n = thousands(dispensations);
    figures.push(Figure::new(
        &format!("Declaring {n} dispensations (API, batches of 10k), first run"),
        "events/s",
        rates[0],
        f64::NAN,
        true,
    ));
    figures.push(Figure::median(
        &format!("Declaring {n} again (corrections replace)"),
        "events/s",
        &rates[1..],
        &[],
        true,
    ));

    let api = format!("/api/pharmacies/{FINESS}/indicator?period={year}");
    let page = format!("/portail/boites/pharmacie@bench.test/indicateur?periode={year}");
    figures.extend(reads(http, &format!("{n} dispensations, 1 pharmacy"), &api, &page, &token, &cookie));

    eprintln!("declaring {} more pharmacies' dispensations", pharmacies - 1);
    let per = 100;
    for chunk in (1..pharmacies).collect::<Vec<_>>().chunks(100) {
        let rows: Vec<StoredDispensation> = chunk
            .iter()
            .flat_map(|&p| {
                let payload = format!("{:08}", 10_000_000 + p);
                let finess = format!("{payload}{}", mss_core::luhn_check_digit(&payload).expect("digits"));
                (0..per).map(move |i| StoredDispensation {
                    finess: finess.clone(),
                    id: format!("P{i}"),
                    at: year_start + (i as i64 * 7_919) % (360 * 86_400),
                    patient_ins: Some(ins(i % PATIENTS)),
                })
            })
            .collect();
        store.meta.put_dispensations(&rows).await.expect("dispensations");
    }
    let many = format!("{n} dispensations, {} pharmacies", thousands(pharmacies));
    figures.extend(reads(http, &many, &api, &page, &token, &cookie));
    mss.stop();
    figures
}

/// p50 and p99 of the API's indicator and of the portal page.
fn reads(http: SocketAddr, scale: &str, api: &str, page: &str, token: &str, cookie: &str) -> Vec<Figure> {
    let mut figures = Vec::new();
    for (name, path, token, cookie) in
        [("API indicator, a year", api, Some(token), None), ("Portal page, a year", page, None, Some(cookie))]
    {
        request(http, "GET", path, token, cookie, "");
        let times: Vec<Duration> = (0..READS)
            .map(|_| {
                let t = Instant::now();
                let (status, reply) = request(http, "GET", path, token, cookie, "");
                assert_eq!(status, 200, "GET {path}: {reply:.200}");
                t.elapsed()
            })
            .collect();
        for p in [50.0, 99.0] {
            figures.push(Figure::new(&format!("{name} ({scale}), p{p}"), "ms", percentile(&times, p), f64::NAN, false));
        }
    }
    figures
}

/// One request on a fresh connection: its status and body.
fn request(
    http: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    cookie: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(http).expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n{auth}{cookie}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read");
    let text = String::from_utf8_lossy(&reply).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status, body)
}
