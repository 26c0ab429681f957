//! ENVELOPE and BODY/BODYSTRUCTURE (RFC 9051 §7.5.2) written from the facts
//! `mss-message` read when the message was stored ([`mss_message::Facts`]),
//! without reading or parsing the message again.
//!
//! The rule kept here: what is written from facts is byte for byte what
//! [`message::envelope`] and [`message::body_structure`] write from the
//! bytes. [`Described::new`] accepts only facts that hold everything those
//! write; for any other message (facts truncated, a part of a
//! transfer-encoded embedded message, a value that was not UTF-8, a tree
//! the facts leave ambiguous) the caller parses the bytes as before. The
//! unit tests compare both writers on every message the crate's tests use
//! and on malformed and random input.

use mss_message::facts::{AddressItem, Envelope, Part, Person, Structure};

use crate::message::{self, write_params};
use crate::wire::{nstring, string};

// Facts that are not truncated lie within the depth at which `message`
// stops opening parts, so both describe the same tree.
const _: () = assert!(mss_message::facts::MAX_DEPTH <= message::MAX_DEPTH);

/// Facts checked to reproduce the parse path exactly.
pub struct Described<'f> {
    facts: &'f Structure,
    /// The children of each part, as indices into [`Structure::parts`].
    children: Vec<Vec<usize>>,
}

impl<'f> Described<'f> {
    /// The facts, when they hold all that ENVELOPE and BODYSTRUCTURE write.
    pub fn new(facts: &'f Structure) -> Option<Self> {
        if facts.truncated || facts.parts.is_empty() || !exact_envelope(&facts.envelope) {
            return None;
        }
        let mut children = vec![Vec::new(); facts.parts.len()];
        for (index, part) in facts.parts.iter().enumerate() {
            if let Some(parent) = part.parent {
                children.get_mut(usize::try_from(parent).ok()?)?.push(index);
            }
        }
        let described = Self { facts, children };
        (0..facts.parts.len()).all(|i| described.exact_part(i)).then_some(described)
    }

    /// Whether part `i` is written the same from its facts: its offsets are
    /// in the stored bytes (so its size is known), its values were UTF-8,
    /// and the facts tell how the parser took it.
    fn exact_part(&self, i: usize) -> bool {
        let part = &self.facts.parts[i];
        let raw_values = [&part.content_id, &part.description, &part.encoding, &part.location];
        let unambiguous = match self.kind(i) {
            // An empty multipart and one the parser could not open (no
            // boundary) look alike; so do an empty embedded message and a
            // message/rfc822 part that is not one. A multipart's subtype
            // defaults to "mixed" only when absent, which "" does not tell.
            Kind::Leaf => part.media_type != "multipart" && !is_message_type(part),
            Kind::Multipart => part.typed && part.media_type == "multipart" && !part.subtype.is_empty(),
            Kind::Message(_) => part.envelope.as_ref().is_some_and(exact_envelope),
        };
        unambiguous && part.offsets.is_some() && raw_values.into_iter().flatten().all(|v| exact_text(v))
    }

    fn kind(&self, i: usize) -> Kind {
        match self.children[i].first() {
            None => Kind::Leaf,
            Some(&child) if self.facts.parts[child].message => Kind::Message(child),
            Some(_) => Kind::Multipart,
        }
    }

    /// Appends the ENVELOPE, as [`message::envelope`] does.
    pub fn envelope(&self, out: &mut Vec<u8>) {
        write_envelope(out, &self.facts.envelope);
    }

    /// Appends BODYSTRUCTURE (`extensible`) or BODY, as
    /// [`message::body_structure`] does.
    pub fn body_structure(&self, out: &mut Vec<u8>, extensible: bool) {
        self.write_part(out, 0, extensible);
    }

    fn write_part(&self, out: &mut Vec<u8>, i: usize, extensible: bool) {
        let part = &self.facts.parts[i];
        if let Kind::Multipart = self.kind(i) {
            // `(part part ... "SUBTYPE" params disposition language location)`.
            out.push(b'(');
            for &child in &self.children[i] {
                self.write_part(out, child, extensible);
            }
            out.push(b' ');
            string(out, part.subtype.to_ascii_uppercase().as_bytes());
            if extensible {
                out.push(b' ');
                write_params(out, &upper_names(&part.params));
                write_extension(out, part);
            }
            out.push(b')');
            return;
        }
        self.write_single_part(out, i, extensible);
    }

