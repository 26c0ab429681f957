//! A connection as the session sees it: bytes received but not yet parsed,
//! reads bounded by a timeout, replies written whole.
//!
//! Memory is bounded whatever the client sends: a line is looked for in at
//! most `max` bytes (plus one read), and the rest of a line that outgrew it
//! is thrown away as it arrives, up to its LF, so it is never taken for the
//! next command either.
//! Reads go through [`mss_net::reading`]: a session waiting for its next
//! command holds a line's room, not the chunk a message was read with.
//!
//! Replies to a pipelined group leave together (RFC 2920 §3.1): a reply may
//! be queued, and what is queued is sent before the session waits for the
//! peer, with the next reply sent, or once it grows past [`UNSENT_MAX`].

use std::time::Duration;

use mss_net::reading::{DATA_ROOM, LINE_ROOM, read_more};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::Reply;

/// Bytes of queued replies past which they are sent without waiting for
/// the group's end: a client pipelining thousands of commands (an EHLO of
/// 8 bytes gets 200 back) and reading none holds no more than this here.
const UNSENT_MAX: usize = 8 * 1024;

/// How long a client may leave our replies unread before the connection
/// is given up (the wait for its next command, RFC 5321 §4.5.3.2.7): a
/// client that sends and never reads holds no slot forever.
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

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

/// What [`Conn::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, LF included, of this many bytes is at the start of
    /// `pending`.
    Ready(usize),
    /// The line was longer than allowed: what was received of it is gone,
    /// the rest will be skipped as it arrives.
    TooLong,
}

