//! A client connection as the session sees it: commands framed into
//! whole messages (lines and the literals they announce), with every limit
//! applied before the bytes are read, and responses written whole.
//!
//! Framing is done here, not by the parser: a line ending in `{n}` or
//! `{n+}` (RFC 9051 §4.3, RFC 7888) announces n bytes. A synchronising
//! literal over the limit is refused before the client sends it (tagged NO
//! [TOOBIG], RFC 7889); a non-synchronising one over the limit ends the
//! connection, since its bytes are already on the way.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// The socket, before or after TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// An in-memory pipe (fuzzing, tests of the session alone).
    Memory(tokio::io::DuplexStream),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Memory(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Memory(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Memory(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Memory(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Why reading stopped.
#[derive(Debug)]
pub enum ReadEnd {
    Closed,
    /// Nothing arrived in time (idle, or a line or literal left unfinished).
    Timeout,
    Io(std::io::Error),
}

/// What the framer produced.
pub enum Frame {
    /// A whole command: lines and literals, as received.
    Command(Vec<u8>),
    /// A line longer than the limit; it was discarded up to its end.
    LineTooLong,
    /// A synchronising literal over the limit, refused before it was sent;
    /// the rest of the command was not read (the client drops it).
    LiteralTooBig { tag: String, size: u64, limit: u64 },
    /// A non-synchronising literal over the limit: the connection must end.
    NonSyncTooBig { tag: String },
}

/// Bounds the framer applies.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    pub max_line: usize,
    /// Largest literal in an APPEND.
    pub max_append: u64,
    /// Largest literal anywhere else (mailbox names, search strings).
    pub max_literal: u64,
    /// Wait for a new command.
    pub idle: Duration,
    /// Wait for the rest of a started command (each read).
    pub progress: Duration,
}

const READ_CHUNK: usize = 16 * 1024;

pub struct Conn {
    pub stream: Stream,
    buffer: Vec<u8>,
}

impl Conn {
    pub fn new(stream: Stream) -> Self {
        Self { stream, buffer: Vec::new() }
    }

    /// Reads more bytes into the buffer. Cancel-safe: bytes are appended
    /// only once a read completed.
    async fn fill(&mut self, timeout: Duration) -> Result<(), ReadEnd> {
        let mut chunk = vec![0u8; READ_CHUNK];
        match tokio::time::timeout(timeout, self.stream.read(&mut chunk)).await {
            Err(_) => Err(ReadEnd::Timeout),
            Ok(Err(e)) => Err(ReadEnd::Io(e)),
            Ok(Ok(0)) => Err(ReadEnd::Closed),
            Ok(Ok(n)) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    /// Whether the client has sent bytes not yet consumed.
    pub fn has_pending(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// The next line, CRLF (or bare LF) included; `Ok(None)` when it grew
    /// past `max` (then discarded through its end).
    pub async fn line(
        &mut self,
        max: usize,
        first_wait: Duration,
        progress: Duration,
    ) -> Result<Option<Vec<u8>>, ReadEnd> {
        let mut waited = false;
        let mut too_long = false;
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Ok(if too_long || line.len() > max { None } else { Some(line) });
            }
            if self.buffer.len() > max {
                too_long = true;
                self.buffer.clear();
            }
            self.fill(if waited || !self.buffer.is_empty() { progress } else { first_wait }).await?;
            waited = true;
        }
    }

    /// Exactly `n` bytes.
    async fn exact(&mut self, n: usize, progress: Duration) -> Result<Vec<u8>, ReadEnd> {
        while self.buffer.len() < n {
            self.fill(progress).await?;
        }
        Ok(self.buffer.drain(..n).collect())
    }

    /// Reads one command, answering synchronising literals with a
    /// continuation request. `is_append` tells the framer which literal
    /// limit applies (decided from the command name on the first line).
    pub async fn command(&mut self, limits: &FrameLimits) -> Result<Frame, ReadEnd> {
        let mut message = Vec::new();
        let mut first = true;
        loop {
            let wait = if first { limits.idle } else { limits.progress };
            let Some(line) = self.line(limits.max_line, wait, limits.progress).await? else {
                return Ok(Frame::LineTooLong);
            };
            first = false;
            message.extend_from_slice(&line);
            let Some((size, sync)) = literal_announced(&line) else {
                return Ok(Frame::Command(message));
            };
            let limit = if command_name(&message).eq_ignore_ascii_case("APPEND") {
                limits.max_append
            } else {
                limits.max_literal
            };
            if size > limit {
                let tag = String::from_utf8_lossy(tag_of(&message)).into_owned();
                return Ok(if sync { Frame::LiteralTooBig { tag, size, limit } } else { Frame::NonSyncTooBig { tag } });
            }
            if sync {
                self.write(b"+ Ready for literal data\r\n").await.map_err(ReadEnd::Io)?;
            }
            let size = usize::try_from(size).map_err(|_| ReadEnd::Closed)?;
            let data = self.exact(size, limits.progress).await?;
            message.extend_from_slice(&data);
        }
    }

    /// Writes and flushes.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }
}

/// `{n}` or `{n+}` (or `~{n}` for APPEND's literal8) at the end of a line.
fn literal_announced(line: &[u8]) -> Option<(u64, bool)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let spec = &inner[open + 1..];
    let (digits, sync) = match spec.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (spec, true),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok().map(|n| (n, sync))
}

/// The tag: the first word of a command.
pub fn tag_of(message: &[u8]) -> &[u8] {
    let end = message.iter().position(|&b| b == b' ' || b == b'\r' || b == b'\n').unwrap_or(message.len());
    &message[..end]
}

/// The command name (second word), for UID commands the word after UID.
pub fn command_name(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(&message[..message.len().min(64)]).into_owned();
    let mut words = text.split([' ', '\r', '\n']).skip(1);
    let name = words.next().unwrap_or_default();
    if name.eq_ignore_ascii_case("UID") { words.next().unwrap_or_default().to_string() } else { name.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_found_at_the_end_of_lines_only() {
        assert_eq!(literal_announced(b"a APPEND INBOX {310}\r\n"), Some((310, true)));
        assert_eq!(literal_announced(b"a APPEND INBOX {310+}\r\n"), Some((310, false)));
        assert_eq!(literal_announced(b"a APPEND INBOX ~{5}\r\n"), Some((5, true)));
        assert_eq!(literal_announced(b"a LOGIN \"x {5}\"\r\n"), None);
        assert_eq!(literal_announced(b"a X {}\r\n"), None);
        assert_eq!(literal_announced(b"a X {99999999999999999999}\r\n"), None);
        assert_eq!(command_name(b"a1 uid fetch 1:* FLAGS\r\n"), "fetch");
        assert_eq!(command_name(b"a1 APPEND INBOX {3}\r\n"), "APPEND");
        assert_eq!(tag_of(b"a1 NOOP\r\n"), b"a1");
    }
}