    /// A text, message/rfc822 or other non-multipart part (RFC 9051 §7.5.2).
    fn write_single_part(&self, out: &mut Vec<u8>, i: usize, extensible: bool) {
        let part = &self.facts.parts[i];
        let (main, sub) = (part.media_type.to_ascii_uppercase(), part.subtype.to_ascii_uppercase());
        let embedded = match self.kind(i) {
            Kind::Message(child) => Some(child),
            Kind::Leaf | Kind::Multipart => None,
        };
        let shape = match embedded {
            _ if main == "TEXT" => Shape::Text,
            Some(child) if is_message_type(part) => Shape::Message(child),
            // A multipart or message the parser could not open.
            _ if is_message_type(part) || main == "MULTIPART" => Shape::Opaque,
            _ => Shape::Basic,
        };
        out.push(b'(');
        if let Shape::Opaque = shape {
            out.extend_from_slice(b"\"APPLICATION\" \"OCTET-STREAM\" NIL");
        } else {
            string(out, main.as_bytes());
            out.push(b' ');
            string(out, sub.as_bytes());
            out.push(b' ');
            write_params(out, &type_params(part));
        }
        out.push(b' ');
        nstring(out, part.content_id.as_deref().map(str::as_bytes));
        out.push(b' ');
        nstring(out, part.description.as_deref().map(str::as_bytes));
        out.push(b' ');
        string(out, part.encoding.as_deref().unwrap_or("7BIT").to_ascii_uppercase().as_bytes());
        let offsets = part.offsets.unwrap_or_default();
        out.extend_from_slice(format!(" {}", offsets.body_size()).as_bytes());
        let lines = part.lines.unwrap_or_default();
        match shape {
            Shape::Basic | Shape::Opaque => {}
            Shape::Text => out.extend_from_slice(format!(" {lines}").as_bytes()),
            Shape::Message(child) => {
                out.push(b' ');
                // Checked by `exact_part`: an embedded message has its envelope.
                write_envelope(out, part.envelope.as_ref().unwrap_or(&Envelope::default()));
                out.push(b' ');
                self.write_part(out, child, extensible);
                out.extend_from_slice(format!(" {lines}").as_bytes());
            }
        }
        if extensible {
            out.extend_from_slice(b" NIL");
            write_extension(out, part);
        }
        out.push(b')');
    }
}

/// How the parser took a part: its body is a leaf, parts, or a message.
enum Kind {
    Leaf,
    Multipart,
    /// The index of the embedded message's first part.
    Message(usize),
}

/// How a single part is described (see `message::Media`).
enum Shape {
    Basic,
    Text,
    Message(usize),
    /// Described as application/octet-stream without parameters.
    Opaque,
}

/// RFC 9051 §7.5.2: the types described with an envelope.
fn is_message_type(part: &Part) -> bool {
    part.media_type.eq_ignore_ascii_case("message")
        && (part.subtype.eq_ignore_ascii_case("rfc822") || part.subtype.eq_ignore_ascii_case("global"))
}

/// Whether the values the envelope writes as stored were UTF-8: facts keep
/// them as text, with U+FFFD for bytes that were not (a U+FFFD that was
/// written so is taken as lost too, which only costs a parse).
fn exact_envelope(envelope: &Envelope) -> bool {
    [&envelope.date, &envelope.in_reply_to, &envelope.message_id].into_iter().flatten().all(|v| exact_text(v))
}

fn exact_text(value: &str) -> bool {
    !value.contains(char::REPLACEMENT_CHARACTER)
}

/// `(date subject from sender reply-to to cc bcc in-reply-to message-id)`,
/// as [`message::envelope`] writes it.
fn write_envelope(out: &mut Vec<u8>, envelope: &Envelope) {
    out.push(b'(');
    nstring(out, envelope.date.as_deref().map(str::as_bytes));
    out.push(b' ');
    nstring(out, envelope.subject.as_deref().map(str::as_bytes));
    match &envelope.originators {
        Some(senders) => {
            // RFC 9051 §7.5.2: sender and reply-to default to from.
            let sender = senders.sender.as_ref().map_or(senders.from.as_slice(), std::slice::from_ref);
            let reply_to = if senders.reply_to.is_empty() { &senders.from } else { &senders.reply_to };
            for people in [senders.from.as_slice(), sender, reply_to] {
                out.push(b' ');
                write_people(out, people);
            }
        }
        None => out.extend_from_slice(b" NIL NIL NIL"),
    }
    for items in [&envelope.to, &envelope.cc, &envelope.bcc] {
        out.push(b' ');
        write_items(out, items);
    }
    out.push(b' ');
    nstring(out, envelope.in_reply_to.as_deref().map(str::as_bytes));
    out.push(b' ');
    nstring(out, envelope.message_id.as_deref().map(str::as_bytes));
    out.push(b')');
}

