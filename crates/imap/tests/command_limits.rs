//! The size of one command is bounded as a whole, not only literal by
//! literal: before login a stranger may send credentials and no more; once
//! logged in a command other than APPEND is bounded too. Each attack is sent
//! by a raw client that keeps writing while the server should already have
//! refused it.

mod support;

use std::time::Duration;

use mss_core::MailboxKind;
use mss_imap::{Conn, Limits, Stream};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

const ALICE: &str = "alice.martin@ours.test";

/// `first`, then `chunk` again and again, up to `max` bytes or until the
/// server stops reading; returns the bytes it accepted.
async fn flood(mut io: impl AsyncWrite + Unpin, first: &[u8], chunk: &[u8], max: usize) -> usize {
    let mut sent = 0;
    if io.write_all(first).await.is_err() {
        return 0;
    }
    sent += first.len();
    while sent < max {
        match io.write(chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n,
        }
    }
    sent
}

/// Everything the server sends until it closes, or what came within `wait`.
async fn read_until_closed(io: &mut (impl tokio::io::AsyncRead + Unpin), wait: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (String::from_utf8_lossy(&got).into_owned(), read.is_ok())
}

/// The attack of the pen test: a LOGIN whose literals never end, before
/// STARTTLS. The first 64 KiB literal is already too big for a stranger.
#[tokio::test]
async fn an_endless_login_before_starttls_is_refused_and_the_connection_closed() {
    let site = Site::new().await;
    let addr = site.start(Limits::default()).await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, writer) = tcp.into_split();
    let mut greeting = [0u8; 512];
    let _ = reader.read(&mut greeting).await.unwrap();
    let mut chunk = vec![b'x'; 65536];
    chunk.extend_from_slice(b" {65536+}\r\n");
    let attacker = tokio::spawn(async move { flood(writer, b"a1 LOGIN {65536+}\r\n", &chunk, 64 << 20).await });
    let (answer, closed) = read_until_closed(&mut reader, Duration::from_secs(5)).await;
    assert!(closed, "the server closes the connection; it answered {answer:?}");
    assert!(answer.starts_with("a1 BAD [TOOBIG]") && answer.contains("* BYE"), "{answer:?}");
    attacker.abort();
}

/// Small literals that each pass the literal limit: the command as a whole
/// is cut at its limit. Over an in-memory pipe of 4 KiB, what the attacker
/// managed to write is what the server read (plus the pipe): the server
/// kept no more than the limit and one read.
#[tokio::test]
async fn small_literals_before_login_stop_at_the_command_limit() {
    let site = Site::new().await;
    let server = site.server(Limits::default(), false);
    let (client, served) = tokio::io::duplex(4096);
    let peer = "127.0.0.1:1".parse().unwrap();
    let session = tokio::spawn(async move { server.run(Conn::new(Stream::Memory(served)), peer, None).await });
    let (mut reader, writer) = tokio::io::split(client);
    let mut chunk = vec![b'x'; 1000];
    chunk.extend_from_slice(b" {1000+}\r\n");
    let attacker = tokio::spawn(async move { flood(writer, b"a1 LOGIN {1000+}\r\n", &chunk, 8 << 20).await });
    let (answer, closed) = read_until_closed(&mut reader, Duration::from_secs(5)).await;
    assert!(closed, "the server closes the connection; it answered {answer:?}");
    assert!(answer.contains("a1 BAD [TOOBIG]") && answer.contains("* BYE"), "{answer:?}");
    drop(reader);
    let accepted = attacker.await.unwrap();
    // 16 KiB of command, one 16 KiB read, the pipe and one chunk in flight.
    assert!(accepted <= 16 * 1024 + 16 * 1024 + 4096 + 1024, "the server read {accepted} bytes");
    session.await.unwrap();
}

/// Once logged in, a command other than APPEND is bounded too (1 MiB by
/// default): a synchronising literal that would pass it is refused before
/// it is sent and the session goes on; non-synchronising ones end it.
#[tokio::test]
async fn a_logged_in_command_is_bounded_as_a_whole() {
    let site = Site::new().await;
    site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    assert!(c.cmd("SELECT INBOX").await.ok());
    c.send(b"a1 SEARCH TEXT {60000}\r\n").await;
    assert!(c.line().await.unwrap().starts_with('+'));
    let mut continuations = 0;
    let refusal = loop {
        c.send(&[b'x'; 60000]).await;
        c.send(b" TEXT {60000}\r\n").await;
        let line = c.line().await.unwrap();
        if !line.starts_with('+') {
            break line;
        }
        continuations += 1;
        assert!(continuations < 40, "never refused");
    };
    assert!(refusal.starts_with("a1 NO [TOOBIG]"), "{refusal}");
    // 17 literals of 60,000 bytes (and their 15-byte lines) fit in 1 MiB.
    assert_eq!(continuations + 1, 17, "refused at the first literal that does not fit");
    assert!(c.cmd("NOOP").await.ok(), "the session goes on");
    let (mut reader, writer) = tokio::io::split(c.io);
    let mut chunk = vec![b'x'; 60000];
    chunk.extend_from_slice(b" TEXT {60000+}\r\n");
    let attacker = tokio::spawn(async move { flood(writer, b"a2 SEARCH TEXT {60000+}\r\n", &chunk, 64 << 20).await });
    let (answer, closed) = read_until_closed(&mut reader, Duration::from_secs(10)).await;
    assert!(closed, "the server closes the connection; it answered {answer:?}");
    assert!(answer.contains("a2 BAD [TOOBIG]") && answer.contains("* BYE"), "{answer:?}");
    attacker.abort();
}

/// A line without end before login is not read for ever either.
#[tokio::test]
async fn an_endless_line_before_login_ends_the_connection() {
    let site = Site::new().await;
    let addr = site.start(Limits::default()).await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, writer) = tcp.into_split();
    let mut greeting = [0u8; 512];
    let _ = reader.read(&mut greeting).await.unwrap();
    let attacker = tokio::spawn(async move { flood(writer, b"a1 ID (", &[b'x'; 8192], 64 << 20).await });
    let (answer, closed) = read_until_closed(&mut reader, Duration::from_secs(5)).await;
    assert!(closed, "the server closes the connection; it answered {answer:?}");
    assert!(answer.contains("BAD [TOOBIG]") && answer.contains("* BYE"), "{answer:?}");
    attacker.abort();
}
