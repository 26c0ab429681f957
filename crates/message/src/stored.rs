//! [`Facts`] as the store keeps them ([`mss_store::MessageFacts`]): encoded
//! with a version, plus the columns clients sort by and the searchable text
//! ([`crate::search`]) for the store's full-text index. The store never
//! reads the encoding; this module is the one writer and reader.
//!
//! The encoding is postcard (compact, read without parsing text: IMAP
//! decodes the facts of every message a FETCH of ENVELOPE or BODYSTRUCTURE
//! names, JSON made that slower than Dovecot). It is not self-describing:
//! any change to [`Facts`] or the types it holds bumps
//! [`VERSION`]: facts of an older version are then read as absent (callers
//! parse the bytes instead) and `mss messages index` writes them again. So
//! does a change to the columns or the searchable text, which older rows
//! lack (version 2 added the sort keys and the text; version 3, whether a
//! part has a Content-Type, so that IMAP writes BODYSTRUCTURE from facts;
//! version 4, the searched header texts; version 5, whether the message
//! ends a patient conversation, what a read receipt is about, the health
//! documents attached; version 6, the documents' ids for the store to find
//! the same document or its replacement in other messages; version 7, the
//! first words of the text; version 8, postcard instead of JSON; version 9,
//! the IMAP SORT keys of SUBJECT and FROM kept on every folder row; version
//! 10, the header block).

use mss_core::fold_label;
use mss_store::{BlobHash, DocumentKey, FactColumns, IndexedText, MessageFacts, SearchedHeader};

use crate::facts::{AddressItem, Envelope, Facts};
use crate::search::Searchable;
use crate::sort_keys;

/// The version of the encoding written here (8: postcard).
pub const VERSION: u32 = 10;

/// The facts of `raw`, ready for the store.
pub fn stored(raw: &[u8]) -> MessageFacts {
    encode(BlobHash::of(raw), raw)
}

/// The facts of `raw`, whose hash the caller knows (`blob`).
pub fn encode(blob: BlobHash, raw: &[u8]) -> MessageFacts {
    let (facts, Searchable { text, preview }) = Facts::with_text(raw);
    // Serialising plain structs of strings and numbers cannot fail.
    let encoded = postcard::to_allocvec(&facts).unwrap_or_default();
    let searched = SearchedHeader::ALL.map(|field| searched(&facts, field));
    let documents = facts
        .documents
        .iter()
        .filter_map(|d| Some(DocumentKey { id: d.id.clone()?, replaces: d.replaces.clone() }))
        .collect();
    let text = IndexedText::of(&text);
    MessageFacts { blob, version: VERSION, encoded, columns: columns(&facts, preview), text, searched, documents }
}

/// The texts of `field` SEARCH looks in, joined by line feeds and
/// lowercased as it compares them; None when the facts do not keep them (a
/// header that did not parse).
fn searched(facts: &Facts, field: SearchedHeader) -> Option<String> {
    let texts = facts.searched(field.name()).filter(|_| facts.has_header())?;
    Some(texts.collect::<Vec<_>>().join("\n").to_lowercase())
}

/// The facts stored by this version of mss; None for another version or an
/// encoding that does not read back.
pub fn decode(stored: &MessageFacts) -> Option<Facts> {
    decode_encoded(stored.version, &stored.encoded)
}

/// [`decode`] from the version and the encoded bytes alone.
pub fn decode_encoded(version: u32, encoded: &[u8]) -> Option<Facts> {
    decode_as(version, encoded)
}

/// The leading part of the facts [`decode_encoded`] reads
/// ([`crate::facts::Structure`]), the rest left unread.
pub fn decode_structure(version: u32, encoded: &[u8]) -> Option<crate::facts::Structure> {
    decode_as(version, encoded)
}

/// The header block the facts keep ([`crate::facts::Facts::header`]),
/// their first field, the rest left unread; None without facts of this
/// version or without a kept header.
pub fn decode_header(version: u32, encoded: &[u8]) -> Option<String> {
    /// The leading field of [`Facts`].
    #[derive(serde::Deserialize)]
    struct Leading {
        header: Option<String>,
    }
    decode_as::<Leading>(version, encoded)?.header
}

fn decode_as<T: serde::de::DeserializeOwned>(version: u32, encoded: &[u8]) -> Option<T> {
    if version != VERSION {
        return None;
    }
    postcard::from_bytes(encoded).ok()
}

/// The columns of [`FactColumns`], with the text's first words.
fn columns(facts: &Facts, preview: String) -> FactColumns {
    let Envelope { sent_at, subject, originators, to, cc, message_id, in_reply_to, .. } = &facts.envelope;
    let author = originators.as_ref().and_then(|o| o.from.first());
    let shown = author.map(|a| a.name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&a.address));
    FactColumns {
        sent_at: *sent_at,
        subject: subject.clone(),
        from_name: author.and_then(|a| a.name.clone()),
        from_address: author.map(|a| a.address.clone()),
        to_addresses: addresses(to),
        cc_addresses: addresses(cc),
        message_id: message_id.clone(),
        in_reply_to: in_reply_to.clone(),
        patient_ins: facts.patient.ins.clone(),
        xdm: facts.xdm,
        closes_conversation: facts.closes_conversation(),
        receipt_for: facts.receipt_for.clone(),
        receipt_disposition: facts.receipt_disposition.clone(),
        attachments: u32::try_from(facts.attachments().count()).unwrap_or(u32::MAX),
        sender_key: fold_label(shown.unwrap_or_default()),
        subject_key: fold_label(subject.as_deref().unwrap_or_default()),
        imap_subject_key: facts.has_header().then(|| imap_subject_key(subject.as_deref())),
        imap_from_key: author
            .map(|a| a.address.as_str())
            .filter(|address| facts.has_header() && !address.contains('"'))
            .map(|address| sort_keys::sort_key(sort_keys::addr_mailbox(address)).into_string()),
        header: facts.has_header(),
        preview,
    }
}

/// What SORT SUBJECT compares: the base subject, casemapped.
pub fn imap_subject_key(subject: Option<&str>) -> String {
    sort_keys::sort_key(&sort_keys::base_subject(subject.unwrap_or_default()).0).into_string()
}

/// The addresses of a recipient field, comma-separated.
fn addresses(items: &[AddressItem]) -> String {
    let addresses: Vec<&str> = items
        .iter()
        .filter_map(|item| match item {
            AddressItem::Mailbox(person) => Some(person.address.as_str()),
            AddressItem::GroupStart(_) | AddressItem::GroupEnd => None,
        })
        .collect();
    addresses.join(", ")
}