/// Checked mailboxes as an address list, or NIL.
fn write_people(out: &mut Vec<u8>, people: &[Person]) {
    let items: Vec<message::AddressItem<'_>> = people.iter().map(mailbox).collect();
    message::write_addresses(out, &items);
}

/// A mailbox as the parse path's address writer takes it.
fn mailbox(person: &Person) -> message::AddressItem<'_> {
    message::AddressItem::Mailbox { name: person.name.as_deref(), address: &person.address }
}

/// A recipient field: mailboxes and RFC 5322 group markers, or NIL,
/// written by the parse path's writer.
fn write_items(out: &mut Vec<u8>, items: &[AddressItem]) {
    let items: Vec<message::AddressItem<'_>> = items
        .iter()
        .map(|item| match item {
            AddressItem::Mailbox(person) => mailbox(person),
            AddressItem::GroupStart(name) => message::AddressItem::GroupStart(name),
            AddressItem::GroupEnd => message::AddressItem::GroupEnd,
        })
        .collect();
    message::write_addresses(out, &items);
}

/// The Content-Type parameters as IMAP writes them: names uppercase, and
/// the RFC 2045 default (a part without Content-Type) all uppercase.
fn type_params(part: &Part) -> Vec<(String, String)> {
    if part.typed {
        return upper_names(&part.params);
    }
    part.params.iter().map(|(name, value)| (name.to_ascii_uppercase(), value.to_ascii_uppercase())).collect()
}

/// Parameters with the names uppercase, as IMAP writes them.
fn upper_names(params: &[(String, String)]) -> Vec<(String, String)> {
    params.iter().map(|(name, value)| (name.to_ascii_uppercase(), value.clone())).collect()
}

