//! The IMAP session on arbitrary client bytes, before and after login:
//! never panics, never hangs. The first input byte chooses whether the
//! bytes follow a valid XOAUTH2 login (so that the commands of the
//! authenticated and selected states are reached) or stand alone.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

#[path = "../common/panics.rs"]
mod panics;

use libfuzzer_sys::fuzz_target;
use mss_core::{MailboxKind, MailboxState};
use mss_identity::{Throttle, TokenKey};
use mss_imap::{Conn, ImapServer, Limits, Stream, TlsPeer};
use mss_store::{NewMailbox, Store, StoreConfig};
use mss_trust::pki::{CertificateAuthority, OperatorIdentity};
use mss_trust::{PeerCertificate, TlsMaterial};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct World {
    runtime: tokio::runtime::Runtime,
    server: Arc<ImapServer>,
    login: Vec<u8>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = runtime.block_on(Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() })).unwrap();
        let ca = CertificateAuthority::generate("Fuzz", "Fuzz").unwrap();
        let cert = ca
            .issue_operator(&OperatorIdentity {
                host: "mss.ours.test".into(),
                organisation: "O".into(),
                unit: "1".into(),
                state: "Paris (75)".into(),
            })
            .unwrap();
        let (tls, trust) =
            TlsMaterial::from_pem(&cert.chain_pem, &cert.key_pem, ca.cert_pem()).unwrap().server().unwrap();
        let tokens = TokenKey::from_pem(&cert.key_pem, "ours.test").unwrap();
        let mailbox = NewMailbox {
            address: "alice@ours.test".parse().unwrap(),
            kind: MailboxKind::Personal,
            state: MailboxState::Active,
            national_id: Some("810003621892".parse().unwrap()),
            finess: None,
            first_name: None,
            last_name: None,
            display_name: "Alice".into(),
            service: None,
            liste_rouge: false,
            certificate_dn: None,
        };
        let id = runtime.block_on(store.meta.create_mailbox(&mailbox)).unwrap().id;
        runtime.block_on(store.deliver(b"Subject: fuzz\r\n\r\nbody\r\n", &[id])).unwrap();
        let token = tokens.issue("alice@ours.test", 0, i64::MAX / 2).unwrap();
        let login = format!("a AUTHENTICATE XOAUTH2 {}\r\n", base64(&format!("auth=Bearer {token}\u{1}\u{1}")));
        let limits = Limits {
            max_append_bytes: 64 * 1024,
            max_line_bytes: 8 * 1024,
            idle_timeout: Duration::from_millis(50),
            unauthenticated_timeout: Duration::from_millis(50),
            progress_timeout: Duration::from_millis(50),
            ..Limits::default()
        };
        let throttle = Arc::new(Throttle::new(store.meta.clone()));
        let server = Arc::new(ImapServer {
            store,
            hostname: "mss.ours.test".into(),
            tls,
            trust,
            tokens: Arc::new(tokens),
            throttle,
            limits,
            plain_with_token: true,
            uid_lists: Default::default(),
        });
        World { runtime, server, login: login.into_bytes(), _dir: dir }
    })
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    panics::let_mail_parser_assertions_unwind();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let world = world();
    world.runtime.block_on(async {
        let (mut client, server_side) = tokio::io::duplex(256 * 1024);
        let server = world.server.clone();
        let tls = Some(TlsPeer { certificate: PeerCertificate::Missing });
        let session = tokio::spawn(async move {
            server.run(Conn::new(Stream::Memory(server_side)), "127.0.0.1:1143".parse().unwrap(), tls).await
        });
        if mode & 1 == 1 {
            let _ = client.write_all(&world.login).await;
        }
        let _ = client.write_all(rest).await;
        let _ = client.shutdown().await;
        let mut output = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut output)).await;
        assert!(read.is_ok(), "the session did not end");
        session.await.expect("the session panicked");
        assert!(output.starts_with(b"* OK"), "greeting first");
    });
});
