//! The facts of a message, read once when it is stored: what people and
//! protocols ask for without reading the bytes again.
//!
//! - the envelope (RFC 5322 §3.6 fields, RFC 9051 §7.5.2 ENVELOPE): date,
//!   subject, the originators as [`crate::originators`] reads them, the
//!   recipients, message-id, in-reply-to, and the references;
//! - the MIME part tree (RFC 2045, RFC 2046) with the byte offsets and sizes
//!   of each part's header and body, so that BODYSTRUCTURE, BODY[n.m],
//!   BINARY and attachment downloads read only what they need;
//! - the MSSanté facts: the `X-MSS-*` header fields, the patient addresses
//!   (`@patient.mssante.fr`) and INS, whether an IHE XDM package is attached.
//!
//! [`Facts::of`] is total: any input gives facts (a message without a
//! readable header has an empty envelope and one text part), never a panic.
//! Facts depend on the bytes only, so one message stored in many folders
//! has one set of facts.

use std::borrow::Cow;

use mail_parser::{Addr, Address, Header, HeaderName, HeaderValue, Message, MessagePart, MimeHeaders, PartType};
use mss_core::{EmailAddress, PATIENT_DOMAIN, patients};
use mss_store::SearchedHeader;
use serde::{Deserialize, Serialize};

use crate::header::originators;
use crate::parsed::parse;

/// Nesting (multiparts and embedded messages) beyond which parts are not
/// described: a hostile message cannot exhaust the stack.
pub const MAX_DEPTH: usize = 100;

/// Parts described at most; a message with more has [`Facts::truncated`].
pub const MAX_PARTS: usize = 4096;

/// The largest header block kept in the facts ([`Facts::header`]): a
/// header of many `Received:` lines is read from the message instead of
/// growing every read of its facts.
pub const MAX_KEPT_HEADER: usize = 16 * 1024;

/// The name of an IHE XDM package attached to a message (IHE ITI TF-1 §16,
/// the ANS "DMP compatible" guide).
const XDM_PACKAGE: &str = "IHE_XDM.ZIP";

/// The leading fields of [`Facts`], in its order: what IMAP's ENVELOPE and
/// BODYSTRUCTURE are written from. The stored encoding reads fields in
/// order, so these decode from stored facts alone, the rest left unread
/// ([`crate::stored::decode_structure`]): a FETCH of every envelope of a
/// folder does not decode the texts SEARCH keeps. Keep both in step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Structure {
    pub header: Option<String>,
    pub envelope: Envelope,
    pub references: Option<String>,
    pub parts: Vec<Part>,
    pub truncated: bool,
}

/// What a message says, read once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The message's header block as stored, blank line included, when it
    /// is UTF-8 and at most [`MAX_KEPT_HEADER`] bytes: what IMAP answers a
    /// FETCH of HEADER or HEADER.FIELDS with (a mail client listing a
    /// folder) without reading the message, as Dovecot answers from its
    /// cache. None otherwise: the message is read.
    pub header: Option<String>,
    pub envelope: Envelope,
    /// `References:` as written, unfolded (RFC 5322 §3.6.4).
    pub references: Option<String>,
    /// The MIME parts, depth first: the message itself first, then each
    /// part after its parent (see [`Part::parent`]).
    pub parts: Vec<Part>,
    /// Parts beyond [`MAX_PARTS`] or [`MAX_DEPTH`] were left out.
    pub truncated: bool,
    /// The `X-MSS-*` header fields of the message, in order, names as
    /// written and values unfolded.
    pub mss_headers: Vec<(String, String)>,
    pub patient: PatientFacts,
    /// Whether an IHE XDM package is attached (a part named `IHE_XDM.ZIP`,
    /// or whose media type says XDM).
    pub xdm: bool,
    /// Every field of the message SEARCH has a key for ([`SearchedHeader`]), in order: its name
    /// as written and its text as SEARCH matches in it
    /// ([`crate::search::field_text`]). None in facts written before this
    /// was kept: a reader then reads the message.
    #[serde(default)]
    pub searched_fields: Option<Vec<(String, String)>>,
    /// For a read or processing receipt (RFC 8098: a multipart/report of
    /// report-type disposition-notification), the id (without brackets) of
    /// the message it is about, its `Original-Message-ID`.
    #[serde(default)]
    pub receipt_for: Option<String>,
    /// Its `Disposition` (`manual-action/MDN-sent-manually; displayed`,
    /// `automatic-action/MDN-sent-automatically; processed/Error: 902^…`).
    #[serde(default)]
    pub receipt_disposition: Option<String>,
    /// The health documents attached (IHE XDM packages, CDA documents),
    /// each read and checked ([`crate::documents`]).
    #[serde(default)]
    pub documents: Vec<crate::documents::DocumentSummary>,
}

/// The header fields clients sort, search and show (RFC 9051 §7.5.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `Date:` as written, unfolded.
    pub date: Option<String>,
    /// `Date:` as unix seconds, when it reads as a date.
    pub sent_at: Option<i64>,
    /// `Subject:`, RFC 2047 words decoded (empty when present but unreadable).
    pub subject: Option<String>,
    /// From, Sender and Reply-To as [`crate::originators`] reads them; None
    /// when it refuses the header (two `From:`, none, a malformed line).
    pub originators: Option<Senders>,
    pub to: Vec<AddressItem>,
    pub cc: Vec<AddressItem>,
    pub bcc: Vec<AddressItem>,
    /// `In-Reply-To:` as written, unfolded.
    pub in_reply_to: Option<String>,
    /// `Message-ID:` as written, unfolded.
    pub message_id: Option<String>,
}