/// ` disposition language location`, the extension data of every part.
fn write_extension(out: &mut Vec<u8>, part: &Part) {
    out.push(b' ');
    match &part.disposition {
        Some(disposition) => {
            out.push(b'(');
            string(out, disposition.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            write_params(out, &upper_names(&part.disposition_params));
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    // The parser reads one language as text and several as a list.
    match part.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [language] => string(out, language.as_bytes()),
        languages => {
            out.push(b'(');
            for (i, language) in languages.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, language.as_bytes());
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    nstring(out, part.location.as_deref().map(str::as_bytes));
}

#[cfg(test)]
pub(crate) mod tests {
    use base64::Engine;

    use super::*;
    use crate::message::tests::{ALTERNATIVE, EIGHT_BIT, FORWARD, MIXED, NESTED, SIMPLE};

    /// The structure FETCH reads of the stored facts of `raw`.
    fn structure(raw: &[u8]) -> Structure {
        let stored = mss_message::stored(raw);
        mss_message::stored::decode_structure(stored.version, &stored.encoded).expect("stored facts read back")
    }

    /// What the parse path writes, and what the facts write when
    /// [`Described::new`] takes them: both must be the same bytes.
    /// Whether the facts were taken.
    pub(crate) fn agree(raw: &[u8]) -> bool {
        // The facts are read back from their stored form, as FETCH reads them.
        let facts = structure(raw);
        let Some(described) = Described::new(&facts) else { return false };
        let mut parsed = Vec::new();
        message::envelope(&mut parsed, raw);
        let mut from_facts = Vec::new();
        described.envelope(&mut from_facts);
        assert_eq!(String::from_utf8_lossy(&from_facts), String::from_utf8_lossy(&parsed), "ENVELOPE of {raw:?}");
        for extensible in [false, true] {
            let (mut parsed, mut from_facts) = (Vec::new(), Vec::new());
            message::body_structure(&mut parsed, raw, extensible);
            described.body_structure(&mut from_facts, extensible);
            assert_eq!(
                String::from_utf8_lossy(&from_facts),
                String::from_utf8_lossy(&parsed),
                "BODYSTRUCTURE ({extensible}) of {raw:?}"
            );
        }
        true
    }

    /// The real ANS CDA documents of `fixtures/cda`, attached as a sender
    /// would: each alone, then all three with an IHE XDM package.
    fn fixture_mails() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cda");
        let attach = |name: &str, media: &str, data: &[u8]| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(data);
            let lines: Vec<&str> =
                encoded.as_bytes().chunks(76).map(|l| std::str::from_utf8(l).unwrap_or_default()).collect();
            format!(
                "--b1\r\nContent-Type: {media}; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\nContent-Language: fr, en\r\n\r\n{}\r\n",
                lines.join("\r\n")
            )
        };
        let mail = |attachments: &str| {
            format!(
                "From: \"Laboratoire =?UTF-8?Q?Biologie_M=C3=A9dicale?=\" <labo@labo.mssante.fr>\r\n\
                 To: 279035121518989@patient.mssante.fr, Equipe: bob@cabinet.mssante.fr;\r\n\
                 Subject: =?UTF-8?B?UsOpc3VsdGF0cw==?=\r\nDate: Tue, 14 May 2024 09:30:00 +0200\r\n\
                 Message-ID: <cr.1@labo.mssante.fr>\r\nX-MSS-INS: O\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
                 Ci-joint le compte rendu.\r\n{attachments}--b1--\r\n"
            )
            .into_bytes()
        };
        let documents: Vec<(&str, Vec<u8>)> =
            ["BIO-TROD_2024.01_COVID-19.xml", "eP-MED-DM_2022.01_PosoStruct.xml", "DOC_NON_STRUCTURE_CDA-R2-N1.xml"]
                .into_iter()
                .map(|name| (name, std::fs::read(dir.join(name)).expect("fixtures/cda")))
                .collect();
        let mut mails: Vec<Vec<u8>> =
            documents.iter().map(|(name, data)| mail(&attach(name, "text/xml; charset=UTF-8", data))).collect();
        let mut all: String = documents.iter().map(|(name, data)| attach(name, "application/xml", data)).collect();
        all.push_str(&attach("IHE_XDM.ZIP", "application/zip", &documents[0].1));
        mails.push(mail(&all));
        mails
    }

    /// The messages of the integration tests (tests/protocol.rs, envelope.rs).
    const PROTOCOL: [&str; 4] = [
        "From: sender@ours.test\r\nTo: alice.martin@ours.test\r\nSubject: Ordonnance\r\n\r\nParacetamol 1g\r\n",
        "Subject: b\r\nFrom: \"Bob\" <B@z.test>\r\nTo: =?utf-8?q?Z=C3=A9?= <z@x>\r\nCc: g: a@c, b@d;\r\n\
         Date: Tue, 14 May 2024 09:30:00 +0200\r\n\r\nx\r\n",
        "From: <a@ours.test>\r\nFrom: <b@ours.test>\r\nSubject: two\r\n\r\nx\r\n",
        "Subject: Fwd\r\nContent-Type: message/rfc822\r\n\r\nFrom: <a@ours.test>\r\nFrom: <b@ours.test>\r\n\r\nx\r\n",
    ];

    #[test]
    fn facts_write_what_the_parse_path_writes() {
        let mut mails: Vec<Vec<u8>> = [SIMPLE, MIXED, ALTERNATIVE, FORWARD, EIGHT_BIT, NESTED]
            .into_iter()
            .chain(PROTOCOL)
            .map(|m| m.as_bytes().to_vec())
            .collect();
        let lf: Vec<Vec<u8>> = mails.iter().map(|m| String::from_utf8_lossy(m).replace("\r\n", "\n").into()).collect();
        let fixtures = fixture_mails();
        mails.extend(lf);
        mails.extend(fixtures);
        for raw in &mails {
            assert!(agree(raw), "the facts of {:?} are taken", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn facts_that_cannot_say_it_exactly_are_not_taken() {
        let cases: [&[u8]; 5] = [
            // A Message-ID that is not UTF-8.
            b"From: a@b.test\r\nMessage-ID: <\xe9t\xe9@b.test>\r\n\r\nx\r\n",
            // A multipart the parser could not open (no boundary).
            b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhello\r\n",
            // A multipart without parts.
            b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a--\r\n",
            // The parts of a transfer-encoded embedded message are not in the stored bytes.
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\
              Content-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogaGkNCg0KYm9keQ0K\r\n--x--\r\n",
            // A multipart without subtype.
            b"Content-Type: multipart; boundary=a\r\n\r\n--a\r\n\r\nx\r\n--a--\r\n",
        ];
        for raw in cases {
            assert!(!agree(raw), "{:?}", String::from_utf8_lossy(raw));
        }
        // Neither are truncated facts, nor a message without parts.
        let truncated = Structure { truncated: true, ..structure(SIMPLE.as_bytes()) };
        assert!(Described::new(&truncated).is_none());
        assert!(Described::new(&Structure::default()).is_none());
        // Without a Content-Type, and without any header, the defaults.
        assert!(agree(b"Subject: bare\r\n\r\nline one\nline two"));
        assert!(agree(b"garbage without any structure"));
        assert!(agree(b"Content-Type: text/plain; charset=us-ascii\r\n\r\nx"));
    }
}
