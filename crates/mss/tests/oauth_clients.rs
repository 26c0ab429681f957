//! Stock mail clients signing in with SASL XOAUTH2, configured exactly as
//! `docs/clients.md` shows (only the host, ports, certificate file are the
//! test's; `~` is a home of the test's own): msmtp sends, neomutt sends in
//! batch mode, mbsync (Cyrus SASL with `libsasl2-modules-kdexoauth2`)
//! pulls the INBOX, neomutt reads it in a terminal (a pseudo-terminal from
//! `script`). Each client's own TLS checks the development certificate
//! against the data directory's CA.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

const DOC: &str = include_str!("../../../docs/clients.md");
const ELODIE: &str = "elodie.dupont@pharmacie.example.fr";

/// The configuration block of `docs/clients.md` fenced as `kind`, set to
/// reach this test's server.
fn configuration(kind: &str, submission: &str, imap: &str, ca: &Path) -> String {
    let start = DOC.find(&format!("```{kind}\n")).unwrap_or_else(|| panic!("no {kind} block")) + kind.len() + 4;
    let block = &DOC[start..start + DOC[start..].find("```").unwrap()];
    let mut text = block.to_string();
    for (from, to) in [
        ("mss.pharmacie.example.fr:587", format!("localhost:{submission}")),
        ("mss.pharmacie.example.fr:143", format!("localhost:{imap}")),
        ("port 587", format!("port {submission}")),
        ("Port 143", format!("Port {imap}")),
        ("mss.pharmacie.example.fr", "localhost".to_string()),
        ("/etc/ssl/certs/ca-certificates.crt", ca.display().to_string()),
    ] {
        text = text.replace(from, &to);
    }
    assert!(!text.contains("587") && !text.contains("example.fr:"), "{kind}: {text}");
    text
}

fn run(program: &str, home: &Path, args: &[&str], input: Option<&str>) -> Output {
    let mut command = Command::new(program);
    command.args(args).env("HOME", home).env("TERM", "xterm").current_dir(home);
    let out = match input {
        Some(input) => {
            use std::io::Write;
            let mut child = command
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{program} is needed (scripts/test installs it): {e}"));
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        }
        None => command.output().unwrap_or_else(|e| panic!("{program} is needed (scripts/test installs it): {e}")),
    };
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msmtp_mbsync_and_neomutt_work_as_the_documentation_says() {
    let op = Operator::new("pharmacie.example.fr");
    let elodie = op.ok("mailbox create --type per --rpps 10003621892 --first Élodie --last Dupont").trim().to_string();
    assert_eq!(elodie, ELODIE);
    let server = op.serve();
    let port = |listener: &str| server.addr(listener).rsplit_once(':').unwrap().1.to_string();
    let (submission, imap) = (port("submission"), port("imap"));
    let ca = op.dir.join("tls/ca.pem");
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let write = |name: &str, text: &str| {
        let path = home.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    };
    write(".mss-token", &op.ok(&format!("token {ELODIE}")));
    write(".msmtprc", &configuration("msmtprc", &submission, &imap, &ca));
    write(".mbsyncrc", &configuration("mbsyncrc", &submission, &imap, &ca));
    write(".config/neomutt/neomuttrc", &configuration("neomuttrc", &submission, &imap, &ca));

    // msmtp sends; neomutt sends in batch mode.
    let message = format!("From: {ELODIE}\nTo: {ELODIE}\nSubject: Envoi msmtp\n\nBonjour de msmtp.\n");
    run("msmtp", home, &["-a", "mss", ELODIE], Some(&message));
    run("neomutt", home, &["-n", "-s", "Envoi neomutt", "--", ELODIE], Some("Bonjour de neomutt.\n"));

    // mbsync pulls both.
    std::fs::create_dir_all(home.join("Mail/mss")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let pulled = loop {
        run("mbsync", home, &["-a"], None);
        let mut subjects = Vec::new();
        for dir in ["new", "cur"] {
            for entry in std::fs::read_dir(home.join("Mail/mss/INBOX").join(dir)).into_iter().flatten() {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                subjects.extend(text.lines().find(|l| l.starts_with("Subject:")).map(str::to_string));
            }
        }
        subjects.sort();
        if subjects.len() >= 2 || std::time::Instant::now() > deadline {
            break subjects;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert_eq!(pulled, ["Subject: Envoi msmtp", "Subject: Envoi neomutt"]);

    // neomutt reads the INBOX over IMAP, in a terminal, and quits.
    let shown = run("script", home, &["-qec", "neomutt -n -e 'push <exit>'", "/dev/null"], None);
    let screen = String::from_utf8_lossy(&shown.stdout);
    assert!(screen.contains("Envoi msmtp") && screen.contains("Envoi neomutt"), "neomutt showed:\n{screen}");

    // Each signed in with XOAUTH2: four IMAP and SMTP logins, no failure
    // (the trail read once the server has written all of it).
    assert!(server.stop().0.success());
    let trail = op.ok(&format!("audit list --target {ELODIE}"));
    let logins =
        trail.lines().filter(|l| (l.contains("imap.login") || l.contains("smtp.login")) && l.contains("ok")).count();
    assert!(logins >= 4, "{trail}");
    assert!(!trail.contains("refused"), "{trail}");
}
