//! The `mss` command end to end: the real binary on temporary directories.
//!
//! Every refusal is checked the same way: exit code 2, one line on stderr
//! naming the field, and not one byte changed in the data directory.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn mss_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(args)
        .current_dir(cwd)
        .env_remove("MSS_DATA_DIR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn mss(args: &[&str]) -> Output {
    mss_in(Path::new("."), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let out = mss(args);
    assert!(out.status.success(), "mss {args:?} failed: {}", stderr(&out));
    stdout(&out)
}

/// Every file under `dir` with its content: "nothing written" means equal.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    if !dir.exists() {
        return files;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Runs `args`, expects a usage refusal naming `field`, and no change in `dir`.
#[track_caller]
fn refused(dir: &Path, args: &[&str], field: &str) {
    let before = snapshot(dir);
    let out = mss(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "mss {args:?} should be refused; stdout {} stderr {err}", stdout(&out));
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(field), "the error names `{field}`: {err}");
    assert!(stdout(&out).is_empty(), "nothing printed on stdout");
    assert!(before == snapshot(dir), "mss {args:?} changed {}", dir.display());
}

struct Operator {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Operator {
    fn new(domain: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let port0 = "127.0.0.1:0";
        ok(&[
            "init",
            "--data-dir",
            s(&dir),
            "--domain",
            domain,
            "--smtp",
            port0,
            "--submission",
            port0,
            "--imap",
            port0,
            "--http",
            port0,
        ]);
        Self { _tmp: tmp, dir }
    }

    fn d(&self) -> &str {
        s(&self.dir)
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/liste-blanche").join(name);
    path.to_str().unwrap().to_string()
}

#[test]
fn every_subcommand_has_help() {
    for path in [
        &[][..],
        &["pki"],
        &["pki", "init"],
        &["init"],
        &["serve"],
        &["mailbox"],
        &["mailbox", "create"],
        &["mailbox", "list"],
        &["mailbox", "show"],
        &["whitelist"],
        &["whitelist", "import"],
        &["whitelist", "list"],
        &["whitelist", "add"],
    ] {
        let mut args = path.to_vec();
        args.push("--help");
        let out = mss(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(stdout(&out).contains("Usage: mss"), "{args:?}: {}", stdout(&out));
    }
    let bare = mss(&[]);
    assert_eq!(bare.status.code(), Some(2));
}

#[test]
fn pki_init_makes_a_ca_and_never_overwrites_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("ca");
    let printed = ok(&["pki", "init", "--out", s(&out_dir)]);
    assert!(printed.contains("subject DN: CN=IGC-Santé TEST Racine,OU=IGC-SANTE TEST"), "{printed}");
    let pem = std::fs::read_to_string(out_dir.join("ca.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let mode = std::fs::metadata(out_dir.join("ca.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    refused(tmp.path(), &["pki", "init", "--out", s(&out_dir)], "out");
}

#[test]
fn init_issues_a_server_certificate_from_the_given_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca");
    ok(&["pki", "init", "--out", s(&ca)]);
    let dir = tmp.path().join("data");
    let printed = ok(&[
        "init",
        "--data-dir",
        s(&dir),
        "--domain",
        "Pharmacie.Example.FR",
        "--ca",
        s(&ca),
        "--hostname",
        "mss.pharmacie.example.fr",
        "--organisation",
        "GCS NORMAND'E-SANTE",
        "--unit",
        "1140028093",
        "--state",
        "Calvados (14)",
        "--http",
        "127.0.0.1:0",
    ]);
    let dn = "CN=mss.pharmacie.example.fr,OU=1140028093,O=GCS NORMAND'E-SANTE,ST=Calvados (14),C=FR";
    assert!(printed.contains(&format!("subject DN: {dn}")), "{printed}");
    assert!(printed.contains("mss whitelist add pharmacie.example.fr --dn 'CN=mss.pharmacie.example.fr,OU=1140028093,O=GCS NORMAND'\\''E-SANTE"), "{printed}");

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

    refused(tmp.path(), &["init", "--data-dir", s(&dir), "--domain", "other.example.fr"], "data-dir");
}

#[test]
fn init_without_a_ca_makes_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&["init", "--data-dir", s(&dir), "--domain", "pharmacie.test"]);
    assert!(dir.join("ca/ca.key").exists());
    assert_eq!(std::fs::read(dir.join("ca/ca.pem")).unwrap(), std::fs::read(dir.join("tls/ca.pem")).unwrap());
}

#[test]
fn init_refuses_bad_input_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = s(&dir);
    refused(tmp.path(), &["init", "--data-dir", d, "--domain", "not a domain"], "domain");
    refused(tmp.path(), &["init", "--data-dir", d, "--domain", "localhost"], "domain");
    refused(tmp.path(), &["init", "--data-dir", d, "--domain", "a.test", "--smtp", "nowhere:25"], "smtp");
    refused(tmp.path(), &["init", "--data-dir", d, "--domain", "a.test", "--http", "127.0.0.1:99999"], "http");
    refused(tmp.path(), &["init", "--data-dir", d, "--domain", "a.test", "--ca", s(tmp.path())], "ca");
    refused(tmp.path(), &["init", "--data-dir", d, "--domain", "a.test", "--hostname=-bad-.test"], "hostname");
    refused(tmp.path(), &["init", "--data-dir", d, "--domain", "a.test", "--organisation", " "], "organisation");
    refused(tmp.path(), &["init", "--data-dir", d], "--domain");
    assert!(!dir.exists());
}

