//! Which messages a folder page shows: newest first, 50 a page; or, when
//! the person searches or sorts by sender or subject, the matches among the
//! [`SCAN_MAX`] most recent messages, sorted, then paged.
//!
//! A search matches every word of the query, folded (case and accents
//! ignored), in the sender (as [`Origin`] shows it), the recipients or the
//! subject.

use mail_parser::MessageParser;
use mss_core::fold_label;
use mss_store::{Folder, MessageMeta, StoreError};

use super::mail::addresses;
use super::origin::Origin;
use crate::Web;

/// Messages per page of a folder.
pub const PAGE: usize = 50;
/// The most recent messages a search or a sort looks at.
pub const SCAN_MAX: usize = 5_000;
/// The part of a message the list reads (its header, in practice).
const HEADER_MAX: usize = 64 * 1024;
/// Messages read from the store at once.
const BATCH: usize = 500;

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
}

/// What the list shows of a message.
pub struct Summary {
    pub meta: MessageMeta,
    pub from: String,
    /// Sender and recipients, folded, for the search.
    folded: String,
    pub subject: String,
    pub date: i64,
}

/// One page of a folder's list.
pub struct Listing {
    pub summaries: Vec<Summary>,
    pub page: usize,
    pub pages: usize,
    /// Messages listed (matches, when searching).
    pub total: usize,
    /// The search or sort looked at the [`SCAN_MAX`] most recent only.
    pub capped: bool,
}

/// The header of a raw message (up to [`HEADER_MAX`]).
pub fn header_of(raw: &[u8]) -> &[u8] {
    let cut = &raw[..raw.len().min(HEADER_MAX)];
    match cut.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => &cut[..end + 4],
        None => match cut.windows(2).position(|w| w == b"\n\n") {
            Some(end) => &cut[..end + 2],
            None => cut,
        },
    }
}

fn summary(meta: MessageMeta, raw: Option<&[u8]>) -> Summary {
    // The whole message: a header longer than HEADER_MAX is read whole, as policy reads it.
    let from = raw.map(|raw| Origin::of(raw).shown()).unwrap_or_default();
    let parsed = raw.and_then(|raw| MessageParser::default().parse_headers(header_of(raw)));
    let Some(m) = &parsed else {
        let date = meta.received_at;
        return Summary { meta, folded: fold_label(&from), from, subject: String::new(), date };
    };
    let subject = m.subject().unwrap_or_default().to_string();
    let folded = fold_label(&format!("{from} {} {} {subject}", addresses(m.to()), addresses(m.cc())));
    let date = m.date().map_or(meta.received_at, mail_parser::DateTime::to_timestamp);
    Summary { meta, from, folded, subject, date }
}

/// The summaries of `uids` (ascending), in that order.
async fn summaries(web: &Web, folder: &Folder, uids: &[u32]) -> Result<Vec<Summary>, StoreError> {
    let mut out = Vec::with_capacity(uids.len());
    for chunk in uids.chunks(BATCH) {
        let metas = web.store.meta.messages(folder.id, chunk).await?;
        let hashes: Vec<_> = metas.iter().map(|m| m.blob).collect();
        let bodies = web.store.blobs.get_many(&hashes).await?;
        out.extend(metas.into_iter().zip(bodies).map(|(meta, raw)| summary(meta, raw.as_deref())));
    }
    Ok(out)
}

/// Whether a summary holds every word of `words` (already folded).
fn matches(summary: &Summary, words: &[String]) -> bool {
    words.iter().all(|w| summary.folded.contains(w.as_str()))
}

/// The page `page` (from 1) of `folder` searched for `query`, in `order`.
pub async fn list(web: &Web, folder: &Folder, query: &str, order: Order, page: usize) -> Result<Listing, StoreError> {
    let words: Vec<String> = query.split_whitespace().map(fold_label).filter(|w| !w.is_empty()).collect();
    let mut uids = web.store.meta.folder_uids(folder.id).await?;
    if words.is_empty() && matches!(order, Order::Newest | Order::Oldest) {
        // Straight from the UIDs: only the page's messages are read.
        let total = uids.len();
        if order == Order::Newest {
            uids.reverse();
        }
        let pages = total.div_ceil(PAGE).max(1);
        let page = page.clamp(1, pages);
        let mut shown: Vec<u32> = uids.iter().skip((page - 1) * PAGE).take(PAGE).copied().collect();
        shown.sort_unstable();
        let mut summaries = summaries(web, folder, &shown).await?;
        if order == Order::Newest {
            summaries.reverse();
        }
        return Ok(Listing { summaries, page, pages, total, capped: false });
    }
    let capped = uids.len() > SCAN_MAX;
    let recent = &uids[uids.len().saturating_sub(SCAN_MAX)..];
    let mut all: Vec<Summary> =
        summaries(web, folder, recent).await?.into_iter().filter(|s| matches(s, &words)).collect();
    match order {
        Order::Newest => all.reverse(),
        Order::Oldest => {}
        Order::Sender => all.sort_by_cached_key(|s| (fold_label(&s.from), std::cmp::Reverse(s.meta.uid))),
        Order::Subject => all.sort_by_cached_key(|s| (fold_label(&s.subject), std::cmp::Reverse(s.meta.uid))),
    }
    let total = all.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page = page.clamp(1, pages);
    let summaries = all.into_iter().skip((page - 1) * PAGE).take(PAGE).collect();
    Ok(Listing { summaries, page, pages, total, capped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_stops_at_the_blank_line() {
        assert_eq!(header_of(b"Subject: a\r\n\r\nbody"), b"Subject: a\r\n\r\n");
        assert_eq!(header_of(b"Subject: a\n\nbody"), b"Subject: a\n\n");
    }

    #[test]
    fn every_word_must_match_folded() {
        let meta = MessageMeta {
            uid: 1,
            blob: mss_store::BlobHash::of(b""),
            size: 0,
            received_at: 0,
            modseq: 1,
            flags: vec![],
        };
        let raw = "From: =?utf-8?q?J=C3=A9r=C3=B4me?= <j@labo.test>\r\nSubject: Résultats\r\n\r\n";
        let s = summary(meta, Some(raw.as_bytes()));
        let folded = |q: &str| q.split_whitespace().map(fold_label).collect::<Vec<_>>();
        assert!(matches(&s, &folded("jerome RESULTATS")));
        assert!(matches(&s, &folded("Jérôme labo")));
        assert!(!matches(&s, &folded("jerome analyses")));
        // Two From fields: neither is searchable, the sender is unverifiable.
        let raw = "From: <chef@autre.test>\r\nFrom: <elodie@ours.test>\r\nSubject: Bilan\r\n\r\n";
        let s = summary(s.meta, Some(raw.as_bytes()));
        assert_eq!(s.from, crate::portal::origin::UNVERIFIABLE);
        assert!(!matches(&s, &folded("chef")) && !matches(&s, &folded("elodie")));
        assert!(matches(&s, &folded("bilan")));
        assert_eq!(Order::parse(Some("objet")), Order::Subject);
        assert_eq!(Order::parse(Some("nimporte")), Order::Newest);
    }
}
