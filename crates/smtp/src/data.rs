//! The DATA section on the wire (RFC 5321 §4.1.1.4, §4.5.2), both ways: a
//! [`DataReader`] for what clients send us, [`dot_stuffed`] for what we send.
//!
//! Invariants, the defence against SMTP smuggling:
//! - only `<CR><LF>.<CR><LF>` ends the data; `<LF>.<LF>`, `<CR><LF>.<LF>`,
//!   `<CR><LF>.<CR><CR><LF>` and the like are message bytes, so whatever
//!   follows them can never be run as commands;
//! - a bare CR or bare LF anywhere marks the message as refused (RFC 5321
//!   §2.3.8), but reading goes on to the real end so the session stays in step;
//! - the reader never keeps more than its size limit;
//! - what we send has CRLF line endings only and leading dots doubled.
//!
//! The reader is a pure state machine over bytes (no I/O), fed in any
//! chunking: the fuzz target `smtp_data` checks that.

/// Why a message read by a [`DataReader`] is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("a bare CR (not followed by LF) in the message data: lines must end with CRLF")]
    BareCr,
    #[error("a bare LF (not preceded by CR) in the message data: lines must end with CRLF")]
    BareLf,
    #[error("the message is larger than {0} bytes")]
    TooLarge(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After CRLF (or at the very start: the DATA line's CRLF counts).
    LineStart,
    /// Inside a line.
    Middle,
    /// After a CR that is not yet known to be part of CRLF.
    Cr,
    /// A dot at the start of a line.
    Dot,
    /// A dot at the start of a line, then CR.
    DotCr,
    /// `<CR><LF>.<CR><LF>` seen.
    Done,
}

/// Reads one message's data, dot-unstuffed, up to the end-of-data line.
#[derive(Debug)]
pub struct DataReader {
    state: State,
    limit: usize,
    body: Vec<u8>,
    /// The first bare CR or LF seen.
    bare: Option<DataError>,
    /// The message outgrew the limit (and `body` was let go).
    too_large: bool,
}

impl DataReader {
    /// A reader that keeps at most `limit` bytes of message.
    pub fn new(limit: usize) -> Self {
        Self { state: State::LineStart, limit, body: Vec::new(), bare: None, too_large: false }
    }

    /// Whether the end of data has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes of message kept so far (never more than the limit).
    pub fn kept(&self) -> usize {
        self.body.len()
    }

    /// Reads from `input`; returns how many bytes were consumed. Stops right
    /// after the end-of-data line: what follows it is the next command.
    pub fn feed(&mut self, input: &[u8]) -> usize {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::Middle {
                // Fast path: a run of ordinary bytes.
                let run = memchr::memchr2(b'\r', b'\n', &input[i..]).unwrap_or(input.len() - i);
                self.keep(&input[i..i + run]);
                i += run;
                if i == input.len() {
                    break;
                }
            }
            self.step(input[i]);
            i += 1;
        }
        i
    }

    /// The message, or why it is refused. Meaningful once [`Self::is_done`].
    pub fn finish(self) -> Result<Vec<u8>, DataError> {
        match (self.bare, self.too_large) {
            (Some(bare), _) => Err(bare),
            (None, true) => Err(DataError::TooLarge(self.limit)),
            (None, false) => Ok(self.body),
        }
    }

    fn step(&mut self, byte: u8) {
        self.state = match (self.state, byte) {
            // RFC 5321 §4.5.2: a line starting with a dot has it removed
            // (the end-of-data line aside); decided on the next byte.
            (State::LineStart, b'.') => State::Dot,
            (State::Dot, b'\r') => State::DotCr,
            // RFC 5321 §4.1.1.4: `<CRLF>.<CRLF>` and nothing else ends the data.
            (State::DotCr, b'\n') => State::Done,
            // The dot of `.<CR>` then something other than LF is removed
            // like any leading dot; the CR is bare.
            (State::DotCr, other) => {
                self.bare(DataError::BareCr);
                self.keep(b"\r");
                self.ordinary(other)
            }
            (State::Cr, b'\n') => {
                self.keep(b"\n");
                State::LineStart
            }
            (State::Cr, other) => {
                self.bare(DataError::BareCr);
                self.ordinary(other)
            }
            (State::LineStart | State::Middle | State::Dot, other) => self.ordinary(other),
            (State::Done, _) => State::Done,
        };
    }

    /// A byte inside a line (or starting one that is not a dot).
    fn ordinary(&mut self, byte: u8) -> State {
        self.keep(&[byte]);
        match byte {
            b'\r' => State::Cr,
            b'\n' => {
                // RFC 5321 §2.3.8: CR and LF only ever travel together.
                self.bare(DataError::BareLf);
                State::Middle
            }
            _ => State::Middle,
        }
    }

    fn bare(&mut self, error: DataError) {
        self.bare.get_or_insert(error);
    }

    /// Keeps message bytes while under the limit; past it, keeps nothing.
    fn keep(&mut self, bytes: &[u8]) {
        if self.too_large {
            return;
        }
        if self.body.len() + bytes.len() > self.limit {
            self.body = Vec::new();
            self.too_large = true;
            return;
        }
        self.body.extend_from_slice(bytes);
    }
}

