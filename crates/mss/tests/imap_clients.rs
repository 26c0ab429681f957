//! Real IMAP clients against `mss serve`: Python's imaplib (every command
//! it has), mbsync synchronising a mailbox both ways, and fetchmail reading
//! mail; all over TLS with a bearer token.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn tool(name: &str) -> &str {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {name}")]).output().is_ok_and(|o| o.status.success());
    assert!(found, "{name} is needed (scripts/test installs it)");
    name
}

/// An operator with a mailbox holding two messages, served with the
/// development token-as-password option on.
struct Setup {
    op: Operator,
    server: Server,
    alice: String,
    token: String,
}

async fn setup() -> Setup {
    let op = Operator::new("pharmacie.test");
    let alice = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let config = op.dir.join("mss.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = text
        .replace("[imap]\nmax_append_bytes = 26214400\nplain_with_token = false", "[imap]\nplain_with_token = true");
    std::fs::write(&config, text).unwrap();
    {
        let store = mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: op.dir.clone() }).await.unwrap();
        let mailbox = store.meta.mailbox(&alice.parse().unwrap()).await.unwrap().unwrap();
        for (subject, body) in [("Ordonnance", "Paracetamol 1g"), ("Compte-rendu", "RAS")] {
            let raw = format!(
                "From: <dr.house@hopital.test>\r\nTo: <{alice}>\r\nSubject: {subject}\r\n\
                 Date: Thu, 26 Nov 2026 09:00:00 +0100\r\nMessage-ID: <{subject}@hopital.test>\r\n\r\n{body}\r\n"
            );
            store.deliver(raw.as_bytes(), &[mailbox.id]).await.unwrap();
        }
    }
    let server = op.serve();
    let token = op.ok(&format!("token {alice}")).trim().to_string();
    Setup { op, server, alice, token }
}

fn host_port(addr: &str) -> (String, String) {
    let (host, port) = addr.rsplit_once(':').unwrap();
    (host.to_string(), port.to_string())
}

#[tokio::test]
async fn python_imaplib_runs_every_command() {
    let s = setup().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/imaplib_session.py");
    let (host, port) = host_port(&s.server.addr("imap"));
    let out = Command::new(tool("python3"))
        .arg(&script)
        .args([&host, &port, s.op.dir.join("tls/ca.pem").to_str().unwrap(), &s.alice, &s.token])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "imaplib: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("every command answered"));
    assert!(s.server.stop().0.success());
}

/// Opens the operator's store from the test process (the server has it
/// open too; SQLite in WAL mode shares it).
async fn store(op: &Operator) -> mss_store::Store {
    mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: op.dir.clone() }).await.unwrap()
}

