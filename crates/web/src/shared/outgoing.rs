//! The message the webmail builds from what a person typed, uploaded or
//! kept from another message.
//!
//! Rule kept here: no such value reaches a header as it is (pen test, issue
//! 13: a subject with CR LF wrote its own `From:`). Every header value goes
//! through [`header_value`], which removes CR, LF, NUL and the other control
//! characters but tab (a line break becomes a space); message ids must look
//! like message ids ([`message_ids`]); an uploaded part's declared type is
//! kept only when it is a plain `type/subtype` ([`content_type`]).
//! mail-builder then encodes (RFC 2047, RFC 2231) what is not plain ASCII.
//!
//! Every message says which product sent it (`X-MSS-NIL`). A message to a
//! patient (`mss_core::patients`) asks for a read receipt
//! (`Disposition-Notification-To`, the sending mailbox); one to a patient or
//! carrying a document says whether the INS is qualified (`X-MSS-INS`); a
//! document's type is `X-MSS-CODECDA`; one that ends a conversation carries
//! `X-MSS-MES: FIN`.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mss_core::{EmailAddress, patients};
use mss_identity::session::random_token;
use mss_store::now_unix;

/// The type of a part whose declared type is not trusted.
const OCTET_STREAM: &str = "application/octet-stream";

/// A recipient as typed: `adresse` or `Nom <adresse>`.
#[derive(Debug, PartialEq, Eq)]
pub struct Recipient {
    pub name: Option<String>,
    pub address: EmailAddress,
}

/// An attached file: uploaded, or kept from another message.
pub struct Upload {
    pub name: String,
    /// As declared: checked by [`content_type`] when built.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What the webmail sends or keeps as a draft.
pub struct Outgoing<'a> {
    /// The sending mailbox: its display name and address.
    pub from: (&'a str, &'a EmailAddress),
    pub to: &'a [Recipient],
    pub cc: &'a [Recipient],
    pub subject: &'a str,
    pub body: &'a str,
    /// The message ids answered, as the form holds them.
    pub in_reply_to: &'a str,
    pub references: &'a str,
    pub attachments: Vec<Upload>,
    /// Our host name, right of the `@` of the new Message-ID.
    pub hostname: &'a str,
    /// For a message to a patient or with a document: the INS was
    /// qualified (it came from Mon espace santé, or from identity traits
    /// checked).
    pub ins_qualified: bool,
    /// The message ends a patient conversation.
    pub closes_conversation: bool,
    /// The `code` of the CDA document it carries (`X-MSS-CODECDA`).
    pub codecda: Option<&'a str>,
    /// The sending product's reference (`X-MSS-NIL`).
    pub product: &'a str,
    /// The sender asks for a read receipt (always, to a patient).
    pub receipt: bool,
}

/// `text` fit for a header field: without CR, LF, NUL or any other control
/// character but tab; each line break becomes one space.
pub fn header_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            // RFC 5322 §2.2: a header field is one line (folding is the builder's).
            '\r' | '\n' if !out.ends_with(' ') => out.push(' '),
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The declared type of an uploaded part if it is a plain `type/subtype`
/// (RFC 6838 §4.2 names, parameters dropped), not a container
/// (`multipart/*`, `message/*`) whose boundaries the sender would choose;
/// else `application/octet-stream`.
pub fn content_type(declared: &str) -> String {
    let essence = header_value(declared.split(';').next().unwrap_or_default()).trim().to_ascii_lowercase();
    let name = |s: &str| {
        (1..=127).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if name(kind) && name(sub) && !matches!(kind, "multipart" | "message") => essence,
        _ => OCTET_STREAM.to_string(),
    }
}

/// The message ids in `text` (`<id> <id>`), without their brackets; what
/// does not look like one (RFC 5322 §3.6.4: printable ASCII around an `@`)
/// is left out.
pub fn message_ids(text: &str) -> Vec<String> {
    let looks_like_one = |id: &str| {
        id.len() <= 250 && id.contains('@') && id.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    };
    header_value(text)
        .split_whitespace()
        .map(|id| id.strip_prefix('<').unwrap_or(id))
        .map(|id| id.strip_suffix('>').unwrap_or(id))
        .filter(|id| looks_like_one(id))
        .map(str::to_string)
        .collect()
}

