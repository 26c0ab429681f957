//! The live liste blanche: `mss serve` refreshes it from an HTTPS server
//! (Python's, with a certificate of its own CA named in `[whitelist]
//! trust_anchors`) that changes between refreshes: the first file is
//! imported, a changed one replaces it (a domain added, one removed), a
//! broken file, a file that does not match its checksum and a server that
//! is gone each leave the last good list, and every refresh done or refused
//! is traced. `mss whitelist remove` takes away what was added by hand only.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Serves a directory over HTTPS on a port of its choosing, written to a file.
const HTTPS_SERVER: &str = r#"
import functools, http.server, ssl, sys
port_file, directory, cert, key = sys.argv[1:5]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(Quiet, directory=directory)
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(httpd.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
httpd.serve_forever()
"#;

/// A CA of the publisher's own (ca.pem) and its server certificate for
/// 127.0.0.1 (server.pem, server.key), made with OpenSSL in `dir`.
fn publisher_certificate(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl is needed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let ca = [
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Publisher test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ];
    openssl(&[&["req", "-x509"][..], &ec, &ca].concat());
    openssl(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sha256(bytes: &[u8]) -> String {
    mss_trust::liste_blanche::sha256_hex(bytes)
}

/// Publishes `xml` with the checksum of `summed` (itself when None).
fn publish(dir: &Path, xml: &[u8], summed: Option<&[u8]>) {
    std::fs::write(dir.join("checksum"), sha256(summed.unwrap_or(xml))).unwrap();
    std::fs::write(dir.join("listeblanchemssante.xml"), xml).unwrap();
}

/// Waits until `check` holds of `mss whitelist list`'s output.
fn until(op: &Operator, what: &str, check: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = op.ok("whitelist list");
        if check(&listed) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: never happened");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The `whitelist.refresh` entries of the audit trail, oldest first.
fn refreshes(op: &Operator) -> Vec<String> {
    let listed = op.ok("audit list --action whitelist.refresh --limit 100");
    let mut lines: Vec<String> = listed.lines().map(str::to_string).collect();
    lines.reverse();
    lines
}

/// [`refreshes`] once `check` holds of them (traces are written within
/// moments of what they trace).
fn traced(op: &Operator, check: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let trail = refreshes(op);
        if check(&trail) {
            return trail;
        }
        assert!(Instant::now() < deadline, "never traced: {trail:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_liste_blanche_is_refreshed_and_a_bad_file_keeps_the_last_good_one() {
    // The publisher: its own CA and a certificate for localhost.
    let site = tempfile::tempdir().unwrap();
    let tls = site.path().join("tls");
    std::fs::create_dir(&tls).unwrap();
    publisher_certificate(&tls);
    let fixture = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/liste-blanche/listeblanchemssante.xml"),
    )
    .unwrap();
    let www = site.path().join("www");
    std::fs::create_dir(&www).unwrap();
    publish(&www, &fixture, None);
    let port_file = site.path().join("port");
    let server = Command::new("python3")
        .args(["-c", HTTPS_SERVER, port_file.to_str().unwrap(), www.to_str().unwrap()])
        .args([tls.join("server.pem").to_str().unwrap(), tls.join("server.key").to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 is needed");
    let mut served = Some(Served(server));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !port_file.exists() {
        assert!(Instant::now() < deadline, "the HTTPS server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let port = std::fs::read_to_string(&port_file).unwrap();

    let op = Operator::new("pharmacie.test");
    op.ok(r#"whitelist add peer.test --dn "CN=mss.peer.test,O=PEER,C=FR""#);
    let config = op.dir.join("mss.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[whitelist]\nurl = \"https://127.0.0.1:{port}/listeblanchemssante.xml\"\n\
         checksum_url = \"https://127.0.0.1:{port}/checksum\"\ntrust_anchors = \"{}\"\nrefresh_seconds = 1\n",
        tls.join("ca.pem").display()
    ));
    std::fs::write(&config, text).unwrap();
    let mss = op.serve();

    until(&op, "the first import", |l| l.contains("adsea29.mssante.fr\tans\t") && l.contains("peer.test\tmanual"));
    let first = traced(&op, |r| r.len() == 1);
    assert!(first[0].contains("\tok\t") && first[0].contains("619 entries: +516 -0 ~0"), "{first:?}");

    // A changed file: applied while the server runs, the change traced.
    let changed = String::from_utf8(fixture.clone()).unwrap().replacen(
        "<Nom>adsea29.mssante.fr</Nom>",
        "<Nom>nouveau.mssante.fr</Nom>",
        1,
    );
    publish(&www, changed.as_bytes(), None);
    until(&op, "the changed file", |l| l.contains("nouveau.mssante.fr\tans") && !l.contains("adsea29.mssante.fr"));
    // Its trace is written moments after the list changes.
    let second = traced(&op, |r| r.len() >= 2);
    assert!(
        second.last().unwrap().contains("+1 -1 ~0 (added: nouveau.mssante.fr; removed: adsea29.mssante.fr)"),
        "{second:?}"
    );

    // Broken, not matching its checksum, gone: the last good list stays.
    let broken = &changed.as_bytes()[..changed.len() / 2];
    publish(&www, broken, None);
    let refused = |op: &Operator, n: usize| traced(op, |r| r.iter().filter(|r| r.contains("\trefused")).count() >= n);
    refused(&op, 1);
    publish(&www, &fixture, Some(b"another file"));
    refused(&op, 2);
    served.take();
    refused(&op, 3);
    let listed = op.ok("whitelist list");
    assert!(listed.contains("nouveau.mssante.fr\tans") && !listed.contains("adsea29.mssante.fr"), "kept");
    let trail = refreshes(&op);
    let refusals: Vec<&String> = trail.iter().filter(|r| r.contains("\trefused")).collect();
    assert!(refusals[1].contains("checksum"), "{refusals:?}");
    drop(mss);

    // By hand: what was added by hand goes; an ANS domain cannot.
    op.ok(r#"whitelist remove peer.test --dn "CN=mss.peer.test,O=PEER,C=FR""#);
    op.refused("whitelist remove peer.test", "domain");
    op.refused("whitelist remove nouveau.mssante.fr", "domain");
}
