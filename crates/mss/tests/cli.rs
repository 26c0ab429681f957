//! The `mss` command end to end: the real binary on temporary directories.
//!
//! Every refusal is checked the same way: exit code 2, one line on stderr
//! naming the field, and not one byte changed in the data directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

#[test]
fn every_subcommand_has_help() {
    for command in [
        "",
        "pki",
        "pki init",
        "init",
        "serve",
        "mailbox",
        "mailbox create",
        "mailbox list",
        "mailbox show",
        "mailbox grant",
        "mailbox liste-rouge",
        "annuaire",
        "annuaire import",
        "annuaire synth",
        "annuaire search",
        "annuaire outbox",
        "whitelist",
        "whitelist import",
        "whitelist list",
        "whitelist add",
        "queue",
        "queue list",
        "queue retry",
        "queue delete",
        "token",
        "check",
    ] {
        let out = mss(&format!("{command} --help"));
        assert!(out.status.success(), "{command}");
        assert!(stdout(&out).contains("Usage: mss"), "{command}: {}", stdout(&out));
    }
    assert_eq!(mss("").status.code(), Some(2), "no command is a usage error");
}

#[test]
fn pki_init_makes_a_ca_and_never_overwrites_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca");
    let printed = ok(&format!("pki init --out {}", ca.display()));
    assert!(printed.contains("subject DN: CN=IGC-Santé TEST Racine,OU=IGC-SANTE TEST"), "{printed}");
    let pem = std::fs::read_to_string(ca.join("ca.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let mode = std::fs::metadata(ca.join("ca.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    refused(tmp.path(), &format!("pki init --out {}", ca.display()), "out");
}

#[test]
fn init_issues_a_server_certificate_from_the_given_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, dir) = (tmp.path().join("ca"), tmp.path().join("data"));
    ok(&format!("pki init --out {}", ca.display()));
    let printed = ok(&format!(
        r#"init --data-dir {} --domain Pharmacie.Example.FR --ca {} --hostname mss.pharmacie.example.fr
           --organisation "GCS NORMAND'E-SANTE" --unit 1140028093 --state "Calvados (14)" --http 127.0.0.1:0"#,
        dir.display(),
        ca.display()
    )
    .replace('\n', " "));
    let dn = "CN=mss.pharmacie.example.fr,OU=1140028093,O=GCS NORMAND'E-SANTE,ST=Calvados (14),C=FR";
    assert!(printed.contains(&format!("subject DN: {dn}")), "{printed}");
    let quoted_dn = r"'CN=mss.pharmacie.example.fr,OU=1140028093,O=GCS NORMAND'\''E-SANTE,ST=Calvados (14),C=FR'";
    assert!(printed.contains(&format!("mss whitelist add pharmacie.example.fr --dn {quoted_dn}")), "{printed}");

    let chain = std::fs::read_to_string(dir.join("tls/server.pem")).unwrap();
    assert_eq!(mss_trust::pki::subject_of_pem(&chain).unwrap().to_string(), dn);
    let ca_pem = std::fs::read_to_string(ca.join("ca.pem")).unwrap();
    assert!(chain.ends_with(&ca_pem), "the chain ends with the issuing CA");
    assert_eq!(std::fs::read_to_string(dir.join("tls/ca.pem")).unwrap(), ca_pem, "trust anchor copied");
    let mode = std::fs::metadata(dir.join("tls/server.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!dir.join("ca").exists(), "no CA of its own when one is given");

    let config = std::fs::read_to_string(dir.join("mss.toml")).unwrap();
    assert!(config.contains("domain = \"pharmacie.example.fr\""), "{config}");
    assert!(config.contains("http = \"127.0.0.1:0\""), "{config}");
    assert!(config.contains("smtp = \"127.0.0.1:2525\""), "defaults: {config}");

    refused(tmp.path(), &format!("init --data-dir {} --domain other.example.fr", dir.display()), "data-dir");
}

#[test]
fn init_without_a_ca_makes_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&format!("init --data-dir {} --domain pharmacie.test", dir.display()));
    assert!(dir.join("ca/ca.key").exists());
    assert_eq!(std::fs::read(dir.join("ca/ca.pem")).unwrap(), std::fs::read(dir.join("tls/ca.pem")).unwrap());
}

