//! The searchable text of a message, computed with its facts and handed to
//! the store's full-text index (the webmail's search; the store keeps its
//! distinct words): the subject, the display names and addresses of From,
//! To and Cc, then the decoded text of the text parts (HTML without its
//! tags), those of embedded messages included; at most [`TEXT_MAX`] bytes.
//!
//! - IMAP SEARCH BODY and TEXT do not use it: their substring semantics
//!   (RFC 9051 §6.4.4) are matched on the messages themselves.
//! - A sender the header reader refuses (two `From:`, none) is not in the
//!   text: what a person cannot see as the sender, she cannot search as one.

use mail_parser::decoders::html::html_to_text;
use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, Message, PartType};

use mss_store::PREVIEW_MAX;

use crate::facts::{AddressItem, Facts, MAX_PARTS, Person};

/// The most text kept of one message, in bytes.
pub const TEXT_MAX: usize = 256 * 1024;

/// What a message gives the store's index besides its facts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Searchable {
    /// The searchable text.
    pub text: String,
    /// The first words of its bodies (quoted lines left out, whitespace
    /// folded, at most [`PREVIEW_MAX`] characters): what a list shows under
    /// the subject.
    pub preview: String,
}

/// The searchable text of a message: `message` as parsed, or `raw` taken as
/// text when it does not parse.
pub(crate) fn text(facts: &Facts, message: Option<&Message<'_>>, raw: &[u8]) -> Searchable {
    let mut text = Text::default();
    let envelope = &facts.envelope;
    text.push(envelope.subject.as_deref().unwrap_or_default());
    for person in envelope.originators.iter().flat_map(|o| &o.from) {
        text.person(person);
    }
    for item in envelope.to.iter().chain(&envelope.cc) {
        if let AddressItem::Mailbox(person) = item {
            text.person(person);
        }
    }
    let bodies_start = text.0.len();
    match message {
        Some(message) => bodies(message, &mut text),
        None => text.push(&String::from_utf8_lossy(raw)),
    }
    let preview = preview(&text.0[bodies_start..]);
    Searchable { text: text.0, preview }
}

/// The first words of `bodies`: lines quoting another message (`>`) left
/// out, runs of whitespace as one space, cut at [`PREVIEW_MAX`] characters.
fn preview(bodies: &str) -> String {
    let words = bodies.lines().filter(|line| !line.trim_start().starts_with('>')).flat_map(str::split_whitespace);
    let mut preview = String::new();
    for word in words {
        let room = PREVIEW_MAX.saturating_sub(preview.chars().count() + usize::from(!preview.is_empty()));
        if room == 0 {
            break;
        }
        if !preview.is_empty() {
            preview.push(' ');
        }
        preview.extend(word.chars().filter(|c| !c.is_control()).take(room));
    }
    preview
}

/// The text IMAP SEARCH matches in a header field (RFC 9051 §6.4.4: FROM,
/// SUBJECT, HEADER...): its raw value `raw` read as unstructured text,
/// RFC 2047 words decoded, then for an address field each of its parsed
/// addresses (`value`) on a line of its own, as `name <address>`. Kept in
/// the facts ([`Facts::searched_fields`]) and computed the same way by
/// IMAP when it reads the message.
pub fn field_text(raw: &[u8], value: &HeaderValue<'_>) -> String {
    let mut text = match MessageStream::new(raw).parse_unstructured() {
        HeaderValue::Text(text) => text.into_owned(),
        _ => String::new(),
    };
    if let HeaderValue::Address(address) = value {
        for addr in address.iter() {
            let name = addr.name.as_deref().unwrap_or_default();
            let address = addr.address.as_deref().unwrap_or_default();
            text.push_str(&format!("\n{name} <{address}>"));
        }
    }
    text
}

/// The text parts of `message` and of the messages it embeds, without
/// recursion (nesting is as deep as the input).
fn bodies(message: &Message<'_>, text: &mut Text) {
    let mut pending = vec![message];
    let mut visited = 0;
    while let Some(message) = pending.pop() {
        for part in &message.parts {
            visited += 1;
            if visited > MAX_PARTS || text.is_full() {
                return;
            }
            match &part.body {
                PartType::Text(body) => text.push(body),
                PartType::Html(body) => text.push(&html_to_text(body)),
                PartType::Message(inner) => pending.push(inner),
                PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Multipart(_) => {}
            }
        }
    }
}

