//! What IMAP FETCH, SEARCH, SORT and THREAD need from a raw RFC 5322
//! message: the bytes of a BODY[section] (RFC 9051 §6.4.5), ENVELOPE and
//! BODY/BODYSTRUCTURE (§7.5.2), BINARY[part] (RFC 3516), the text matching
//! of SEARCH (§6.4.4) and the header fields SORT and THREAD order by
//! ([`Headers`], RFC 5256).
//!
//! mail-parser gives the MIME tree and decoded header values; exact bytes
//! are cut from the raw message with its offsets. The ENVELOPE's from,
//! sender and reply-to are the exception: `mss_message`, the reader SMTP
//! policy checks, reads them ([`envelope`]). Every function is pure and
//! total: malformed input yields NIL, `None` or `false`, never a panic.

use mail_parser::decoders::{base64::base64_decode, html::html_to_text, quoted_printable::quoted_printable_decode};
use mail_parser::{
    Addr, Address, ContentType, Encoding, Header, HeaderName, HeaderValue, Message, MessagePart, MimeHeaders, PartType,
};

use mss_message::fields::raw_fields;
use mss_message::originators;
use mss_message::parsed::{Parsed, parse, parse_header};

use crate::wire::{nstring, string};

/// Nesting (multiparts and embedded messages) beyond which parts are no
/// longer opened: a hostile message cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 100;

/// The ENVELOPE of a message without any header.
const NIL_ENVELOPE: &[u8] = b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";

/// A BODY[...] section specifier (RFC 9051 §6.4.5), already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// MIME part path, 1-based ("1.2" = [1, 2]); empty = the whole message.
    pub part: Vec<u32>,
    pub kind: SectionKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionKind {
    /// BODY[] or BODY[1.2]: the whole (sub)part, headers included for the
    /// message, body only for a non-message part (RFC 9051 rules).
    Full,
    /// HEADER (of the message, or of an embedded message/rfc822 part)
    Header,
    /// HEADER.FIELDS (names) / HEADER.FIELDS.NOT (names)
    HeaderFields { names: Vec<String>, not: bool },
    /// TEXT: the body after the header
    Text,
    /// MIME: the MIME header of a part
    Mime,
}

/// Bytes of a section, or None when the part does not exist (the server then
/// returns an empty string per RFC practice — the caller decides). HEADER,
/// HEADER.FIELDS and TEXT of a part that is not message/rfc822, and MIME of
/// the whole message, do not exist either.
pub fn section(raw: &[u8], section: &Section) -> Option<Vec<u8>> {
    if section.part.is_empty() {
        return match &section.kind {
            SectionKind::Full => Some(raw.to_vec()),
            // Header fields need no parse at all: their lines are copied.
            SectionKind::HeaderFields { names, not } => Some(header_fields(raw, names, *not)),
            kind => message_section(&*parse(raw)?, kind),
        };
    }
    let msg = parse(raw)?;
    let node = resolve(&msg, &section.part)?;
    match &section.kind {
        SectionKind::Full => Some(node.body().to_vec()),
        SectionKind::Mime => Some(node.header().to_vec()),
        // HEADER, HEADER.FIELDS and TEXT only apply to message/rfc822 parts.
        kind => message_section(node.embedded()?, kind),
    }
}

/// Appends the ENVELOPE of the message, as IMAP syntax: (date subject from
/// sender reply-to to cc bcc in-reply-to message-id) with address lists
/// ((name adl mailbox host) ...) or NIL, following RFC 9051 §7.5.2 rules
/// (sender and reply-to default to from when absent; group syntax; header
/// values decoded from RFC 2047 and sent as strings—8-bit values go as
/// literals via wire::string). Date, In-Reply-To and Message-ID are sent as
/// written; an address without a domain gets the host "".
///
/// From, sender and reply-to are read by [`mss_message::originators`], the
/// reader SMTP policy checks, never by mail-parser: what a client shows as
/// the sender is what policy would have checked (issue 13). When that
/// reader refuses the header (two `From:` fields, none, a malformed line:
/// a message stored by APPEND, or before the policy), the three are NIL,
/// so that no client shows a sender nobody checked. Their addresses are
/// lower-case, and a Reply-To's groups are flattened into their mailboxes.
/// The same holds for the envelope of an embedded message/rfc822 part.
pub fn envelope(out: &mut Vec<u8>, raw: &[u8]) {
    match parse(raw) {
        Some(msg) => write_envelope(out, &msg),
        None => out.extend_from_slice(NIL_ENVELOPE),
    }
}

/// Appends BODYSTRUCTURE (extensible = true: with the extension data: md5
/// NIL, disposition, language, location) or BODY (extensible = false) for the
/// message, RFC 9051 §7.5.2: basic/text/message-rfc822 part fields (type,
/// subtype, params list or NIL, id, description, encoding, size in octets of
/// the encoded body, lines for text/* and message/rfc822, envelope+body+lines
/// for message/rfc822), multipart as (part part ... "subtype" ext...). Types,
/// subtypes and parameter names are uppercase; encoding defaults to "7BIT".
/// Size/lines computed from raw bytes of the part body.
pub fn body_structure(out: &mut Vec<u8>, raw: &[u8], extensible: bool) {
    match parse(raw) {
        Some(msg) => write_message_structure(out, &msg, extensible, 0),
        // No header at all: the whole input is a plain text body.
        None => write_plain_text(out, raw, extensible),
    }
}

/// Decoded content of a leaf part for BINARY[part] (RFC 3516): the
/// transfer-encoding (base64/quoted-printable) removed. None if the part does
/// not exist or is multipart.
///
/// An empty `part` (BINARY[]) is the raw message. An encoding that does not
/// decode cleanly yields the bytes as stored.
pub fn binary(raw: &[u8], part: &[u32]) -> Option<Vec<u8>> {
    if part.is_empty() {
        return Some(raw.to_vec());
    }
    let msg = parse(raw)?;
    let node = resolve(&msg, part)?;
    if node.is_multipart() {
        return None;
    }
    let body = node.body();
    let decoded = match node.part.encoding {
        Encoding::Base64 => base64_decode(body),
        Encoding::QuotedPrintable => quoted_printable_decode(body),
        Encoding::None => None,
    };
    Some(decoded.unwrap_or_else(|| body.to_vec()))
}

/// SEARCH HEADER (RFC 9051 §6.4.4); like every SEARCH helper here, a
/// case-insensitive substring match on decoded text (compared after Unicode
/// lowercase). Looks in the value of the header fields named `name` (all
/// occurrences; for address fields, the display names and addresses as
/// text, [`mss_message::search::field_text`]); an empty `needle` matches if
/// the field exists.
pub fn header_contains(raw: &[u8], name: &str, needle: &str) -> bool {
    let Some(msg) = parse(raw) else { return false };
    let Some(root) = Node::root(&msg) else { return false };
    let fields = root.part.headers.iter().filter(|header| header.name.as_str().eq_ignore_ascii_case(name));
    texts_contain(fields.map(|header| header_text(root, header)), needle)
}

/// Whether one of the texts of header fields (as [`header_contains`] reads
/// them, or as the stored facts keep them) contains `needle`, case ignored.
pub fn texts_contain<T: AsRef<str>>(texts: impl IntoIterator<Item = T>, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    texts.into_iter().any(|text| contains(text.as_ref(), &needle))
}

/// SEARCH BODY: the decoded text of the body parts (text/* parts decoded
/// from their transfer encoding and charset, HTML as text), attachment file
/// names, and the header and body of embedded messages.
pub fn body_contains(raw: &[u8], needle: &str) -> bool {
    let needle = needle.to_lowercase();
    parse(raw).is_some_and(|msg| body_matches(&msg, &needle, 0))
}

/// SEARCH TEXT: the message header or [`body_contains`].
pub fn text_contains(raw: &[u8], needle: &str) -> bool {
    let needle = needle.to_lowercase();
    parse(raw).is_some_and(|msg| headers_match(&msg, &needle) || body_matches(&msg, &needle, 0))
}

/// The Date: header as unix seconds (for SENTBEFORE/SENTON/SENTSINCE), None
/// if missing/unparsable. This is the UTC instant: the calendar day in the
/// header's own zone, which those keys compare, is not kept.
pub fn sent_date(raw: &[u8]) -> Option<i64> {
    Headers::parse(raw).date()
}