#[test]
fn personal_mailboxes_are_named_prenom_nom_and_collisions_get_a_suffix() {
    let op = Operator::new("pharmacie.test");
    let first = ok(&[
        "mailbox",
        "create",
        "--data-dir",
        op.d(),
        "--type",
        "per",
        "--rpps",
        "10003621892",
        "--first",
        "Élodie",
        "--last",
        "Dupont-Lefèvre",
    ]);
    assert_eq!(first.trim(), "elodie.dupont-lefevre@pharmacie.test");
    let second = ok(&[
        "mailbox",
        "create",
        "--data-dir",
        op.d(),
        "--type",
        "PER",
        "--adeli",
        "751234568",
        "--first",
        "elodie",
        "--last",
        "DUPONT LEFEVRE",
    ]);
    assert_eq!(second.trim(), "elodie.dupont-lefevre-2@pharmacie.test");

    // Names too long for 64 octets are cut, and their collisions still resolve.
    let long_last = "De La Tour D'Auvergne Lauraguais Montmorency Saint-Exupéry";
    let long = [
        "mailbox",
        "create",
        "--data-dir",
        op.d(),
        "--type",
        "per",
        "--rpps",
        "10003621892",
        "--first",
        "Marie-Antoinette Joséphine",
        "--last",
        long_last,
    ];
    let long_first = ok(&long);
    let long_second = ok(&long);
    assert!(long_first.trim().split('@').next().unwrap().len() <= 64, "{long_first}");
    assert_ne!(long_first, long_second);
    assert!(long_second.contains("-2@"), "{long_second}");

    let listed = ok(&["mailbox", "list", "--data-dir", op.d()]);
    let lines: Vec<&str> = listed.lines().filter(|l| l.starts_with("elodie")).collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].starts_with("elodie.dupont-lefevre-2@pharmacie.test\tPER\tactive"), "{listed}");

    let shown = ok(&["mailbox", "show", "--data-dir", op.d(), "--json", "Elodie.Dupont-Lefevre@pharmacie.test"]);
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
    let pharmacy = ok(&[
        "mailbox",
        "create",
        "--data-dir",
        op.d(),
        "--type",
        "org",
        "--finess",
        "750000002",
        "--pharmacy",
        "--name",
        "Pharmacie de l'Hôtel de Ville",
        "--postal-code",
        "75004",
        "--city",
        "Paris",
    ]);
    assert_eq!(pharmacy.trim(), "pharmacie-de-l-hotel-de-ville-75004-paris@pharmacie.test");
    let service = ok(&[
        "mailbox",
        "create",
        "--data-dir",
        op.d(),
        "--type",
        "org",
        "--finess",
        "750000002",
        "--name",
        "Hôpital Nord",
        "--service",
        "Cardiologie",
        "--liste-rouge",
    ]);
    assert_eq!(service.trim(), "cardiologie@pharmacie.test");
    let app = ok(&[
        "mailbox",
        "create",
        "--data-dir",
        op.d(),
        "--type",
        "app",
        "--finess",
        "750000002",
        "--name",
        "LGO Officine",
    ]);
    assert_eq!(app.trim(), "app-lgo-officine@pharmacie.test");
    let cab = ok(&[
        "mailbox",
        "create",
        "--data-dir",
        op.d(),
        "--type",
        "cab",
        "--name",
        "Cabinet des Lilas",
        "--city",
        "Lyon",
    ]);
    assert_eq!(cab.trim(), "cabinet-des-lilas-lyon@pharmacie.test");

    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["mailbox", "show", "--data-dir", op.d(), "--json", service.trim()])).unwrap();
    assert_eq!(shown["type"], "ORG");
    assert_eq!(shown["finess"], "750000002");
    assert_eq!(shown["service"], "Cardiologie");
    assert_eq!(shown["liste_rouge"], true);
}

