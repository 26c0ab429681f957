//! The originator fields of a message (RFC 5322 §3.6.2): who wrote it
//! (`From:`), who sent it on the author's behalf (`Sender:`), where replies
//! go (`Reply-To:`).
//!
//! The fields are counted here, from the raw header lines, not by asking a
//! parser for "the" From: a message with two `From:` fields is refused, never
//! resolved to the first or the last. Header lines are read strictly: a line
//! without a colon, or a field name outside RFC 5322 `ftext`, makes the
//! header unreadable (lenient parsers read `Fr om:` as `From:`, and two
//! readings of one header are what this module exists to prevent). The
//! address syntax inside a field is mail-parser's.

use std::borrow::Cow;

use mail_parser::parsers::MessageStream;
use mail_parser::{Addr, Address, HeaderValue};
use mss_core::EmailAddress;

use crate::fields::{HeaderItem, RawField, header_items};

/// The fields RFC 5322 §3.6 allows at most once (`From:` exactly once).
const AT_MOST_ONCE: [&str; 11] =
    ["Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Message-ID", "In-Reply-To", "References", "Subject"];

/// A mailbox named in a header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, decoded (RFC 2047), if there is one.
    pub name: Option<String>,
    pub address: EmailAddress,
}

impl std::fmt::Display for Mailbox {
    /// `Name <address>`, or the bare address when there is no name: for
    /// people to read, not for a header (the name is neither quoted nor
    /// encoded).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => write!(f, "{name} <{}>", self.address),
            None => write!(f, "{}", self.address),
        }
    }
}

/// What a message says about who it is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originators {
    /// The authors: at least one.
    pub from: Vec<Mailbox>,
    /// Who sent it for the authors, when that is said.
    pub sender: Option<Mailbox>,
    /// Where replies go, when that is said (may be empty).
    pub reply_to: Vec<Mailbox>,
}

impl Originators {
    /// Every mailbox named as author or sender: the ones a reader takes for
    /// "who this is from".
    pub fn senders(&self) -> impl Iterator<Item = &Mailbox> {
        self.from.iter().chain(self.sender.as_ref())
    }

    /// Where a reply goes: the `Reply-To:` mailboxes when it names any,
    /// the authors otherwise (RFC 5322 §3.6.2; IMAP's ENVELOPE reply-to
    /// defaults the same way, RFC 9051 §7.5.2).
    pub fn reply_targets(&self) -> &[Mailbox] {
        if self.reply_to.is_empty() { &self.from } else { &self.reply_to }
    }
}