/// Text bounded by [`TEXT_MAX`], pieces on their own lines.
#[derive(Default)]
struct Text(String);

impl Text {
    fn push(&mut self, piece: &str) {
        let piece = piece.trim();
        if piece.is_empty() || self.is_full() {
            return;
        }
        if !self.0.is_empty() {
            self.0.push('\n');
        }
        let room = TEXT_MAX.saturating_sub(self.0.len());
        let mut end = piece.len().min(room);
        while !piece.is_char_boundary(end) {
            end -= 1;
        }
        self.0.push_str(&piece[..end]);
    }

    fn person(&mut self, person: &Person) {
        self.push(person.name.as_deref().unwrap_or_default());
        self.push(&person.address);
    }

    fn is_full(&self) -> bool {
        self.0.len() >= TEXT_MAX
    }
}

#[cfg(test)]
mod tests {
    use mss_store::PREVIEW_MAX;

    use super::Searchable;
    use crate::Facts;

    #[test]
    fn the_text_has_the_header_people_and_the_decoded_bodies() {
        let raw = "From: =?utf-8?q?Jos=C3=A9_Martin?= <jose@autre.test>\r\nTo: Officine <elodie@ours.test>\r\n\
                   Cc: labo@autre.test\r\nSubject: =?utf-8?q?R=C3=A9sultats?=\r\nMIME-Version: 1.0\r\n\
                   Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
                   Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   Votre ordonnance est pr=C3=AAte.\r\n--b\r\nContent-Type: text/html\r\n\r\n\
                   <p>Voir la <b>pharmacie</b>&nbsp;du centre</p><script>cache()</script>\r\n--b\r\n\
                   Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nglycemie normale\r\n--b\r\n\
                   Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
        let (facts, searchable) = Facts::with_text(raw.as_bytes());
        assert_eq!(facts, Facts::of(raw.as_bytes()));
        assert_eq!(searchable.preview, "Votre ordonnance est prête. Voir la pharmacie du centre glycemie normale");
        let text = searchable.text;
        for expected in [
            "Résultats",
            "José Martin",
            "jose@autre.test",
            "Officine",
            "elodie@ours.test",
            "labo@autre.test",
            "Votre ordonnance est prête.",
            "pharmacie",
            "du centre",
            "glycemie normale",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        assert!(!text.contains("<b>") && !text.contains("cache()") && !text.contains("JVBERi"), "{text}");
    }

    #[test]
    fn an_unverifiable_sender_is_not_searchable_and_the_text_is_bounded() {
        let (_, Searchable { text, .. }) =
            Facts::with_text(b"From: <chef@autre.test>\r\nFrom: <b@x.test>\r\nSubject: s\r\n\r\nbody");
        assert!(!text.contains("chef") && text.contains("body"), "{text}");
        let long = format!("Subject: long\r\n\r\n{}", "é".repeat(super::TEXT_MAX));
        let (_, Searchable { text, preview }) = Facts::with_text(long.as_bytes());
        assert!(text.len() <= super::TEXT_MAX && text.len() > super::TEXT_MAX - 4);
        assert_eq!(preview.chars().count(), PREVIEW_MAX);
        let (_, searchable) = Facts::with_text(b"");
        assert_eq!(searchable, Searchable::default());
    }

    #[test]
    fn the_preview_leaves_out_quotes_and_folds_whitespace() {
        let raw =
            "Subject: Re: stock\r\n\r\nOui,\r\n\r\n  c'est\tbon.\r\n> Avez-vous\r\n>> du stock ?\r\nMerci\x07 !\r\n";
        let (_, searchable) = Facts::with_text(raw.as_bytes());
        assert_eq!(searchable.preview, "Oui, c'est bon. Merci !");
        assert!(!searchable.preview.contains("stock"));
    }
}
