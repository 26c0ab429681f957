//! What the operator promises an administrator about its own machine
//! (docs/security.md): data readable by its owner only whatever the umask,
//! secrets out of the configuration, development conveniences refused in
//! production, configuration values in range, one applicative mailbox per
//! certificate. Each test runs the real `mss` binary.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Operator, Server, stderr, wait_for_ports};

/// `mss serve` on `dir`, started from a shell whose umask is 022 (the usual
/// default, which makes files readable by everyone).
fn serve_with_wide_umask(dir: &Path) -> Server {
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("umask 022; exec '{}' serve --data-dir '{}'", env!("CARGO_BIN_EXE_mss"), dir.display()))
        .env_remove("MSS_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = child;
    let ports = wait_for_ports(dir, &mut child);
    Server::from_child(child, ports)
}

/// Every entry under `dir` whose mode lets group or others in.
fn open_to_others(dir: &Path) -> Vec<String> {
    let mut open = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let private = if meta.is_dir() { mode == 0o700 } else { mode & 0o077 == 0 };
        if !private {
            open.push(format!("{} {mode:o}", path.display()));
        }
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    open
}

/// Stores a message of `size` bytes with Python's imaplib (APPEND), so that
/// the database, its WAL and a body file exist.
fn append_with_imaplib(op: &Operator, server: &Server, size: usize) {
    let user = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let token = op.ok(&format!("token {user}")).trim().to_string();
    let port = server.addr("imap").rsplit_once(':').unwrap().1.to_string();
    let script = r#"
import imaplib, ssl, sys
port, cafile, user, token, size = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile); ctx.check_hostname = False
m = imaplib.IMAP4("127.0.0.1", int(port), timeout=30); m.starttls(ssl_context=ctx)
m.authenticate("XOAUTH2", lambda _: f"user={user}\1auth=Bearer {token}\1\1".encode())
body = ("x" * 76 + "\r\n") * (int(size) // 78 + 1)
typ, _ = m.append("INBOX", None, None, f"From: <{user}>\r\nSubject: t\r\n\r\n{body}".encode())
assert typ == "OK", typ
m.logout()
"#;
    let ca = op.dir.join("tls/ca.pem");
    let out = Command::new("python3")
        .args(["-c", script, &port, ca.to_str().unwrap(), &user, &token, &size.to_string()])
        .output()
        .expect("python3 is needed (scripts/test installs it)");
    assert!(out.status.success(), "imaplib: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_data_directory_and_everything_in_it_are_private_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let init = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022; exec '{}' init --data-dir '{}' --domain pharmacie.test --smtp 127.0.0.1:0 \
             --submission 127.0.0.1:0 --imap 127.0.0.1:0 --http 127.0.0.1:0",
            env!("CARGO_BIN_EXE_mss"),
            dir.display()
        ))
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", stderr(&init));
    let op = Operator::adopt(tmp, dir.clone());
    let server = serve_with_wide_umask(&dir);
    append_with_imaplib(&op, &server, 200_000);
    let blobs = std::fs::read_dir(dir.join("blobs")).unwrap().count();
    assert!(blobs > 0, "a large body is a file of its own");
    assert_eq!(open_to_others(&dir), Vec::<String>::new(), "files 0600 in 0700 directories");
    assert!(server.stop().0.success());
}

#[test]
fn a_data_directory_left_open_by_an_earlier_release_is_closed_at_start() {
    let op = Operator::new("pharmacie.test");
    let chmod = Command::new("chmod").args(["-R", "go+rX", op.dir.to_str().unwrap()]).status().unwrap();
    assert!(chmod.success());
    assert!(!open_to_others(&op.dir).is_empty());
    let server = op.serve();
    assert_eq!(open_to_others(&op.dir), Vec::<String>::new());
    assert!(server.stop().0.success());
}

/// Replaces `from` by `to` in the operator's mss.toml.
fn edit_config(op: &Operator, from: &str, to: &str) {
    let path = op.dir.join("mss.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in {text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// `mss serve` that must refuse to start: its exit code and error.
fn refused_start(op: &Operator) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["serve", "--data-dir", op.dir.to_str().unwrap()])
        .env_remove("MSS_DATA_DIR")
        .env_remove(PSC_SECRET_ENV)
        .output()
        .unwrap();
    assert!(!op.dir.join("ports.json").exists(), "nothing listened");
    (out.status.code(), stderr(&out))
}

const PSC_SECRET_ENV: &str = "MSS_PSC_CLIENT_SECRET";

#[test]
fn production_refuses_every_development_convenience_by_name() {
    let op = Operator::new("pharmacie.test");
    edit_config(&op, "mode = \"development\"", "mode = \"production\"");
    edit_config(&op, "plain_with_token = false", "plain_with_token = true");
    let (code, err) = refused_start(&op);
    assert_eq!(code, Some(1), "{err}");
    for named in [
        "production refuses",
        "[psc] issuer",
        "[lifecycle] ans_url",
        "plain_with_token",
        "development CA's private key",
    ] {
        assert!(err.contains(named), "{named} is named: {err}");
    }
    // Development tokens are not issued either.
    let mailbox_free = op.run("token someone@pharmacie.test");
    assert_eq!(mailbox_free.status.code(), Some(2));
    assert!(stderr(&mailbox_free).contains("production"), "{}", stderr(&mailbox_free));
}

#[test]
fn development_mode_says_so_at_start_with_each_convenience() {
    let op = Operator::new("pharmacie.test");
    let server = op.serve();
    let page = common::http_get(&server.addr("http"), "/portail/connexion");
    assert!(page.contains("Mode développement"), "the portal's footer says so: {page}");
    let (status, out) = server.stop();
    assert!(status.success());
    assert!(out.contains("DEVELOPMENT MODE"), "{out}");
    assert!(out.contains("Pro Santé Connect simulator would sign anyone in"), "{out}");
}