/// The originator fields, checked (RFC 5322 §3.6.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Senders {
    pub from: Vec<Person>,
    pub sender: Option<Person>,
    pub reply_to: Vec<Person>,
}

/// A mailbox: display name (RFC 2047 decoded) and address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: Option<String>,
    pub address: String,
}

/// One entry of a recipient field: a mailbox, or the start or end of an
/// RFC 5322 §3.4 group (which IMAP ENVELOPE writes as markers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddressItem {
    Mailbox(Person),
    GroupStart(String),
    GroupEnd,
}

/// Byte ranges of a part in the stored message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offsets {
    /// Where the part's header starts.
    pub header: u64,
    /// Where its body starts (after the blank line).
    pub body: u64,
    /// Where its body ends.
    pub end: u64,
}

impl Offsets {
    pub fn header_size(&self) -> u64 {
        self.body.saturating_sub(self.header)
    }

    pub fn body_size(&self) -> u64 {
        self.end.saturating_sub(self.body)
    }
}

/// One MIME part (RFC 2045 §5, §6; RFC 2183; RFC 2046).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The index in [`Facts::parts`] of the multipart holding this part,
    /// or of the message/rfc822 part this message is the content of; None
    /// for the message itself.
    pub parent: Option<u32>,
    /// Whether this part heads a message (the stored one, or one embedded
    /// in a message/rfc822 part): its header is a message header.
    pub message: bool,
    /// The IMAP part number (RFC 9051 §6.4.5): BODY[path] is the body of a
    /// part that is not a message; a message's header is BODY[path.HEADER]
    /// and its body BODY[path.TEXT] (path empty for the stored message).
    pub path: Vec<u32>,
    /// Media type and subtype, lower case, with RFC 2045 defaults
    /// (text/plain, message/rfc822 in a digest).
    pub media_type: String,
    pub subtype: String,
    /// Content-Type parameters, names lower case, values decoded.
    pub params: Vec<(String, String)>,
    /// Whether the part has a Content-Type field: without one, the type
    /// and parameters above are the RFC 2045 defaults (IMAP writes those
    /// defaults in its own case, RFC 9051 §7.5.2).
    #[serde(default)]
    pub typed: bool,
    /// Content-Disposition type, lower case, and its parameters (RFC 2183).
    pub disposition: Option<String>,
    pub disposition_params: Vec<(String, String)>,
    /// The file name (disposition `filename`, else type `name`).
    pub filename: Option<String>,
    /// Content-Transfer-Encoding as written (RFC 2045 §6), unfolded.
    pub encoding: Option<String>,
    pub content_id: Option<String>,
    pub description: Option<String>,
    pub language: Vec<String>,
    pub location: Option<String>,
    /// Where the part lies in the stored bytes; None inside a message/rfc822
    /// part that is itself transfer-encoded (its parts lie in the decoded
    /// bytes, not the stored ones).
    pub offsets: Option<Offsets>,
    /// Lines of the body, for text and message parts (RFC 9051 §7.5.2).
    pub lines: Option<u64>,
    /// The envelope of an embedded message (a message part other than the
    /// stored message itself).
    pub envelope: Option<Envelope>,
}

/// What a message says about patients of Mon espace santé.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientFacts {
    /// Patient addresses among From, Sender and Reply-To.
    pub senders: Vec<String>,
    /// Patient addresses among To, Cc and Bcc.
    pub recipients: Vec<String>,
    /// The INS of the first patient address whose local part is a valid
    /// INS matricule (the address is `<INS>@patient.mssante.fr`).
    pub ins: Option<String>,
    /// `X-MSS-INS`: `O` (the INS is qualified) or `N`, as the sender says.
    pub ins_qualified: Option<bool>,
}

impl Facts {
    /// Whether the message ends a patient conversation: `X-MSS-MES: FIN`
    /// or the subject `[FIN]` ([`patients::closes_conversation`]).
    pub fn closes_conversation(&self) -> bool {
        patients::closes_conversation(self.envelope.subject.as_deref(), self.mss_header(patients::CLOSING_FIELD))
    }

    /// Reads the facts of a raw message. Never panics.
    pub fn of(raw: &[u8]) -> Facts {
        match parse(raw) {
            Some(message) => Facts::parsed(raw, &message),
            None => Facts::plain(raw),
        }
    }

    /// The facts of a raw message and its searchable text (see
    /// [`crate::search`]), from one parse. Never panics.
    pub fn with_text(raw: &[u8]) -> (Facts, crate::search::Searchable) {
        match parse(raw) {
            Some(message) => {
                let facts = Facts::parsed(raw, &message);
                let text = crate::search::text(&facts, Some(&message), raw);
                (facts, text)
            }
            None => {
                let facts = Facts::plain(raw);
                let text = crate::search::text(&facts, None, raw);
                (facts, text)
            }
        }
    }

