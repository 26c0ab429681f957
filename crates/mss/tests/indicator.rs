//! The indicator's and the operator's figures from the command line and
//! to a scraper: `mss dispensations import` (a CSV file of a pharmacy's
//! dispensations, all kept or none: a bad line named by its number, an
//! unknown FINESS or a 1 GB file change nothing; a second import replaces),
//! `mss stats export` (the monthly report), and `/metrics` behind its
//! bearer token.

mod common;

use common::*;

#[test]
fn a_csv_file_is_imported_all_or_nothing() {
    let op = Operator::new("pharmacie.test");
    op.ok(r#"mailbox create --type org --finess 750000002 --pharmacy --name "Pharmacie de la Gare" --postal-code 75010 --city Paris"#);
    let files = tempfile::tempdir().unwrap();
    let csv = |name: &str, text: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let good = csv(
        "good.csv",
        "id;date;ins;rpps\nV1;2026-11-02T09:00;279035121518989;10003621892\nV2;2026-11-02;;\nV3,2026-11-03T10:15+01:00,,\n",
    );
    let bad = csv("bad.csv", "V1;2026-11-02;279035121518989;\nV2;2026-11-02;279035121518988;\nV3;2099-01-01;;\n");

    // Each refusal changes nothing in the data directory.
    op.refused(&format!("dispensations import --finess 310000005 {good}"), "finess");
    op.refused(&format!("dispensations import --finess 750000002 {bad}"), "file");
    let said = op.run(&format!("dispensations import --finess 750000002 {bad}"));
    let said = stderr(&said);
    assert!(said.contains("line 2: INS invalide") && said.contains("line 3: date dans le futur"), "{said}");
    let huge = files.path().join("huge.csv");
    std::fs::File::create(&huge).unwrap().set_len(1 << 30).unwrap();
    op.refused(&format!("dispensations import --finess 750000002 {}", huge.display()), "file");

    let first = op.ok(&format!("dispensations import --finess 750000002 {good}"));
    assert_eq!(first.trim(), "3 dispensations imported, 0 replaced");
    let again = op.ok(&format!("dispensations import --finess 750000002 {good}"));
    assert_eq!(again.trim(), "0 dispensations imported, 3 replaced");
}

/// The monthly usage report: its documented shape on standard output, or a
/// private file; a month that is not one is refused.
#[test]
fn the_monthly_usage_report_is_exported() {
    let op = Operator::new("pharmacie.test");
    op.ok("mailbox create --type per --rpps 10003621892 --first Elodie --last Dupont");
    let json: serde_json::Value = serde_json::from_str(&op.ok("stats export --month 2026-11")).unwrap();
    assert_eq!((json["format"].as_str(), json["month"].as_str()), (Some("mss-usage/1"), Some("2026-11")));
    assert_eq!(json["mailboxes"]["PER"]["active"], 1);
    op.refused("stats export --month 2026-13", "month");
    op.refused("stats export --month 2026", "month");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("usage.json");
    op.ok(&format!("stats export --month 2026-11 --out {}", out.display()));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    op.refused(&format!("stats export --month 2026-11 --out {}", out.display()), "out");
}

/// `/metrics` of a running operator: refused without the token `mss init`
/// wrote, the figures in Prometheus' text format with it.
#[test]
fn metrics_are_served_to_the_scraper_holding_the_token() {
    let op = Operator::new("pharmacie.test");
    op.ok("mailbox create --type per --rpps 10003621892 --first Elodie --last Dupont");
    let token = std::fs::read_to_string(op.dir.join("metrics.token")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(op.dir.join("metrics.token")).unwrap().permissions().mode() & 0o777, 0o600);
    let server = op.serve();
    let addr = server.addr("http");
    assert_eq!(http(&addr, "GET", "/metrics", None, None).status, 401);
    assert_eq!(http(&addr, "GET", "/metrics", Some("wrong"), None).status, 401);
    let metrics = http(&addr, "GET", "/metrics", Some(token.trim()), None);
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4"));
    for line in [
        "mss_mailboxes{kind=\"PER\",state=\"active\"} 1",
        "mss_month_messages{direction=\"sent_to_patients\"} 0",
        "mss_queue_pending 0",
        "# TYPE process_resident_memory_bytes gauge",
        "process_open_fds ",
        "process_cpu_seconds_total ",
    ] {
        assert!(metrics.body.contains(line), "{line:?} in {}", metrics.body);
    }
}
