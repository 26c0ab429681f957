//! How an operator's clients and peers find it: `mss dns` prints the MX,
//! RFC 6186 SRV, autoconfig and TLSA records (the TLSA data matching what
//! OpenSSL computes from the certificate); a running `mss serve` answers
//! Thunderbird's autoconfiguration and Outlook's autodiscover with its real
//! listeners, each checked by Python's XML parser against the published
//! formats; `/healthz` and `/readyz` answer.

mod common;

use std::process::{Command, Stdio};

use common::*;

/// Reads Thunderbird's config-v1.1.xml and Outlook's autodiscover answer
/// as those clients would, checking the formats; prints one fact per line.
const CLIENT: &str = r#"
import sys, urllib.request, xml.etree.ElementTree as ET
http, domain = sys.argv[1:3]
SOCKETS = {"plain", "SSL", "STARTTLS"}
AUTH = {"password-cleartext", "password-encrypted", "NTLM", "GSSAPI", "client-IP-address", "TLS-client-cert", "OAuth2", "none"}
for path in ["/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"]:
    with urllib.request.urlopen(f"http://{http}{path}") as r:
        kind = r.headers["Content-Type"]
        root = ET.fromstring(r.read())
    assert root.tag == "clientConfig" and root.get("version") == "1.1", root.tag
    provider = root.find("emailProvider")
    assert provider.get("id") == domain and provider.findtext("domain") == domain
    assert provider.findtext("displayName") and provider.findtext("displayShortName")
    for tag, kind_expected in [("incomingServer", "imap"), ("outgoingServer", "smtp")]:
        servers = provider.findall(tag)
        assert servers, tag
        for s in servers:
            assert s.get("type") == kind_expected
            port = int(s.findtext("port"))
            assert 0 < port < 65536 and s.findtext("hostname")
            assert s.findtext("socketType") in SOCKETS, s.findtext("socketType")
            assert s.findtext("username") == "%EMAILADDRESS%"
            auths = [a.text for a in s.findall("authentication")]
            assert auths and set(auths) <= AUTH, auths
        print(path, tag, ",".join(f"{s.findtext('socketType')}:{s.findtext('port')}" for s in servers))
    print("type", kind)
body = b'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>elodie@' + domain.encode() + b'</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>'
request = urllib.request.Request(f"http://{http}/autodiscover/autodiscover.xml", data=body, method="POST", headers={"Content-Type": "text/xml"})
with urllib.request.urlopen(request) as r:
    root = ET.fromstring(r.read())
ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006", "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
account = root.find("o:Response/o:Account", ns)
assert account.findtext("o:AccountType", namespaces=ns) == "email" and account.findtext("o:Action", namespaces=ns) == "settings"
for p in account.findall("o:Protocol", ns):
    print("outlook", p.findtext("o:Type", namespaces=ns), p.findtext("o:Port", namespaces=ns), p.findtext("o:LoginName", namespaces=ns), p.findtext("o:Encryption", namespaces=ns))
for path in ["/healthz", "/readyz"]:
    with urllib.request.urlopen(f"http://{http}{path}") as r:
        print(path, r.status)
"#;