    fn parsed(raw: &[u8], message: &Message<'_>) -> Facts {
        let mut facts = Facts::default();
        Walk { raw, facts: &mut facts }.message(message, None, Vec::new(), 0);
        if let Some(root) = message.parts.first() {
            let bytes = message.raw_message.get(offset_of(root.offset_header)..).unwrap_or_default();
            facts.envelope = envelope(message, root, bytes);
            facts.references = raw_value(message, root, &HeaderName::References);
            facts.mss_headers = root
                .headers
                .iter()
                .filter(|h| h.name.as_str().get(..6).is_some_and(|p| p.eq_ignore_ascii_case("x-mss-")))
                .map(|h| (h.name.as_str().to_string(), unfold(field_value(message, h))))
                .collect();
            let searched = root.headers.iter().filter(|h| is_searched(h.name.as_str()));
            let searched = searched
                .map(|h| (h.name.as_str().to_string(), crate::search::field_text(field_value(message, h), &h.value)));
            facts.searched_fields = Some(searched.collect());
        }
        facts.header = facts.kept_header(raw);
        facts.documents = crate::documents::summaries(&crate::documents::attached(message));
        facts.patient = facts.patient_facts();
        facts.xdm = facts.parts.iter().any(Part::is_xdm);
        if let Some((original, disposition)) = facts.receipt_fields(raw) {
            facts.receipt_for = Some(original);
            facts.receipt_disposition = disposition;
        }
        facts
    }

    /// The header block of `raw` as [`Facts::header`] keeps it.
    fn kept_header(&self, raw: &[u8]) -> Option<String> {
        let offsets = self.parts.first()?.offsets.as_ref()?;
        let block = raw.get(usize::try_from(offsets.header).ok()?..usize::try_from(offsets.body).ok()?)?;
        if block.len() > MAX_KEPT_HEADER {
            return None;
        }
        String::from_utf8(block.to_vec()).ok()
    }

    /// The `Original-Message-ID` and `Disposition` of the disposition
    /// notification part of a `multipart/report;
    /// report-type=disposition-notification` message.
    fn receipt_fields(&self, raw: &[u8]) -> Option<(String, Option<String>)> {
        let root = self.parts.first()?;
        let report = root.media_type == "multipart"
            && root.subtype == "report"
            && root
                .params
                .iter()
                .any(|(k, v)| k == "report-type" && v.eq_ignore_ascii_case("disposition-notification"));
        if !report {
            return None;
        }
        let part = self
            .parts
            .iter()
            .find(|p| p.parent == Some(0) && p.media_type == "message" && p.subtype == "disposition-notification")?;
        let offsets = part.offsets.as_ref()?;
        let body = raw.get(usize::try_from(offsets.body).ok()?..usize::try_from(offsets.end).ok()?)?;
        // Header-like fields (RFC 8098 §3.1), folded lines joined.
        let text = String::from_utf8_lossy(body).replace("\r\n ", " ").replace("\r\n\t", " ").replace("\n ", " ");
        let field = |wanted: &str| {
            text.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim().eq_ignore_ascii_case(wanted).then(|| value.trim().to_string())
            })
        };
        let id = field("Original-Message-ID")?;
        let id = id.trim_start_matches('<').trim_end_matches('>');
        if id.is_empty() || id.len() > 250 {
            return None;
        }
        let disposition = field("Disposition").filter(|d| !d.is_empty()).map(|d| d.chars().take(500).collect());
        Some((id.to_string(), disposition))
    }

    /// A message without a header: one text/plain body.
    fn plain(raw: &[u8]) -> Facts {
        let size = raw.len() as u64;
        let part = Part {
            message: true,
            media_type: "text".into(),
            subtype: "plain".into(),
            params: vec![("charset".into(), "us-ascii".into())],
            offsets: Some(Offsets { header: 0, body: 0, end: size }),
            lines: Some(count_lines(raw)),
            ..Part::default()
        };
        // Without a header there is no field to search.
        Facts { parts: vec![part], searched_fields: Some(Vec::new()), ..Facts::default() }
    }

    /// Every address the message names as sender or recipient.
    fn patient_facts(&self) -> PatientFacts {
        let envelope = &self.envelope;
        let senders: Vec<&str> = envelope
            .originators
            .iter()
            .flat_map(|o| o.from.iter().chain(&o.sender).chain(&o.reply_to))
            .map(|p| p.address.as_str())
            .collect();
        let recipients: Vec<&str> = [&envelope.to, &envelope.cc, &envelope.bcc]
            .into_iter()
            .flatten()
            .filter_map(|item| match item {
                AddressItem::Mailbox(p) => Some(p.address.as_str()),
                AddressItem::GroupStart(_) | AddressItem::GroupEnd => None,
            })
            .collect();
        let patients = |list: Vec<&str>| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for address in list.into_iter().filter_map(patient_address) {
                if !out.contains(&address) {
                    out.push(address);
                }
            }
            out
        };
        let (senders, recipients) = (patients(senders), patients(recipients));
        // A patient's address first, else the patient a document names.
        let ins = senders
            .iter()
            .chain(&recipients)
            .find_map(|address| {
                let address = address.parse::<EmailAddress>().ok()?;
                patients::patient_of(&address).map(|ins| ins.as_str().to_string())
            })
            .or_else(|| self.documents.iter().find_map(|d| d.patient_ins.clone()));
        // MSSANTE.md: X-MSS-INS is `O` or `N`.
        let ins_qualified = self.mss_header("X-MSS-INS").and_then(|v| match v.trim() {
            v if v.eq_ignore_ascii_case("O") => Some(true),
            v if v.eq_ignore_ascii_case("N") => Some(false),
            _ => None,
        });
        PatientFacts { senders, recipients, ins, ins_qualified }
    }

    /// The value of the first `X-MSS-*` field named `name`.
    pub fn mss_header(&self, name: &str) -> Option<&str> {
        self.mss_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the facts were read from a parsed header. A message that does
    /// not parse is described as one text part whose body starts at 0; a
    /// header-only parse may still find fields there, which these facts
    /// lack.
    pub fn has_header(&self) -> bool {
        self.parts.first().and_then(|p| p.offsets).is_some_and(|o| o.body > 0)
    }

    /// The texts of the fields named `name` (case ignored), in order, when
    /// `name` is a [`SearchedHeader`] and the facts keep them.
    pub fn searched(&self, name: &str) -> Option<impl Iterator<Item = &str>> {
        let fields = self.searched_fields.as_ref().filter(|_| is_searched(name))?;
        Some(fields.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, text)| text.as_str()))
    }

    /// The parts a reader takes for attachments: those with a file name or
    /// an `attachment` disposition, messages and multiparts aside.
    pub fn attachments(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| {
            !p.message
                && p.media_type != "multipart"
                && (p.filename.is_some() || p.disposition.as_deref() == Some("attachment"))
        })
    }
}

