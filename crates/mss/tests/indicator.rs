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
    let admitted = |body: &str| -> u64 {
        let line = format!("mss_listener_admitted_total{{protocol=\"http\",listener=\"{addr}\"}} ");
        let at = body.find(&line).unwrap_or_else(|| panic!("{line} in {body}")) + line.len();
        body[at..].lines().next().unwrap().parse().unwrap()
    };
    assert_eq!(http(&addr, "GET", "/api/me", Some("forged"), None).status, 401);
    let before = admitted(&http(&addr, "GET", "/metrics", Some(token.trim()), None).body);
    let metrics = http(&addr, "GET", "/metrics", Some(token.trim()), None);
    assert_eq!(metrics.status, 200);
    assert_eq!(admitted(&metrics.body), before + 1, "one more connection, this one");
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4"));
    for line in [
        "mss_mailboxes{kind=\"PER\",state=\"active\"} 1",
        "mss_month_messages{direction=\"sent_to_patients\"} 0",
        "mss_queue_pending 0",
        format!("mss_listener_connections{{protocol=\"http\",listener=\"{addr}\",state=\"unproven\"}} ").as_str(),
        format!("mss_listener_refused_total{{protocol=\"imap\",listener=\"{}\"}} 0", server.addr("imap")).as_str(),
        format!(
            "mss_listener_connections{{protocol=\"submission\",listener=\"{}\",state=\"proven\"}} 0",
            server.addr("submission")
        )
        .as_str(),
        "mss_certificate_expiry_seconds{role=\"operator\",subject=\"",
        "mss_auth_failures_total{protocol=\"api\"} 1\n",
        "# TYPE mss_tls_handshake_failures_total counter",
        "# TYPE mss_delivery_attempts_total counter",
        "mss_queue_most_attempts 0",
        "mss_store_scrape_seconds 0.",
        "mss_certificate_expiry_seconds{role=\"anchor\",subject=\"",
        "# TYPE process_resident_memory_bytes gauge",
        "process_open_fds ",
        "process_cpu_seconds_total ",
    ] {
        assert!(metrics.body.contains(line), "{line:?} in {}", metrics.body);
    }
}

/// Python's urllib as the pharmacy software: declares a dispensation and
/// reads the indicator over HTTPS, authenticated by nothing but the
/// organisation certificate its applicative mailbox is bound to. Prints one
/// fact per line.
const SOFTWARE_CLIENT: &str = r#"
import json, ssl, sys, urllib.error, urllib.request
https_addr, ca, software, unbound, stranger = sys.argv[1:6]
def call(method, path, certificate, body=None):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # we dial an address; the chain is still verified
    if certificate:
        ctx.load_cert_chain(f"{certificate}/tls/server.pem", f"{certificate}/tls/server.key")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"https://{https_addr}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=ctx) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except (ssl.SSLError, urllib.error.URLError, ConnectionError):
        return "handshake refused", None
path = "/api/pharmacies/750000002/dispensations"
item = {"dispensations": [{"id": "V1", "date": "2026-11-02T09:00", "patient_ins": "279035121518989"}]}
status, body = call("POST", path, software, item)
print("software declares", status, body)
status, body = call("GET", "/api/pharmacies/750000002/indicator?period=2026-11", software)
print("software reads", status, body["dispensations"])
status, body = call("POST", path, "", item)
print("no certificate", status, "logiciel" in body["detail"])
status, body = call("POST", path, unbound, item)
print("bound to nothing", status)
print("another trust space", call("POST", path, stranger, item)[0])
"#;

