//! A connection as the session sees it: bytes received but not yet parsed,
//! reads bounded by a timeout, replies written whole.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::Reply;

const READ_CHUNK: usize = 16 * 1024;

/// Why reading stopped.
#[derive(Debug)]
pub enum ReadEnd {
    /// The peer closed the connection.
    Closed,
    /// Nothing arrived in time.
    Timeout,
    /// The network failed.
    Io(std::io::Error),
}

pub struct Conn<S> {
    pub stream: S,
    /// Received, not yet consumed by the parser.
    pub pending: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S) -> Self {
        Self { stream, pending: Vec::new() }
    }

    /// Appends what the peer sends next to `pending`, waiting `timeout` at most.
    pub async fn fill(&mut self, timeout: Duration) -> Result<(), ReadEnd> {
        self.fill_by(Instant::now() + timeout).await
    }

    /// The same, waiting until `deadline` at most (a command must arrive
    /// whole by then, however slowly its bytes trickle in).
    pub async fn fill_by(&mut self, deadline: Instant) -> Result<(), ReadEnd> {
        let mut chunk = [0u8; READ_CHUNK];
        match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
            Err(_) => Err(ReadEnd::Timeout),
            Ok(Err(e)) => Err(ReadEnd::Io(e)),
            Ok(Ok(0)) => Err(ReadEnd::Closed),
            Ok(Ok(n)) => {
                self.pending.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    /// The next CRLF-terminated line (without it), reading as needed; `None`
    /// when the line grows past `max` bytes.
    pub async fn line(&mut self, max: usize, timeout: Duration) -> Result<Option<Vec<u8>>, ReadEnd> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
                let line = self.pending.drain(..end + 2).take(end).collect();
                return Ok(Some(line));
            }
            if self.pending.len() > max {
                self.pending.clear();
                return Ok(None);
            }
            self.fill(timeout).await?;
        }
    }

    /// Writes and flushes one reply.
    pub async fn reply(&mut self, reply: &Reply) -> std::io::Result<()> {
        self.write_raw(reply.to_string().as_bytes()).await
    }

    /// Writes and flushes preformatted reply lines.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }
}