impl Part {
    /// An IHE XDM package: named `IHE_XDM.ZIP`, or typed as XDM
    /// (inferred: some senders say `application/x-xdm+zip`).
    fn is_xdm(&self) -> bool {
        self.filename.as_deref().is_some_and(|name| {
            let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
            base.eq_ignore_ascii_case(XDM_PACKAGE)
        }) || (self.media_type == "application" && self.subtype.contains("xdm"))
    }
}

fn is_searched(name: &str) -> bool {
    SearchedHeader::named(name).is_some()
}

/// A patient address (lower case), if `address` is one.
fn patient_address(address: &str) -> Option<String> {
    let address: EmailAddress = address.parse().ok()?;
    (address.domain().as_str() == PATIENT_DOMAIN).then(|| address.to_string())
}

/// Describes the parts of a message into [`Facts::parts`].
struct Walk<'r, 'f> {
    /// The stored bytes, to tell which parts lie in them.
    raw: &'r [u8],
    facts: &'f mut Facts,
}

/// Where a part stands in the tree.
#[derive(Clone)]
struct Position {
    parent: Option<u32>,
    path: Vec<u32>,
    /// The part heads a message (its header is a message header).
    heads_message: bool,
    /// Its offsets are in the stored bytes.
    stored: bool,
    depth: usize,
}

impl Walk<'_, '_> {
    /// Describes a message (the stored one, or one embedded at `path`).
    fn message(&mut self, message: &Message<'_>, parent: Option<u32>, path: Vec<u32>, depth: usize) {
        // A plain embedded message is read from the stored bytes themselves;
        // a transfer-encoded one from its decoded bytes.
        let stored = std::ptr::eq(message.raw_message.as_ref(), self.raw);
        self.part(message, 0, Position { parent, path, heads_message: true, stored, depth });
    }

    fn part(&mut self, message: &Message<'_>, id: usize, at: Position) {
        if at.depth >= MAX_DEPTH || self.facts.parts.len() >= MAX_PARTS {
            self.facts.truncated = true;
            return;
        }
        let Some(part) = message.parts.get(id) else { return };
        let index = u32::try_from(self.facts.parts.len()).unwrap_or(u32::MAX);
        self.facts.parts.push(describe(message, part, &at));
        match &part.body {
            PartType::Multipart(children) => {
                // Only ids after the part's own are followed: no loop.
                let children = children.iter().map(|&c| c as usize).filter(|&c| c > id);
                for (n, child) in children.enumerate() {
                    let mut path = at.path.clone();
                    path.push(u32::try_from(n + 1).unwrap_or(u32::MAX));
                    let child_at =
                        Position { parent: Some(index), path, heads_message: false, depth: at.depth + 1, ..at };
                    self.part(message, child, child_at);
                }
            }
            PartType::Message(inner) => {
                // RFC 9051 §6.4.5: the message of a message/rfc822 part has
                // the part's number (BODY[n.HEADER]); a message whose own
                // body is a message gives it the number 1.
                let mut path = at.path;
                if at.heads_message {
                    path.push(1);
                }
                self.message(inner, Some(index), path, at.depth + 1);
            }
            _ => {}
        }
    }
}

/// The description of one part (its children aside).
fn describe(message: &Message<'_>, part: &MessagePart<'_>, at: &Position) -> Part {
    let content_type = part.content_type();
    let embedded = matches!(part.body, PartType::Message(_));
    let (media_type, subtype, params) = match content_type {
        Some(ct) => (
            ct.c_type.to_ascii_lowercase(),
            ct.c_subtype.as_deref().unwrap_or_default().to_ascii_lowercase(),
            parameters(ct.attributes()),
        ),
        // RFC 2046 §5.1.5: in a digest, the default is message/rfc822.
        None if embedded => ("message".into(), "rfc822".into(), Vec::new()),
        // RFC 2045 §5.2: the default is text/plain; charset=us-ascii.
        None => ("text".into(), "plain".into(), vec![("charset".into(), "us-ascii".into())]),
    };
    let body = message.raw_message.get(offset_of(part.offset_body)..offset_of(part.offset_end)).unwrap_or_default();
    let counted = media_type == "text" || media_type == "message";
    let envelope = match &part.body {
        PartType::Message(inner) if at.depth + 1 < MAX_DEPTH => inner.parts.first().map(|root| {
            envelope(inner, root, inner.raw_message.get(offset_of(root.offset_header)..).unwrap_or_default())
        }),
        _ => None,
    };
    let language = match part.content_language() {
        HeaderValue::Text(language) => vec![language.to_string()],
        HeaderValue::TextList(languages) => languages.iter().map(|l| l.to_string()).collect(),
        _ => Vec::new(),
    };
    Part {
        parent: at.parent,
        message: at.heads_message,
        path: at.path.clone(),
        media_type,
        subtype,
        params,
        typed: content_type.is_some(),
        disposition: part.content_disposition().map(|d| d.c_type.to_ascii_lowercase()),
        disposition_params: part.content_disposition().map(|d| parameters(d.attributes())).unwrap_or_default(),
        filename: part.attachment_name().map(str::to_string),
        encoding: raw_value(message, part, &HeaderName::ContentTransferEncoding),
        content_id: raw_value(message, part, &HeaderName::ContentId),
        description: raw_value(message, part, &HeaderName::ContentDescription),
        language,
        location: raw_value(message, part, &HeaderName::ContentLocation),
        offsets: at.stored.then(|| Offsets {
            header: u64::from(part.offset_header),
            body: u64::from(part.offset_body),
            end: u64::from(part.offset_end),
        }),
        lines: counted.then(|| count_lines(body)),
        envelope,
    }
}

