//! SORT (RFC 5256 §3, with DISPLAYFROM and DISPLAYTO of RFC 5957) and
//! THREAD (RFC 5256 §3: ORDEREDSUBJECT and REFERENCES), UID variants
//! included. Both select with SEARCH's [`Session::matching`] and keep one
//! small record per matching message: the values it sorts by, or what
//! [`threading`] needs. A matching message is read once, and only its
//! header is parsed; SORT by ARRIVAL and SIZE alone reads no message.
//!
//! SORT of a whole folder by SUBJECT, FROM or DATE alone reads no message at all:
//! the store keeps those keys on every folder row, computed with the facts
//! (`mss_message::sort_keys`), and returns the UIDs in order from an index.
//!
//! Otherwise, SORT of a whole folder (search key ALL) reads the columns of the stored
//! facts of every message in one store read
//! ([`mss_store::FactsStore::sort_rows`]), no message and no decoding: the
//! first Date, Subject, To and Cc, and for FROM and DISPLAYFROM the first
//! author as ENVELOPE shows it. Only a message whose columns do not say (no
//! facts yet, a header that did not parse, a From its reader refused, a
//! quoted address) has its header read. Otherwise (other search keys,
//! DISPLAYTO) SORT by DATE, SUBJECT, TO, CC and DISPLAYTO takes its values
//! from the decoded facts of each matching message, and FROM and
//! DISPLAYFROM read the message.

use std::cmp::Ordering;
use std::hash::RandomState;

use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::extensions::sort::{SortCriterion, SortKey};
use imap_codec::imap_types::extensions::thread::ThreadingAlgorithm;
use imap_codec::imap_types::search::SearchKey;

use mss_message::facts::{AddressItem, Envelope};
use mss_message::sort_keys::{addr_mailbox, base_subject, sort_key};
use mss_message::stored::VERSION;
use mss_store::{ImapSortKey, SortTexts, SortedMessage};

use super::search::{self, Candidate, Reads, numbers_response};
use super::{Reply, Session};
use crate::message::{AddressField, Headers, NamedAddress};
use crate::threading::{self, Fields, Message, Threads};

/// One value a message sorts by; the values of one criterion are all
/// numbers or all text.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Number(i64),
    Text(Box<str>),
}

/// Messages whose metadata is read at once when their columns do not say.
const CHUNK: usize = 1024;

/// A matching message for SORT: how the response names it and its values,
/// one per criterion.
struct Sorted {
    number: u32,
    values: Box<[SortValue]>,
}

