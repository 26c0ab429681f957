//! An operator on PostgreSQL (`[store] backend = "postgres"`, a throwaway
//! cluster from mss-testkit, reached over TLS with `postgres_ca_file`
//! where the cluster takes TLS only): the CLI creates mailboxes in the database,
//! `mss serve` takes mail over submission (Python's smtplib) and serves it
//! over IMAP (imaplib), `mss check` finds the store consistent, and no
//! SQLite file appears in the data directory. A wrong database is a clear
//! error at start. An operator that ran on the embedded store moves to
//! PostgreSQL with `mss store copy` and keeps its mail, searchable.

mod common;

use std::process::Command;

use common::*;
use mss_testkit::Cluster;

/// Sends one message with XOAUTH2 over submission, then reads the INBOX
/// back over IMAP: prints the subject fetched.
const ROUND_TRIP: &str = r#"
import imaplib, smtplib, ssl, sys
submission, imap, ca, user, token = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
host, port = submission.rsplit(":", 1)
with smtplib.SMTP(host, int(port), timeout=20) as s:
    s.starttls(context=ctx)
    s.auth("XOAUTH2", lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01", initial_response_ok=True)
    s.sendmail(user, [user], f"From: <{user}>\r\nTo: <{user}>\r\nSubject: Ordonnance de Mme Martin\r\n\r\nBonjour\r\n".encode())
host, port = imap.rsplit(":", 1)
M = imaplib.IMAP4(host, int(port)); M.starttls(ssl_context=ctx)
M.authenticate("XOAUTH2", lambda _: f"user={user}\1auth=Bearer {token}\1\1".encode())
import time
for _ in range(100):
    typ, data = M.select("INBOX")
    if int(data[0]) > 0:
        break
    time.sleep(0.1)
typ, data = M.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print(data[0][1].decode().strip())
M.logout()
"#;

/// Points the operator's store at database `url`.
fn use_postgres(op: &Operator, url: &str) {
    let config = op.dir.join("mss.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("\n[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\npostgres_pool_size = 4\n"));
    std::fs::write(config, text).unwrap();
}

#[test]
fn an_operator_on_postgres_takes_mail_and_serves_it_over_imap() {
    use mss_trust::pki::{CertificateAuthority, OperatorIdentity};
    let ca = CertificateAuthority::generate("Base de données TEST", "TEST").unwrap();
    let who = OperatorIdentity {
        host: "db.pharmacie.test".into(),
        organisation: "TEST".into(),
        unit: "TEST".into(),
        state: "Paris (75)".into(),
    };
    let certificate = ca.issue_operator(&who).unwrap();
    let Some(cluster) = Cluster::with_tls(&certificate.chain_pem, &certificate.key_pem) else { return };
    cluster.create_database("mss");
    let op = Operator::new("pharmacie.test");
    std::fs::remove_file(op.dir.join("mss.sqlite3")).unwrap_or_default();
    std::fs::write(op.dir.join("postgres-ca.pem"), ca.cert_pem()).unwrap();
    let url = cluster.url("mss").replace("host=127.0.0.1", "host=db.pharmacie.test hostaddr=127.0.0.1");
    use_postgres(&op, &format!("{url}\"\npostgres_ca_file = \"postgres-ca.pem"));
    let alice = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let token = op.ok(&format!("token {alice}")).trim().to_string();
    let in_database = cluster.psql("mss", "SELECT address FROM mailboxes");
    assert_eq!(in_database.trim(), alice);

    // The cluster refuses unencrypted connections: serving at all is TLS.
    let server = op.serve();
    let ca = op.dir.join("tls/ca.pem");
    let out = Command::new("python3")
        .args(["-c", ROUND_TRIP, &server.addr("submission"), &server.addr("imap"), ca.to_str().unwrap(), &alice])
        .arg(&token)
        .output()
        .expect("python3 is needed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Subject: Ordonnance de Mme Martin");
    drop(server);

    // The INBOX copy and the Sent copy, in PostgreSQL; no SQLite file.
    assert_eq!(cluster.psql("mss", "SELECT count(*) FROM folder_messages").trim(), "2");
    assert!(!op.dir.join("mss.sqlite3").exists(), "nothing written to SQLite");
    assert!(op.ok("check").contains("store consistent"));
    // A PostgreSQL store is backed up with PostgreSQL's tools.
    let out = tempfile::tempdir().unwrap();
    op.refused(&format!("backup --out {}", out.path().join("b").display()), "pg_dump");
}

#[test]
fn a_database_that_cannot_be_reached_is_a_clear_error() {
    let Some(cluster) = Cluster::start() else { return };
    let op = Operator::new("pharmacie.test");
    use_postgres(&op, &cluster.url("no_such_database"));
    let out = op.run("mailbox list");
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("no_such_database") && err.contains("PostgreSQL"), "{err}");
}

/// `mss store migrate`: `--check` says what is pending and changes nothing
/// (exit 1), the migration brings an empty database to this build's
/// version once, and a database newer than this build is refused.
#[test]
fn the_schema_is_migrated_on_demand_and_checked_without_changes() {
    let Some(cluster) = Cluster::start() else { return };
    cluster.create_database("mss");
    let op = Operator::new("pharmacie.test");
    assert_eq!(op.run("store migrate --check").status.code(), Some(1), "no embedded store yet");
    assert!(op.ok("store migrate").starts_with("schema migrated from version 0"));
    assert!(op.ok("store migrate --check").contains("nothing to migrate"), "the embedded store is current");
    use_postgres(&op, &cluster.url("mss"));
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    let pending = op.run("store migrate --check");
    assert_eq!(pending.status.code(), Some(1));
    assert!(stderr(&pending).contains("the schema is at version 0") && stderr(&pending).contains("mss store migrate"));
    assert_eq!(cluster.psql("mss", tables).trim(), "0", "--check changed nothing");

    let migrated = op.ok("store migrate");
    assert!(migrated.starts_with("schema migrated from version 0 to "), "{migrated}");
    let version = migrated.trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!(cluster.psql("mss", "SELECT max(version) FROM schema_migrations").trim(), version);
    assert!(op.ok("store migrate --check").contains(&format!("schema at version {version}: nothing to migrate")));
    assert!(op.ok("store migrate").contains("nothing to migrate"), "once");

    cluster.psql("mss", "INSERT INTO schema_migrations VALUES (1000, 'from the future', 0)");
    let newer = op.run("store migrate");
    assert_eq!(newer.status.code(), Some(1));
    assert!(stderr(&newer).contains("newer than this mss knows"), "{}", stderr(&newer));
}

/// Submits three messages (the last over 64 KiB: a blob file, not a row).
const SEND_THREE: &str = r#"
import smtplib, ssl, sys
submission, ca, user, token = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
host, port = submission.rsplit(":", 1)
with smtplib.SMTP(host, int(port), timeout=20) as s:
    s.starttls(context=ctx)
    s.auth("XOAUTH2", lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01", initial_response_ok=True)
    for n, text in enumerate(["Bilan sanguin de Mme Martin", "Renouvellement", "Compte rendu " + "x" * 70000]):
        s.sendmail(user, [user], f"From: <{user}>\r\nTo: <{user}>\r\nSubject: Message {n}\r\n\r\n{text}\r\n".encode())
"#;

/// Prints the INBOX's size, then the UIDs whose body has `sanguin`.
const SEARCH: &str = r#"
import imaplib, ssl, sys
imap, ca, user, token = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
host, port = imap.rsplit(":", 1)
M = imaplib.IMAP4(host, int(port)); M.starttls(ssl_context=ctx)
M.authenticate("XOAUTH2", lambda _: f"user={user}\1auth=Bearer {token}\1\1".encode())
typ, data = M.select("INBOX")
print(data[0].decode())
typ, data = M.uid("SEARCH", "BODY", "sanguin")
print(data[0].decode())
M.logout()
"#;

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3").args(["-c", script]).args(args).output().expect("python3 is needed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_operator_moves_to_postgres_and_keeps_its_mail_searchable() {
    let Some(cluster) = Cluster::start() else { return };
    cluster.create_database("mss");
    let op = Operator::new("pharmacie.test");
    let alice = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let token = op.ok(&format!("token {alice}")).trim().to_string();
    let ca = op.dir.join("tls/ca.pem");
    let ca = ca.to_str().unwrap();
    let server = op.serve();
    python(SEND_THREE, &[&server.addr("submission"), ca, &alice, &token]);
    wait_for_inbox(&op, &alice, 3).await;

    // Not while a server runs on the directory.
    use_postgres(&op, &cluster.url("mss"));
    let refused = op.run("store copy");
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("another mss serve is running"), "{}", stderr(&refused));
    assert_eq!(cluster.psql("mss", "SELECT count(*) FROM pg_tables WHERE tablename = 'mailboxes'").trim(), "0");
    drop(server);

    let said = op.ok("store copy");
    assert!(said.contains("folder_messages: 6 rows"), "INBOX and Sent copies: {said}");
    assert!(said.contains("store consistent"), "{said}");
    assert_eq!(cluster.psql("mss", "SELECT count(*) FROM message_facts").trim(), "3", "facts computed again");
    assert!(op.ok("check").contains("store consistent"));
    // Copying again would mix two operators: refused, the database as it was.
    let rows = cluster.psql("mss", "SELECT count(*) FROM folder_messages");
    let again = op.run("store copy");
    assert_ne!(again.status.code(), Some(0));
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    assert_eq!(cluster.psql("mss", "SELECT count(*) FROM folder_messages"), rows);

    // Served from PostgreSQL: the mail is there, searchable in its text.
    std::fs::rename(op.dir.join("mss.sqlite3"), op.dir.join("mss.sqlite3.moved")).unwrap();
    let server = op.serve();
    let found = python(SEARCH, &[&server.addr("imap"), ca, &alice, &token]);
    assert_eq!(found.lines().collect::<Vec<_>>(), ["3", "1"], "{found}");
    assert!(!op.dir.join("mss.sqlite3").exists());
}
