//! Which messages a folder page shows, [`PAGE`] at a time: the store sorts,
//! searches, counts and pages the folder from its index
//! ([`mss_store::FactsStore::folder_page`]), whatever the folder's size;
//! the page reads no message, except one stored without facts.
//!
//! A search finds the messages holding every word of the query (case and
//! accents ignored, the last word as a prefix) in the subject, the sender,
//! the recipients or the text. Messages stored before their facts existed
//! (or with facts of an older version) are listed by arrival but match no
//! search and sort first by sender or subject until `mss serve`'s backfill
//! (`mss_ops::facts`) reaches them; a page that lists some indexes them on
//! the way and says that the folder is still being indexed.

use mss_message::documents::shown_subject;
use mss_message::stored;
use mss_store::{FactColumns, Folder, ListOrder, ListedMessage, MessageFacts, MessageMeta, PageQuery, StoreError};

use super::origin::UNVERIFIABLE;
use crate::Web;

/// Messages per page of a folder.
pub const PAGE: usize = 50;

/// How the list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first (by UID, the order of arrival).
    Newest,
    Oldest,
    Sender,
    Subject,
}

impl Order {
    /// From the page's `tri` parameter (`recent`, `ancien`, `expediteur`, `objet`).
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("ancien") => Order::Oldest,
            Some("expediteur") => Order::Sender,
            Some("objet") => Order::Subject,
            _ => Order::Newest,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Order::Newest => "recent",
            Order::Oldest => "ancien",
            Order::Sender => "expediteur",
            Order::Subject => "objet",
        }
    }

    /// The store's order, and whether descending.
    fn in_store(self) -> (ListOrder, bool) {
        match self {
            Order::Newest => (ListOrder::Arrival, true),
            Order::Oldest => (ListOrder::Arrival, false),
            Order::Sender => (ListOrder::Sender, false),
            Order::Subject => (ListOrder::Subject, false),
        }
    }
}

/// What the list shows of a message.
pub struct Summary {
    pub meta: MessageMeta,
    /// The sender as a list names them: the display name, else the address.
    pub from: String,
    /// The sender's address, when the header reader checked it.
    pub from_address: Option<String>,
    pub subject: String,
    pub date: i64,
    /// The first words of the text.
    pub preview: String,
    pub attachments: u32,
    /// A health document (an IHE XDM package) is attached.
    pub document: bool,
    /// The INS of the patient the message is from or to (a patient
    /// conversation, `mss_store::PatientStore`); not for a read receipt.
    pub patient: Option<String>,
}

/// One page of a folder's list.
pub struct Listing {
    pub summaries: Vec<Summary>,
    pub page: usize,
    pub pages: usize,
    /// Messages listed (matches, when searching).
    pub total: usize,
    /// The page listed messages without facts: others of the folder may
    /// still wait for theirs, and a search or a sort not see them yet.
    pub indexing: bool,
}

/// A message with facts: what they say (the first author, as the header
/// reader checked it: none when it refused the header).
fn indexed(meta: MessageMeta, columns: FactColumns) -> Summary {
    let from = match (columns.from_name.as_deref().map(str::trim).filter(|n| !n.is_empty()), &columns.from_address) {
        (Some(name), Some(_)) => name.to_string(),
        (None, Some(address)) => address.clone(),
        (_, None) => UNVERIFIABLE.to_string(),
    };
    let date = columns.sent_at.unwrap_or(meta.received_at);
    let patient = columns.patient_ins.filter(|_| columns.receipt_for.is_none());
    let subject = columns.subject.as_deref().map(shown_subject).unwrap_or_default().to_string();
    Summary {
        meta,
        from,
        from_address: columns.from_address,
        subject,
        date,
        preview: columns.preview,
        attachments: columns.attachments,
        document: columns.xdm,
        patient,
    }
}

/// The summaries of a page's messages, in order; those without facts are
/// read and their facts stored on the way.
async fn summaries(web: &Web, listed: Vec<ListedMessage>) -> Result<Vec<Summary>, StoreError> {
    let mut out = Vec::with_capacity(listed.len());
    let mut written: Vec<MessageFacts> = Vec::new();
    for ListedMessage { meta, columns } in listed {
        let columns = match columns {
            Some(columns) => columns,
            None => {
                let hash = meta.blob;
                // A missing body is `mss check`'s to report; the list goes on.
                let raw = web.store.blobs.get(&hash).await?;
                // Read off the async threads.
                let read = match raw {
                    Some(raw) => tokio::task::spawn_blocking(move || stored::encode(hash, &raw)).await.ok(),
                    None => None,
                };
                let Some(facts) = read else {
                    let date = meta.received_at;
                    out.push(Summary {
                        meta,
                        from: String::new(),
                        from_address: None,
                        subject: String::new(),
                        date,
                        preview: String::new(),
                        attachments: 0,
                        document: false,
                        patient: None,
                    });
                    continue;
                };
                written.push(facts.clone());
                facts.columns
            }
        };
        out.push(indexed(meta, columns));
    }
    web.store.meta.put_facts(&written).await?;
    Ok(out)
}

/// The page `page` (from 1) of `folder` searched for `query`, in `order`.
pub async fn list(web: &Web, folder: &Folder, query: &str, order: Order, page: usize) -> Result<Listing, StoreError> {
    let (sort, descending) = order.in_store();
    let search = Some(query.to_string()).filter(|q| !q.trim().is_empty());
    let mut asked = PageQuery { order: sort, descending, offset: 0, limit: PAGE as u32, search };
    let page = page.max(1);
    // The page number comes from the address bar: it may be past any end.
    asked.offset = (page - 1).saturating_mul(PAGE) as u64;
    let mut found = web.store.meta.folder_page(folder.id, &asked).await?;
    let total = usize::try_from(found.total).unwrap_or(usize::MAX);
    let pages = total.div_ceil(PAGE).max(1);
    if page > pages {
        // Past the end (the folder shrank): the last page.
        asked.offset = ((pages - 1) * PAGE) as u64;
        found = web.store.meta.folder_page(folder.id, &asked).await?;
    }
    let indexing = found.messages.iter().any(|m| m.columns.is_none());
    let summaries = summaries(web, found.messages).await?;
    Ok(Listing { summaries, page: page.min(pages), pages, total, indexing })
}

#[cfg(test)]
mod tests {
    use mss_store::BlobHash;

    use super::*;

    #[test]
    fn the_sender_is_what_the_header_reader_checked() {
        let meta = MessageMeta { uid: 1, blob: BlobHash::of(b""), size: 0, received_at: 7, modseq: 1, flags: vec![] };
        let raw = "From: =?utf-8?q?J=C3=A9r=C3=B4me?= <j@labo.test>\r\nSubject: Résultats\r\n\r\n";
        let facts = stored::stored(raw.as_bytes());
        let shown = indexed(meta.clone(), facts.columns);
        assert_eq!((shown.from.as_str(), shown.subject.as_str(), shown.date), ("Jérôme", "Résultats", 7));
        assert_eq!(shown.from_address.as_deref(), Some("j@labo.test"));
        // Two From fields: no sender at all.
        let raw = "From: <chef@autre.test>\r\nFrom: <elodie@ours.test>\r\nSubject: Bilan\r\n\r\n";
        let shown = indexed(meta.clone(), stored::stored(raw.as_bytes()).columns);
        assert_eq!(shown.from, UNVERIFIABLE);
        assert_eq!(Order::parse(Some("objet")), Order::Subject);
        assert_eq!(Order::parse(Some("nimporte")), Order::Newest);
    }
}