#[test]
fn init_refuses_bad_input_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let init = format!("init --data-dir {}", dir.display());
    for (args, field) in [
        (r#"--domain "not a domain""#, "domain"),
        ("--domain localhost", "domain"),
        ("--domain a.test --smtp nowhere:25", "smtp"),
        ("--domain a.test --http 127.0.0.1:99999", "http"),
        ("--domain a.test --submissions nowhere", "submissions"),
        ("--domain a.test --smtps nowhere", "smtps"),
        (&format!("--domain a.test --ca {}", tmp.path().display()), "ca"),
        ("--domain a.test --hostname=-bad-.test", "hostname"),
        (r#"--domain a.test --organisation " ""#, "organisation"),
        ("", "--domain"),
    ] {
        refused(tmp.path(), &format!("{init} {args}"), field);
    }
    assert!(!dir.exists());
}

#[test]
fn personal_mailboxes_are_named_prenom_nom_and_collisions_get_a_suffix() {
    let op = Operator::new("pharmacie.test");
    let first = op.ok("mailbox create --type per --rpps 10003621892 --first Élodie --last Dupont-Lefèvre");
    assert_eq!(first.trim(), "elodie.dupont-lefevre@pharmacie.test");
    let second = op.ok(r#"mailbox create --type PER --adeli 751234568 --first elodie --last "DUPONT LEFEVRE""#);
    assert_eq!(second.trim(), "elodie.dupont-lefevre-2@pharmacie.test");

    // Names too long for 64 octets are cut, and their collisions still resolve.
    let long = r#"mailbox create --type per --rpps 10003621892 --first "Marie-Antoinette Joséphine"
                  --last "De La Tour D'Auvergne Lauraguais Montmorency Saint-Exupéry""#
        .replace('\n', " ");
    let (long_first, long_second) = (op.ok(&long), op.ok(&long));
    assert!(long_first.trim().split('@').next().unwrap().len() <= 64, "{long_first}");
    assert_ne!(long_first, long_second);
    assert!(long_second.contains("-2@"), "{long_second}");

    let listed = op.ok("mailbox list");
    let lines: Vec<&str> = listed.lines().filter(|l| l.starts_with("elodie")).collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].starts_with("elodie.dupont-lefevre-2@pharmacie.test\tPER\tactive"), "{listed}");

    let shown = op.ok("mailbox show --json Elodie.Dupont-Lefevre@pharmacie.test");
    let json: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(json["address"], "elodie.dupont-lefevre@pharmacie.test");
    assert_eq!(json["type"], "PER");
    assert_eq!(json["state"], "active");
    assert_eq!(json["national_id"], "810003621892");
    assert_eq!(json["first_name"], "Élodie");
}