#[test]
fn mailbox_commands_refuse_bad_input_and_write_nothing() {
    let op = Operator::new("pharmacie.test");
    ok(&[
        "mailbox",
        "create",
        "--data-dir",
        op.d(),
        "--type",
        "per",
        "--rpps",
        "10003621892",
        "--first",
        "A",
        "--last",
        "B",
    ]);
    let d = op.d();
    let per = ["mailbox", "create", "--data-dir", d, "--type", "per"];
    let with = |extra: &[&'static str]| -> Vec<&str> { per.iter().copied().chain(extra.iter().copied()).collect() };
    refused(&op.dir, &with(&["--rpps", "10003621891", "--first", "A", "--last", "B"]), "rpps");
    refused(&op.dir, &with(&["--rpps", "1000362189", "--first", "A", "--last", "B"]), "rpps");
    refused(&op.dir, &with(&["--adeli", "12", "--first", "A", "--last", "B"]), "adeli");
    refused(&op.dir, &with(&["--first", "A", "--last", "B"]), "rpps");
    refused(&op.dir, &with(&["--rpps", "10003621892", "--last", "B"]), "first");
    refused(&op.dir, &with(&["--rpps", "10003621892", "--first", "!!!", "--last", "B"]), "first");
    refused(&op.dir, &with(&["--rpps", "10003621892", "--first", "A", "--last", "张伟"]), "last");
    refused(&op.dir, &with(&["--rpps", "10003621892", "--first", "A", "--last", "B", "--pharmacy"]), "pharmacy");
    refused(&op.dir, &["mailbox", "create", "--data-dir", d, "--type", "xyz"], "type");
    refused(
        &op.dir,
        &[
            "mailbox",
            "create",
            "--data-dir",
            d,
            "--type",
            "org",
            "--finess",
            "750000001",
            "--name",
            "X",
            "--service",
            "S",
        ],
        "finess",
    );
    refused(
        &op.dir,
        &["mailbox", "create", "--data-dir", d, "--type", "org", "--name", "X", "--service", "S"],
        "finess",
    );
    refused(
        &op.dir,
        &[
            "mailbox",
            "create",
            "--data-dir",
            d,
            "--type",
            "org",
            "--finess",
            "750000002",
            "--pharmacy",
            "--name",
            "X",
            "--postal-code",
            "7500",
            "--city",
            "Paris",
        ],
        "postal",
    );
    refused(&op.dir, &["mailbox", "show", "--data-dir", d, "not-an-address"], "address");
    let missing = tempfile::tempdir().unwrap();
    refused(missing.path(), &["mailbox", "list", "--data-dir", s(missing.path())], "data-dir");

    let unknown = mss(&["mailbox", "show", "--data-dir", d, "nobody@pharmacie.test"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no mailbox nobody@pharmacie.test"));
    assert_eq!(ok(&["mailbox", "list", "--data-dir", d]).lines().count(), 1);
}

#[test]
fn the_real_liste_blanche_imports_and_a_bad_one_changes_nothing() {
    let op = Operator::new("pharmacie.test");
    let d = op.d();
    let xml = fixture("listeblanchemssante.xml");
    let printed = ok(&["whitelist", "import", "--data-dir", d, &xml, "--checksum", &fixture("checksum")]);
    assert!(printed.starts_with("imported 619 entries for "), "{printed}");
    assert!(printed.contains("generated 2025-03-13T14:54:10Z"), "{printed}");
    let listed = ok(&["whitelist", "list", "--data-dir", d]);
    assert_eq!(listed.lines().count(), 619);
    let one = ok(&["whitelist", "list", "--data-dir", d, "--domain", "adsea29.mssante.fr"]);
    assert_eq!(
        one.trim(),
        "adsea29.mssante.fr\tans\tCN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR"
    );

    let tmp = tempfile::tempdir().unwrap();
    let truncated = tmp.path().join("truncated.xml");
    let bytes = std::fs::read(&xml).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    refused(&op.dir, &["whitelist", "import", "--data-dir", d, s(&truncated)], "file");
    let wrong_sum = "0".repeat(64);
    refused(&op.dir, &["whitelist", "import", "--data-dir", d, &xml, "--checksum", &wrong_sum], "checksum");
    refused(&op.dir, &["whitelist", "import", "--data-dir", d, &xml, "--checksum", "/nonexistent"], "checksum");
    refused(&op.dir, &["whitelist", "import", "--data-dir", d, "/nonexistent.xml"], "file");
    assert_eq!(ok(&["whitelist", "list", "--data-dir", d]).lines().count(), 619, "the good copy stays");
}

#[test]
fn whitelist_add_accepts_a_peer_and_refuses_nonsense() {
    let op = Operator::new("pharmacie.test");
    let d = op.d();
    let dn = "CN=mss.peer.test,OU=12345678900012,O=PEER,ST=Paris (75),C=FR";
    let printed = ok(&["whitelist", "add", "--data-dir", d, "Peer.Test", "--dn", dn]);
    assert!(printed.contains("added peer.test"), "{printed}");
    assert_eq!(ok(&["whitelist", "list", "--data-dir", d]).trim(), format!("peer.test\tmanual\t{dn}"));
    refused(&op.dir, &["whitelist", "add", "--data-dir", d, "peer.test", "--dn", dn], "dn");
    refused(&op.dir, &["whitelist", "add", "--data-dir", d, "peer..test", "--dn", dn], "domain");
    refused(&op.dir, &["whitelist", "add", "--data-dir", d, "other.test", "--dn", "mss.peer.test"], "dn");
    refused(&op.dir, &["whitelist", "add", "--data-dir", d, "other.test", "--dn", "CN=a,XX=b"], "dn");

    // Imports keep what was added by hand.
    ok(&["whitelist", "import", "--data-dir", d, &fixture("listeblanchemssante.xml")]);
    assert_eq!(ok(&["whitelist", "list", "--data-dir", d, "--domain", "peer.test"]).lines().count(), 1);
}

fn spawn_serve(cwd: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mss"))
        .arg("serve")
        .args(args)
        .current_dir(cwd)
        .env_remove("MSS_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for_ports(dir: &Path, child: &mut Child) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("ports.json")) {
            return serde_json::from_str(&text).unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("mss serve exited with {status}: {err}");
        }
        assert!(Instant::now() < deadline, "ports.json never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn terminate(child: &mut Child) -> (std::process::ExitStatus, String) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            return (status, out);
        }
        assert!(Instant::now() < deadline, "mss serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_writes_its_ports_answers_and_stops_on_sigterm() {
    let op = Operator::new("pharmacie.test");
    let mut server = spawn_serve(Path::new("."), &["--data-dir", op.d()]);
    let ports = wait_for_ports(&op.dir, &mut server);
    let http = ports["http"].as_str().unwrap().to_string();
    assert!(http.starts_with("127.0.0.1:") && !http.ends_with(":0"), "{ports}");

    let health = http_get(&http, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"domain\":\"pharmacie.test\""), "{health}");
    let page = http_get(&http, "/");
    assert!(page.contains("Opérateur MSSanté pharmacie.test"), "{page}");

    // The administrator's CLI works on the data directory while the server runs.
    let created = ok(&[
        "mailbox",
        "create",
        "--data-dir",
        op.d(),
        "--type",
        "per",
        "--rpps",
        "10003621892",
        "--first",
        "Jean",
        "--last",
        "Martin",
    ]);
    assert_eq!(created.trim(), "jean.martin@pharmacie.test");
    // A second server on the same data directory is refused.
    let second = mss(&["serve", "--data-dir", op.d()]);
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
