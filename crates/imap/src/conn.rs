//! A client connection as the session sees it: commands framed into
//! whole messages (lines and the literals they announce), with every limit
//! applied before the bytes are read, and responses written with a bound on
//! how long a client that stops reading can hold the session.
//!
//! Framing is done here, not by the parser: a line ending in `{n}` or
//! `{n+}` (RFC 9051 §4.3, RFC 7888) announces n bytes. Each literal and the
//! whole command (its lines and literals together) have a limit. A
//! synchronising literal over a limit is refused before the client sends it
//! (tagged NO [TOOBIG], RFC 7889); a non-synchronising one, or a line that
//! does not fit, ends the connection, since its bytes are already on the
//! way. Memory held for one command is thus at most its limit plus one read.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use mss_net::QuickAck;
use mss_net::reading::{DATA_ROOM, LINE_ROOM, read_more};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_rustls::server::TlsStream;

/// The socket, before or after TLS.
pub enum Stream {
    Plain(QuickAck),
    Tls(Box<TlsStream<QuickAck>>),
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
    /// A line grew past its limit where it cannot be skipped: the framing
    /// is lost, the connection must end.
    Overflow,
    Io(std::io::Error),
}

/// What the framer produced.
pub enum Frame {
    /// A whole command: lines and literals, as received.
    Command(Vec<u8>),
    /// A first line longer than the limit, once authenticated; it was
    /// discarded up to its end and the session goes on.
    LineTooLong,
    /// A synchronising literal over a limit, refused before it was sent;
    /// the rest of the command was not read (the client drops it).
    Refused { tag: String, text: String },
    /// Bytes over a limit are already on the way (a non-synchronising
    /// literal, a line too long): the connection must end.
    Overflow { tag: Option<String>, text: String },
}

/// Bounds the framer applies.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    pub max_line: usize,
    /// Largest literal in an APPEND.
    pub max_append: u64,
    /// Largest literal anywhere else (mailbox names, search strings).
    pub max_literal: u64,
    /// Largest command other than APPEND, lines and literals together; an
    /// APPEND may have `max_append` and one line more.
    pub max_command: u64,
    /// Whether a first line over `max_line` is skipped (the session goes
    /// on) rather than ending the connection.
    pub skip_long_lines: bool,
    /// Wait for a new command.
    pub idle: Duration,
    /// Wait for the rest of a started command (each read).
    pub progress: Duration,
}

/// How long a write may make no progress before the client is given up:
/// one that stops reading does not hold its session (and what it buffers)
/// for ever.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Conn {
    pub stream: Stream,
    buffer: Vec<u8>,
    write_timeout: Duration,
    /// A write failed or timed out: later ones fail at once.
    broken: bool,
}

impl Conn {
    pub fn new(stream: Stream) -> Self {
        Self { stream, buffer: Vec::new(), write_timeout: WRITE_TIMEOUT, broken: false }
    }

    pub fn set_write_timeout(&mut self, timeout: Duration) {
        self.write_timeout = timeout;
    }