/// The message, ready to send or to keep as a draft.
pub fn build(message: Outgoing<'_>) -> std::io::Result<Vec<u8>> {
    let list = |recipients: &[Recipient]| {
        let each = recipients
            .iter()
            .map(|r| Address::new_address(r.name.as_deref().map(header_value), header_value(&r.address.to_string())));
        Address::new_list(each.collect())
    };
    let unique = random_token(18).map_err(std::io::Error::other)?;
    let (name, address) = message.from;
    let mut builder = MessageBuilder::new()
        .from((header_value(name), header_value(&address.to_string())))
        .subject(header_value(message.subject))
        .message_id(header_value(&format!("{unique}@{}", message.hostname)))
        .date(now_unix())
        .text_body(message.body.replace('\n', "\r\n"));
    if !message.to.is_empty() {
        builder = builder.to(list(message.to));
    }
    if !message.cc.is_empty() {
        builder = builder.cc(list(message.cc));
    }
    if let Some(id) = message_ids(message.in_reply_to).pop() {
        builder = builder.in_reply_to(id);
    }
    let references = message_ids(message.references);
    if !references.is_empty() {
        builder = builder.references(references);
    }
    let to_patient = message.to.iter().chain(message.cc).any(|r| r.address.domain().is_patient());
    if to_patient || message.receipt {
        let receipt_to = Address::new_address(None::<String>, header_value(&address.to_string()));
        builder = builder.header("Disposition-Notification-To", receipt_to);
    }
    if to_patient || message.codecda.is_some() {
        builder = builder.header(patients::INS_FIELD, Raw::new(patients::ins_field_value(message.ins_qualified)));
    }
    if let Some(code) = message.codecda {
        builder = builder.header("X-MSS-CODECDA", Raw::new(header_value(code)));
    }
    builder = builder.header("X-MSS-NIL", Raw::new(header_value(message.product)));
    if message.closes_conversation {
        builder = builder.header(patients::CLOSING_FIELD, Raw::new(patients::CLOSING_VALUE));
    }
    for file in message.attachments {
        let name = header_value(&file.name);
        let name = if name.trim().is_empty() { "piece-jointe".to_string() } else { name };
        builder = builder.attachment(content_type(&file.content_type), name, file.bytes);
    }
    builder.write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_hold_no_line_break_nor_control() {
        assert_eq!(header_value("Bonjour\r\nFrom: chef@x.test"), "Bonjour From: chef@x.test");
        assert_eq!(header_value("a \r\n\r\nb\0c\u{7}d\te\u{85}"), "a bcd\te");
        assert_eq!(header_value("Résultats d'analyse"), "Résultats d'analyse");
    }

    #[test]
    fn only_plain_declared_types_are_kept() {
        assert_eq!(content_type("image/PNG"), "image/png");
        assert_eq!(content_type("text/plain; charset=utf-8"), "text/plain");
        assert_eq!(content_type("application/vnd.ms-excel"), "application/vnd.ms-excel");
        for bad in ["multipart/mixed; boundary=x", "message/rfc822", "text", "", "text/pl ain", "a/b\r\nBcc: x", "é/x"]
        {
            assert_eq!(content_type(bad), OCTET_STREAM, "{bad:?}");
        }
    }

    #[test]
    fn a_message_to_a_patient_asks_for_a_receipt_and_says_the_ins_is_qualified() {
        let from: EmailAddress = "pharmacie@ours.test".parse().unwrap();
        let patient = Recipient { name: None, address: "279035121518989@patient.mssante.fr".parse().unwrap() };
        let colleague = Recipient { name: None, address: "bob@ours.test".parse().unwrap() };
        let message = |to: &[Recipient], qualified, closes| {
            let built = build(Outgoing {
                from: ("Pharmacie de la Gare", &from),
                to,
                cc: &[],
                subject: "Votre commande",
                body: "Disponible.",
                in_reply_to: "",
                references: "",
                attachments: vec![],
                hostname: "mss.ours.test",
                ins_qualified: qualified,
                closes_conversation: closes,
                codecda: None,
                product: "mss test",
                receipt: false,
            });
            String::from_utf8(built.unwrap()).unwrap()
        };
        let facts = mss_message::Facts::of(message(std::slice::from_ref(&patient), true, true).as_bytes());
        assert_eq!(facts.mss_header("X-MSS-INS"), Some("O"));
        assert!(facts.closes_conversation());
        assert_eq!(facts.patient.ins.as_deref(), Some("279035121518989"));
        let raw = message(&[patient], false, false);
        assert!(raw.contains("Disposition-Notification-To: <pharmacie@ours.test>\r\n"), "{raw}");
        assert!(raw.contains("X-MSS-INS: N\r\n") && !raw.contains("X-MSS-MES"), "{raw}");
        let professional = message(&[colleague], true, false);
        assert!(!professional.contains("X-MSS-INS") && !professional.contains("Disposition-Notification-To"));
        assert!(professional.contains("X-MSS-NIL: mss test\r\n"), "every message names the product");
    }

    #[test]
    fn message_ids_are_checked() {
        assert_eq!(message_ids("<a@b.test> <c@d.test>"), ["a@b.test", "c@d.test"]);
        assert_eq!(message_ids("<a@b.test>\r\nBcc: x"), ["a@b.test"]);
        assert_eq!(message_ids("<a@b.test>\0 <no-at> <x<y@z>"), ["a@b.test"]);
    }
}