fn mbsync(config: &Path) -> String {
    let out = Command::new(tool("mbsync")).args(["-c", config.to_str().unwrap(), "-a"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "mbsync failed: {text}");
    text
}

fn maildir_files(dir: &Path) -> Vec<std::path::PathBuf> {
    ["cur", "new"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(dir.join(sub)).into_iter().flatten().flatten().map(|e| e.path()))
        .collect()
}

#[tokio::test]
async fn mbsync_synchronises_a_mailbox_both_ways() {
    let s = setup().await;
    let work = tempfile::tempdir().unwrap();
    let mail = work.path().join("mail");
    std::fs::create_dir_all(&mail).unwrap();
    let (host, port) = host_port(&s.server.addr("imap"));
    // The operator certificate itself is trusted as-is (we dial 127.0.0.1,
    // not its host name); the token is the password (development option).
    let config = work.path().join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount mss\nHost {host}\nPort {port}\nUser {alice}\nPass {token}\nSSLType STARTTLS\n\
             CertificateFile {cert}\nAuthMechs LOGIN\n\n\
             IMAPStore remote\nAccount mss\n\n\
             MaildirStore local\nPath {mail}/\nInbox {mail}/INBOX\nSubFolders Verbatim\n\n\
             Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n",
            alice = s.alice,
            token = s.token,
            cert = s.op.dir.join("tls/server.pem").display(),
            mail = mail.display(),
        ),
    )
    .unwrap();

    // Server to local: the two delivered messages and every folder.
    mbsync(&config);
    let inbox = mail.join("INBOX");
    assert_eq!(maildir_files(&inbox).len(), 2);
    for folder in ["Sent", "Drafts", "Trash", "Junk", "Archive"] {
        assert!(mail.join(folder).join("cur").is_dir(), "{folder} created locally");
    }
    let downloaded: String = maildir_files(&inbox).iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(downloaded.contains("Paracetamol 1g") && downloaded.contains("Subject: Compte-rendu"));

    // Local to server: a new message in a new folder, a flag, a deletion.
    let local = mail.join("Classement");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(local.join(sub)).unwrap();
    }
    std::fs::write(
        local.join("new/1.local"),
        "From: <alice.martin@pharmacie.test>\r\nSubject: Classe localement\r\n\r\nRangement.\r\n",
    )
    .unwrap();
    let files = maildir_files(&inbox);
    let (first, second) = (&files[0], &files[1]);
    let flagged = first.to_str().unwrap().split(":2,").next().unwrap().to_string() + ":2,FS";
    std::fs::rename(first, flagged.replace("/new/", "/cur/")).unwrap();
    let deleted_subject = std::fs::read_to_string(second).unwrap();
    std::fs::remove_file(second).unwrap();
    mbsync(&config);

    let store = store(&s.op).await;
    let mailbox = store.meta.mailbox(&s.alice.parse().unwrap()).await.unwrap().unwrap();
    let classement = store.meta.folder(mailbox.id, "Classement").await.unwrap().expect("folder created on the server");
    let uploaded = store.meta.folder_uids(classement.id).await.unwrap();
    assert_eq!(uploaded.len(), 1, "the local message was appended");
    let inbox_folder = store.meta.folder(mailbox.id, "INBOX").await.unwrap().unwrap();
    let left = store.meta.folder_uids(inbox_folder.id).await.unwrap();
    assert_eq!(left.len(), 1, "the local deletion was expunged on the server");
    let meta = store.meta.messages(inbox_folder.id, &left).await.unwrap();
    assert!(meta[0].has_flag("\\Flagged") && meta[0].has_flag("\\Seen"), "{:?}", meta[0].flags);
    let body = store.blobs.get(&meta[0].blob).await.unwrap().unwrap();
    assert_ne!(String::from_utf8_lossy(&body), deleted_subject);

    // A new delivery on the server reaches the local side at the next run.
    store.deliver(b"Subject: Nouveau\r\n\r\nResultat d'analyse\r\n", &[mailbox.id]).await.unwrap();
    mbsync(&config);
    let now: String = maildir_files(&inbox).iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(now.contains("Resultat d'analyse"));
    assert!(s.server.stop().0.success());
}

#[tokio::test]
async fn fetchmail_reads_the_mail_over_starttls() {
    let s = setup().await;
    let work = tempfile::tempdir().unwrap();
    let (host, port) = host_port(&s.server.addr("imap"));
    let rc = work.path().join("fetchmailrc");
    let out_dir = work.path().join("delivered");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(
        &rc,
        format!(
            "poll {host} service {port} protocol IMAP auth password user \"{alice}\" password \"{token}\" \
             sslproto tls1.2+ sslcertck sslcertfile {ca} sslcommonname pharmacie.test keep \
             mda \"/bin/sh -c 'cat > {out}/msg.$$'\"\n",
            alice = s.alice,
            token = s.token,
            ca = s.op.dir.join("tls/ca.pem").display(),
            out = out_dir.display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rc, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = Command::new(tool("fetchmail"))
        .args(["-f", rc.to_str().unwrap(), "-i", work.path().join("ids").to_str().unwrap(), "--nosyslog"])
        .env("HOME", work.path())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "fetchmail: {text}");
    let read: String =
        std::fs::read_dir(&out_dir).unwrap().flatten().map(|e| std::fs::read_to_string(e.path()).unwrap()).collect();
    assert!(read.contains("Paracetamol 1g") && read.contains("Subject: Compte-rendu"), "{read}");
    // fetchmail marks what it read: both are \Seen on the server now.
    let store = store(&s.op).await;
    let mailbox = store.meta.mailbox(&s.alice.parse().unwrap()).await.unwrap().unwrap();
    let inbox = store.meta.folder(mailbox.id, "INBOX").await.unwrap().unwrap();
    assert_eq!(store.meta.folder_counts(inbox.id).await.unwrap().unseen, 0);
    assert!(s.server.stop().0.success());
}
