//! Reading a session's bytes into its own buffer, with room for what comes
//! next: a command's line ([`LINE_ROOM`]) or a message's data, a literal
//! ([`DATA_ROOM`]). Bytes go straight into the buffer, never into a chunk
//! held by the connection's future, and an empty buffer keeps no more than
//! the room of the read it waits for: a session waiting for its next
//! command (or in IMAP IDLE for hours) holds a line's room, not the chunk
//! its last message was read with (200 idle sessions: 3 MB less).

use tokio::io::{AsyncRead, AsyncReadExt};

/// Room for one read of message data or of a literal (a TLS record's worth).
pub const DATA_ROOM: usize = 16 * 1024;

/// Room for one read while waiting for a line: commands are short, and a
/// longer line grows the buffer as it arrives.
pub const LINE_ROOM: usize = 1024;

/// Appends what the peer sends next to `buffer`, with room for at least
/// `room` bytes; `Ok(0)` when the peer closed. Cancel-safe: bytes are
/// appended only once a read completed.
pub async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut Vec<u8>,
    room: usize,
) -> std::io::Result<usize> {
    if buffer.is_empty() && buffer.capacity() > room {
        *buffer = Vec::new();
    }
    buffer.reserve(room);
    stream.read_buf(buffer).await
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn an_empty_buffer_keeps_the_room_of_the_read_it_waits_for() {
        let (mut peer, mut stream) = tokio::io::duplex(64 * 1024);
        let mut buffer = Vec::new();
        peer.write_all(&[b'x'; 12 * 1024]).await.unwrap();
        assert_eq!(read_more(&mut stream, &mut buffer, DATA_ROOM).await.unwrap(), 12 * 1024);
        assert!(buffer.capacity() >= DATA_ROOM, "a message is read a chunk at a time");

        // Bytes not yet consumed are kept, and what follows goes after them.
        peer.write_all(b"RSET\r\n").await.unwrap();
        assert_eq!(read_more(&mut stream, &mut buffer, LINE_ROOM).await.unwrap(), 6);
        assert!(buffer.ends_with(b"xxRSET\r\n") && buffer.len() == 12 * 1024 + 6);

        // Consumed: the chunk goes, a line's room stays.
        buffer.clear();
        peer.write_all(b"QUIT\r\n").await.unwrap();
        read_more(&mut stream, &mut buffer, LINE_ROOM).await.unwrap();
        assert_eq!(buffer, b"QUIT\r\n");
        assert!(buffer.capacity() <= LINE_ROOM, "{} bytes held between commands", buffer.capacity());

        drop(peer);
        buffer.clear();
        assert_eq!(read_more(&mut stream, &mut buffer, LINE_ROOM).await.unwrap(), 0, "closed");
    }
}