/// An address field SORT orders by (RFC 5256 §3, RFC 5957).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressField {
    From,
    To,
    Cc,
}

/// A mailbox of an address field: its display name (decoded from RFC 2047,
/// None when absent or empty) and its addr-spec (`local@domain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedAddress<'a> {
    pub name: Option<&'a str>,
    pub address: &'a str,
}

/// The header of a message, parsed without its body, for the fields SORT
/// and THREAD read (RFC 5256). A message without a parsable header has none
/// of them.
pub struct Headers<'x>(Option<Parsed<'x>>);

impl<'x> Headers<'x> {
    pub fn parse(raw: &'x [u8]) -> Self {
        Self(parse_header(raw))
    }

    fn root(&self) -> Option<Node<'_>> {
        Node::root(self.0.as_deref()?)
    }

    /// The Subject, RFC 2047 words decoded.
    pub fn subject(&self) -> Option<&str> {
        self.root()?.first_header(&HeaderName::Subject)?.value.as_text()
    }

    /// The Date, unix seconds; None when missing or unparsable.
    pub fn date(&self) -> Option<i64> {
        let date = self.root()?.first_header(&HeaderName::Date)?.value.as_datetime()?;
        date.is_valid().then(|| date.to_timestamp())
    }

    /// The first mailbox of an address field, looking inside groups.
    pub fn first_address(&self, field: AddressField) -> Option<NamedAddress<'_>> {
        let name = match field {
            AddressField::From => HeaderName::From,
            AddressField::To => HeaderName::To,
            AddressField::Cc => HeaderName::Cc,
        };
        address_items(self.root()?, &name).into_iter().find_map(|item| match item {
            AddressItem::Mailbox { name, address } => Some(NamedAddress { name, address }),
            AddressItem::GroupStart(_) | AddressItem::GroupEnd => None,
        })
    }

    /// The Message-ID as written (unfolded).
    pub fn message_id(&self) -> Option<Vec<u8>> {
        self.root()?.raw_value(&HeaderName::MessageId)
    }

    /// The In-Reply-To as written (unfolded).
    pub fn in_reply_to(&self) -> Option<Vec<u8>> {
        self.root()?.raw_value(&HeaderName::InReplyTo)
    }

    /// The References as written (unfolded).
    pub fn references(&self) -> Option<Vec<u8>> {
        self.root()?.raw_value(&HeaderName::References)
    }
}

/// A MIME part with the message that holds it. Part offsets are relative to
/// that message's `raw_message`: the outer raw bytes for a plain embedded
/// message, the decoded bytes for a base64/quoted-printable one.
#[derive(Clone, Copy)]
struct Node<'a> {
    msg: &'a Message<'a>,
    id: usize,
    part: &'a MessagePart<'a>,
}

impl<'a> Node<'a> {
    /// The root part of a message: its header is the message header.
    fn root(msg: &'a Message<'a>) -> Option<Self> {
        Self::at(msg, 0)
    }

    fn at(msg: &'a Message<'a>, id: usize) -> Option<Self> {
        msg.parts.get(id).map(|part| Node { msg, id, part })
    }

    fn slice(&self, start: u32, end: u32) -> &'a [u8] {
        self.msg.raw_message.get(start as usize..end as usize).unwrap_or_default()
    }

    /// The header block, blank line included.
    fn header(&self) -> &'a [u8] {
        self.slice(self.part.offset_header, self.part.offset_body)
    }

    /// The message this node heads, from its first header line on, as
    /// [`mss_message::originators`] reads it (up to the blank line): the
    /// raw message itself at the root, an embedded message's own bytes
    /// (decoded, if it was transfer-encoded) below.
    fn message_bytes(&self) -> &'a [u8] {
        self.msg.raw_message.get(self.part.offset_header as usize..).unwrap_or_default()
    }

    /// The body as stored (still transfer-encoded).
    fn body(&self) -> &'a [u8] {
        self.slice(self.part.offset_body, self.part.offset_end)
    }

    fn is_multipart(&self) -> bool {
        matches!(self.part.body, PartType::Multipart(_))
    }

    /// The parts of a multipart, in order. Only ids after the part's own are
    /// followed, so a malformed tree cannot loop.
    fn children(self) -> impl Iterator<Item = Node<'a>> {
        let ids = match &self.part.body {
            PartType::Multipart(ids) => ids.as_slice(),
            _ => &[],
        };
        ids.iter().filter(move |&&id| id as usize > self.id).filter_map(move |&id| Node::at(self.msg, id as usize))
    }

    /// The message held by a message/rfc822 part.
    fn embedded(&self) -> Option<&'a Message<'a>> {
        match &self.part.body {
            PartType::Message(msg) => Some(msg),
            _ => None,
        }
    }

    fn first_header(&self, name: &HeaderName<'_>) -> Option<&'a Header<'a>> {
        self.part.headers.iter().find(|header| header.name == *name)
    }

    /// The value of a header field as written, unfolded and trimmed; None
    /// when absent or empty.
    fn raw_value(&self, name: &HeaderName<'_>) -> Option<Vec<u8>> {
        let header = self.first_header(name)?;
        let value: Vec<u8> = self
            .slice(header.offset_start, header.offset_end)
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        let value = value.trim_ascii();
        (!value.is_empty()).then(|| value.to_vec())
    }
}

/// Follows a part path (RFC 9051 §6.4.5): the parts of a multipart are
/// numbered from 1, and a non-multipart message has its body as part 1.
fn resolve<'a>(msg: &'a Message<'a>, path: &[u32]) -> Option<Node<'a>> {
    let mut node = Node::root(msg)?;
    let mut is_message = true;
    for &number in path {
        // Below a message/rfc822 part, numbers select in the embedded message.
        if !is_message && let Some(inner) = node.embedded() {
            node = Node::root(inner)?;
            is_message = true;
        }
        node = if node.is_multipart() {
            node.children().nth((number as usize).checked_sub(1)?)?
        } else if is_message && number == 1 {
            node
        } else {
            return None;
        };
        is_message = false;
    }
    Some(node)
}

/// HEADER, HEADER.FIELDS or TEXT of a message, top-level or embedded.
fn message_section(msg: &Message<'_>, kind: &SectionKind) -> Option<Vec<u8>> {
    let root = Node::root(msg)?;
    match kind {
        SectionKind::Header => Some(root.header().to_vec()),
        SectionKind::HeaderFields { names, not } => Some(header_fields(root.header(), names, *not)),
        SectionKind::Text => Some(root.body().to_vec()),
        SectionKind::Full | SectionKind::Mime => None,
    }
}