/// The pharmacy software authenticates on the API with its organisation
/// certificate (issued by the trust space's CA, bound to its applicative
/// mailbox): it declares and reads; no certificate, a certificate of the
/// trust space bound to no applicative mailbox, or one of another CA are
/// refused and keep nothing.
#[test]
fn the_software_declares_over_https_with_its_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let any = "127.0.0.1:0";
    ok(&format!(
        "init --data-dir {} --domain pharmacie.test --smtp {any} --submission {any} --imap {any} --http {any} --https {any}",
        dir.display()
    ));
    let op = Operator::adopt(tmp, dir.clone());
    // The software's certificate, from the same CA (the IGC-Santé's, in production).
    let files = tempfile::tempdir().unwrap();
    let software = files.path().join("lgo");
    ok(&format!(
        r#"init --data-dir {} --domain lgo.editeur.test --organisation "EDITEUR LGO" --ca {}"#,
        software.display(),
        dir.join("ca").display()
    ));
    let pem = std::fs::read_to_string(software.join("tls/server.pem")).unwrap();
    let software_dn = mss_trust::pki::subject_of_pem(&pem).unwrap().to_string();
    let stranger = Operator::new("ailleurs.test");
    op.ok(r#"mailbox create --type org --finess 750000002 --pharmacy --name "Pharmacie de la Gare" --postal-code 75010 --city Paris"#);
    op.ok(&format!(
        r#"mailbox create --type app --finess 750000002 --name "LGO Officine" --certificate-dn "{software_dn}""#
    ));

    let server = op.serve();
    let https = server.addr("https");
    let out = std::process::Command::new("python3")
        .args(["-c", SOFTWARE_CLIENT, &https, dir.join("tls/ca.pem").to_str().unwrap()])
        .args([software.to_str().unwrap(), dir.to_str().unwrap(), stranger.dir.to_str().unwrap()])
        .output()
        .expect("python3 is needed");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        printed,
        "software declares 200 {'inserted': 1, 'replaced': 0}\nsoftware reads 200 1\nno certificate 401 True\n\
         bound to nothing 401\nanother trust space handshake refused\n"
    );
    let (status, _) = server.stop();
    assert!(status.success());
    let audit = op.ok("audit list --action api. --limit 20");
    assert!(audit.contains("api.authenticate"), "the refusals are traced: {audit}");
}

/// Reads /metrics with the Prometheus client's own parser (the text
/// format a scraper reads); prints each family's name and type.
const PROMETHEUS: &str = r#"
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
addr, token = sys.argv[1:3]
request = urllib.request.Request(f"http://{addr}/metrics", headers={"Authorization": f"Bearer {token}"})
text = urllib.request.urlopen(request).read().decode()
for family in text_string_to_metric_families(text):
    print(family.name, family.type)
"#;

/// What `/metrics` serves parses as the Prometheus text format, every
/// family typed.
#[test]
fn the_metrics_parse_as_prometheus_reads_them() {
    let op = Operator::new("pharmacie.test");
    op.ok("mailbox create --type per --rpps 10003621892 --first Elodie --last Dupont");
    let token = std::fs::read_to_string(op.dir.join("metrics.token")).unwrap();
    let server = op.serve();
    let out = std::process::Command::new("python3")
        .args(["-c", PROMETHEUS, &server.addr("http"), token.trim()])
        .output()
        .expect("python3 is needed");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    for family in [
        "mss_mailboxes gauge",
        "mss_listener_connections gauge",
        "mss_listener_admitted counter",
        "mss_tls_handshake_failures counter",
        "mss_certificate_expiry_seconds gauge",
        "process_cpu_seconds counter",
    ] {
        assert!(printed.lines().any(|l| l == family), "{family} in {printed}");
    }
}

/// `[listen] metrics`: `/metrics` on a listener of its own, and no longer
/// on the site's.
#[test]
fn metrics_can_have_a_listener_of_their_own() {
    let op = Operator::new("pharmacie.test");
    let config = op.dir.join("mss.toml");
    let text =
        std::fs::read_to_string(&config).unwrap().replacen("[listen]\n", "[listen]\nmetrics = \"127.0.0.1:0\"\n", 1);
    std::fs::write(&config, text).unwrap();
    let token = std::fs::read_to_string(op.dir.join("metrics.token")).unwrap();
    let server = op.serve();
    let own = server.addr("metrics");
    let scraped = http(&own, "GET", "/metrics", Some(token.trim()), None);
    assert_eq!(scraped.status, 200);
    assert!(
        scraped.body.contains(&format!("mss_listener_admitted_total{{protocol=\"metrics\",listener=\"{own}\"}} 1"))
    );
    assert_eq!(http(&own, "GET", "/metrics", None, None).status, 401);
    assert_eq!(http(&server.addr("http"), "GET", "/metrics", Some(token.trim()), None).status, 404);
}