#[test]
fn organisational_applicative_and_cabinet_mailboxes() {
    let op = Operator::new("pharmacie.test");
    let pharmacy =
        op.ok(r#"mailbox create --type org --finess 750000002 --pharmacy --name "Pharmacie de l'Hôtel de Ville"
           --postal-code 75004 --city Paris"#
            .replace('\n', " ")
            .as_str());
    assert_eq!(pharmacy.trim(), "pharmacie-de-l-hotel-de-ville-75004-paris@pharmacie.test");
    let service = op.ok(
        r#"mailbox create --type org --finess 750000002 --name "Hôpital Nord" --service Cardiologie --liste-rouge"#,
    );
    assert_eq!(service.trim(), "cardiologie@pharmacie.test");
    let app = op.ok(
        r#"mailbox create --type app --finess 750000002 --name "LGO Officine" --certificate-dn "cn=lgo.pharmacie.test, O=LGO, C=FR""#,
    );
    assert_eq!(app.trim(), "app-lgo-officine@pharmacie.test");
    let shown: serde_json::Value =
        serde_json::from_str(&op.ok(&format!("mailbox show --json {}", app.trim()))).unwrap();
    assert_eq!(shown["certificate_dn"], "CN=lgo.pharmacie.test,O=LGO,C=FR", "stored in the ANS form");
    let cab = op.ok(r#"mailbox create --type cab --name "Cabinet des Lilas" --city Lyon"#);
    assert_eq!(cab.trim(), "cabinet-des-lilas-lyon@pharmacie.test");

    let shown: serde_json::Value =
        serde_json::from_str(&op.ok(&format!("mailbox show --json {}", service.trim()))).unwrap();
    assert_eq!(shown["type"], "ORG");
    assert_eq!(shown["finess"], "750000002");
    assert_eq!(shown["service"], "Cardiologie");
    assert_eq!(shown["liste_rouge"], true);
}

#[test]
fn mailbox_commands_refuse_bad_input_and_write_nothing() {
    let op = Operator::new("pharmacie.test");
    op.ok("mailbox create --type per --rpps 10003621892 --first A --last B");
    for (args, field) in [
        ("--type per --rpps 10003621891 --first A --last B", "rpps"),
        ("--type per --rpps 1000362189 --first A --last B", "rpps"),
        ("--type per --adeli 12 --first A --last B", "adeli"),
        ("--type per --first A --last B", "rpps"),
        ("--type per --rpps 10003621892 --last B", "first"),
        ("--type per --rpps 10003621892 --first !!! --last B", "first"),
        ("--type per --rpps 10003621892 --first A --last 张伟", "last"),
        ("--type per --rpps 10003621892 --first A --last B --pharmacy", "pharmacy"),
        ("--type xyz", "type"),
        ("--type org --finess 750000001 --name X --service S", "finess"),
        ("--type org --name X --service S", "finess"),
        ("--type org --finess 750000002 --pharmacy --name X --postal-code 7500 --city Paris", "postal-code"),
        ("--type app --finess 750000002 --name X --city Lyon", "city"),
        ("--type cab --name X", "city"),
        ("--type app --finess 750000002 --name X --certificate-dn CN", "certificate-dn"),
        ("--type cab --name X --city Lyon --certificate-dn CN=x,C=FR", "certificate-dn"),
    ] {
        op.refused(&format!("mailbox create {args}"), field);
    }
    op.refused("mailbox show not-an-address", "address");
    let missing = tempfile::tempdir().unwrap();
    refused(missing.path(), &format!("mailbox list --data-dir {}", missing.path().display()), "data-dir");

    let unknown = op.run("mailbox show nobody@pharmacie.test");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no mailbox nobody@pharmacie.test"));
    assert_eq!(op.ok("mailbox list").lines().count(), 1);
}

#[test]
fn the_real_liste_blanche_imports_and_a_bad_one_changes_nothing() {
    let op = Operator::new("pharmacie.test");
    let xml = fixture("listeblanchemssante.xml");
    let printed = op.ok(&format!("whitelist import {xml} --checksum {}", fixture("checksum")));
    assert!(printed.starts_with("imported 619 entries for "), "{printed}");
    assert!(printed.contains("generated 2025-03-13T14:54:10Z"), "{printed}");
    assert_eq!(op.ok("whitelist list").lines().count(), 619);
    let one = op.ok("whitelist list --domain adsea29.mssante.fr");
    assert_eq!(
        one.trim(),
        "adsea29.mssante.fr\tans\tCN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR"
    );

    let tmp = tempfile::tempdir().unwrap();
    let truncated = tmp.path().join("truncated.xml");
    let bytes = std::fs::read(&xml).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    op.refused(&format!("whitelist import {}", truncated.display()), "file");
    op.refused(&format!("whitelist import {xml} --checksum {}", "0".repeat(64)), "checksum");
    op.refused(&format!("whitelist import {xml} --checksum /nonexistent"), "checksum");
    op.refused("whitelist import /nonexistent.xml", "file");
    assert_eq!(op.ok("whitelist list").lines().count(), 619, "the good copy stays");
}

#[test]
fn whitelist_add_accepts_a_peer_and_refuses_nonsense() {
    let op = Operator::new("pharmacie.test");
    let dn = "CN=mss.peer.test,OU=12345678900012,O=PEER,ST=Paris (75),C=FR";
    let printed = op.ok(&format!(r#"whitelist add Peer.Test --dn "{dn}""#));
    assert!(printed.contains("added peer.test"), "{printed}");
    assert_eq!(op.ok("whitelist list").trim(), format!("peer.test\tmanual\t{dn}"));
    op.refused(&format!(r#"whitelist add peer.test --dn "{dn}""#), "dn");
    op.refused(&format!(r#"whitelist add peer..test --dn "{dn}""#), "domain");
    op.refused("whitelist add other.test --dn mss.peer.test", "dn");
    op.refused("whitelist add other.test --dn CN=a,XX=b", "dn");

    // Imports keep what was added by hand.
    op.ok(&format!("whitelist import {}", fixture("listeblanchemssante.xml")));
    assert_eq!(op.ok("whitelist list --domain peer.test").lines().count(), 1);
}

#[test]
fn serve_writes_its_ports_answers_and_stops_on_sigterm() {
    let op = Operator::new("pharmacie.test");
    let mut server = spawn_serve(Path::new("."), &["--data-dir", op.dir.to_str().unwrap()]);
    let ports = wait_for_ports(&op.dir, &mut server);
    let http = ports["http"].as_str().unwrap().to_string();
    assert!(http.starts_with("127.0.0.1:") && !http.ends_with(":0"), "{ports}");

    let health = http_get(&http, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"domain\":\"pharmacie.test\""), "{health}");
    let page = http_get(&http, "/");
    assert!(page.contains("Opérateur MSSanté pharmacie.test"), "{page}");

    // The administrator's CLI works on the data directory while the server runs.
    let created = op.ok("mailbox create --type per --rpps 10003621892 --first Jean --last Martin");
    assert_eq!(created.trim(), "jean.martin@pharmacie.test");
    // A second server on the same data directory is refused.
    let second = op.run("serve");
    assert_eq!(second.status.code(), Some(1));
    assert!(stderr(&second).contains("another mss serve is running"), "{}", stderr(&second));

    let (status, out) = terminate(&mut server);
    assert!(status.success(), "clean stop: {status}");
    assert!(out.contains("mss serving domain pharmacie.test"), "{out}");
    assert!(out.contains("mss stopped"), "{out}");
    assert!(!op.dir.join("ports.json").exists(), "ports.json removed on stop");
}

#[test]
fn a_bare_serve_initialises_a_development_data_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let mut server = spawn_serve(cwd.path(), &[]);
    let dir = cwd.path().join("mss-data");
    let ports = wait_for_ports(&dir, &mut server);
    assert_eq!(ports["http"], "127.0.0.1:8080", "the documented default");
    let config = std::fs::read_to_string(dir.join("mss.toml")).unwrap();
    assert!(config.contains("domain = \"mss.localhost\""), "{config}");
    let (status, out) = terminate(&mut server);
    assert!(status.success());
    assert!(out.contains("Initialised mss-data for domain mss.localhost"), "{out}");
    assert!(out.contains("subject DN: CN=mss.localhost,"), "{out}");

    // The next bare serve reuses it.
    let mut again = spawn_serve(cwd.path(), &[]);
    wait_for_ports(&dir, &mut again);
    let (status, out) = terminate(&mut again);
    assert!(status.success());
    assert!(!out.contains("Initialised"), "{out}");
}

#[tokio::test]
async fn the_queue_is_listed_retried_and_deleted_from_the_command_line() {
    let op = Operator::new("pharmacie.test");
    let store = mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: op.dir.clone() }).await.unwrap();
    let to: Vec<mss_core::EmailAddress> = vec!["bob@peer.test".parse().unwrap()];
    let id = store
        .enqueue(b"Subject: x\r\n\r\nx\r\n", "alice@pharmacie.test", &to, mss_store::now_unix() + 3600)
        .await
        .unwrap();

    let listed = op.ok("queue list");
    assert!(listed.starts_with(&format!("{id}\talice@pharmacie.test\tbob@peer.test\tpending\t0\t")), "{listed}");
    assert!(op.ok(&format!("queue retry {id}")).contains("will be tried now"));
    op.refused("queue retry abc", "id");
    assert!(op.ok(&format!("queue delete {id}")).contains("deleted"));
    assert!(op.ok("queue list").is_empty());
    let gone = op.run(&format!("queue delete {id}"));
    assert_eq!(gone.status.code(), Some(1));
    assert!(stderr(&gone).contains(&format!("no queued message {id}")));
}

#[test]
fn tokens_are_issued_only_for_active_mailboxes_of_the_operator() {
    let op = Operator::new("pharmacie.test");
    let alice = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin");
    let token = op.ok(&format!("token {}", alice.trim()));
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");
    op.refused("token nobody@pharmacie.test", "address");
    op.refused("token alice.martin@elsewhere.test", "address");
    op.refused("token not-an-address", "address");
    op.refused(&format!("token {} --ttl-minutes 0", alice.trim()), "ttl-minutes");
    op.refused(&format!("token {} --ttl-minutes soon", alice.trim()), "ttl-minutes");
}

#[test]
fn implicit_tls_ports_are_served_when_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let any = "127.0.0.1:0";
    ok(&format!(
        "init --data-dir {} --domain pharmacie.test --smtp {any} --submission {any} --submissions {any} --smtps {any} --imap {any} --http {any}",
        dir.display()
    ));
    let mut server = spawn_serve(Path::new("."), &["--data-dir", dir.to_str().unwrap()]);
    let ports = wait_for_ports(&dir, &mut server);
    let submissions = ports["submissions"].as_str().unwrap().to_string();
    assert!(!submissions.ends_with(":0"), "{ports}");
    assert!(ports["smtps"].as_str().is_some_and(|a| !a.ends_with(":0")), "{ports}");
    // TLS from the first byte: a plain-text client gets no greeting.
    let mut plain = std::net::TcpStream::connect(&submissions).unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
    let mut buf = [0u8; 3];
    assert!(std::io::Read::read(&mut plain, &mut buf).map_or(true, |n| &buf[..n] != b"220"));
    let (status, out) = terminate(&mut server);
    assert!(status.success());
    assert!(out.contains("submissions"), "{out}");
}

#[test]
fn the_titulaire_grants_roles_on_the_pharmacy_mailbox() {
    let op = Operator::new("pharmacie.test");
    let pharmacy = op.ok(
        r#"mailbox create --type org --finess 750000002 --pharmacy --name "Pharmacie du Centre" --postal-code 75001 --city Paris"#,
    );
    let granted = op.ok(&format!("mailbox grant {} --national-id 810003621892 --role Utilisateur", pharmacy.trim()));
    assert_eq!(granted.trim(), format!("810003621892 is utilisateur of {}", pharmacy.trim()));
    op.refused(
        &format!("mailbox grant {} --national-id 810003621891 --role utilisateur", pharmacy.trim()),
        "national-id",
    );
    op.refused(&format!("mailbox grant {} --national-id 810003621892 --role patron", pharmacy.trim()), "role");
    op.refused("mailbox grant nowhere --national-id 810003621892 --role utilisateur", "address");
    let unknown = op.run("mailbox grant nobody@pharmacie.test --national-id 810003621892 --role utilisateur");
    assert_eq!(unknown.status.code(), Some(1));
}

/// Python's urllib as a browser would be: signs in through Pro Santé Connect
/// over HTTPS trusting only the operator's CA, then with a CPS card's
/// certificate presented in the handshake (and without, and with a card of
/// another CA), then looks at the plain HTTP listener. Prints one fact per line.
const HTTPS_CLIENT: &str = r#"
import http.client, http.cookiejar, re, socket, ssl, sys, urllib.error, urllib.request
https_addr, http_addr, ca, host, card, stranger = sys.argv[1:7]
h, p = https_addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
with ctx.wrap_socket(socket.create_connection((h, int(p))), server_hostname=host) as tls:
    print("certificate names", dict(x[0] for x in tls.getpeercert()["subject"])["commonName"])
ctx.check_hostname = False  # we dial an address; the chain is still verified
jar = http.cookiejar.CookieJar()
web = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), urllib.request.HTTPCookieProcessor(jar))
chooser = web.open(f"https://{https_addr}/portail/connexion/psc?suite=/portail/boites").read().decode()
link = re.search(r'href="([^"]+)">Élodie', chooser).group(1).replace("&amp;", "&")
page = web.open(f"http://{http_addr}/psc-sim/{link}")
print("landed on", page.geturl().split("/", 3)[3])
print("hsts", page.headers["Strict-Transport-Security"])
body = page.read().decode()
print("signed in", "Élodie Dupont" in body and "Mes boîtes aux lettres" in body)
for c in jar:
    if c.name.endswith("mss-portail"):
        print("cookie", c.name, "secure" if c.secure else "not secure")