/// The envelope of a message whose root part is `root`; `bytes` is the
/// message from its first header line on, for the originators' reader.
fn envelope(message: &Message<'_>, root: &MessagePart<'_>, bytes: &[u8]) -> Envelope {
    let first = |name: &HeaderName<'_>| root.headers.iter().find(|h| h.name == *name);
    let date = first(&HeaderName::Date).and_then(|h| h.value.as_datetime());
    Envelope {
        date: raw_value(message, root, &HeaderName::Date),
        sent_at: date.filter(|d| d.is_valid()).map(|d| d.to_timestamp()),
        subject: first(&HeaderName::Subject).map(|h| h.value.as_text().unwrap_or_default().to_string()),
        originators: originators(bytes).ok().map(|o| Senders {
            from: o.from.iter().map(person).collect(),
            sender: o.sender.as_ref().map(person),
            reply_to: o.reply_to.iter().map(person).collect(),
        }),
        to: address_items(first(&HeaderName::To)),
        cc: address_items(first(&HeaderName::Cc)),
        bcc: address_items(first(&HeaderName::Bcc)),
        in_reply_to: raw_value(message, root, &HeaderName::InReplyTo),
        message_id: raw_value(message, root, &HeaderName::MessageId),
    }
}

fn person(mailbox: &crate::Mailbox) -> Person {
    Person {
        name: mailbox.name.as_deref().filter(|n| !n.is_empty()).map(str::to_string),
        address: mailbox.address.to_string(),
    }
}

/// The mailboxes and groups of a recipient field, as mail-parser reads it;
/// a display name without an address is no mailbox.
fn address_items(header: Option<&Header<'_>>) -> Vec<AddressItem> {
    let mut items = Vec::new();
    let push = |items: &mut Vec<AddressItem>, list: &[Addr<'_>]| {
        for addr in list {
            if let Some(address) = addr.address.as_deref().filter(|a| !a.is_empty()) {
                let name = addr.name.as_deref().filter(|n| !n.is_empty()).map(str::to_string);
                items.push(AddressItem::Mailbox(Person { name, address: address.to_string() }));
            }
        }
    };
    match header.map(|h| &h.value) {
        Some(HeaderValue::Address(Address::List(list))) => push(&mut items, list),
        Some(HeaderValue::Address(Address::Group(groups))) => {
            for group in groups {
                // Addresses outside any group come as groups without a name.
                match &group.name {
                    Some(name) => {
                        items.push(AddressItem::GroupStart(name.to_string()));
                        push(&mut items, &group.addresses);
                        items.push(AddressItem::GroupEnd);
                    }
                    None => push(&mut items, &group.addresses),
                }
            }
        }
        _ => {}
    }
    items
}

/// Parameters, names lower case.
fn parameters(attributes: Option<&[mail_parser::Attribute<'_>]>) -> Vec<(String, String)> {
    attributes.unwrap_or_default().iter().map(|a| (a.name.to_ascii_lowercase(), a.value.to_string())).collect()
}

/// The raw value of a header field (after the colon), as stored.
fn field_value<'m>(message: &'m Message<'_>, header: &Header<'_>) -> &'m [u8] {
    message.raw_message.get(offset_of(header.offset_start)..offset_of(header.offset_end)).unwrap_or_default()
}

/// The first field named `name` of a part, as written: unfolded, trimmed;
/// None when absent or empty.
fn raw_value(message: &Message<'_>, part: &MessagePart<'_>, name: &HeaderName<'_>) -> Option<String> {
    let header = part.headers.iter().find(|h| h.name == *name)?;
    Some(unfold(field_value(message, header))).filter(|v| !v.is_empty())
}

/// A field value without its line breaks (RFC 5322 §2.2.3), trimmed.
fn unfold(value: &[u8]) -> String {
    let value: Vec<u8> = value.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect();
    match String::from_utf8_lossy(value.trim_ascii()) {
        Cow::Borrowed(text) => text.to_string(),
        Cow::Owned(text) => text,
    }
}

