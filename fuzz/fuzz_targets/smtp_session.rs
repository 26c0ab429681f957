//! The SMTP session (MTA mode) on arbitrary client bytes: never panics,
//! never hangs, and everything it writes is SMTP replies (three digits, then
//! a space or a hyphen, lines ending in CRLF).
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mss_smtp::{Limits, Mode, SmtpServer};
use mss_store::{Store, StoreConfig};
use mss_trust::TlsMaterial;
use mss_trust::pki::{CertificateAuthority, OperatorIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct World {
    runtime: tokio::runtime::Runtime,
    server: Arc<SmtpServer>,
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
        let limits = Limits {
            command_timeout: Duration::from_millis(50),
            data_timeout: Duration::from_millis(50),
            max_message_bytes: 64 * 1024,
            ..Limits::default()
        };
        let server = Arc::new(SmtpServer {
            mode: Mode::Mta,
            store,
            domain: "ours.test".parse().unwrap(),
            hostname: "mss.ours.test".into(),
            tls,
            trust,
            peers: mss_smtp::PeerTrust::default(),
            limits,
        });
        World { runtime, server, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let output = world.runtime.block_on(async {
        let (mut client, server_side) = tokio::io::duplex(256 * 1024);
        let server = world.server.clone();
        let session = tokio::spawn(async move { server.handle(server_side, "127.0.0.1:2525".parse().unwrap()).await });
        let _ = client.write_all(data).await;
        let _ = client.shutdown().await;
        let mut output = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut output)).await;
        assert!(read.is_ok(), "the session did not end");
        session.await.expect("the session panicked");
        output
    });
    // Once STARTTLS is accepted the rest is TLS records, not SMTP lines.
    let smtp = match output.windows(12).position(|w| w == b"220 2.0.0 Re") {
        Some(start) => &output[..start],
        None => &output[..],
    };
    for line in smtp.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.ends_with(b"\r"), "line without CRLF: {:?}", String::from_utf8_lossy(line));
        assert!(line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit) && (line[3] == b' ' || line[3] == b'-'));
    }
});