#[test]
fn clients_find_the_servers_by_dns_and_autoconfiguration() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (submission, imap, imaps) = (free_port(), free_port(), free_port());
    ok(&format!(
        "init --data-dir {} --domain pharmacie.test --smtp 127.0.0.1:0 --submission 127.0.0.1:{submission} \
         --imap 127.0.0.1:{imap} --imaps 127.0.0.1:{imaps} --http 127.0.0.1:0",
        dir.display()
    ));
    let op = Operator::adopt(tmp, dir.clone());

    // The records, the TLSA data as OpenSSL computes it.
    let zone = op.ok("dns");
    for line in [
        "pharmacie.test.\tIN MX 10 pharmacie.test.\n".to_string(),
        format!("_submission._tcp.pharmacie.test.\tIN SRV 0 1 {submission} pharmacie.test.\n"),
        "_submissions._tcp.pharmacie.test.\tIN SRV 0 0 0 .\t; not offered\n".to_string(),
        format!("_imaps._tcp.pharmacie.test.\tIN SRV 0 1 {imaps} pharmacie.test.\n"),
        format!("_imap._tcp.pharmacie.test.\tIN SRV 0 1 {imap} pharmacie.test.\n"),
        "autoconfig.pharmacie.test.\tIN CNAME pharmacie.test.\n".to_string(),
    ] {
        assert!(zone.contains(&line), "{line:?} in {zone}");
    }
    let pubkey = Command::new("openssl")
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(dir.join("tls/server.pem"))
        .output()
        .expect("openssl is needed");
    let mut der = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    der.stdin.take().unwrap().write_all(&pubkey.stdout).unwrap();
    let der = der.wait_with_output().unwrap().stdout;
    let mut digest = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    digest.stdin.take().unwrap().write_all(&der).unwrap();
    let hex = String::from_utf8(digest.wait_with_output().unwrap().stdout).unwrap();
    let hex = hex.split_whitespace().next().unwrap();
    assert!(zone.contains(&format!("_25._tcp.pharmacie.test.\tIN TLSA 3 1 1 {hex}\n")), "{zone}");
    let other = op.ok("dns --host mx.pharmacie.test");
    assert!(other.contains("IN MX 10 mx.pharmacie.test.\n"), "{other}");

    // Autoconfiguration from the running listeners.
    let server = op.serve();
    // A client that checks the name it dials, as neomutt and mbsync do.
    let checked = "import imaplib, ssl, sys\nM = imaplib.IMAP4('localhost', int(sys.argv[1]))\n\
                   M.starttls(ssl_context=ssl.create_default_context(cafile=sys.argv[2]))\nprint('verified')";
    let imap_port = server.addr("imap").rsplit(':').next().unwrap().to_string();
    let out = Command::new("python3")
        .args(["-c", checked, &imap_port, dir.join("tls/ca.pem").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "verified", "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("python3")
        .args(["-c", CLIENT, &server.addr("http"), "pharmacie.test"])
        .output()
        .expect("python3 is needed");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    let (submission, imap, imaps) = (server.addr("submission"), server.addr("imap"), server.addr("imaps"));
    let port = |addr: &str| addr.rsplit(':').next().unwrap().to_string();
    let (submission, imap, imaps) = (port(&submission), port(&imap), port(&imaps));
    assert_eq!(
        printed,
        format!(
            "/.well-known/autoconfig/mail/config-v1.1.xml incomingServer SSL:{imaps},STARTTLS:{imap}\n\
             /.well-known/autoconfig/mail/config-v1.1.xml outgoingServer STARTTLS:{submission}\n\
             type application/xml; charset=utf-8\n\
             /mail/config-v1.1.xml incomingServer SSL:{imaps},STARTTLS:{imap}\n\
             /mail/config-v1.1.xml outgoingServer STARTTLS:{submission}\n\
             type application/xml; charset=utf-8\n\
             outlook IMAP {imaps} elodie@pharmacie.test SSL\n\
             outlook SMTP {submission} elodie@pharmacie.test TLS\n\
             /healthz 200\n/readyz 200\n"
        )
    );
}

/// `MSS_LOG_FORMAT=json`: every log line of `mss serve` is one JSON object
/// a collector can read (level, message, fields), the warning that no CRL
/// is configured among them.
#[test]
fn logs_can_be_json_lines() {
    let op = Operator::new("pharmacie.test");
    let child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["serve", "--data-dir", op.dir.to_str().unwrap()])
        .env("MSS_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !op.dir.join("ports.json").exists() {
        assert!(std::time::Instant::now() < deadline, "mss serve did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 2, "{logs}");
    assert!(lines.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()), "{logs}");
    let crl = lines.iter().find(|l| l["message"].as_str().is_some_and(|m| m.contains("no CRL configured")));
    assert_eq!(crl.map(|l| l["level"].as_str()), Some(Some("WARN")), "{logs}");
}

/// The systemd unit in `packaging/` passes `systemd-analyze verify` without
/// a warning (its ExecStart pointed at the binary built here); the same
/// unit with a misspelt hardening option does not pass silently.
#[test]
fn the_service_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/mss.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/mss serve --data-dir /var/lib/mss"));
    let dir = tempfile::tempdir().unwrap();
    let verify = |text: &str| {
        let path = dir.path().join("mss.service");
        std::fs::write(&path, text.replace("/usr/bin/mss", env!("CARGO_BIN_EXE_mss"))).unwrap();
        let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("systemd-analyze is needed");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(verify(&unit), (true, String::new()));
    let (_, said) = verify(&unit.replace("ProtectSystem=strict", "ProtectSystm=strict"));
    assert!(said.contains("Unknown key 'ProtectSystm'"), "{said}");
    for hardening in
        ["NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "UMask=0077"]
    {
        assert!(unit.contains(hardening), "{hardening}");
    }
}