fn offset_of(offset: u32) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// Lines of a body: its line feeds, plus an unterminated last line.
fn count_lines(body: &[u8]) -> u64 {
    let feeds = memchr::memchr_iter(b'\n', body).count();
    (feeds + usize::from(!body.is_empty() && !body.ends_with(b"\n"))) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pharmacist forwards a laboratory's results to a patient: a text,
    /// the laboratory's message (itself text and PDF), and an XDM package.
    const FORWARD: &str = "From: \"Dr. Alice Martin\" <Alice.Martin@pharma.mssante.fr>\r\n\
        To: 279035121518989@patient.mssante.fr, Equipe: bob@cabinet.mssante.fr;\r\n\
        Cc: carol@labo.mssante.fr\r\n\
        Subject: =?UTF-8?Q?R=C3=A9sultats?=\r\n\
        Date: Tue, 14 May 2024 09:30:00 +0200\r\n\
        Message-ID: <20240514.1@pharma.mssante.fr>\r\n\
        In-Reply-To: <a@x>\r\n\
        References: <r@x>\r\n <a@x>\r\n\
        X-MSS-INS: O\r\n\
        X-Mss-Nil: mss 0.1\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
        \r\n\
        --b1\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        \r\n\
        Pour info.\r\n\
        --b1\r\n\
        Content-Type: message/rfc822\r\n\
        \r\n\
        From: labo@labo.mssante.fr\r\n\
        Subject: Resultats d'analyse\r\n\
        Content-Type: multipart/mixed; boundary=b2\r\n\
        \r\n\
        --b2\r\n\
        Content-Type: text/plain\r\n\
        \r\n\
        Glycemie normale.\r\n\
        Cordialement.\r\n\
        --b2\r\n\
        Content-Type: application/pdf\r\n\
        Content-Disposition: attachment; filename=\"cr.pdf\"\r\n\
        Content-Transfer-Encoding: base64\r\n\
        \r\n\
        JVBERi0xLjQK\r\n\
        --b2--\r\n\
        \r\n\
        --b1\r\n\
        Content-Type: application/zip; name=IHE_XDM.ZIP\r\n\
        Content-Transfer-Encoding: base64\r\n\
        \r\n\
        UEsDBAo=\r\n\
        --b1--\r\n";

    fn person(name: Option<&str>, address: &str) -> Person {
        Person { name: name.map(str::to_string), address: address.into() }
    }

    fn body<'a>(raw: &'a str, part: &Part) -> &'a str {
        let offsets = part.offsets.unwrap();
        &raw[offsets.body as usize..offsets.end as usize]
    }

    #[test]
    fn the_envelope_is_read_once_with_the_checked_originators() {
        let facts = Facts::of(FORWARD.as_bytes());
        let envelope = &facts.envelope;
        assert_eq!(envelope.subject.as_deref(), Some("Résultats"));
        assert_eq!(envelope.date.as_deref(), Some("Tue, 14 May 2024 09:30:00 +0200"));
        assert_eq!(envelope.sent_at, Some(1_715_671_800));
        let senders = envelope.originators.as_ref().unwrap();
        assert_eq!(senders.from, [person(Some("Dr. Alice Martin"), "alice.martin@pharma.mssante.fr")]);
        assert_eq!((senders.sender.as_ref(), senders.reply_to.len()), (None, 0));
        assert_eq!(
            envelope.to,
            [
                AddressItem::Mailbox(person(None, "279035121518989@patient.mssante.fr")),
                AddressItem::GroupStart("Equipe".into()),
                AddressItem::Mailbox(person(None, "bob@cabinet.mssante.fr")),
                AddressItem::GroupEnd,
            ]
        );
        assert_eq!(envelope.cc, [AddressItem::Mailbox(person(None, "carol@labo.mssante.fr"))]);
        assert_eq!(envelope.message_id.as_deref(), Some("<20240514.1@pharma.mssante.fr>"));
        assert_eq!(envelope.in_reply_to.as_deref(), Some("<a@x>"));
        assert_eq!(facts.references.as_deref(), Some("<r@x> <a@x>"));
        // Two From: the one reader refuses them, and so do the facts.
        let twice = Facts::of(b"From: <a@ours.test>\r\nFrom: <b@ours.test>\r\nSubject: s\r\n\r\nx");
        assert_eq!((twice.envelope.originators, twice.envelope.subject.as_deref()), (None, Some("s")));
    }

    #[test]
    fn the_part_tree_has_paths_types_and_offsets() {
        let facts = Facts::of(FORWARD.as_bytes());
        let described: Vec<(Option<u32>, bool, String, String)> = facts
            .parts
            .iter()
            .map(|p| (p.parent, p.message, dotted(&p.path), format!("{}/{}", p.media_type, p.subtype)))
            .collect();
        let expected = [
            (None, true, "", "multipart/mixed"),
            (Some(0), false, "1", "text/plain"),
            (Some(0), false, "2", "message/rfc822"),
            (Some(2), true, "2", "multipart/mixed"),
            (Some(3), false, "2.1", "text/plain"),
            (Some(3), false, "2.2", "application/pdf"),
            (Some(0), false, "3", "application/zip"),
        ];
        let expected: Vec<_> = expected.iter().map(|&(a, b, c, d)| (a, b, c.to_string(), d.to_string())).collect();
        assert_eq!(described, expected);
        let parts = &facts.parts;
        assert!(!facts.truncated);
        assert_eq!(body(FORWARD, &parts[1]), "Pour info.");
        assert_eq!(parts[1].lines, Some(1));
        assert_eq!(parts[1].params, [("charset".to_string(), "utf-8".to_string())]);
        assert!(body(FORWARD, &parts[2]).starts_with("From: labo@labo.mssante.fr\r\n"));
        assert_eq!(parts[2].envelope.as_ref().unwrap().subject.as_deref(), Some("Resultats d'analyse"));
        assert_eq!(body(FORWARD, &parts[4]), "Glycemie normale.\r\nCordialement.");
        assert_eq!(parts[4].lines, Some(2));
        let pdf = &parts[5];
        assert_eq!((pdf.filename.as_deref(), pdf.disposition.as_deref()), (Some("cr.pdf"), Some("attachment")));
        assert_eq!((pdf.encoding.as_deref(), pdf.lines), (Some("base64"), None));
        assert_eq!(body(FORWARD, pdf), "JVBERi0xLjQK");
        let offsets = pdf.offsets.unwrap();
        let header = &FORWARD[offsets.header as usize..offsets.body as usize];
        assert!(header.starts_with("Content-Type: application/pdf\r\n") && header.ends_with("base64\r\n\r\n"));
        assert_eq!(offsets.body_size(), 12);
        let names: Vec<_> = facts.attachments().map(|p| p.filename.as_deref()).collect();
        assert_eq!(names, [Some("cr.pdf"), Some("IHE_XDM.ZIP")]);
    }

    #[test]
    fn mssante_facts_patient_ins_and_xdm() {
        let facts = Facts::of(FORWARD.as_bytes());
        assert_eq!(
            facts.mss_headers,
            [("X-MSS-INS".to_string(), "O".to_string()), ("X-Mss-Nil".to_string(), "mss 0.1".to_string())]
        );
        assert_eq!(facts.mss_header("x-mss-nil"), Some("mss 0.1"));
        let patient = &facts.patient;
        assert_eq!(patient.recipients, ["279035121518989@patient.mssante.fr"]);
        assert!(patient.senders.is_empty());
        assert_eq!((patient.ins.as_deref(), patient.ins_qualified), (Some("279035121518989"), Some(true)));
        assert!(facts.xdm);
        // A patient writing to a pharmacy; a local part that is no INS.
        let reply = Facts::of(b"From: <279035121518989@Patient.MSSante.fr>\r\nTo: <x@pharma.mssante.fr>\r\n\r\nok");
        assert_eq!(reply.patient.senders, ["279035121518989@patient.mssante.fr"]);
        assert_eq!(
            (reply.patient.ins.as_deref(), reply.patient.ins_qualified, reply.xdm),
            (Some("279035121518989"), None, false)
        );
        assert!(!facts.closes_conversation() && !reply.closes_conversation());
        assert_eq!(facts.receipt_for, None);
        let receipt = "From: <279035121518989@patient.mssante.fr>\r\nSubject: Lu\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/plain\r\n\r\nLu.\r\n--b\r\nContent-Type: message/disposition-notification\r\n\r\n\
            Reporting-UA: x\r\nOriginal-Message-ID: <r1@ours.test>\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n\
            --b--\r\n";
        let read = Facts::of(receipt.as_bytes());
        assert_eq!(read.receipt_for.as_deref(), Some("r1@ours.test"));
        assert_eq!(read.receipt_disposition.as_deref(), Some("manual-action/MDN-sent-manually; displayed"));
        // The same fields in a delivery report are no read receipt.
        let dsn = receipt.replace("report-type=disposition-notification", "report-type=delivery-status");
        assert_eq!(Facts::of(dsn.as_bytes()).receipt_for, None);
        let closing =
            Facts::of(b"From: <279035121518989@patient.mssante.fr>\r\nX-Mss-Mes:  fin \r\nSubject: Merci\r\n\r\n.");
        let by_subject = Facts::of(b"From: <279035121518989@patient.mssante.fr>\r\nSubject: [FIN]\r\n\r\n.");
        let not_exact = Facts::of(b"From: <279035121518989@patient.mssante.fr>\r\nSubject: Re: [FIN]\r\n\r\n.");
        assert!(closing.closes_conversation() && by_subject.closes_conversation() && !not_exact.closes_conversation());
        let invalid = Facts::of(b"From: <a@pharma.mssante.fr>\r\nTo: <123@patient.mssante.fr>\r\n\r\nok");
        assert_eq!((invalid.patient.recipients.len(), invalid.patient.ins), (1, None));
        // An XDM package said by its media type, in a subfolder name.
        let typed = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/x-xdm+zip\r\n\r\nx\r\n--b\r\n\
                     Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a/ihe_xdm.zip\"\r\n\r\ny\r\n--b--\r\n";
        let typed = Facts::of(typed.as_bytes());
        assert!(typed.xdm);
        assert!(typed.parts.iter().filter(|p| p.is_xdm()).count() == 2);
    }

    #[test]
    fn the_searched_fields_keep_every_occurrence_as_search_reads_it() {
        let raw = "From: \"Dr\" <a@x.test> (comment)\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\nSubject: two\r\n\
                   To: G: b@x.test;\r\nX-Other: y\r\n\r\nbody";
        let facts = Facts::of(raw.as_bytes());
        let subjects: Vec<&str> = facts.searched("SUBJECT").unwrap().collect();
        assert_eq!(subjects, ["Café", "two"]);
        let from: Vec<&str> = facts.searched("from").unwrap().collect();
        assert_eq!(from, ["\"Dr\" <a@x.test> (comment)\nDr (comment) <a@x.test>"]);
        assert_eq!(facts.searched("Cc").map(|t| t.count()), Some(0));
        assert!(facts.searched("X-Other").is_none() && facts.has_header());
        // Facts stored before the fields were kept answer nothing.
        let older = Facts { searched_fields: None, ..facts };
        assert!(older.searched("Subject").is_none());
    }

    #[test]
    fn a_message_without_header_is_one_text_part() {
        for raw in [&b""[..], b"garbage without any structure"] {
            let facts = Facts::of(raw);
            assert_eq!(facts.parts.len(), 1, "{raw:?}");
            assert_eq!(facts.parts[0].media_type, "text");
            assert_eq!(facts.envelope, Envelope::default());
        }
        // A single part message: its body is BODY[1], its header the message's.
        let facts = Facts::of(b"Subject: bare\r\n\r\nline one\nline two");
        let root = &facts.parts[0];
        assert_eq!((root.message, root.path.len(), root.lines), (true, 0, Some(2)));
        assert_eq!(root.offsets, Some(Offsets { header: 0, body: 17, end: 34 }));
    }

    #[test]
    fn a_transfer_encoded_embedded_message_has_no_stored_offsets() {
        // "From: Labo <labo@autre.test>\r\nSubject: hi\r\n\r\nbody\r\n" in base64.
        let raw = "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\
                   Content-Transfer-Encoding: base64\r\n\r\n\
                   RnJvbTogTGFibyA8bGFib0BhdXRyZS50ZXN0Pg0KU3ViamVjdDogaGkNCg0KYm9keQ0K\r\n--x--\r\n";
        let facts = Facts::of(raw.as_bytes());
        let described: Vec<_> = facts.parts.iter().map(|p| (dotted(&p.path), p.offsets.is_some())).collect();
        assert_eq!(described, [("".into(), true), ("1".into(), true), ("1".into(), false)]);
        let inner = facts.parts[1].envelope.as_ref().unwrap();
        assert_eq!(inner.originators.as_ref().unwrap().from, [person(Some("Labo"), "labo@autre.test")]);
    }

    #[test]
    fn deep_nesting_is_bounded_and_fits_a_small_stack() {
        let levels = MAX_DEPTH + 50;
        let mut raw = String::new();
        for i in 0..levels {
            raw.push_str(&format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"));
        }
        raw.push_str("Content-Type: text/plain\r\n\r\ndeep\r\n");
        let facts = Facts::of(raw.as_bytes());
        assert!(facts.truncated);
        assert_eq!(facts.parts.len(), MAX_DEPTH);
        let mut embedded = "Subject: x\r\nContent-Type: message/rfc822\r\n\r\n".repeat(10_000);
        embedded.push_str("Subject: end\r\n\r\nbody\r\n");
        let worker = std::thread::Builder::new().stack_size(1 << 20).spawn(move || {
            let facts = Facts::of(embedded.as_bytes());
            assert!(facts.truncated);
            let stored = crate::stored::stored(embedded.as_bytes());
            assert_eq!(crate::stored::decode(&stored), Some(facts), "the encoding reads back");
        });
        assert!(worker.unwrap().join().is_ok());
    }

    #[test]
    fn the_structure_decodes_alone_from_stored_facts() {
        for raw in [FORWARD.as_bytes(), b"Subject: x\r\n\r\ny".as_slice(), b"".as_slice()] {
            let stored = crate::stored(raw);
            let facts = crate::stored::decode(&stored).expect("facts");
            let structure = crate::stored::decode_structure(stored.version, &stored.encoded).expect("structure");
            let Facts { header, envelope, references, parts, truncated, .. } = facts;
            assert_eq!(structure, Structure { header, envelope, references, parts, truncated });
        }
    }

    #[test]
    fn stored_facts_read_back_with_their_columns() {
        let stored = crate::stored::stored(FORWARD.as_bytes());
        assert_eq!(stored.blob, mss_store::BlobHash::of(FORWARD.as_bytes()));
        assert_eq!(crate::stored::decode(&stored), Some(Facts::of(FORWARD.as_bytes())));
        let c = &stored.columns;
        assert_eq!((c.sent_at, c.subject.as_deref()), (Some(1_715_671_800), Some("Résultats")));
        assert_eq!(
            (c.from_name.as_deref(), c.from_address.as_deref()),
            (Some("Dr. Alice Martin"), Some("alice.martin@pharma.mssante.fr"))
        );
        assert_eq!(c.to_addresses, "279035121518989@patient.mssante.fr, bob@cabinet.mssante.fr");
        assert_eq!(c.cc_addresses, "carol@labo.mssante.fr");
        assert_eq!((c.patient_ins.as_deref(), c.xdm, c.attachments), (Some("279035121518989"), true, 2));
        // Another version is not read.
        let older = mss_store::MessageFacts { version: crate::stored::VERSION + 1, ..stored.clone() };
        assert_eq!(crate::stored::decode(&older), None);
        let garbled = mss_store::MessageFacts { encoded: b"{".to_vec(), ..stored };
        assert_eq!(crate::stored::decode(&garbled), None);
    }

    #[test]
    fn malformed_input_never_panics() {
        let samples: [&[u8]; 10] = [
            // Trips a mail-parser debug assertion.
            b"Content-Type:multipart/digest;boundary=b\n\n--b\n\nContent-Type:message/rfc822\n\n\n--b--",
            b"\r\n\r\n",
            b":",
            b"\xff\xfe\x00\x01: \x80\x81\r\n\r\n\xc3",
            b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n----\r\n",
            b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\n--a--",
            b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!",
            b"From: <>, @, a@, \"unterminated\r\nTo: ;;;:,,\r\nDate: 99 Foo 99999 99:99:99 +9999\r\n\r\n",
            b"Content-Type: /; =; boundary\r\nContent-Disposition: ;\r\nContent-Language: ,,\r\n\r\n",
            b"X-MSS-INS:\r\nTo: @patient.mssante.fr, <x@patient.mssante.fr>\r\n\r\n",
        ];
        for raw in samples {
            let facts = Facts::of(raw);
            assert!(!facts.parts.is_empty());
        }
        for end in 0..FORWARD.len() {
            let facts = Facts::of(&FORWARD.as_bytes()[..end]);
            for part in facts.parts.iter().filter_map(|p| p.offsets) {
                assert!(part.header <= part.body && part.body <= part.end && part.end <= end as u64, "{end}");
            }
        }
    }

    fn dotted(path: &[u32]) -> String {
        path.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
    }
}
