//! A server socket that acknowledges what it reads at once. Stock clients
//! (Python's imaplib and smtplib, many mail programs) leave Nagle's
//! algorithm on and write a command in pieces: an IMAP literal, then its
//! closing CRLF. The second piece waits until the first is acknowledged,
//! and a server with nothing to answer yet delays that ACK (40 ms on
//! Linux): every APPEND then took 44 ms. Turning `TCP_QUICKACK` on after
//! each read (Linux turns it off again by itself) lets the client's next
//! piece go at once; it costs one `setsockopt` per read.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP connection that ACKs every read at once.
#[derive(Debug)]
pub struct QuickAck(TcpStream);

impl QuickAck {
    pub fn new(tcp: TcpStream) -> Self {
        QuickAck(tcp)
    }

    pub fn get_ref(&self) -> &TcpStream {
        &self.0
    }

    /// Asks the kernel to ACK now, where it can (Linux).
    fn acknowledge(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let _ = self.0.set_quickack(true);
        }
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.0).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.acknowledge();
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn each_read_turns_quick_acknowledgement_on() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        let mut server = QuickAck::new(tcp);
        for piece in [&b"A1 APPEND INBOX {5}\r\n"[..], b"hello", b"\r\n"] {
            server.get_ref().set_quickack(false).unwrap();
            client.write_all(piece).await.unwrap();
            let mut buf = vec![0; piece.len()];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, piece);
            assert!(server.get_ref().quickack().unwrap(), "ACKed at once after reading {piece:?}");
        }
        // Writes go through untouched.
        server.write_all(b"+ OK\r\n").await.unwrap();
        let mut reply = [0; 6];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"+ OK\r\n");
    }
}