/// The message as DATA sends it: every line ending made CRLF (a bare CR or
/// bare LF becomes CRLF, RFC 5321 §2.3.8), a leading dot doubled (RFC 5321
/// §4.5.2), then the end-of-data line.
pub fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 8);
    let mut at_line_start = true;
    let mut bytes = message.iter().peekable();
    while let Some(&b) = bytes.next() {
        match b {
            b'\r' => {
                bytes.next_if_eq(&&b'\n');
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            _ => {
                if at_line_start && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
                at_line_start = false;
            }
        }
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `input` whole; the result and the bytes left after the end.
    fn read(input: &[u8]) -> (Result<Vec<u8>, DataError>, &[u8]) {
        let mut reader = DataReader::new(1024);
        let used = reader.feed(input);
        assert!(reader.is_done(), "no end of data in {:?}", String::from_utf8_lossy(input));
        (reader.finish(), &input[used..])
    }

    #[test]
    fn only_crlf_dot_crlf_ends_the_data_and_dots_are_unstuffed() {
        let (body, rest) = read(b"Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n");
        assert_eq!(body.unwrap(), b"Subject: x\r\n\r\n.dot\r\n");
        assert_eq!(rest, b"QUIT\r\n", "pipelined commands are left for the session");
        assert_eq!(read(b".\r\n").0.unwrap(), b"", "an empty message");
    }

    #[test]
    fn smuggling_endings_are_data_and_refuse_the_message() {
        for (ending, error) in [
            (&b"\r\n.\r\r\n"[..], DataError::BareCr),
            (b"\n.\n", DataError::BareLf),
            (b"\r\n.\n", DataError::BareLf),
            (b"\n.\r\n", DataError::BareLf),
            (b"\r.\r", DataError::BareCr),
        ] {
            let mut input = b"Subject: first\r\n\r\nx".to_vec();
            input.extend_from_slice(ending);
            let smuggled = b"MAIL FROM:<evil@peer.test>\r\nRCPT TO:<a@ours.test>\r\nDATA\r\nSubject: second\r\n";
            input.extend_from_slice(smuggled);
            let mut reader = DataReader::new(1024);
            assert_eq!(reader.feed(&input), input.len(), "{ending:?} does not end the data");
            assert!(!reader.is_done());
            assert_eq!(reader.feed(b"\r\n.\r\n"), 5);
            assert_eq!(reader.finish(), Err(error), "{ending:?}");
        }
    }

    #[test]
    fn any_chunking_reads_the_same() {
        let input = b"a\r\n..b\r\n.c\r\n\r\n.\r\nNOOP\r\n";
        let (whole, _) = read(input);
        for size in 1..input.len() {
            let mut reader = DataReader::new(1024);
            let mut used = 0;
            for chunk in input.chunks(size) {
                used += reader.feed(chunk);
                if reader.is_done() {
                    break;
                }
            }
            assert_eq!(&input[used..], b"NOOP\r\n");
            assert_eq!(reader.finish(), whole);
        }
    }

    #[test]
    fn the_limit_bounds_what_is_kept_and_the_end_is_still_found() {
        let mut reader = DataReader::new(10);
        reader.feed(&[b'x'; 100]);
        assert_eq!(reader.kept(), 0, "nothing kept past the limit");
        reader.feed(b"\r\n.\r\n");
        assert!(reader.is_done());
        assert_eq!(reader.finish(), Err(DataError::TooLarge(10)));
        for (limit, fits) in [(12, true), (11, false)] {
            let mut reader = DataReader::new(limit);
            reader.feed(b"0123456789\r\n.\r\n");
            assert_eq!(reader.finish().is_ok(), fits, "12 bytes of message, limit {limit}");
        }
    }

    #[test]
    fn what_we_send_has_crlf_only_and_doubled_dots() {
        assert_eq!(dot_stuffed(b".a\r\nb\r\n.\r\n"), b"..a\r\nb\r\n..\r\n.\r\n");
        assert_eq!(dot_stuffed(b"no final newline"), b"no final newline\r\n.\r\n");
        assert_eq!(dot_stuffed(b"a\nb\rc\r\r\n.d\n"), b"a\r\nb\r\nc\r\n\r\n..d\r\n.\r\n");
        assert_eq!(dot_stuffed(b"x\n.\n"), b"x\r\n..\r\n.\r\n", "a smuggling ending goes out harmless");
        assert_eq!(dot_stuffed(b""), b".\r\n");
        for message in [&b"x\n.\r\nMAIL FROM:<a@b>\r\n"[..], b".\r\r\n..\n\r"] {
            let sent = dot_stuffed(message);
            let (body, rest) = read(&sent);
            assert!(rest.is_empty());
            assert!(body.is_ok(), "what we send is read back by a strict reader");
        }
    }
}