/// The header lines named (or, with `not`, not named) in `names`, in their
/// original order and bytes, then the blank line; `header` is a message's
/// header (what follows it is not read).
fn header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for field in raw_fields(header) {
        let named = names.iter().any(|name| name.as_bytes().eq_ignore_ascii_case(field.name));
        if named != not {
            out.extend_from_slice(field.bytes);
            if !field.bytes.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn write_envelope(out: &mut Vec<u8>, msg: &Message<'_>) {
    let Some(root) = Node::root(msg) else {
        out.extend_from_slice(NIL_ENVELOPE);
        return;
    };
    out.push(b'(');
    nstring(out, root.raw_value(&HeaderName::Date).as_deref());
    out.push(b' ');
    let subject = root.first_header(&HeaderName::Subject).map(|h| h.value.as_text().unwrap_or_default());
    nstring(out, subject.map(str::as_bytes));
    write_originators(out, root.message_bytes());
    for name in [HeaderName::To, HeaderName::Cc, HeaderName::Bcc] {
        out.push(b' ');
        write_addresses(out, &address_items(root, &name));
    }
    out.push(b' ');
    nstring(out, root.raw_value(&HeaderName::InReplyTo).as_deref());
    out.push(b' ');
    nstring(out, root.raw_value(&HeaderName::MessageId).as_deref());
    out.push(b')');
}

/// Writes ` from sender reply-to` of an ENVELOPE from the message's raw
/// bytes, as [`envelope`] says: read by [`mss_message::originators`], all
/// three NIL when it refuses the header.
fn write_originators(out: &mut Vec<u8>, message: &[u8]) {
    let Ok(originators) = originators(message) else {
        out.extend_from_slice(b" NIL NIL NIL");
        return;
    };
    // RFC 9051 §7.5.2: sender and reply-to default to from when absent.
    let sender = originators.sender.as_ref().map_or(originators.from.as_slice(), std::slice::from_ref);
    for mailboxes in [originators.from.as_slice(), sender, originators.reply_targets()] {
        out.push(b' ');
        write_mailboxes(out, mailboxes);
    }
}

/// Writes checked mailboxes as an address list: `((name NIL mailbox host)...)`
/// or NIL.
fn write_mailboxes(out: &mut Vec<u8>, mailboxes: &[mss_message::Mailbox]) {
    if mailboxes.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for mailbox in mailboxes {
        let name = mailbox.name.as_deref().filter(|n| !n.is_empty());
        write_address(out, name, mailbox.address.local(), mailbox.address.domain().as_str());
    }
    out.push(b')');
}

/// One entry of an envelope address list: a mailbox, or the start or end
/// marker of an RFC 5322 group.
pub(crate) enum AddressItem<'a> {
    Mailbox { name: Option<&'a str>, address: &'a str },
    GroupStart(&'a str),
    GroupEnd,
}

fn address_items<'a>(node: Node<'a>, name: &HeaderName<'_>) -> Vec<AddressItem<'a>> {
    let mut items = Vec::new();
    match node.first_header(name).map(|header| &header.value) {
        Some(HeaderValue::Address(Address::List(list))) => push_mailboxes(&mut items, list),
        Some(HeaderValue::Address(Address::Group(groups))) => {
            for group in groups {
                // Addresses outside any group come as groups without a name.
                match &group.name {
                    Some(name) => {
                        items.push(AddressItem::GroupStart(name));
                        push_mailboxes(&mut items, &group.addresses);
                        items.push(AddressItem::GroupEnd);
                    }
                    None => push_mailboxes(&mut items, &group.addresses),
                }
            }
        }
        _ => {}
    }
    items
}

/// Adds the addresses that have an address (a bare display name is no mailbox).
fn push_mailboxes<'a>(items: &mut Vec<AddressItem<'a>>, list: &'a [Addr<'a>]) {
    for addr in list {
        if let Some(address) = addr.address.as_deref().filter(|a| !a.is_empty()) {
            let name = addr.name.as_deref().filter(|n| !n.is_empty());
            items.push(AddressItem::Mailbox { name, address });
        }
    }
}

/// Writes an address list: `((name adl mailbox host)...)` or NIL. A missing
/// domain is sent as "" since a NIL host would mean a group marker.
pub(crate) fn write_addresses(out: &mut Vec<u8>, items: &[AddressItem<'_>]) {
    if items.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for item in items {
        match item {
            AddressItem::Mailbox { name, address } => {
                let (mailbox, host) = address.rsplit_once('@').unwrap_or((address, ""));
                write_address(out, *name, mailbox, host);
            }
            AddressItem::GroupStart(name) => {
                out.extend_from_slice(b"(NIL NIL ");
                string(out, name.as_bytes());
                out.extend_from_slice(b" NIL)");
            }
            AddressItem::GroupEnd => out.extend_from_slice(b"(NIL NIL NIL NIL)"),
        }
    }
    out.push(b')');
}

/// One mailbox of an address list: `(name NIL mailbox host)`.
pub(crate) fn write_address(out: &mut Vec<u8>, name: Option<&str>, mailbox: &str, host: &str) {
    out.push(b'(');
    nstring(out, name.map(str::as_bytes));
    out.extend_from_slice(b" NIL ");
    string(out, mailbox.as_bytes());
    out.push(b' ');
    string(out, host.as_bytes());
    out.push(b')');
}

fn write_message_structure(out: &mut Vec<u8>, msg: &Message<'_>, extensible: bool, depth: usize) {
    match Node::root(msg) {
        Some(root) => write_part(out, root, extensible, depth),
        None => write_plain_text(out, b"", extensible),
    }
}

fn write_part(out: &mut Vec<u8>, node: Node<'_>, extensible: bool, depth: usize) {
    if node.is_multipart() && depth < MAX_DEPTH {
        write_multipart(out, node, extensible, depth);
    } else {
        write_single_part(out, node, extensible, depth);
    }
}

/// `(part part ... "SUBTYPE" params disposition language location)`.
fn write_multipart(out: &mut Vec<u8>, node: Node<'_>, extensible: bool, depth: usize) {
    out.push(b'(');
    let start = out.len();
    for child in node.children() {
        write_part(out, child, extensible, depth + 1);
    }
    if out.len() == start {
        // The syntax wants at least one part: describe an empty text.
        write_plain_text(out, b"", extensible);
    }
    let content_type = node.part.content_type();
    let subtype = content_type.and_then(|ct| ct.c_subtype.as_deref()).unwrap_or("mixed");
    out.push(b' ');
    string(out, subtype.to_ascii_uppercase().as_bytes());
    if extensible {
        out.push(b' ');
        write_params(out, &content_type.map(params).unwrap_or_default());
        write_extension(out, node);
    }
    out.push(b')');
}

/// A text, message/rfc822 or other non-multipart part.
fn write_single_part(out: &mut Vec<u8>, node: Node<'_>, extensible: bool, depth: usize) {
    let media = Media::of(node, depth);
    let body = node.body();
    out.push(b'(');
    string(out, media.main.as_bytes());
    out.push(b' ');
    string(out, media.sub.as_bytes());
    out.push(b' ');
    write_params(out, &media.params);
    out.push(b' ');
    nstring(out, node.raw_value(&HeaderName::ContentId).as_deref());
    out.push(b' ');
    nstring(out, node.raw_value(&HeaderName::ContentDescription).as_deref());
    out.push(b' ');
    let encoding = node.raw_value(&HeaderName::ContentTransferEncoding).unwrap_or_else(|| b"7BIT".to_vec());
    string(out, &encoding.to_ascii_uppercase());
    out.extend_from_slice(format!(" {}", body.len()).as_bytes());
    match media.shape {
        Shape::Basic => {}
        Shape::Text => out.extend_from_slice(format!(" {}", count_lines(body)).as_bytes()),
        Shape::Message(inner) => {
            out.push(b' ');
            write_envelope(out, inner);
            out.push(b' ');
            write_message_structure(out, inner, extensible, depth + 1);
            out.extend_from_slice(format!(" {}", count_lines(body)).as_bytes());
        }
    }
    if extensible {
        out.extend_from_slice(b" NIL");
        write_extension(out, node);
    }
    out.push(b')');
}

/// A text/plain part without MIME header, for a message without any header
/// or a multipart without parts.
fn write_plain_text(out: &mut Vec<u8>, body: &[u8], extensible: bool) {
    let extension = if extensible { " NIL NIL NIL NIL" } else { "" };
    let fields = format!(
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" {} {}{extension})",
        body.len(),
        count_lines(body)
    );
    out.extend_from_slice(fields.as_bytes());
}

/// How a single part is described: text parts have a line count, message
/// parts an envelope, body and line count.
enum Shape<'a> {
    Basic,
    Text,
    Message(&'a Message<'a>),
}

/// The media type a single part is described with.
struct Media<'a> {
    main: String,
    sub: String,
    params: Vec<(String, String)>,
    shape: Shape<'a>,
}

impl<'a> Media<'a> {
    /// The part's Content-Type, or the RFC 2045 default (message/rfc822 in
    /// a digest). A multipart or message the parser could not open, or that
    /// lies too deep, is described as application/octet-stream.
    fn of(node: Node<'a>, depth: usize) -> Self {
        let embedded = node.embedded();
        let (main, sub, params) = match node.part.content_type() {
            Some(ct) => (
                ct.c_type.to_ascii_uppercase(),
                ct.c_subtype.as_deref().unwrap_or_default().to_ascii_uppercase(),
                params(ct),
            ),
            None if embedded.is_some() => ("MESSAGE".into(), "RFC822".into(), Vec::new()),
            None => ("TEXT".into(), "PLAIN".into(), vec![("CHARSET".into(), "US-ASCII".into())]),
        };
        let is_message = main == "MESSAGE" && matches!(sub.as_str(), "RFC822" | "GLOBAL");
        let shape = match embedded {
            _ if main == "TEXT" => Shape::Text,
            Some(inner) if is_message && depth < MAX_DEPTH => Shape::Message(inner),
            _ if is_message || main == "MULTIPART" => {
                return Media {
                    main: "APPLICATION".into(),
                    sub: "OCTET-STREAM".into(),
                    params: Vec::new(),
                    shape: Shape::Basic,
                };
            }
            _ => Shape::Basic,
        };
        Media { main, sub, params, shape }
    }
}

