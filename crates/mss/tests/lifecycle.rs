//! The seed flow on a running `mss serve`: a pharmacist logs in with Pro
//! Santé Connect (the simulator), creates a personal and the pharmacy's
//! organisational mailbox through the REST API, they wait for the ANS, then
//! the session token opens them over IMAP; the titulaire adds a colleague,
//! who finds the pharmacy's mailbox in the shared namespace.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const IMAP_LOGIN: &str = r#"
import imaplib, ssl, sys
host, port, ca, user, token, folder = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
M = imaplib.IMAP4(host, int(port)); M.starttls(ssl_context=ctx)
try:
    M.authenticate("XOAUTH2", lambda _: f"user={user}\1auth=Bearer {token}\1\1".encode())
except imaplib.IMAP4.error as e:
    print("NO", e); sys.exit(0)
typ, data = M.select(folder)
print(typ, data[0].decode())
print("\n".join(l.decode() for l in M.list()[1]))
M.logout()
"#;

fn imap(server: &Server, op: &Operator, user: &str, token: &str, folder: &str) -> String {
    let (host, port) = server.addr("imap").rsplit_once(':').map(|(h, p)| (h.to_string(), p.to_string())).unwrap();
    let ca = op.dir.join("tls/ca.pem");
    let out = Command::new("python3")
        .args(["-c", IMAP_LOGIN, &host, &port, ca.to_str().unwrap(), user, token, folder])
        .output()
        .expect("python3 is needed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_until_active(http_addr: &str, token: &str, address: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let shown = http(http_addr, "GET", &format!("/api/mailboxes/{address}"), Some(token), None).json();
        if shown["status"] == "active" {
            return;
        }
        assert_eq!(shown["status"], "pending", "{shown}");
        assert!(Instant::now() < deadline, "the ANS simulator never validated {address}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_seed_flow_from_pro_sante_connect_to_imap() {
    let op = Operator::new("pharmacie.test");
    let config = op.dir.join("mss.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("validation_delay_seconds = 86400", "validation_delay_seconds = 2");
    std::fs::write(&config, text).unwrap();
    let server = op.serve();
    let web = server.addr("http");

    let elodie = psc_login(&web, "elodie");
    let token = elodie["access_token"].as_str().unwrap();
    let per = serde_json::json!({"type": "PER", "cgu_version": "2026-01", "cgu_accepted": true});
    let created = http(&web, "POST", "/api/mailboxes", Some(token), Some(&per));
    assert_eq!(created.status, 201, "{}", created.body);
    let address = created.json()["address"].as_str().unwrap().to_string();
    assert_eq!(address, "elodie.dupont@pharmacie.test");
    let pending = imap(&server, &op, &address, token, "INBOX");
    assert!(pending.starts_with("NO") && pending.contains("La boite est en cours de creation"), "{pending}");

    let pharmacy = serde_json::json!({"type": "ORG", "finess": "750000002", "name": "Pharmacie du Centre",
        "pharmacy": true, "postal_code": "75001", "city": "Paris", "cgu_version": "2026-01", "cgu_accepted": true});
    let org = http(&web, "POST", "/api/mailboxes", Some(token), Some(&pharmacy));
    assert_eq!(org.status, 201, "{}", org.body);
    let org_address = org.json()["address"].as_str().unwrap().to_string();
    wait_until_active(&web, token, &address);
    wait_until_active(&web, token, &org_address);
    let opened = imap(&server, &op, &address, token, "INBOX");
    assert!(opened.starts_with("OK 0"), "{opened}");
    assert!(opened.contains(&format!("Partage/{org_address}/INBOX")), "the titulaire sees the pharmacy: {opened}");

    // The titulaire adds a colleague as Utilisateur; the colleague creates
    // their own mailbox and finds the pharmacy's in the shared namespace.
    let member = http(
        &web,
        "PUT",
        &format!("/api/mailboxes/{org_address}/members/810000013994"),
        Some(token),
        Some(&serde_json::json!({"role": "utilisateur"})),
    );
    assert_eq!(member.status, 200, "{}", member.body);
    let bob = psc_login(&web, "bob");
    let bob_token = bob["access_token"].as_str().unwrap();
    let bob_box = http(&web, "POST", "/api/mailboxes", Some(bob_token), Some(&per));
    let bob_address = bob_box.json()["address"].as_str().unwrap().to_string();
    wait_until_active(&web, bob_token, &bob_address);
    let shared = imap(&server, &op, &bob_address, bob_token, &format!("Partage/{org_address}/INBOX"));
    assert!(shared.starts_with("OK 0"), "{shared}");
    let not_his = imap(&server, &op, &address, bob_token, "INBOX");
    assert!(not_his.starts_with("NO"), "Bob's token does not open Élodie's mailbox: {not_his}");

    // Logout ends the token on IMAP too.
    assert_eq!(http(&web, "POST", "/api/auth/logout", Some(bob_token), None).status, 204);
    let after = imap(&server, &op, &bob_address, bob_token, "INBOX");
    assert!(after.starts_with("NO"), "{after}");
    assert!(server.stop().0.success());
}

#[test]
fn suspension_stops_logins_and_the_audit_trail_detects_tampering() {
    let op = Operator::new("pharmacie.test");
    let alice = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let server = op.serve();
    let token = op.ok(&format!("token {alice}")).trim().to_string();
    assert!(imap(&server, &op, &alice, &token, "INBOX").starts_with("OK"));
    op.ok(&format!(r#"mailbox suspend {alice} --reason "Départ de l'officine""#));
    assert!(imap(&server, &op, &alice, &token, "INBOX").starts_with("NO"), "a suspended mailbox cannot be used");
    op.ok(&format!("mailbox resume {alice}"));
    assert!(imap(&server, &op, &alice, &token, "INBOX").starts_with("OK"));
    assert!(server.stop().0.success());
    // Refusals change nothing (checked once the server no longer writes).
    op.refused(&format!("mailbox resume {alice}"), "address");
    op.refused(&format!("mailbox validate {alice}"), "address");

    let verified = op.ok("audit verify");
    assert!(verified.starts_with("audit trail intact:"), "{verified}");
    let listed = op.ok(&format!("audit list --target {alice} --action mailbox."));
    assert!(listed.contains("mailbox.suspended") && listed.contains("mailbox.active"), "{listed}");
    let db = tamper(&op, "UPDATE audit_log SET result = 'refused' WHERE id = 2");
    assert_eq!(db, 1);
    let out = op.run("audit verify");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chain broken at entry 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Alters the database as an intruder with file access would (sqlite3
/// through Python, no mss code involved); returns the rows changed.
fn tamper(op: &Operator, sql: &str) -> usize {
    let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1]); n = c.execute(sys.argv[2]).rowcount; c.commit(); print(n)";
    let out = Command::new("python3")
        .args(["-c", script, op.dir.join("mss.sqlite3").to_str().unwrap(), sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn the_last_audit_entries_are_written_before_the_server_stops() {
    let op = Operator::new("pharmacie.test");
    let server = op.serve();
    let refused = http(&server.addr("http"), "GET", "/api/me", Some("not-a-token"), None);
    assert_eq!(refused.status, 401);
    assert!(server.stop().0.success());
    let listed = op.ok("audit list --action api.");
    assert!(listed.contains("api.authenticate") && listed.contains("refused"), "{listed}");
}