pub struct Conn<S> {
    pub stream: S,
    /// Received, not yet consumed by the parser.
    pub pending: Vec<u8>,
    /// Skipping the rest of a line that was too long, up to its LF.
    skipping: bool,
    /// Replies queued, not yet written to the stream.
    unsent: Vec<u8>,
    /// See [`REPLY_TIMEOUT`].
    reply_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S) -> Self {
        Self { stream, pending: Vec::new(), skipping: false, unsent: Vec::new(), reply_timeout: REPLY_TIMEOUT }
    }

    /// Appends what the peer sends next to `pending` (a message's data: up
    /// to a read chunk at once), waiting until `deadline` at most (a
    /// command, or a message, must arrive whole by a deadline, however
    /// slowly its bytes trickle in).
    pub async fn fill_by(&mut self, deadline: Instant) -> Result<(), ReadEnd> {
        self.fill_with_room(DATA_ROOM, deadline).await
    }

    async fn fill_with_room(&mut self, room: usize, deadline: Instant) -> Result<(), ReadEnd> {
        let start = self.pending.len();
        let read = async {
            self.send_queued().await?;
            read_more(&mut self.stream, &mut self.pending, room).await
        };
        match tokio::time::timeout_at(deadline, read).await {
            Err(_) => Err(ReadEnd::Timeout),
            Ok(Err(e)) => Err(ReadEnd::Io(e)),
            Ok(Ok(0)) => Err(ReadEnd::Closed),
            Ok(Ok(_)) => {
                if self.skipping {
                    match self.pending[start..].iter().position(|&b| b == b'\n') {
                        Some(lf) => {
                            self.skipping = false;
                            self.pending.drain(start..=start + lf);
                        }
                        None => self.pending.truncate(start),
                    }
                }
                Ok(())
            }
        }
    }

    /// Waits until `pending` starts with a whole line (up to LF) of at most
    /// `max` bytes, reading until `deadline` at most.
    pub async fn next_line(&mut self, max: usize, deadline: Instant) -> Result<Line, ReadEnd> {
        loop {
            if let Some(lf) = self.pending.iter().position(|&b| b == b'\n') {
                if lf < max {
                    return Ok(Line::Ready(lf + 1));
                }
                self.pending.drain(..=lf);
                return Ok(Line::TooLong);
            }
            if self.pending.len() >= max {
                self.pending.clear();
                self.skipping = true;
                return Ok(Line::TooLong);
            }
            self.fill_with_room(LINE_ROOM, deadline).await?;
        }
    }

    /// The next CRLF-terminated line (without it), reading as needed; `None`
    /// when the line grows past `max` bytes.
    pub async fn line(&mut self, max: usize, timeout: Duration) -> Result<Option<Vec<u8>>, ReadEnd> {
        match self.next_line(max, Instant::now() + timeout).await? {
            Line::Ready(len) => {
                let line: Vec<u8> = self.pending.drain(..len).collect();
                Ok(Some(line.strip_suffix(b"\r\n").or(line.strip_suffix(b"\n")).unwrap_or(&line).to_vec()))
            }
            Line::TooLong => Ok(None),
        }
    }

    /// Writes and flushes one reply.
    pub async fn reply(&mut self, reply: &Reply) -> std::io::Result<()> {
        self.write_raw(reply.to_string().as_bytes()).await
    }

    /// Queues one reply: it leaves with the next one sent, or before the
    /// session reads again (the client is then waiting for it).
    pub async fn queue_reply(&mut self, reply: &Reply) -> std::io::Result<()> {
        self.unsent.extend_from_slice(reply.to_string().as_bytes());
        if self.unsent.len() > UNSENT_MAX {
            return self.send_queued().await;
        }
        Ok(())
    }

    /// Writes and flushes preformatted reply lines, after those queued.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.unsent.extend_from_slice(bytes);
        self.send_queued().await
    }

    /// Writes and flushes the queued replies, within [`REPLY_TIMEOUT`].
    async fn send_queued(&mut self) -> std::io::Result<()> {
        if self.unsent.is_empty() {
            return Ok(());
        }
        let send = async {
            self.stream.write_all(&self.unsent).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.reply_timeout, send).await {
            Ok(sent) => sent?,
            Err(_) => return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "replies left unread")),
        }
        self.unsent.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attack of issue 13: megabytes without a line end. The buffer
    /// stays within one line and one read, and the tail of the long line is
    /// not taken for the next one.
    #[tokio::test]
    async fn a_line_without_end_keeps_memory_bounded() {
        const MAX: usize = 4096;
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            let chunk = vec![b'A'; 64 * 1024];
            for _ in 0..160 {
                client.write_all(&chunk).await.unwrap();
            }
            client.write_all(b"\r\nNOOP\r\n").await.unwrap();
            client
        });
        let mut conn = Conn::new(server);
        let deadline = Instant::now() + Duration::from_secs(30);
        assert_eq!(conn.next_line(MAX, deadline).await.unwrap(), Line::TooLong);
        let mut largest = 0;
        let line = loop {
            match conn.next_line(MAX, deadline).await.unwrap() {
                Line::Ready(len) => break conn.pending.drain(..len).collect::<Vec<u8>>(),
                Line::TooLong => {}
            }
            largest = largest.max(conn.pending.capacity());
        };
        largest = largest.max(conn.pending.capacity());
        // A line and a read, doubled at most by the vector's growth: not 10 MB.
        assert!(largest <= 2 * (MAX + LINE_ROOM), "the buffer grew to {largest} bytes");
        assert_eq!(line, b"NOOP\r\n", "what follows the long line is the next line");
        let _client = writer.await.unwrap();
    }

    /// RFC 2920: the replies to a pipelined group leave in one write, when
    /// the session is about to wait for the client.
    #[tokio::test]
    async fn queued_replies_leave_together_before_the_next_read() {
        use tokio::io::AsyncReadExt;
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut conn = Conn::new(server);
        let (one, two) = (Reply::ok("Sender OK"), Reply::ok("Recipient OK"));
        conn.queue_reply(&one).await.unwrap();
        conn.queue_reply(&two).await.unwrap();
        let mut buf = [0u8; 256];
        let early = tokio::time::timeout(Duration::from_millis(50), client.read(&mut buf)).await;
        assert!(early.is_err(), "nothing sent while the group is being answered");
        client.write_all(b"DATA\r\n").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        assert_eq!(conn.next_line(1000, deadline).await.unwrap(), Line::Ready(6));
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], format!("{one}{two}").as_bytes(), "both replies in one write");
        // A reply sent at once takes what is queued before it.
        conn.queue_reply(&one).await.unwrap();
        conn.reply(&two).await.unwrap();
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], format!("{one}{two}").as_bytes());
    }

    /// A client that pipelines commands and reads nothing: what waits here
    /// stays under the bound; the rest waits in the network's buffers.
    #[tokio::test]
    async fn queued_replies_stay_bounded() {
        let (_client, server) = tokio::io::duplex(1024 * 1024);
        let mut conn = Conn::new(server);
        let reply = Reply::ok("x".repeat(200));
        for _ in 0..1000 {
            conn.queue_reply(&reply).await.unwrap();
            assert!(conn.unsent.len() <= UNSENT_MAX, "{} bytes queued", conn.unsent.len());
        }
    }

    /// A client that pipelines commands and never reads its replies: once
    /// the network's buffer is full, the wait ends with an error (the
    /// session then closes) instead of holding the connection forever.
    #[tokio::test]
    async fn replies_left_unread_end_the_connection() {
        let (_client, server) = tokio::io::duplex(4096);
        let mut conn = Conn::new(server);
        conn.reply_timeout = Duration::from_millis(200);
        let reply = Reply::ok("x".repeat(200));
        let mut outcome = Ok(());
        for _ in 0..1000 {
            outcome = conn.queue_reply(&reply).await;
            if outcome.is_err() {
                break;
            }
        }
        let error = outcome.expect_err("the writes stop");
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    }

    /// A message's read chunk is let go once the message is read: a
    /// session waiting for its next command holds a line's room only.
    #[tokio::test]
    async fn a_session_between_commands_holds_a_small_buffer() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut conn = Conn::new(server);
        let deadline = Instant::now() + Duration::from_secs(30);
        client.write_all(&[b'x'; 12 * 1024]).await.unwrap();
        conn.fill_by(deadline).await.unwrap();
        assert!(conn.pending.capacity() >= DATA_ROOM, "a message is read a chunk at a time");
        conn.pending.clear();
        client.write_all(b"RSET\r\n").await.unwrap();
        assert_eq!(conn.next_line(1000, deadline).await.unwrap(), Line::Ready(6));
        assert!(conn.pending.capacity() <= LINE_ROOM, "{} bytes held between commands", conn.pending.capacity());
    }
}