print("card offered", "Se connecter avec la carte CPS" in web.open(f"https://{https_addr}/portail/connexion").read().decode())
def card_login(directory):
    c = ssl.create_default_context(cafile=ca)
    c.check_hostname = False
    if directory:
        c.load_cert_chain(f"{directory}/cps.pem", f"{directory}/cps.key")
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPSHandler(context=c), urllib.request.HTTPCookieProcessor(jar))
    try:
        page = browser.open(f"https://{https_addr}/portail/connexion/cps?suite=/portail/boites")
        body = page.read().decode()
        return page.geturl().split("/", 3)[3] + " " + str("Élodie Dupont" in body)
    except urllib.error.HTTPError as e:
        return f"{e.code} " + str("Aucune carte CPS n'a été présentée" in e.read().decode())
    except (ssl.SSLError, urllib.error.URLError, ConnectionError) as e:
        return "handshake refused"
print("card", card_login(card))
print("no card", card_login(""))
print("stranger's card", card_login(stranger))
plain = http.client.HTTPConnection(*http_addr.rsplit(":", 1))
plain.request("GET", "/portail/boites?x=1")
r = plain.getresponse()
print("plain portal", r.status, r.getheader("Location"))
plain = http.client.HTTPConnection(*http_addr.rsplit(":", 1))
plain.request("GET", "/healthz")
print("plain health", plain.getresponse().status)
"#;