/// The parameters of a Content-Type or Content-Disposition, names uppercase.
fn params(content_type: &ContentType<'_>) -> Vec<(String, String)> {
    content_type
        .attributes()
        .unwrap_or_default()
        .iter()
        .map(|attribute| (attribute.name.to_ascii_uppercase(), attribute.value.to_string()))
        .collect()
}

/// `("NAME" "value" ...)` or NIL.
pub(crate) fn write_params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, name.as_bytes());
        out.push(b' ');
        string(out, value.as_bytes());
    }
    out.push(b')');
}

/// The extension data shared by all parts: ` disposition language location`.
fn write_extension(out: &mut Vec<u8>, node: Node<'_>) {
    out.push(b' ');
    match node.part.content_disposition() {
        Some(disposition) => {
            out.push(b'(');
            string(out, disposition.c_type.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            write_params(out, &params(disposition));
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match node.part.content_language() {
        HeaderValue::Text(language) => string(out, language.as_bytes()),
        HeaderValue::TextList(languages) if !languages.is_empty() => {
            out.push(b'(');
            for (i, language) in languages.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, language.as_bytes());
            }
            out.push(b')');
        }
        _ => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    nstring(out, node.raw_value(&HeaderName::ContentLocation).as_deref());
}

/// Lines of a body: its line feeds, plus an unterminated last line.
fn count_lines(body: &[u8]) -> usize {
    let feeds = body.iter().filter(|&&b| b == b'\n').count();
    feeds + usize::from(!body.is_empty() && !body.ends_with(b"\n"))
}

/// Whether `haystack` contains `needle`, which is already lowercase.
fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(needle)
}

/// The searchable text of a header field, as the facts keep it.
fn header_text(node: Node<'_>, header: &Header<'_>) -> String {
    mss_message::search::field_text(node.slice(header.offset_start, header.offset_end), &header.value)
}

/// Whether any header field of the message contains `needle` (lowercase).
fn headers_match(msg: &Message<'_>, needle: &str) -> bool {
    Node::root(msg).is_some_and(|root| root.part.headers.iter().any(|h| contains(&header_text(root, h), needle)))
}

/// Whether the decoded body text of a message contains `needle` (lowercase):
/// text parts, HTML as text, attachment names and embedded messages.
fn body_matches(msg: &Message<'_>, needle: &str, depth: usize) -> bool {
    depth < MAX_DEPTH && msg.parts.iter().any(|part| part_matches(part, needle, depth))
}

fn part_matches(part: &MessagePart<'_>, needle: &str, depth: usize) -> bool {
    if part.attachment_name().is_some_and(|name| contains(name, needle)) {
        return true;
    }
    match &part.body {
        PartType::Text(text) => contains(text, needle),
        PartType::Html(html) => contains(&html_to_text(html), needle),
        PartType::Message(inner) => headers_match(inner, needle) || body_matches(inner, needle, depth + 1),
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SIMPLE: &str = "From: \"Dr. Alice Martin\" <alice.martin@hopital.mssante.fr>\r\n\
        To: Bob <bob@cabinet.mssante.fr>, carol@labo.mssante.fr\r\n\
        Subject: =?UTF-8?Q?Ordonnance_de_M=C3=A9lanie?=\r\n\
        Date: Tue, 14 May 2024 09:30:00 +0200\r\n\
        Message-ID: <20240514.1@hopital.mssante.fr>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        \r\n\
        Hello world\r\n";

    /// multipart/mixed: a text part and a base64 PDF attachment.
    pub(crate) const MIXED: &str = "From: alice@hopital.mssante.fr\r\n\
        To: bob@cabinet.mssante.fr\r\n\
        Subject: Compte rendu\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"frontier\"\r\n\
        \r\n\
        This is a multi-part message in MIME format.\r\n\
        --frontier\r\n\
        Content-Type: text/plain; charset=us-ascii\r\n\
        \r\n\
        Voir la piece jointe.\r\n\
        --frontier\r\n\
        Content-Type: application/pdf; name=\"cr.pdf\"\r\n\
        Content-Transfer-Encoding: base64\r\n\
        Content-Disposition: attachment; filename=\"compte-rendu.pdf\"\r\n\
        \r\n\
        JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBl\r\n\
        L0NhdGFsb2c+PgplbmRvYmoK\r\n\
        --frontier--\r\n";

    /// The PDF attached to MIXED, decoded.
    const PDF: &[u8] = b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n1 0 obj\n<</Type/Catalog>>\nendobj\n";

    /// multipart/alternative (plain, quoted-printable HTML) inside multipart/mixed.
    pub(crate) const ALTERNATIVE: &str = "From: Secr\u{e9}tariat <secretariat@clinique.mssante.fr>\r\n\
        To: Equipe: a@x.fr, b@x.fr;, solo@y.fr\r\n\
        Subject: Planning\r\n\
        Content-Type: multipart/mixed; boundary=outer\r\n\
        \r\n\
        --outer\r\n\
        Content-Type: multipart/alternative; boundary=inner\r\n\
        \r\n\
        --inner\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        \r\n\
        Planning de la semaine\r\n\
        --inner\r\n\
        Content-Type: text/html; charset=utf-8\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\
        \r\n\
        <p>Planning de la <b>semaine</b> =C3=A0 venir</p>\r\n\
        --inner--\r\n\
        \r\n\
        --outer\r\n\
        Content-Type: image/png\r\n\
        Content-Transfer-Encoding: base64\r\n\
        Content-ID: <logo@clinique>\r\n\
        Content-Disposition: inline\r\n\
        Content-Language: fr\r\n\
        \r\n\
        iVBORw0KGgo=\r\n\
        --outer--\r\n";

    /// A forwarded message as a message/rfc822 attachment.
    pub(crate) const FORWARD: &str = "From: bob@cabinet.mssante.fr\r\n\
        To: alice@hopital.mssante.fr\r\n\
        Subject: Fwd: Resultats\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
        \r\n\
        --b1\r\n\
        Content-Type: text/plain\r\n\
        \r\n\
        Pour info.\r\n\
        --b1\r\n\
        Content-Type: message/rfc822\r\n\
        \r\n\
        From: labo@labo.mssante.fr\r\n\
        Subject: Resultats d'analyse\r\n\
        Date: Mon, 13 May 2024 18:00:00 +0000\r\n\
        \r\n\
        Glycemie normale.\r\n\
        Cordialement.\r\n\
        \r\n\
        --b1--\r\n";

    /// Raw UTF-8 (RFC 6532) header values.
    pub(crate) const EIGHT_BIT: &str = "From: M\u{e9}lanie Durand <melanie@patient.fr>\r\n\
        Subject: R\u{e9}sultats d'analyse\r\n\
        X-Dossier: n\u{b0} 42\r\n\
        \r\n\
        Corps du message.\r\n";

    fn render(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn get(raw: &str, part: &[u32], kind: SectionKind) -> Option<String> {
        let bytes = section(raw.as_bytes(), &Section { part: part.to_vec(), kind })?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn fields(names: &[&str], not: bool) -> SectionKind {
        SectionKind::HeaderFields { names: names.iter().map(|n| n.to_string()).collect(), not }
    }

    /// Parentheses balance outside quoted strings and literals.
    fn assert_balanced(out: &[u8]) {
        let (mut depth, mut i) = (0i64, 0);
        while i < out.len() {
            match out[i] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b'"' => {
                    i += 1;
                    while out[i] != b'"' {
                        i += 1;
                    }
                }
                b'{' => {
                    let close = i + out[i..].iter().position(|&b| b == b'}').unwrap();
                    let len: usize = std::str::from_utf8(&out[i + 1..close]).unwrap().parse().unwrap();
                    i = close + 2 + len;
                }
                _ => {}
            }
            assert!(depth >= 0, "unbalanced: {}", String::from_utf8_lossy(out));
            i += 1;
        }
        assert_eq!(depth, 0, "unbalanced: {}", String::from_utf8_lossy(out));
    }

    #[test]
    fn simple_envelope() {
        assert_eq!(
            render(|o| envelope(o, SIMPLE.as_bytes())),
            "(\"Tue, 14 May 2024 09:30:00 +0200\" {22}\r\nOrdonnance de M\u{e9}lanie \
             ((\"Dr. Alice Martin\" NIL \"alice.martin\" \"hopital.mssante.fr\")) \
             ((\"Dr. Alice Martin\" NIL \"alice.martin\" \"hopital.mssante.fr\")) \
             ((\"Dr. Alice Martin\" NIL \"alice.martin\" \"hopital.mssante.fr\")) \
             ((\"Bob\" NIL \"bob\" \"cabinet.mssante.fr\")(NIL NIL \"carol\" \"labo.mssante.fr\")) \
             NIL NIL NIL \"<20240514.1@hopital.mssante.fr>\")"
        );
    }

    #[test]
    fn simple_body_structure() {
        let body = "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 13 1";
        assert_eq!(render(|o| body_structure(o, SIMPLE.as_bytes(), false)), format!("{body})"));
        assert_eq!(render(|o| body_structure(o, SIMPLE.as_bytes(), true)), format!("{body} NIL NIL NIL NIL)"));
    }

    #[test]
    fn simple_sections() {
        let header_len = SIMPLE.find("\r\n\r\n").unwrap() + 4;
        assert_eq!(get(SIMPLE, &[], SectionKind::Full).unwrap(), SIMPLE);
        assert_eq!(get(SIMPLE, &[], SectionKind::Header).unwrap(), &SIMPLE[..header_len]);
        assert_eq!(get(SIMPLE, &[], SectionKind::Text).unwrap(), "Hello world\r\n");
        // A non-multipart message has its body as part 1.
        assert_eq!(get(SIMPLE, &[1], SectionKind::Full).unwrap(), "Hello world\r\n");
        assert_eq!(get(SIMPLE, &[2], SectionKind::Full), None);
        assert_eq!(get(SIMPLE, &[1, 1], SectionKind::Full), None);
        assert_eq!(get(SIMPLE, &[0], SectionKind::Full), None);
        assert_eq!(get(SIMPLE, &[], SectionKind::Mime), None);
        assert_eq!(get(SIMPLE, &[1], SectionKind::Header), None);
        assert_eq!(
            get(SIMPLE, &[], fields(&["SUBJECT"], false)).unwrap(),
            "Subject: =?UTF-8?Q?Ordonnance_de_M=C3=A9lanie?=\r\n\r\n"
        );
        assert_eq!(
            get(SIMPLE, &[], fields(&["date", "From", "X-Absent"], false)).unwrap(),
            "From: \"Dr. Alice Martin\" <alice.martin@hopital.mssante.fr>\r\n\
             Date: Tue, 14 May 2024 09:30:00 +0200\r\n\r\n"
        );
        assert_eq!(
            get(SIMPLE, &[], fields(&["from", "to", "subject", "date", "message-id"], true)).unwrap(),
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        );
        assert_eq!(get(SIMPLE, &[], fields(&["x-none"], false)).unwrap(), "\r\n");
    }

    #[test]
    fn mixed_sections_and_binary() {
        let raw = MIXED.as_bytes();
        assert_eq!(get(MIXED, &[1], SectionKind::Full).unwrap(), "Voir la piece jointe.");
        assert_eq!(get(MIXED, &[1], SectionKind::Mime).unwrap(), "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
        assert_eq!(
            get(MIXED, &[2], SectionKind::Full).unwrap(),
            "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBl\r\nL0NhdGFsb2c+PgplbmRvYmoK"
        );
        assert!(get(MIXED, &[2], SectionKind::Mime).unwrap().starts_with("Content-Type: application/pdf"));
        assert_eq!(get(MIXED, &[3], SectionKind::Full), None);
        assert_eq!(get(MIXED, &[2], SectionKind::Text), None);
        let text = get(MIXED, &[], SectionKind::Text).unwrap();
        assert!(text.starts_with("This is a multi-part") && text.ends_with("--frontier--\r\n"));
        assert_eq!(binary(raw, &[2]).unwrap(), PDF);
        assert_eq!(binary(raw, &[1]).unwrap(), b"Voir la piece jointe.");
        assert_eq!(binary(raw, &[]).unwrap(), raw);
        assert_eq!(binary(raw, &[3]), None);
        assert_eq!(binary(SIMPLE.as_bytes(), &[1]).unwrap(), b"Hello world\r\n");
    }

    #[test]
    fn mixed_body_structure() {
        assert_eq!(
            render(|o| body_structure(o, MIXED.as_bytes(), true)),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 21 1 NIL NIL NIL NIL)\
             (\"APPLICATION\" \"PDF\" (\"NAME\" \"cr.pdf\") NIL NIL \"BASE64\" 66 NIL \
             (\"ATTACHMENT\" (\"FILENAME\" \"compte-rendu.pdf\")) NIL NIL) \
             \"MIXED\" (\"BOUNDARY\" \"frontier\") NIL NIL NIL)"
        );
        assert_eq!(
            render(|o| body_structure(o, MIXED.as_bytes(), false)),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 21 1)\
             (\"APPLICATION\" \"PDF\" (\"NAME\" \"cr.pdf\") NIL NIL \"BASE64\" 66) \"MIXED\")"
        );
    }

    #[test]
    fn nested_multipart() {
        let raw = ALTERNATIVE.as_bytes();
        assert_eq!(get(ALTERNATIVE, &[1, 1], SectionKind::Full).unwrap(), "Planning de la semaine");
        assert_eq!(
            get(ALTERNATIVE, &[1, 2], SectionKind::Full).unwrap(),
            "<p>Planning de la <b>semaine</b> =C3=A0 venir</p>"
        );
        assert_eq!(
            get(ALTERNATIVE, &[1, 2], SectionKind::Mime).unwrap(),
            "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        );
        let alternative = get(ALTERNATIVE, &[1], SectionKind::Full).unwrap();
        assert!(alternative.starts_with("--inner\r\n") && alternative.ends_with("--inner--\r\n"));
        assert_eq!(binary(raw, &[1, 2]).unwrap(), "<p>Planning de la <b>semaine</b> \u{e0} venir</p>".as_bytes());
        assert_eq!(binary(raw, &[2]).unwrap(), b"\x89PNG\r\n\x1a\n");
        assert_eq!(binary(raw, &[1]), None);
        assert_eq!(binary(raw, &[1, 3]), None);
        assert_eq!(
            render(|o| body_structure(o, raw, true)),
            "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 22 1 NIL NIL NIL NIL)\
             (\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 49 1 NIL NIL NIL NIL) \
             \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL)\
             (\"IMAGE\" \"PNG\" NIL \"<logo@clinique>\" NIL \"BASE64\" 12 NIL (\"INLINE\" NIL) \"fr\" NIL) \
             \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)"
        );
    }

    #[test]
    fn group_addresses() {
        let out = render(|o| envelope(o, ALTERNATIVE.as_bytes()));
        assert!(
            out.starts_with(
                "(NIL \"Planning\" (({12}\r\nSecr\u{e9}tariat NIL \"secretariat\" \"clinique.mssante.fr\"))"
            )
        );
        assert!(out.contains(
            "((NIL NIL \"Equipe\" NIL)(NIL NIL \"a\" \"x.fr\")(NIL NIL \"b\" \"x.fr\")(NIL NIL NIL NIL)\
             (NIL NIL \"solo\" \"y.fr\"))"
        ));
        let undisclosed = "From: a@b.fr\r\nTo: undisclosed-recipients:;\r\n\r\nx";
        assert!(
            render(|o| envelope(o, undisclosed.as_bytes()))
                .contains(" ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)")
        );
    }

    #[test]
    fn embedded_message() {
        let inner = "From: labo@labo.mssante.fr\r\nSubject: Resultats d'analyse\r\n\
                     Date: Mon, 13 May 2024 18:00:00 +0000\r\n\r\nGlycemie normale.\r\nCordialement.\r\n";
        assert_eq!(get(FORWARD, &[2], SectionKind::Full).unwrap(), inner);
        assert_eq!(
            get(FORWARD, &[2], SectionKind::Header).unwrap(),
            "From: labo@labo.mssante.fr\r\nSubject: Resultats d'analyse\r\n\
             Date: Mon, 13 May 2024 18:00:00 +0000\r\n\r\n"
        );
        assert_eq!(get(FORWARD, &[2], SectionKind::Text).unwrap(), "Glycemie normale.\r\nCordialement.\r\n");
        assert_eq!(get(FORWARD, &[2], fields(&["subject"], false)).unwrap(), "Subject: Resultats d'analyse\r\n\r\n");
        assert_eq!(get(FORWARD, &[2], SectionKind::Mime).unwrap(), "Content-Type: message/rfc822\r\n\r\n");
        // The embedded message is not multipart: its body is part 2.1.
        assert_eq!(get(FORWARD, &[2, 1], SectionKind::Full).unwrap(), "Glycemie normale.\r\nCordialement.\r\n");
        assert_eq!(get(FORWARD, &[2, 2], SectionKind::Full), None);
        assert_eq!(
            render(|o| body_structure(o, FORWARD.as_bytes(), false)),
            format!(
                "((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1)\
                 (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" {} \
                 (\"Mon, 13 May 2024 18:00:00 +0000\" \"Resultats d'analyse\" \
                 ((NIL NIL \"labo\" \"labo.mssante.fr\")) ((NIL NIL \"labo\" \"labo.mssante.fr\")) \
                 ((NIL NIL \"labo\" \"labo.mssante.fr\")) NIL NIL NIL NIL NIL) \
                 (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 34 2) 6) \"MIXED\")",
                inner.len()
            )
        );
    }

    #[test]
    fn embedded_multipart_message_paths() {
        let raw = format!(
            "Content-Type: multipart/mixed; boundary=o\r\n\r\n\
             --o\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--o--\r\n",
            MIXED.trim_end()
        );
        assert_eq!(get(&raw, &[1, 1], SectionKind::Full).unwrap(), "Voir la piece jointe.");
        assert_eq!(binary(raw.as_bytes(), &[1, 2]).unwrap(), PDF);
        assert!(get(&raw, &[1, 2], SectionKind::Mime).unwrap().contains("compte-rendu.pdf"));
        assert_eq!(get(&raw, &[1], fields(&["Subject"], false)).unwrap(), "Subject: Compte rendu\r\n\r\n");
        assert!(header_contains(raw.as_bytes(), "content-type", "multipart"));
        assert!(body_contains(raw.as_bytes(), "compte-rendu.pdf"));
    }

    #[test]
    fn base64_embedded_message() {
        // "Subject: hi\r\n\r\nbody\r\n" in base64.
        let raw = "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\
                   Content-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogaGkNCg0KYm9keQ0K\r\n--x--\r\n";
        assert_eq!(get(raw, &[1], SectionKind::Full).unwrap(), "U3ViamVjdDogaGkNCg0KYm9keQ0K");
        assert_eq!(get(raw, &[1], SectionKind::Header).unwrap(), "Subject: hi\r\n\r\n");
        assert_eq!(get(raw, &[1], SectionKind::Text).unwrap(), "body\r\n");
        assert_eq!(binary(raw.as_bytes(), &[1]).unwrap(), b"Subject: hi\r\n\r\nbody\r\n");
        let structure = render(|o| body_structure(o, raw.as_bytes(), false));
        assert!(structure.starts_with("((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"BASE64\" 28 (NIL \"hi\""));
        assert!(body_contains(raw.as_bytes(), "BODY"));
    }

    #[test]
    fn envelope_senders_are_the_ones_policy_reads() {
        // Two From fields (issue 13): no sender at all, whichever comes first; the rest as usual.
        let twice = "From: <chef@ours.test>\r\nTo: bob@ours.test\r\nfrom: Alice <alice@ours.test>\r\n\
                     Subject: x\r\n\r\nbody\r\n";
        assert_eq!(
            render(|o| envelope(o, twice.as_bytes())),
            "(NIL \"x\" NIL NIL NIL ((NIL NIL \"bob\" \"ours.test\")) NIL NIL NIL NIL)"
        );
        // A line a lenient parser reads as From:, and no From at all.
        for raw in ["Fr om: <chef@ours.test>\r\nFrom: <alice@ours.test>\r\n\r\n", "Subject: x\r\n\r\n"] {
            assert!(render(|o| envelope(o, raw.as_bytes())).contains(" NIL NIL NIL NIL NIL NIL NIL NIL)"), "{raw}");
        }
        // Sender and Reply-To said: theirs, a group flattened, addresses lower-case.
        let said = "From: Alice <Alice@Ours.test>\r\nSender: <sec@ours.test>\r\n\
                    Reply-To: team: a@ours.test, b@ours.test;\r\n\r\n";
        assert_eq!(
            render(|o| envelope(o, said.as_bytes())),
            "(NIL NIL ((\"Alice\" NIL \"alice\" \"ours.test\")) ((NIL NIL \"sec\" \"ours.test\")) \
             ((NIL NIL \"a\" \"ours.test\")(NIL NIL \"b\" \"ours.test\")) NIL NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn embedded_envelope_senders_are_the_ones_policy_reads() {
        let twice =
            FORWARD.replace("From: labo@labo.mssante.fr\r\n", "From: labo@labo.mssante.fr\r\nFrom: x@ours.test\r\n");
        let structure = render(|o| body_structure(o, twice.as_bytes(), false));
        assert!(
            structure.contains(
                "(\"Mon, 13 May 2024 18:00:00 +0000\" \"Resultats d'analyse\" NIL NIL NIL NIL NIL NIL NIL NIL)"
            ),
            "{structure}"
        );
        assert!(render(|o| envelope(o, twice.as_bytes())).contains("((NIL NIL \"bob\" \"cabinet.mssante.fr\"))"));
        // A transfer-encoded embedded message is read decoded:
        // "From: Labo <labo@autre.test>\r\nSubject: hi\r\n\r\nbody\r\n" in base64.
        let encoded = "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\
                       Content-Transfer-Encoding: base64\r\n\r\n\
                       RnJvbTogTGFibyA8bGFib0BhdXRyZS50ZXN0Pg0KU3ViamVjdDogaGkNCg0KYm9keQ0K\r\n--x--\r\n";
        let structure = render(|o| body_structure(o, encoded.as_bytes(), false));
        assert!(structure.contains("(NIL \"hi\" ((\"Labo\" NIL \"labo\" \"autre.test\")) "), "{structure}");
    }

    #[test]
    fn encoded_and_eight_bit_headers() {
        let out = render(|o| envelope(o, EIGHT_BIT.as_bytes()));
        assert_eq!(
            out,
            "(NIL {20}\r\nR\u{e9}sultats d'analyse (({15}\r\nM\u{e9}lanie Durand NIL \"melanie\" \"patient.fr\")) \
             (({15}\r\nM\u{e9}lanie Durand NIL \"melanie\" \"patient.fr\")) \
             (({15}\r\nM\u{e9}lanie Durand NIL \"melanie\" \"patient.fr\")) NIL NIL NIL NIL NIL)"
        );
        assert!(header_contains(EIGHT_BIT.as_bytes(), "subject", "RÉSULTATS"));
        assert!(header_contains(EIGHT_BIT.as_bytes(), "x-dossier", "N\u{b0} 42"));
        assert!(header_contains(EIGHT_BIT.as_bytes(), "from", "mélanie durand"));
        assert!(header_contains(SIMPLE.as_bytes(), "Subject", "ordonnance de MÉLANIE"));
        assert!(!header_contains(SIMPLE.as_bytes(), "Subject", "C3=A9"));
    }

    #[test]
    fn header_search() {
        let raw = SIMPLE.as_bytes();
        assert!(header_contains(raw, "from", "alice.martin@hopital"));
        assert!(header_contains(raw, "FROM", "dr. alice"));
        assert!(header_contains(raw, "to", "carol@labo.mssante.fr"));
        assert!(header_contains(raw, "To", "bob"));
        assert!(!header_contains(raw, "cc", ""));
        assert!(header_contains(raw, "mime-version", ""));
        assert!(header_contains(raw, "Message-ID", "20240514.1"));
        assert!(!header_contains(raw, "to", "alice"));
        let folded = "X-Note: =?ISO-8859-1?Q?caf=E9?=\r\n au lait\r\nX-Note: second\r\n\r\n";
        assert!(header_contains(folded.as_bytes(), "x-note", "CAFÉ"));
        assert!(header_contains(folded.as_bytes(), "x-note", "lait"));
        assert!(header_contains(folded.as_bytes(), "x-note", "second"));
    }

    #[test]
    fn body_and_text_search() {
        assert!(body_contains(SIMPLE.as_bytes(), "HELLO"));
        assert!(!body_contains(SIMPLE.as_bytes(), "ordonnance"));
        assert!(text_contains(SIMPLE.as_bytes(), "ordonnance"));
        assert!(text_contains(SIMPLE.as_bytes(), "world"));
        assert!(body_contains(MIXED.as_bytes(), "piece jointe"));
        assert!(body_contains(MIXED.as_bytes(), "compte-rendu.pdf"));
        assert!(!body_contains(MIXED.as_bytes(), "catalog"));
        // HTML is decoded (quoted-printable, UTF-8) and searched as text.
        assert!(body_contains(ALTERNATIVE.as_bytes(), "semaine à venir"));
        assert!(!body_contains(ALTERNATIVE.as_bytes(), "<b>"));
        // The forwarded message's header and body are in the outer body.
        assert!(body_contains(FORWARD.as_bytes(), "glycemie"));
        assert!(body_contains(FORWARD.as_bytes(), "resultats d'analyse"));
        assert!(!body_contains(FORWARD.as_bytes(), "fwd:"));
        let latin1 = "Content-Type: text/plain; charset=iso-8859-1\r\n\
                      Content-Transfer-Encoding: quoted-printable\r\n\r\nAllergie =E0 la p=E9nicilline\r\n";
        assert!(body_contains(latin1.as_bytes(), "ALLERGIE À LA PÉNICILLINE"));
    }

    #[test]
    fn sent_dates() {
        assert_eq!(sent_date(SIMPLE.as_bytes()), Some(1_715_671_800));
        assert_eq!(sent_date(MIXED.as_bytes()), None);
        assert_eq!(sent_date(b"Date: not a date\r\n\r\n"), None);
    }

    #[test]
    fn sort_and_thread_headers() {
        let simple = Headers::parse(SIMPLE.as_bytes());
        assert_eq!(simple.subject(), Some("Ordonnance de Mélanie"));
        assert_eq!(simple.date(), Some(1_715_671_800));
        let from = NamedAddress { name: Some("Dr. Alice Martin"), address: "alice.martin@hopital.mssante.fr" };
        assert_eq!(simple.first_address(AddressField::From), Some(from));
        let to = NamedAddress { name: Some("Bob"), address: "bob@cabinet.mssante.fr" };
        assert_eq!(simple.first_address(AddressField::To), Some(to));
        assert_eq!(simple.first_address(AddressField::Cc), None);
        assert_eq!(simple.message_id().as_deref(), Some(&b"<20240514.1@hopital.mssante.fr>"[..]));
        assert_eq!(simple.references(), None);
        // The first mailbox of a group, and an address without a name.
        let group = Headers::parse(ALTERNATIVE.as_bytes());
        assert_eq!(group.first_address(AddressField::To), Some(NamedAddress { name: None, address: "a@x.fr" }));
        let reply = Headers::parse(b"In-Reply-To: <a@x>\r\nReferences: <r@x>\r\n <a@x>\r\n\r\nbody");
        assert_eq!(reply.in_reply_to().as_deref(), Some(&b"<a@x>"[..]));
        assert_eq!(reply.references().as_deref(), Some(&b"<r@x> <a@x>"[..]));
        let none = Headers::parse(b"");
        assert_eq!((none.subject(), none.date(), none.first_address(AddressField::From)), (None, None, None));
    }

    #[test]
    fn defaults_for_bare_messages() {
        let bare = b"Subject: bare\r\n\r\nline one\nline two";
        assert_eq!(
            render(|o| body_structure(o, bare, true)),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 17 2 NIL NIL NIL NIL)"
        );
        assert_eq!(render(|o| envelope(o, bare)), "(NIL \"bare\" NIL NIL NIL NIL NIL NIL NIL NIL)");
        assert_eq!(render(|o| envelope(o, b"")), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
        assert_eq!(
            render(|o| body_structure(o, b"", false)),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)"
        );
        // A multipart without a boundary is not opened.
        let broken = b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhello\r\n";
        assert!(render(|o| body_structure(o, broken, false)).starts_with("(\"APPLICATION\" \"OCTET-STREAM\" NIL"));
        // Headers only, no blank line and no final line break.
        let headers_only = "Subject: s\r\nX-A: b";
        assert_eq!(get(headers_only, &[], SectionKind::Header).unwrap(), headers_only);
        assert_eq!(get(headers_only, &[], SectionKind::Text).unwrap(), "");
        assert_eq!(get(headers_only, &[], fields(&["x-a"], false)).unwrap(), "X-A: b\r\n\r\n");
    }

    #[test]
    fn bare_line_feeds() {
        let raw = MIXED.replace("\r\n", "\n");
        assert_eq!(get(&raw, &[1], SectionKind::Full).unwrap(), "Voir la piece jointe.");
        assert_eq!(get(&raw, &[], fields(&["subject"], false)).unwrap(), "Subject: Compte rendu\n\r\n");
        assert_eq!(binary(raw.as_bytes(), &[2]).unwrap(), PDF);
    }

    #[test]
    fn deep_nesting_stays_bounded() {
        let levels = MAX_DEPTH + 50;
        let mut raw = String::new();
        for i in 0..levels {
            raw.push_str(&format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"));
        }
        raw.push_str("Content-Type: text/plain\r\n\r\ndeep\r\n");
        for i in (0..levels).rev() {
            raw.push_str(&format!("--b{i}--\r\n"));
        }
        let out = render(|o| body_structure(o, raw.as_bytes(), true));
        assert_balanced(out.as_bytes());
        assert!(out.contains("\"APPLICATION\" \"OCTET-STREAM\""));
        let mut path = vec![1; levels];
        assert!(section(raw.as_bytes(), &Section { part: path.clone(), kind: SectionKind::Mime }).is_some());
        path.push(1);
        assert_eq!(binary(raw.as_bytes(), &path), None);
        assert!(body_contains(raw.as_bytes(), "deep"));
    }

    #[test]
    fn deeply_embedded_messages_fit_a_small_stack() {
        let mut raw = "Subject: x\r\nContent-Type: message/rfc822\r\n\r\n".repeat(10_000);
        raw.push_str("Subject: end\r\n\r\nbody\r\n");
        let worker = std::thread::Builder::new().stack_size(1 << 20).spawn(move || {
            let raw = raw.as_bytes();
            assert_balanced(render(|o| body_structure(o, raw, true)).as_bytes());
            assert!(text_contains(raw, "x"));
            // Embedded messages beyond MAX_DEPTH are not searched.
            assert!(!body_contains(raw, "end"));
            // Part 1 of a message/rfc822 message is the embedded message.
            let text = section(raw, &Section { part: vec![1; 50], kind: SectionKind::Text }).unwrap();
            assert!(text.starts_with(b"Subject: x\r\nContent-Type: message/rfc822\r\n\r\nSubject: x"));
            let innermost = Section { part: vec![1; 10_001], kind: SectionKind::Full };
            assert_eq!(section(raw, &innermost).unwrap(), b"body\r\n");
        });
        assert!(worker.unwrap().join().is_ok());
    }

    /// A forwarded message that is itself multipart, inside a multipart.
    pub(crate) const NESTED: &str = "From: bob@cabinet.mssante.fr\r\n\
        Subject: Fwd: Resultats\r\n\
        Content-Type: multipart/mixed; boundary=b1\r\n\
        \r\n\
        --b1\r\n\
        Content-Type: text/plain\r\n\
        \r\n\
        Pour info.\r\n\
        --b1\r\n\
        Content-Type: message/rfc822\r\n\
        \r\n\
        From: labo@labo.mssante.fr\r\n\
        Content-Type: multipart/alternative; boundary=b2\r\n\
        \r\n\
        --b2\r\n\
        Content-Type: text/plain\r\n\
        \r\n\
        Glycemie normale.\r\n\
        --b2\r\n\
        Content-Type: text/html\r\n\
        \r\n\
        <p>Glycemie normale.</p>\r\n\
        --b2--\r\n\
        \r\n\
        --b1\r\n\
        Content-Type: message/rfc822\r\n\
        \r\n\
        Subject: simple\r\n\
        \r\n\
        corps\r\n\
        --b1--\r\n";

    #[test]
    fn stored_part_offsets_slice_what_body_sections_return() {
        for raw in [SIMPLE, MIXED, ALTERNATIVE, FORWARD, EIGHT_BIT, NESTED] {
            let facts = mss_message::Facts::of(raw.as_bytes());
            let mut checked = 0;
            for part in &facts.parts {
                let offsets = part.offsets.expect("no transfer-encoded message here");
                let header = &raw.as_bytes()[offsets.header as usize..offsets.body as usize];
                let body = &raw.as_bytes()[offsets.body as usize..offsets.end as usize];
                let at = |kind| section(raw.as_bytes(), &Section { part: part.path.clone(), kind }).unwrap();
                if part.message {
                    // RFC 9051 §6.4.5: a message's HEADER and TEXT.
                    assert_eq!(at(SectionKind::Header), header, "{:?} HEADER", part.path);
                    assert_eq!(at(SectionKind::Text), body, "{:?} TEXT", part.path);
                } else {
                    assert_eq!(at(SectionKind::Full), body, "BODY[{:?}]", part.path);
                    assert_eq!(at(SectionKind::Mime), header, "{:?} MIME", part.path);
                }
                checked += 1;
            }
            assert_eq!(checked, facts.parts.len());
        }
        let nested = mss_message::Facts::of(NESTED.as_bytes());
        let paths: Vec<Vec<u32>> = nested.parts.iter().map(|p| p.path.clone()).collect();
        assert_eq!(paths, [vec![], vec![1], vec![2], vec![2], vec![2, 1], vec![2, 2], vec![3], vec![3]]);
        // A single-part message's body is BODY[1] too.
        let simple = mss_message::Facts::of(SIMPLE.as_bytes());
        let offsets = simple.parts[0].offsets.unwrap();
        let one = section(SIMPLE.as_bytes(), &Section { part: vec![1], kind: SectionKind::Full }).unwrap();
        assert_eq!(one, &SIMPLE.as_bytes()[offsets.body as usize..offsets.end as usize]);
    }

    /// HEADER.FIELDS copies the lines of the fields mail-parser finds in
    /// the header, in order and byte for byte, without parsing their values.
    #[test]
    fn header_fields_are_the_lines_a_parse_of_the_header_finds() {
        let folded = "Subject: Bilan\r\n  sanguin\r\nX-Empty:\r\nFrom : a@x\r\n\r\nbody\r\n";
        for raw in [SIMPLE, MIXED, ALTERNATIVE, FORWARD, EIGHT_BIT, NESTED, folded] {
            let parsed = parse_header(raw.as_bytes()).unwrap();
            let root = Node::root(&parsed).unwrap();
            let found: Vec<&[u8]> =
                root.part.headers.iter().map(|h| root.slice(h.offset_field, h.offset_end)).collect();
            let copied: Vec<&[u8]> = raw_fields(raw.as_bytes()).map(|f| f.bytes).collect();
            assert_eq!(copied, found, "{raw}");
            let names: Vec<&str> = root.part.headers.iter().map(|h| h.name.as_str()).collect();
            let named: Vec<String> =
                raw_fields(raw.as_bytes()).map(|f| String::from_utf8_lossy(f.name).into_owned()).collect();
            assert_eq!(named, names, "{raw}");
        }
    }

    #[test]
    fn realistic_output_is_well_formed() {
        for raw in [SIMPLE, MIXED, ALTERNATIVE, FORWARD, EIGHT_BIT] {
            for extensible in [false, true] {
                assert_balanced(render(|o| body_structure(o, raw.as_bytes(), extensible)).as_bytes());
            }
            assert_balanced(render(|o| envelope(o, raw.as_bytes())).as_bytes());
        }
    }

    /// Calls every function on `raw`; output must be well formed.
    fn exercise(raw: &[u8]) {
        let kinds = [
            SectionKind::Full,
            SectionKind::Header,
            SectionKind::Text,
            SectionKind::Mime,
            fields(&["subject", "from"], false),
            fields(&["subject"], true),
        ];
        let paths: [&[u32]; 8] = [&[], &[1], &[2], &[0], &[1, 1], &[2, 1], &[1, 2, 1], &[u32::MAX]];
        for path in paths {
            for kind in &kinds {
                section(raw, &Section { part: path.to_vec(), kind: kind.clone() });
            }
            binary(raw, path);
        }
        for extensible in [false, true] {
            assert_balanced(render(|o| body_structure(o, raw, extensible)).as_bytes());
        }
        assert_balanced(render(|o| envelope(o, raw)).as_bytes());
        crate::described::tests::agree(raw);
        facts_agree(raw);
        header_contains(raw, "subject", "x");
        header_contains(raw, "from", "");
        body_contains(raw, "é");
        text_contains(raw, "a");
        sent_date(raw);
        let headers = Headers::parse(raw);
        headers.subject();
        headers.first_address(AddressField::To);
        headers.references();
    }

    /// What SEARCH and SORT take from the facts is what they read in the
    /// bytes: the searched fields' texts, the sent date, the first Subject,
    /// To and Cc.
    fn facts_agree(raw: &[u8]) {
        let facts = mss_message::Facts::of(raw);
        for name in mss_store::SearchedHeader::ALL.map(|h| h.name()).into_iter().chain(["subject", "X-Other"]) {
            for needle in ["", "a", "<", "\"", "é", "Re: "] {
                if let Some(texts) = facts.searched(name) {
                    assert_eq!(texts_contain(texts, needle), header_contains(raw, name, needle), "{name} {needle}");
                }
            }
        }
        if !facts.has_header() {
            return;
        }
        let headers = Headers::parse(raw);
        let envelope = &facts.envelope;
        assert_eq!(envelope.sent_at, sent_date(raw));
        assert_eq!(envelope.subject.as_deref().unwrap_or_default(), headers.subject().unwrap_or_default());
        for (field, items) in [(AddressField::To, &envelope.to), (AddressField::Cc, &envelope.cc)] {
            let first = items.iter().find_map(|item| match item {
                mss_message::facts::AddressItem::Mailbox(p) => Some((p.name.as_deref(), p.address.as_str())),
                _ => None,
            });
            assert_eq!(first, headers.first_address(field).map(|a| (a.name, a.address)), "{field:?}");
        }
    }

    #[test]
    fn malformed_input_never_panics() {
        let samples: [&[u8]; 15] = [
            // Trips a mail-parser debug assertion.
            b"Content-Type:multipart/digest;boundary=b\n\n--b\n\nContent-Type:message/rfc822\n\n\n--b--",
            b"",
            b"\r\n",
            b"\r\n\r\n",
            b":",
            b"garbage without any structure",
            b"\xff\xfe\x00\x01: \x80\x81\r\n\r\n\xc3",
            b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n----\r\n",
            b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a--\r\n",
            b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\n--a--",
            b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!",
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ==\r\n",
            b"From: <>, @, a@, \"unterminated\r\nTo: ;;;:,,\r\nDate: 99 Foo 99999 99:99:99 +9999\r\n\r\n",
            b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nnot a message\r\n--d--\r\n",
            b"Content-Type: /; =; boundary\r\nContent-Disposition: ;\r\nContent-Language: ,,\r\n\r\n",
        ];
        for raw in samples {
            exercise(raw);
        }
        // Every truncation of the realistic messages.
        for message in [MIXED, ALTERNATIVE, FORWARD] {
            for end in 0..message.len() {
                exercise(&message.as_bytes()[..end]);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift64: deterministic pseudo-random input.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Alphabet biased towards MIME syntax so that parsing goes deep.
        let tokens: [&[u8]; 12] = [
            b"\r\n",
            b"\n",
            b"--a",
            b"Content-Type: multipart/mixed; boundary=a\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Content-Transfer-Encoding: base64\r\n",
            b"Subject: =?utf-8?q?x=C3?=\r\n",
            b"From: a@b, g: c@d;\r\n",
            b": ",
            b"\xc3\xa9\xff",
            b"\"",
            b"=",
        ];
        for _ in 0..400 {
            let len = (next() % 60) as usize;
            let raw: Vec<u8> = (0..len)
                .flat_map(|_| {
                    let pick = next();
                    if pick % 3 == 0 {
                        vec![(pick >> 8) as u8]
                    } else {
                        tokens[(pick >> 8) as usize % tokens.len()].to_vec()
                    }
                })
                .collect();
            exercise(&raw);
        }
        // Byte flips in a realistic message.
        for _ in 0..300 {
            let mut raw = FORWARD.as_bytes().to_vec();
            for _ in 0..4 {
                let at = next() as usize % raw.len();
                raw[at] = next() as u8;
            }
            exercise(&raw);
        }
    }
}