impl Session<'_> {
    pub(super) async fn sort(
        &mut self,
        criteria: &[SortCriterion],
        charset: &Charset<'_>,
        search: &[SearchKey<'_>],
        by_uid: bool,
    ) -> Reply {
        if let Some(found) = self.sort_by_columns(criteria, charset, search, by_uid).await {
            return self.sort_response(found);
        }
        let keys = || criteria.iter().map(|c| &c.key);
        let reads = if keys().all(|k| matches!(k, SortKey::Arrival | SortKey::Size)) {
            Reads::Metadata
        } else if keys().any(|k| matches!(k, SortKey::From | SortKey::DisplayFrom)) {
            // Not in the facts (see `fact_value`).
            Reads::Bytes
        } else {
            Reads::Header
        };
        let record = |c: &Candidate<'_>| sorted(c, criteria, by_uid);
        let mut found = match self.matching(Some(charset), search, reads, record).await {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        // A stable sort: messages equal by every criterion stay in sequence
        // order (RFC 5256 §3).
        found.sort_by(|a, b| compare(criteria, a, b));
        self.sort_response(found)
    }

    fn sort_response(&mut self, found: Vec<Sorted>) -> Reply {
        numbers_response(&mut self.out, "SORT", found.into_iter().map(|message| message.number));
        Reply::ok("SORT completed")
    }

    /// SORT of the whole folder (search key ALL) from one store read of the
    /// facts' columns; the header of a message whose columns do not say
    /// (no facts, a header that did not parse, a From its reader refused, a
    /// quoted recipient address) is read. None when this does not apply:
    /// another search key, or DISPLAYTO (the columns keep no recipient
    /// names).
    async fn sort_by_columns(
        &mut self,
        criteria: &[SortCriterion],
        charset: &Charset<'_>,
        search: &[SearchKey<'_>],
        by_uid: bool,
    ) -> Option<Vec<Sorted>> {
        let whole = search.iter().all(|k| matches!(k, SearchKey::All));
        let display_to = criteria.iter().any(|c| matches!(c.key, SortKey::DisplayTo));
        if !whole || display_to || !search::supported(charset) {
            return None;
        }
        let selected = self.selected()?;
        let (folder, uids) = (selected.folder.id, selected.uids.clone());
        if let Some(found) = self.sort_by_index(criteria, folder, &uids, by_uid).await {
            return Some(found);
        }
        let keys = || criteria.iter().map(|c| &c.key);
        let texts = SortTexts {
            subject: keys().any(|k| matches!(k, SortKey::Subject)),
            from: keys().any(|k| matches!(k, SortKey::From | SortKey::DisplayFrom)),
            to: keys().any(|k| matches!(k, SortKey::To)),
            cc: keys().any(|k| matches!(k, SortKey::Cc)),
        };
        let store = &self.server.store;
        let rows = store.meta.sort_rows(folder, VERSION, texts).await.ok()?;
        let mut found = Vec::with_capacity(uids.len());
        // Those the columns do not answer, by UID, for one read of their metadata.
        let mut unanswered: Vec<(u32, u32, &SortedMessage)> = Vec::new();
        for row in &rows {
            let Ok(position) = uids.binary_search(&row.uid) else { continue };
            let number = if by_uid { row.uid } else { position as u32 + 1 };
            match criteria.iter().map(|c| column_value(&c.key, row)).collect::<Option<_>>() {
                Some(values) => found.push((position, Sorted { number, values })),
                None => unanswered.push((row.uid, number, row)),
            }
        }
        for chunk in unanswered.chunks(CHUNK) {
            let chunk_uids: Vec<u32> = chunk.iter().map(|(uid, _, _)| *uid).collect();
            let metas = store.meta.messages(folder, &chunk_uids).await.ok()?;
            for meta in metas {
                // The rows, hence the chunk, come by UID.
                let Ok(at) = chunk.binary_search_by_key(&meta.uid, |(uid, _, _)| *uid) else { continue };
                let (_, number, row) = chunk[at];
                // A missing body sorts as an empty header, as `matching` reads it.
                let raw = store.blobs.get(&meta.blob).await.ok().flatten().unwrap_or_default();
                let headers = Headers::parse(&raw);
                let values = criteria.iter().map(|c| value(&c.key, row.received_at, row.size, &headers)).collect();
                let position = uids.binary_search(&meta.uid).unwrap_or(usize::MAX);
                found.push((position, Sorted { number, values }));
            }
        }
        // In sequence order first, so that the sort below stays stable.
        found.sort_by_key(|(position, _)| *position);
        let mut found: Vec<Sorted> = found.into_iter().map(|(_, sorted)| sorted).collect();
        found.sort_by(|a, b| compare(criteria, a, b));
        Some(found)
    }

    /// SORT of the whole folder by SUBJECT, FROM or DATE alone, from the keys
    /// every folder row keeps: the store returns the UIDs in order, nothing
    /// is read per message. None when a message has no key (its facts
    /// missing, older or not saying) or another order is asked.
    async fn sort_by_index(
        &self,
        criteria: &[SortCriterion],
        folder: mss_store::FolderId,
        uids: &[u32],
        by_uid: bool,
    ) -> Option<Vec<Sorted>> {
        let [criterion] = criteria else { return None };
        let key = match criterion.key {
            SortKey::Subject => ImapSortKey::Subject,
            SortKey::From => ImapSortKey::From,
            SortKey::Date => ImapSortKey::Date,
            _ => return None,
        };
        let ordered = self.server.store.meta.sorted_uids(folder, key, criterion.reverse).await.ok()??;
        // Only the messages this session knows, numbered as it knows them.
        let found = ordered
            .into_iter()
            .filter_map(|uid| {
                let position = uids.binary_search(&uid).ok()?;
                let number = if by_uid { uid } else { position as u32 + 1 };
                Some(Sorted { number, values: Box::new([]) })
            })
            .collect();
        Some(found)
    }

    pub(super) async fn thread(
        &mut self,
        algorithm: &ThreadingAlgorithm<'_>,
        charset: &Charset<'_>,
        search: &[SearchKey<'_>],
        by_uid: bool,
    ) -> Reply {
        let build: fn(&[Message]) -> Threads = match algorithm {
            ThreadingAlgorithm::OrderedSubject => threading::ordered_subject,
            ThreadingAlgorithm::References => threading::references,
            ThreadingAlgorithm::Other(_) => return Reply::bad("Unknown threading algorithm"),
        };
        let keys = RandomState::new();
        let record = |c: &Candidate<'_>| threaded(c, by_uid, &keys);
        let messages = match self.matching(Some(charset), search, Reads::Bytes, record).await {
            Ok(messages) => messages,
            Err(reply) => return reply,
        };
        self.out.extend_from_slice(b"* THREAD");
        build(&messages).write(&mut self.out, &messages);
        self.out.extend_from_slice(b"\r\n");
        Reply::ok("THREAD completed")
    }
}

/// The order of two messages by the first criterion that tells them apart.
fn compare(criteria: &[SortCriterion], a: &Sorted, b: &Sorted) -> Ordering {
    let pairs = criteria.iter().zip(a.values.iter().zip(b.values.iter()));
    pairs
        .map(|(criterion, (a, b))| if criterion.reverse { b.cmp(a) } else { a.cmp(b) })
        .find(|order| order.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The values of a message: from its facts when they hold every one, else
/// from its header.
fn sorted(c: &Candidate<'_>, criteria: &[SortCriterion], by_uid: bool) -> Sorted {
    let from_facts = c.facts.and_then(|f| criteria.iter().map(|k| fact_value(&k.key, c, &f.envelope)).collect());
    let values = from_facts.unwrap_or_else(|| {
        let headers = Headers::parse(c.raw.unwrap_or_default());
        criteria.iter().map(|criterion| value(&criterion.key, c.meta.received_at, c.meta.size, &headers)).collect()
    });
    Sorted { number: c.number(by_uid), values }
}

/// [`value`] from the envelope of the stored facts, which holds the first
/// Date, Subject, To and Cc exactly as [`Headers`] reads them; None for
/// FROM and DISPLAYFROM (the facts' From is the originators reader's).
fn fact_value(key: &SortKey, c: &Candidate<'_>, envelope: &Envelope) -> Option<SortValue> {
    let text = |text: &str| SortValue::Text(sort_key(text));
    Some(match key {
        SortKey::Arrival => SortValue::Number(c.meta.received_at),
        SortKey::Size => SortValue::Number(i64::try_from(c.meta.size).unwrap_or(i64::MAX)),
        // RFC 5256 §2.2: without a valid Date, the INTERNALDATE.
        SortKey::Date => SortValue::Number(envelope.sent_at.unwrap_or(c.meta.received_at)),
        SortKey::Subject => text(&base_subject(envelope.subject.as_deref().unwrap_or_default()).0),
        SortKey::To => text(first(&envelope.to).map_or("", local_part)),
        SortKey::Cc => text(first(&envelope.cc).map_or("", local_part)),
        SortKey::DisplayTo => text(first(&envelope.to).map_or("", display)),
        SortKey::From | SortKey::DisplayFrom => return None,
    })
}

/// RFC 5256 §3 and RFC 5957 §3: what a message sorts by for one key. A
/// missing field sorts as the empty string.
fn value(key: &SortKey, received_at: i64, size: u64, headers: &Headers<'_>) -> SortValue {
    let text = |text: &str| SortValue::Text(sort_key(text));
    let first = |field| headers.first_address(field);
    match key {
        SortKey::Arrival => SortValue::Number(received_at),
        // RFC 5256 §2.2: without a valid Date, the INTERNALDATE.
        SortKey::Date => SortValue::Number(headers.date().unwrap_or(received_at)),
        SortKey::Size => SortValue::Number(i64::try_from(size).unwrap_or(i64::MAX)),
        SortKey::Subject => text(&base_subject(headers.subject().unwrap_or_default()).0),
        SortKey::From => text(first(AddressField::From).map_or("", local_part)),
        SortKey::To => text(first(AddressField::To).map_or("", local_part)),
        SortKey::Cc => text(first(AddressField::Cc).map_or("", local_part)),
        SortKey::DisplayFrom => text(first(AddressField::From).map_or("", display)),
        SortKey::DisplayTo => text(first(AddressField::To).map_or("", display)),
    }
}

/// [`fact_value`] from the columns of the facts: the same first Date,
/// Subject, To and Cc (the first address of a column written as the
/// envelope's, unless an address is quoted and may hold the separator),
/// and the first author for FROM and DISPLAYFROM; None when the columns do
/// not say.
fn column_value(key: &SortKey, row: &SortedMessage) -> Option<SortValue> {
    let text = |text: &str| SortValue::Text(sort_key(text));
    let arrival = || SortValue::Number(row.received_at);
    let columns = match key {
        SortKey::Arrival => return Some(arrival()),
        SortKey::Size => return Some(SortValue::Number(i64::try_from(row.size).unwrap_or(i64::MAX))),
        _ => row.facts.as_ref().filter(|c| c.header)?,
    };
    let author = unquoted(columns.from_address.as_deref());
    // The first address of a list the columns write comma-separated.
    let first = |list: &'_ str| -> String { addr_mailbox(list.split(", ").next().unwrap_or_default()).to_string() };
    Some(match key {
        SortKey::Date => SortValue::Number(columns.sent_at.unwrap_or(row.received_at)),
        SortKey::Subject => text(&base_subject(columns.subject.as_deref().unwrap_or_default()).0),
        SortKey::To => text(&first(unquoted(columns.to_addresses.as_deref())?)),
        SortKey::Cc => text(&first(unquoted(columns.cc_addresses.as_deref())?)),
        // The first author as ENVELOPE shows it; none when its reader
        // refused the From (two of them, a malformed one): read the header.
        SortKey::From => text(addr_mailbox(author?)),
        SortKey::DisplayFrom => {
            let address = author?;
            text(columns.from_name.as_deref().filter(|name| !name.trim().is_empty()).unwrap_or(address))
        }
        _ => return None,
    })
}

/// An address list whose addresses are not quoted: a quoted one may hold
/// the columns' separator.
fn unquoted(list: Option<&str>) -> Option<&str> {
    list.filter(|l| !l.contains('"'))
}

/// The first mailbox of a recipient field in the facts, looking inside
/// groups, as [`Headers::first_address`] finds it.
fn first(items: &[AddressItem]) -> Option<NamedAddress<'_>> {
    items.iter().find_map(|item| match item {
        AddressItem::Mailbox(p) => Some(NamedAddress { name: p.name.as_deref(), address: &p.address }),
        AddressItem::GroupStart(_) | AddressItem::GroupEnd => None,
    })
}

/// The addr-mailbox: the address before its "@".
fn local_part<'a>(address: NamedAddress<'a>) -> &'a str {
    addr_mailbox(address.address)
}

/// RFC 5957 §3: the display name, or without one the address.
fn display<'a>(address: NamedAddress<'a>) -> &'a str {
    address.name.filter(|name| !name.trim().is_empty()).unwrap_or(address.address)
}

fn threaded(c: &Candidate<'_>, by_uid: bool, keys: &RandomState) -> Message {
    let headers = Headers::parse(c.raw.unwrap_or_default());
    let [message_id, in_reply_to, references] =
        [headers.message_id(), headers.in_reply_to(), headers.references()].map(Option::unwrap_or_default);
    let fields = Fields {
        subject: headers.subject().unwrap_or_default(),
        message_id: &message_id,
        in_reply_to: &in_reply_to,
        references: &references,
    };
    // RFC 5256 §2.2: the sent date, or the INTERNALDATE without a valid one.
    Message::new(c.number(by_uid), headers.date().unwrap_or(c.meta.received_at), &fields, keys)
}