#[test]
fn a_configuration_without_a_mode_or_with_values_out_of_range_is_refused() {
    let op = Operator::new("pharmacie.test");
    edit_config(&op, "mode = \"development\"\n", "");
    let (code, err) = refused_start(&op);
    assert_eq!(code, Some(1));
    assert!(err.contains("no mode"), "{err}");

    let op = Operator::new("pharmacie.test");
    edit_config(&op, "max_message_bytes = 26214400", "max_message_bytes = 0");
    let (_, err) = refused_start(&op);
    assert!(err.contains("[smtp] max_message_bytes is out of range"), "{err}");

    let op = Operator::new("pharmacie.test");
    edit_config(&op, "queue_expiry_days = 5", "queue_expiry_days = 18446744073709551615");
    let (_, err) = refused_start(&op);
    assert!(err.contains("[smtp] queue_expiry_days is out of range"), "{err}");
}

#[test]
fn the_psc_client_secret_can_live_in_a_private_file_but_not_a_readable_one() {
    let op = Operator::new("pharmacie.test");
    let secret = op.dir.join("psc-secret");
    std::fs::write(&secret, "s3cret-from-a-file\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = std::fs::read_to_string(op.dir.join("mss.toml")).unwrap();
    let start = text.find("client_secret = ").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    let text = format!("{}client_secret_file = \"psc-secret\"{}", &text[..start], &text[end..]);
    std::fs::write(op.dir.join("mss.toml"), text).unwrap();
    let (code, err) = refused_start(&op);
    assert_eq!(code, Some(1));
    assert!(err.contains("readable by its owner only"), "{err}");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = op.serve();
    assert!(server.stop().0.success());
}

#[test]
fn two_applicative_mailboxes_cannot_share_a_certificate() {
    let op = Operator::new("pharmacie.test");
    let dn = "\"CN=lgo.pharmacie.test,O=EDITEUR LGO,C=FR\"";
    let first = op
        .ok(&format!("mailbox create --type app --finess 750000002 --name \"LGO Officine\" --certificate-dn {dn}"))
        .trim()
        .to_string();
    op.refused(
        &format!("mailbox create --type app --finess 750000002 --name \"LGO Comptoir\" --certificate-dn {dn}"),
        "certificate-dn",
    );
    // Written another way, the same DN is still the same certificate.
    op.refused(
        "mailbox create --type app --finess 750000002 --name \"LGO Comptoir\" \
         --certificate-dn \"CN=lgo.pharmacie.test, O=EDITEUR LGO, C=FR\"",
        "certificate-dn",
    );
    // A deleted mailbox frees its certificate.
    op.ok(&format!("mailbox delete {first} --reason \"remplacé\""));
    op.ok(&format!("mailbox create --type app --finess 750000002 --name \"LGO Comptoir\" --certificate-dn {dn}"));
}

/// A slowloris on the portal: one host opens connections and trickles
/// header bytes. It gets its share of the HTTP listener and no more; other
/// clients are served meanwhile.
#[test]
fn one_host_cannot_take_every_http_connection() {
    use std::io::{Read, Write};
    let op = Operator::new("pharmacie.test");
    let server = op.serve();
    let http: std::net::SocketAddr = server.addr("http").parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..200 {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&std::net::SocketAddr::from(([127, 0, 4, 1], 0)).into()).unwrap();
        socket.connect(&http.into()).unwrap();
        let mut stream: std::net::TcpStream = socket.into();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
        held.push(stream);
    }
    // The host's connections past its share are closed at once.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut closed = 0;
    for stream in &mut held {
        stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let open = matches!(stream.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        closed += usize::from(!open);
    }
    assert_eq!(closed, 200 - 128, "128 connections per address");
    let page = common::http_get(&server.addr("http"), "/healthz");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    drop(held);
    assert!(server.stop().0.success());
}

/// A client looping on « Se connecter avec Pro Santé Connect » (a script,
/// or a page reloading itself) fills its own share of the logins half
/// done, never the others' places: the pharmacist who started a login from
/// another address meanwhile still finishes it. The looping client's
/// oldest logins make room for its newest.
#[test]
fn one_client_starting_logins_in_a_loop_leaves_the_others_theirs() {
    let op = Operator::new("pharmacie.test");
    let server = op.serve();
    let web = server.addr("http");
    let local = |location: &str| location.strip_prefix(&format!("http://{web}")).unwrap_or(location).to_string();
    let start = |from: [u8; 4]| {
        let started = common::http_from(from.into(), &web, "GET", "/api/auth/psc/login?login_hint=elodie", None, None);
        assert_eq!(started.status, 303, "{}", started.body);
        local(started.header("location").unwrap())
    };
    // The simulator's authorization page answers with the way back.
    let finish = |to_psc: &str| {
        let back = common::http(&web, "GET", to_psc, None, None);
        assert_eq!(back.status, 303, "{}", back.body);
        common::http(&web, "GET", &local(back.header("location").unwrap()), None, None)
    };
    let pharmacist = start([127, 0, 6, 2]);
    let looping: Vec<String> = (0..mss_identity::flows::LIMITS.per_client + 5).map(|_| start([127, 0, 6, 1])).collect();
    let signed_in = finish(&pharmacist);
    assert_eq!(signed_in.status, 200, "the pharmacist's login survived the loop: {}", signed_in.body);
    assert!(signed_in.json()["access_token"].is_string());
    assert_eq!(finish(&looping[0]).status, 401, "the looping client's oldest made room");
    assert_eq!(finish(looping.last().unwrap()).status, 200, "its newest works");
    assert!(server.stop().0.success());
}
