//! mail-parser, called safely: the one way mss parses a message with it.
//!
//! Some malformed MIME trees trip mail-parser's `debug_assert!`s: with debug
//! assertions on, that input would panic (release builds parse it); such a
//! message is taken as unparsable. And a parsed message is taken apart
//! iteratively when dropped: embedded messages nest as deep as the input,
//! and the recursive drop of such a tree would overflow the stack.

use mail_parser::{Message, MessageParser, PartType};

/// Parses a whole message.
pub fn parse(raw: &[u8]) -> Option<Parsed<'_>> {
    guarded(|| MessageParser::default().parse(raw))
}

/// Parses the header only: the body is not read.
pub fn parse_header(raw: &[u8]) -> Option<Parsed<'_>> {
    guarded(|| MessageParser::default().parse_headers(raw))
}

fn guarded<'x>(parse: impl FnOnce() -> Option<Message<'x>> + std::panic::UnwindSafe) -> Option<Parsed<'x>> {
    std::panic::catch_unwind(parse).ok().flatten().map(Parsed)
}

/// A parsed message, dropped without recursion.
pub struct Parsed<'x>(Message<'x>);

impl<'x> std::ops::Deref for Parsed<'x> {
    type Target = Message<'x>;

    fn deref(&self) -> &Message<'x> {
        &self.0
    }
}

impl Drop for Parsed<'_> {
    fn drop(&mut self) {
        let mut pending = vec![std::mem::take(&mut self.0.parts)];
        while let Some(parts) = pending.pop() {
            for mut part in parts {
                if let PartType::Message(inner) = &mut part.body {
                    pending.push(std::mem::take(&mut inner.parts));
                }
            }
        }
    }
}