/// Why the originator fields cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the message has no From: header field")]
    MissingFrom,
    #[error("the message has {count} {field}: header fields; RFC 5322 §3.6 allows one")]
    Duplicate { field: &'static str, count: usize },
    #[error("the {field}: header field cannot be read: {why}")]
    Unparsable { field: &'static str, why: String },
    #[error("header line {line} is malformed: {why}")]
    Malformed { line: usize, why: &'static str },
    #[error("From: names {0} authors but there is no Sender: (RFC 5322 §3.6.2)")]
    SenderRequired(usize),
}

/// Reads the originator fields of `raw` (a whole message, or its header).
pub fn originators(raw: &[u8]) -> Result<Originators, HeaderError> {
    let fields = fields(raw)?;
    let named = |name: &'static str| fields.iter().filter(move |f| f.name.eq_ignore_ascii_case(name.as_bytes()));
    for name in AT_MOST_ONCE {
        let count = named(name).count();
        if count > 1 {
            return Err(HeaderError::Duplicate { field: name, count });
        }
    }
    let from = named("From").next().ok_or(HeaderError::MissingFrom)?;
    let from = mailboxes("From", from.value, false)?;
    let sender = match named("Sender").next() {
        None => None,
        Some(field) => match <[Mailbox; 1]>::try_from(mailboxes("Sender", field.value, false)?) {
            Ok([one]) => Some(one),
            Err(_) => {
                // RFC 5322 §3.6.2: sender = "Sender:" mailbox.
                return Err(HeaderError::Unparsable { field: "Sender", why: "it must name one mailbox".into() });
            }
        },
    };
    // RFC 5322 §3.6.2: several authors need a Sender: saying who sent it.
    if from.len() > 1 && sender.is_none() {
        return Err(HeaderError::SenderRequired(from.len()));
    }
    let reply_to = match named("Reply-To").next() {
        None => Vec::new(),
        // RFC 5322 §3.6.2: reply-to = "Reply-To:" address-list (groups allowed).
        Some(field) => mailboxes("Reply-To", field.value, true)?,
    };
    Ok(Originators { from, sender, reply_to })
}

/// The header fields of `raw`, in order, up to the first empty line; a
/// line that opens no field refuses the header.
fn fields(raw: &[u8]) -> Result<Vec<RawField<'_>>, HeaderError> {
    header_items(raw)
        .map(|item| match item {
            HeaderItem::Field(field) => Ok(field),
            HeaderItem::Malformed { line, why } => Err(HeaderError::Malformed { line, why }),
        })
        .collect()
}

/// The mailboxes of an address field (groups flattened when `groups`).
fn mailboxes(field: &'static str, value: &[u8], groups: bool) -> Result<Vec<Mailbox>, HeaderError> {
    let unparsable = |why: String| HeaderError::Unparsable { field, why };
    let mut line = value.to_vec();
    if !line.ends_with(b"\n") {
        line.push(b'\n');
    }
    let addrs: Vec<Addr<'_>> = match MessageStream::new(&line).parse_address() {
        HeaderValue::Address(Address::List(list)) => list,
        HeaderValue::Address(Address::Group(list)) if groups => list.into_iter().flat_map(|g| g.addresses).collect(),
        HeaderValue::Address(Address::Group(_)) => return Err(unparsable("a group where mailboxes belong".into())),
        _ => return Err(unparsable("no address".into())),
    };
    if addrs.is_empty() && !groups {
        return Err(unparsable("no address".into()));
    }
    addrs
        .into_iter()
        .map(|addr| {
            let text = addr.address.as_deref().ok_or_else(|| unparsable("a name without an address".into()))?;
            let address = text.parse::<EmailAddress>().map_err(|e| unparsable(format!("{text}: {e}")))?;
            Ok(Mailbox { name: addr.name.map(Cow::into_owned), address })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(list: &[Mailbox]) -> Vec<String> {
        list.iter().map(|m| m.address.to_string()).collect()
    }

    #[test]
    fn reads_from_sender_and_reply_to() {
        let raw = b"Received: x\r\nFROM: =?utf-8?q?=C3=89lodie?= <Elodie@Ours.test>\r\nSender: <sec@ours.test>\r\n\
            Reply-To: team: a@ours.test, b@ours.test;, c@ours.test\r\nSubject: x\r\n\r\nFrom: body@evil.test\r\n";
        let o = originators(raw).unwrap();
        assert_eq!(addresses(&o.from), ["elodie@ours.test"]);
        assert_eq!(o.from[0].name.as_deref(), Some("Élodie"));
        assert_eq!(o.sender.map(|s| s.address.to_string()).as_deref(), Some("sec@ours.test"));
        assert_eq!(addresses(&o.reply_to), ["a@ours.test", "b@ours.test", "c@ours.test"]);
    }

    #[test]
    fn mailboxes_read_as_name_and_address() {
        let o = originators(b"From: \"Dr. Alice Martin\" <Alice@Ours.test>\r\nReply-To: \"\" <sec@ours.test>\r\n\r\n")
            .unwrap();
        assert_eq!(o.from[0].to_string(), "Dr. Alice Martin <alice@ours.test>");
        assert_eq!(o.reply_to[0].to_string(), "sec@ours.test");
    }

    #[test]
    fn replies_go_to_reply_to_else_to_the_authors() {
        let o = originators(b"From: <a@ours.test>\r\nReply-To: <r@ours.test>\r\n\r\n").unwrap();
        assert_eq!(addresses(o.reply_targets()), ["r@ours.test"]);
        let o = originators(b"From: <a@ours.test>\r\nSender: <s@ours.test>\r\n\r\n").unwrap();
        assert_eq!(addresses(o.reply_targets()), ["a@ours.test"]);
        let o = originators(b"From: <a@ours.test>\r\nReply-To: nobody:;\r\n\r\n").unwrap();
        assert_eq!(addresses(o.reply_targets()), ["a@ours.test"]);
    }

    #[test]
    fn folded_fields_are_one_field() {
        let o = originators(b"From: Alice\r\n <alice@ours.test>\r\n\r\n").unwrap();
        assert_eq!(addresses(&o.from), ["alice@ours.test"]);
        assert_eq!(o.from[0].name.as_deref(), Some("Alice"));
    }

    #[test]
    fn two_from_fields_are_refused_whichever_comes_first() {
        let raw = b"From: <bob@ours.test>\r\nTo: <c@peer.test>\r\nfrom: <alice@ours.test>\r\n\r\nx";
        assert_eq!(originators(raw), Err(HeaderError::Duplicate { field: "From", count: 2 }));
        for twice in ["Sender: <a@ours.test>", "Reply-To: <a@ours.test>", "Subject: x", "Message-ID: <1@x>"] {
            let raw = format!("From: <a@ours.test>\r\n{twice}\r\n{twice}\r\n\r\n");
            assert!(matches!(originators(raw.as_bytes()), Err(HeaderError::Duplicate { count: 2, .. })), "{twice}");
        }
    }

    #[test]
    fn missing_or_unreadable_originators_are_refused() {
        assert_eq!(originators(b"Subject: x\r\n\r\nFrom: <a@ours.test>\r\n"), Err(HeaderError::MissingFrom));
        assert_eq!(originators(b""), Err(HeaderError::MissingFrom));
        for from in ["From:", "From: Alice", "From: not an address", "From: team: a@ours.test;", "From: <a@b@c>"] {
            let raw = format!("{from}\r\n\r\n");
            assert!(matches!(originators(raw.as_bytes()), Err(HeaderError::Unparsable { .. })), "{from}");
        }
        let raw = b"From: <a@ours.test>\r\nSender: <a@ours.test>, <b@ours.test>\r\n\r\n";
        assert!(matches!(originators(raw), Err(HeaderError::Unparsable { field: "Sender", .. })));
        assert_eq!(originators(b"From: <a@ours.test>, <b@ours.test>\r\n\r\n"), Err(HeaderError::SenderRequired(2)));
    }

    #[test]
    fn lines_a_lenient_parser_would_guess_at_are_refused() {
        for raw in [
            &b"Fr om: <bob@ours.test>\r\nFrom: <a@ours.test>\r\n\r\n"[..],
            b" From: <bob@ours.test>\r\nFrom: <a@ours.test>\r\n\r\n",
            b"From: <a@ours.test>\r\nnot a field\r\n\r\n",
            b"From: <a@ours.test>\r\n: empty name\r\n\r\n",
        ] {
            assert!(matches!(originators(raw), Err(HeaderError::Malformed { .. })), "{}", String::from_utf8_lossy(raw));
        }
        // RFC 5322 §4.5.3: white space before the colon is obsolete but readable, and counts.
        let raw = b"From : <bob@ours.test>\r\nFrom: <a@ours.test>\r\n\r\n";
        assert_eq!(originators(raw), Err(HeaderError::Duplicate { field: "From", count: 2 }));
    }
}
