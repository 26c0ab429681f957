//! A connection as the session sees it: bytes received but not yet parsed,
//! reads bounded by a timeout, replies written whole.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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

    /// Appends what the peer sends next to `pending`.
    pub async fn fill(&mut self, timeout: Duration) -> Result<(), ReadEnd> {
        let mut chunk = [0u8; READ_CHUNK];
        match tokio::time::timeout(timeout, self.stream.read(&mut chunk)).await {
            Err(_) => Err(ReadEnd::Timeout),
            Ok(Err(e)) => Err(ReadEnd::Io(e)),
            Ok(Ok(0)) => Err(ReadEnd::Closed),
            Ok(Ok(n)) => {
                self.pending.extend_from_slice(&chunk[..n]);
                Ok(())
            }
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