#[test]
fn https_serves_the_portal_with_the_operator_certificate_and_takes_cps_cards() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let any = "127.0.0.1:0";
    ok(&format!(
        "init --data-dir {} --domain pharmacie.test --smtp {any} --submission {any} --imap {any} --http {any} --https {any}",
        dir.display()
    ));
    let mut server = spawn_serve(Path::new("."), &["--data-dir", dir.to_str().unwrap()]);
    let ports = wait_for_ports(&dir, &mut server);
    let (https, http) = (ports["https"].as_str().unwrap(), ports["http"].as_str().unwrap());
    let ca = dir.join("tls/ca.pem");
    let card = tmp.path().join("card");
    let holder = "--rpps 10003621892 --first Élodie --last Dupont --finess 750000002";
    ok(&format!("pki issue-cps {holder} --out {} --data-dir {}", card.display(), dir.display()));
    let elsewhere = Operator::new("ailleurs.test");
    let stranger = tmp.path().join("stranger");
    elsewhere.ok(&format!("pki issue-cps {holder} --out {}", stranger.display()));
    let out = std::process::Command::new("python3")
        .args(["-c", HTTPS_CLIENT, https, http, ca.to_str().unwrap(), "pharmacie.test"])
        .args([card.to_str().unwrap(), stranger.to_str().unwrap()])
        .output()
        .expect("python3 is needed");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    let expected = format!(
        "certificate names pharmacie.test\nlanded on portail/boites\nhsts max-age=31536000\nsigned in True\n\
         cookie __Host-mss-portail secure\ncard offered True\ncard portail/boites True\nno card 401 True\n\
         stranger's card handshake refused\nplain portal 308 https://{https}/portail/boites?x=1\nplain health 200\n"
    );
    assert_eq!(printed, expected);
    let (status, out) = terminate(&mut server);
    assert!(status.success());
    assert!(out.contains(&format!("https      https://{https}/")), "{out}");
}

