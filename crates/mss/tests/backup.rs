//! `mss backup` of a running operator while Python's smtplib keeps
//! submitting mail, then `mss restore` into a new directory: the restored
//! store passes `mss check`, holds every message acknowledged before the
//! backup began and none that was never acknowledged, keeps the keys and
//! the configuration (0600 files in 0700 directories), and serves again.
//! A backup over an existing directory and a restore into a non-empty one
//! are refused and change nothing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::*;

/// Submits messages one by one until the file `stop` exists; prints how
/// many were acknowledged.
const SENDER: &str = r#"
import os, smtplib, ssl, sys
addr, ca, user, token, stop = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
sent = 0
with smtplib.SMTP(host, int(port), timeout=20) as s:
    s.starttls(context=ctx)
    s.auth("XOAUTH2", lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01", initial_response_ok=True)
    while not os.path.exists(stop) or sent < 20:
        body = f"From: <{user}>\r\nTo: <{user}>\r\nSubject: Ordonnance {sent}\r\n\r\n" + "x" * (sent * 997 % 20000) + "\r\n"
        s.sendmail(user, [user], body.encode())
        sent += 1
print(sent)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_operator_is_backed_up_while_mail_flows_and_restored() {
    let op = Operator::new("pharmacie.test");
    let alice = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let token = op.ok(&format!("token {alice}")).trim().to_string();
    let server = op.serve();
    let files = tempfile::tempdir().unwrap();
    let stop = files.path().join("stop");
    let ca = op.dir.join("tls/ca.pem");
    let sender = Command::new("python3")
        .args(["-c", SENDER, &server.addr("submission"), ca.to_str().unwrap(), &alice, &token])
        .arg(&stop)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed");
    // Some mail before the backup starts: acknowledged, so it must be in it.
    wait_for_inbox(&op, &alice, 5).await;
    let before = inbox_len(&op, &alice).await;

    let backup = files.path().join("backup");
    let said = op.ok(&format!("backup --out {}", backup.display()));
    assert!(said.contains("store consistent"), "{said}");
    std::fs::write(&stop, "").unwrap();
    let out = sender.wait_with_output().unwrap();
    assert!(out.status.success());
    let acknowledged: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // Stopped first: a running server writes to its directory at any moment.
    drop(server);
    let taken = snapshot(&backup);
    op.refused(&format!("backup --out {}", backup.display()), "out");
    assert!(taken == snapshot(&backup), "a refused backup left the earlier one as it was");

    let restored = files.path().join("restored");
    let said = ok(&format!("restore --from {} --data-dir {}", backup.display(), restored.display()));
    assert!(said.contains("store consistent"), "{said}");
    let copy = Operator::adopt(tempfile::tempdir().unwrap(), restored.clone());
    let kept = inbox_len(&copy, &alice).await;
    assert!(kept >= before && kept <= acknowledged, "{before} <= {kept} <= {acknowledged}");
    assert!(copy.ok("check").contains("store consistent"));
    for secret in ["mss.toml", "tls/server.key", "metrics.token", "mss.sqlite3"] {
        let mode = std::fs::metadata(restored.join(secret)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{secret}");
    }
    assert_eq!(std::fs::metadata(&restored).unwrap().permissions().mode() & 0o777, 0o700);
    // The restored operator serves, with the same keys: the old token works.
    let again = copy.serve();
    assert!(http_get(&again.addr("http"), "/readyz").contains("ready"));
    drop(again);
    let second =
        ok(&format!("restore --from {} --data-dir {}", backup.display(), files.path().join("other").display()));
    assert!(second.contains("store consistent"));
    let refused = mss(&format!("restore --from {} --data-dir {}", backup.display(), restored.display()));
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
}
