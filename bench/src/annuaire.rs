//! `mss-bench annuaire [--lines N] [--out DIR]`: the Annuaire Santé figures.
//! A synthetic extraction of N lines (1,000,000 by default) is generated,
//! imported (timed), opened (timed: loading the search index), then 50
//! client threads run a fixed mix of searches (common and rare names, 2-
//! and 3-letter prefixes, ids, postal codes, department and type,
//! profession and city, street) against the snapshot, as the API does;
//! latencies give p50/p99. The searches run in a fresh
//! process (this program again, `annuaire --search-only DIR`), as in the
//! server, which never imports: its peak RSS is the searching memory, not
//! what the import's allocations left behind. Results go to
//! DIR/annuaire.md and DIR/annuaire.json, with each query's time alone
//! (median of 5, one client: where the time goes). No SMTP/IMAP part runs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mss_directory::annuaire::{Annuaire, Page, Query, import, synth};

const CLIENTS: usize = 50;
const QUERIES_PER_CLIENT: usize = 200;

/// The query mix, in the query language of the API.
const MIX: &[&str] = &[
    "martin",
    "dup",
    "ma",
    "lef",
    "bernard jean",
    "élodie dupont",
    "grondin",
    "hoarau",
    "ménard",
    "zoé",
    "10000001234",
    "10000500008",
    "cp:75011",
    "cp:13001 type:PER",
    "dep:2B type:ORG",
    "dep:974",
    "profession:21 ville:lyon",
    "profession:pharmacien ville:paris",
    "pharmacie",
    "pharmacie du centre",
    "adresse:jaures",
    "type:APP",
    "cardiologie",
    "kiné",
    "saint-étienne",
    "le gall",
];

pub fn run(args: &[String]) {
    if let Some(dir) = args.iter().position(|a| a == "--search-only").and_then(|i| args.get(i + 1)) {
        let figures = search(Path::new(dir));
        println!("{figures}");
        return;
    }
    let lines: u64 = args
        .iter()
        .position(|a| a == "--lines")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let out = crate::out_dir(args);
    let tmp = tempfile::tempdir().expect("temporary directory");
    let file = tmp.path().join("extraction.txt");
    let start = Instant::now();
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&file).expect("create"));
    synth::write(&mut writer, lines, 1).expect("synth");
    drop(writer);
    let synth_time = start.elapsed();
    let start = Instant::now();
    let report = import(&tmp.path().join("annuaire"), &file, &|_| {}).expect("import");
    let import_time = start.elapsed();
    println!("synth {lines} lines: {synth_time:.1?}; import: {import_time:.1?} ({} entries)", report.entries);

    let child = std::process::Command::new(std::env::current_exe().expect("this program"))
        .args(["annuaire", "--search-only"])
        .arg(tmp.path().join("annuaire"))
        .output()
        .expect("the search process");
    assert!(child.status.success(), "search process: {}", String::from_utf8_lossy(&child.stderr));
    let f: serde_json::Value = serde_json::from_slice(&child.stdout).expect("search figures");
    let number = |key: &str| f[key].as_f64().unwrap_or(0.0);
    let alone = f["alone_ms"].as_array().cloned().unwrap_or_default();
    let markdown = format!(
        "# Annuaire Santé benchmark\n\n\
         Machine: {} cores. Synthetic extraction of {lines} lines (`mss annuaire synth`, seed 1).\n\n\
         | figure | value |\n|---|---|\n\
         | synth (generate the file) | {:.1} s |\n\
         | import (parse, validate, snapshot, search index, swap) | {:.1} s |\n\
         | open the snapshot (load the search index) | {:.2} s |\n\
         | searches | {} from {CLIENTS} concurrent clients, {:.0} searches/s |\n\
         | search p50 | {:.2} ms |\n| search p99 | {:.2} ms |\n| search max | {:.2} ms |\n\
         | peak RSS of the searching process | {:.0} MiB |\n\n\
         Each query alone (one client, median of 5):\n\n| query | ms |\n|---|---:|\n{}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        synth_time.as_secs_f64(),
        import_time.as_secs_f64(),
        number("open_seconds"),
        number("searches"),
        number("searches_per_second"),
        number("p50_ms"),
        number("p99_ms"),
        number("max_ms"),
        number("peak_rss_mib_searching"),
        MIX.iter()
            .zip(&alone)
            .map(|(q, ms)| format!("| `{q}` | {:.2} |\n", ms.as_f64().unwrap_or(0.0)))
            .collect::<String>()
    );
    let mut json = f.clone();
    json["lines"] = lines.into();
    json["synth_seconds"] = synth_time.as_secs_f64().into();
    json["import_seconds"] = import_time.as_secs_f64().into();
    println!("{markdown}");
    write(&out, &markdown, &json);
}

/// The search figures on the snapshot in `dir`, as JSON: each query alone,
/// then the concurrent clients.
fn search(dir: &Path) -> serde_json::Value {
    let annuaire = Arc::new(Annuaire::new(dir, None));
    // Opening (the first search of a process, as `mss annuaire search`).
    let start = Instant::now();
    annuaire.info().expect("snapshot").expect("a snapshot");
    let open = start.elapsed();
    let queries: Vec<Query> = MIX.iter().map(|q| Query::parse(q).expect("query")).collect();
    let queries = Arc::new(queries);
    let page = Page::new(1, 20).expect("page");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let alone: Vec<f64> = queries
        .iter()
        .map(|query| {
            let mut times: Vec<Duration> = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    annuaire.search(query, page, &[]).expect("search");
                    t.elapsed()
                })
                .collect();
            times.sort();
            ms(times[2])
        })
        .collect();
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (annuaire, queries) = (annuaire.clone(), queries.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(QUERIES_PER_CLIENT);
                for i in 0..QUERIES_PER_CLIENT {
                    let query = &queries[(c * 7 + i) % queries.len()];
                    let t = Instant::now();
                    annuaire.search(query, page, &[]).expect("search");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = clients.into_iter().flat_map(|c| c.join().expect("client")).collect();
    let wall = start.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    serde_json::json!({
        "clients": CLIENTS, "searches": latencies.len(),
        "searches_per_second": latencies.len() as f64 / wall.as_secs_f64(),
        "p50_ms": ms(at(0.50)), "p99_ms": ms(at(0.99)), "max_ms": ms(at(1.0)),
        "peak_rss_mib_searching": peak_rss_mib(), "alone_ms": alone, "open_seconds": open.as_secs_f64(),
    })
}

fn write(out: &Path, markdown: &str, json: &serde_json::Value) {
    let written = std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(out.join("annuaire.md"), markdown))
        .and_then(|()| std::fs::write(out.join("annuaire.json"), format!("{json:#}\n")));
    if let Err(e) = written {
        eprintln!("cannot write the results to {}: {e}", out.display());
        std::process::exit(1);
    }
}

/// VmHWM of this process, MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}