/// `mss init --certificate`: the operator's own certificate (issued here by
/// a test IGC-Santé CA) as PEM files, or as a PKCS#12 file made by OpenSSL
/// with its password in a 0600 file; no development CA is made. A wrong
/// password, an open password file, a key of another certificate or
/// anchors of another CA are refused and write nothing.
#[test]
fn init_takes_the_operators_own_certificate_as_pem_or_pkcs12() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).display().to_string();
    ok(&format!("pki init --out {}", path("igc")));
    // The operator's certificate and key, as the IGC-Santé would deliver them.
    ok(&format!("init --data-dir {} --domain pharmacie.test --ca {}", path("issued"), path("igc")));
    let (cert, key, anchors) = (path("issued/tls/server.pem"), path("issued/tls/server.key"), path("igc/ca.pem"));
    let any = "--smtp 127.0.0.1:0 --submission 127.0.0.1:0 --imap 127.0.0.1:0 --http 127.0.0.1:0";

    let pem = path("pem");
    let said = ok(&format!(
        "init --data-dir {pem} --domain pharmacie.test {any} --certificate {cert} --key {key} --anchors {anchors}"
    ));
    assert!(said.contains("the operator's own, from"), "{said}");
    assert_eq!(std::fs::read(format!("{pem}/tls/server.pem")).unwrap(), std::fs::read(&cert).unwrap());
    assert_eq!(
        std::fs::read_to_string(format!("{pem}/tls/ca.pem")).unwrap(),
        std::fs::read_to_string(&anchors).unwrap()
    );
    assert!(!Path::new(&format!("{pem}/ca")).exists(), "no development CA");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(format!("{pem}/tls/server.key")).unwrap().permissions().mode() & 0o777, 0o600);
    let mut server = spawn_serve(Path::new("."), &["--data-dir", &pem]);
    let ports = wait_for_ports(Path::new(&pem), &mut server);
    assert!(http_get(ports["http"].as_str().unwrap(), "/readyz").contains("ready"));
    terminate(&mut server);

    // PKCS#12, as OpenSSL exports it.
    let p12 = path("operator.p12");
    let export = std::process::Command::new("openssl")
        .args(["pkcs12", "-export", "-in", &cert, "-inkey", &key, "-out", &p12, "-passout", "pass:s3cret-p12"])
        .output()
        .expect("openssl is needed");
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let password = path("p12.password");
    std::fs::write(&password, "s3cret-p12\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let from_p12 = path("p12");
    ok(&format!(
        "init --data-dir {from_p12} --domain pharmacie.test {any} --certificate {p12} --pkcs12-password-file {password} --anchors {anchors}"
    ));
    let subject = |dir: &str| {
        mss_trust::pki::subject_of_pem(&std::fs::read_to_string(format!("{dir}/tls/server.pem")).unwrap()).unwrap()
    };
    assert_eq!(subject(&from_p12), subject(&pem));

    // Refusals, nothing written.
    let refused_dir = tmp.path().join("refused");
    let wrong = path("wrong.password");
    std::fs::write(&wrong, "not it").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let base = format!("init --data-dir {} --domain pharmacie.test {any}", refused_dir.display());
    refused(
        &refused_dir,
        &format!("{base} --certificate {p12} --pkcs12-password-file {wrong} --anchors {anchors}"),
        "certificate",
    );
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(
        &refused_dir,
        &format!("{base} --certificate {p12} --pkcs12-password-file {password} --anchors {anchors}"),
        "pkcs12-password-file",
    );
    ok(&format!("init --data-dir {} --domain hopital.test --ca {}", path("other"), path("igc")));
    let other_key = path("other/tls/server.key");
    refused(&refused_dir, &format!("{base} --certificate {cert} --key {other_key} --anchors {anchors}"), "key");
    ok(&format!("pki init --out {}", path("elsewhere")));
    let foreign = path("elsewhere/ca.pem");
    refused(&refused_dir, &format!("{base} --certificate {cert} --key {key} --anchors {foreign}"), "anchors");
    let both = mss(&format!("{base} --certificate {cert} --key {key} --anchors {anchors} --ca {}", path("igc")));
    assert_eq!(both.status.code(), Some(2));
}

