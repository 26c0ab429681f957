//! Command lines are bounded (issue 13): a client sending megabytes without
//! a line end gets `500 5.5.6`, the rest of its line is thrown away (never
//! run as commands), and the server's memory does not grow with it.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use mss_smtp::Limits;
use mss_store::now_unix;
use mss_trust::pki::CertificateAuthority;
use support::{Site, anonymous_config, client_config, operator_certificate, starttls};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const TEN_MB: usize = 10 * 1024 * 1024;

/// Resident memory of this process (server and client both), in bytes.
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 4096
}

/// Writes `prefix`, 10 MB without a line end, then `NOOP`, while reading
/// the replies: the one to the long line, then the NOOP's.
async fn flood<S>(stream: S, prefix: &str) -> [(u16, String); 2]
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (read, mut write) = tokio::io::split(stream);
    let prefix = prefix.to_string();
    let writer = tokio::spawn(async move {
        write.write_all(prefix.as_bytes()).await?;
        let chunk = vec![b'A'; 64 * 1024];
        for _ in 0..TEN_MB / chunk.len() {
            write.write_all(&chunk).await?;
        }
        write.write_all(b"\r\nNOOP\r\n").await?;
        write.flush().await
    });
    let mut read = BufReader::new(read);
    let mut replies = Vec::new();
    while replies.len() < 2 {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(60), read.read_line(&mut line)).await.unwrap().unwrap();
        if n == 0 {
            replies.push((0, "closed".to_string()));
            continue;
        }
        replies.push((line[..3].parse().unwrap(), line));
    }
    // A server that closes instead of answering ends the writer early.
    let _ = writer.await.unwrap();
    [replies[0].clone(), replies[1].clone()]
}

async fn site(ca: &CertificateAuthority) -> (Site, SocketAddr) {
    let site = Site::new(ca, "ours.test").await;
    let limits = Limits { command_timeout: Duration::from_secs(30), ..Limits::default() };
    let addr = site.start_inbound(limits).await;
    (site, addr)
}

#[tokio::test]
async fn ten_megabytes_without_a_line_end_get_500_and_no_memory() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let (_site, addr) = site(&ca).await;
    let peer = operator_certificate(&ca, "mss.peer.test");
    let before = resident_bytes();
    let c = starttls(addr, client_config(&peer, ca.cert_pem())).await;
    let [(code, text), (next, next_text)] = flood(c.io.into_inner(), "MAIL FROM:<").await;
    assert_eq!(code, 500, "{text}");
    assert!(text.contains("5.5.6"), "{text}");
    assert_eq!(next, 250, "the long line's tail was not run as commands; NOOP answered: {next_text}");
    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < 4 * 1024 * 1024, "memory grew by {grown} bytes for a 10 MB line");
}

#[tokio::test]
async fn a_sasl_continuation_line_is_bounded_too() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let site = Site::new(&ca, "ours.test").await;
    let addr = site.start_submission(Default::default()).await;
    let mut c = starttls(addr, anonymous_config(ca.cert_pem())).await;
    assert_eq!(c.cmd("AUTH OAUTHBEARER").await.0, 334);
    let [(code, text), (next, next_text)] = flood(c.io.into_inner(), "").await;
    assert_eq!(code, 500, "{text}");
    assert!(text.contains("5.5.6"), "{text}");
    assert_eq!(next, 250, "NOOP answered in step: {next_text}");
    // A token of ordinary length still fits on one AUTH line.
    let mut c = starttls(addr, anonymous_config(ca.cert_pem())).await;
    site.mailbox("alice@ours.test").await;
    let token = site.token_key().issue("alice@ours.test", now_unix(), 300).unwrap();
    let padding = "x".repeat(5000);
    let response = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("user=alice@ours.test\u{1}auth=Bearer {token}\u{1}pad={padding}\u{1}\u{1}"),
    );
    let (code, text) = c.cmd(&format!("AUTH XOAUTH2 {response}")).await;
    assert_eq!(code, 235, "an AUTH line longer than 4 KiB within the SASL limit: {text}");
}