    /// Reads more bytes into the buffer, with room for `room` at least
    /// ([`mss_net::reading`]). Cancel-safe: bytes are appended only once a
    /// read completed.
    async fn fill(&mut self, room: usize, timeout: Duration) -> Result<(), ReadEnd> {
        match tokio::time::timeout(timeout, read_more(&mut self.stream, &mut self.buffer, room)).await {
            Err(_) => Err(ReadEnd::Timeout),
            Ok(Err(e)) => Err(ReadEnd::Io(e)),
            Ok(Ok(0)) => Err(ReadEnd::Closed),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// Whether the client has sent bytes not yet consumed.
    pub fn has_pending(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// The next line, CRLF (or bare LF) included. A line that grows past
    /// `max` is `Ok(None)` when `skip` (it was discarded through its end)
    /// and `Err(Overflow)` otherwise, as soon as it is known to be too long.
    pub async fn line(
        &mut self,
        max: usize,
        first_wait: Duration,
        progress: Duration,
        skip: bool,
    ) -> Result<Option<Vec<u8>>, ReadEnd> {
        let mut waited = false;
        let mut too_long = false;
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                if !skip && end >= max {
                    return Err(ReadEnd::Overflow);
                }
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Ok(if too_long || line.len() > max { None } else { Some(line) });
            }
            if self.buffer.len() > max {
                if !skip {
                    return Err(ReadEnd::Overflow);
                }
                too_long = true;
                self.buffer.clear();
            }
            let wait = if waited || !self.buffer.is_empty() { progress } else { first_wait };
            self.fill(LINE_ROOM, wait).await?;
            waited = true;
        }
    }

    /// Exactly `n` bytes.
    async fn exact(&mut self, n: usize, progress: Duration) -> Result<Vec<u8>, ReadEnd> {
        while self.buffer.len() < n {
            self.fill(DATA_ROOM.min(n - self.buffer.len()), progress).await?;
        }
        Ok(self.buffer.drain(..n).collect())
    }

    /// Reads one command, answering synchronising literals with a
    /// continuation request. Which limits apply to literals and to the
    /// whole command is decided from the command name on the first line.
    pub async fn command(&mut self, limits: &FrameLimits) -> Result<Frame, ReadEnd> {
        let first = match self.line(limits.max_line, limits.idle, limits.progress, limits.skip_long_lines).await {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(Frame::LineTooLong),
            Err(ReadEnd::Overflow) => {
                let text = format!("Line over the limit of {} bytes", limits.max_line);
                return Ok(Frame::Overflow { tag: None, text });
            }
            Err(end) => return Err(end),
        };
        let append = command_name(&first).eq_ignore_ascii_case("APPEND");
        let (max_literal, max_command) = if append {
            (limits.max_append, limits.max_append.saturating_add(limits.max_line as u64))
        } else {
            (limits.max_literal, limits.max_command)
        };
        let tag = String::from_utf8_lossy(tag_of(&first)).into_owned();
        let mut message = first.clone();
        let mut line = first;
        loop {
            let Some((size, sync)) = literal_announced(&line) else {
                return Ok(Frame::Command(message));
            };
            let text = if size > max_literal {
                format!("Literal of {size} bytes is over the limit of {max_literal}")
            } else if (message.len() as u64).saturating_add(size) > max_command {
                format!("Command is over the limit of {max_command} bytes")
            } else {
                String::new()
            };
            if !text.is_empty() {
                return Ok(if sync { Frame::Refused { tag, text } } else { Frame::Overflow { tag: Some(tag), text } });
            }
            if sync {
                self.write(b"+ Ready for literal data\r\n").await.map_err(ReadEnd::Io)?;
            }
            let size = usize::try_from(size).map_err(|_| ReadEnd::Closed)?;
            let data = self.exact(size, limits.progress).await?;
            message.extend_from_slice(&data);
            // The rest of the command must fit in what is left of its limit.
            let room = usize::try_from(max_command).unwrap_or(usize::MAX).saturating_sub(message.len());
            match self.line(limits.max_line.min(room), limits.progress, limits.progress, false).await {
                Ok(Some(next)) => {
                    message.extend_from_slice(&next);
                    line = next;
                }
                Ok(None) | Err(ReadEnd::Overflow) => {
                    let text = format!("Command is over the limit of {max_command} bytes");
                    return Ok(Frame::Overflow { tag: Some(tag), text });
                }
                Err(end) => return Err(end),
            }
        }
    }

    /// Writes and flushes; a client that accepts nothing for the write
    /// timeout is given up (`TimedOut`), and so are all later writes.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.broken {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let written = self.write_within_timeout(bytes).await;
        self.broken = written.is_err();
        written
    }

    async fn write_within_timeout(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        let stalled = || std::io::Error::new(std::io::ErrorKind::TimedOut, "client stopped reading");
        while !bytes.is_empty() {
            match tokio::time::timeout(self.write_timeout, self.stream.write(bytes)).await {
                Err(_) => return Err(stalled()),
                Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(e)) => return Err(e),
            }
        }
        tokio::time::timeout(self.write_timeout, self.stream.flush()).await.map_err(|_| stalled())?
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

    /// The chunk an APPEND's literal was read with is let go: a session
    /// waiting for its next command (in IDLE for hours) holds a line's room.
    #[tokio::test]
    async fn a_session_after_an_append_waits_with_a_line_room() {
        use tokio::io::AsyncWriteExt;
        let limits = FrameLimits {
            max_line: 8 * 1024,
            max_append: 1024 * 1024,
            max_literal: 1024,
            max_command: 64 * 1024,
            skip_long_lines: false,
            idle: Duration::from_secs(30),
            progress: Duration::from_secs(30),
        };
        let (mut client, served) = tokio::io::duplex(64 * 1024);
        let mut conn = Conn::new(Stream::Memory(served));
        client.write_all(b"a APPEND INBOX {40000+}\r\n").await.unwrap();
        client.write_all(&[b'x'; 40_000]).await.unwrap();
        client.write_all(b"\r\n").await.unwrap();
        let Frame::Command(append) = conn.command(&limits).await.unwrap() else { panic!("the APPEND is read whole") };
        assert_eq!(append.len(), 25 + 40_000 + 2);
        client.write_all(b"b NOOP\r\n").await.unwrap();
        assert!(matches!(conn.command(&limits).await.unwrap(), Frame::Command(noop) if noop == b"b NOOP\r\n"));
        assert!(conn.buffer.capacity() <= LINE_ROOM, "{} bytes held between commands", conn.buffer.capacity());
    }
}