/// The certificate a client sees on IMAP STARTTLS: its SHA-256, hex.
const PEER_CERTIFICATE: &str = r#"
import hashlib, imaplib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
M = imaplib.IMAP4(host, int(port))
M.starttls(ssl_context=ctx)
print(hashlib.sha256(M.sock.getpeercert(binary_form=True)).hexdigest())
"#;

/// SIGHUP: a renewed certificate (same CA) put in place of the old one is
/// presented from the next handshake on, without a restart; a key that is
/// not the certificate's leaves the current one in place.
#[test]
fn a_renewed_certificate_is_taken_on_sighup() {
    let op = Operator::new("pharmacie.test");
    let tmp = tempfile::tempdir().unwrap();
    let renewed = tmp.path().join("renewed");
    let other = tmp.path().join("other");
    for (dir, domain) in [(&renewed, "pharmacie.test"), (&other, "ailleurs.test")] {
        ok(&format!("init --data-dir {} --domain {domain} --ca {}", dir.display(), op.dir.join("ca").display()));
    }
    let server = op.serve();
    let ca = op.dir.join("tls/ca.pem");
    let seen = || {
        let out = std::process::Command::new("python3")
            .args(["-c", PEER_CERTIFICATE, &server.addr("imap"), ca.to_str().unwrap()])
            .output()
            .expect("python3 is needed");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let hangup = || {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(server.pid()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    };
    let install = |from: &Path, name: &str| {
        let temporary = op.dir.join(format!("tls/{name}.new"));
        std::fs::copy(from.join(format!("tls/{name}")), &temporary).unwrap();
        std::fs::rename(&temporary, op.dir.join(format!("tls/{name}"))).unwrap();
    };
    let first = seen();
    assert_eq!(first.len(), 64);

    // A key of another certificate: refused, the current one stays.
    let kept_key = std::fs::read(op.dir.join("tls/server.key")).unwrap();
    install(&other, "server.key");
    hangup();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(seen(), first, "a mismatched key is not taken");
    std::fs::write(op.dir.join("tls/server.key"), kept_key).unwrap();

    install(&renewed, "server.pem");
    install(&renewed, "server.key");
    hangup();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut now = seen();
    while now == first {
        assert!(std::time::Instant::now() < deadline, "the renewed certificate was never presented");
        std::thread::sleep(std::time::Duration::from_millis(100));
        now = seen();
    }
    assert!(server.pid() > 0, "the same process");
}
