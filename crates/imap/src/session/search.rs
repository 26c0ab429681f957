//! SEARCH (RFC 9051 §6.4.4): every search key, evaluated message by message
//! over chunks of metadata; message bodies are read only when a key needs
//! them (header and text keys, sent dates). SORT and THREAD select their
//! messages with the same [`Session::matching`].

use imap_codec::imap_types::core::{AString, Charset};
use imap_codec::imap_types::search::SearchKey;
use mss_store::{BlobStore, MessageMeta};

use super::bodies::Bodies;
use super::sequence::contains;
use super::{Reply, Session, unavailable};

const CHUNK: usize = 1024;
const DAY: i64 = 86_400;

/// One message as the search sees it.
pub(super) struct Candidate<'m> {
    pub seq: u32,
    pub meta: &'m MessageMeta,
    pub raw: Option<&'m [u8]>,
}

impl Candidate<'_> {
    /// How a response names the message: by UID or by sequence number.
    pub fn number(&self, by_uid: bool) -> u32 {
        if by_uid { self.meta.uid } else { self.seq }
    }
}

impl Session<'_> {
    pub(super) async fn search(
        &mut self,
        charset: Option<&Charset<'_>>,
        criteria: &[SearchKey<'_>],
        by_uid: bool,
    ) -> Reply {
        let found = match flags_only(criteria) {
            Some((with, without)) if charset.is_none() => match self.by_flags(&with, &without, by_uid).await {
                Ok(found) => found,
                Err(reply) => return reply,
            },
            _ => match self.matching(charset, criteria, false, |c| c.number(by_uid)).await {
                Ok(found) => found,
                Err(reply) => return reply,
            },
        };
        self.out.extend_from_slice(b"* SEARCH");
        for n in found {
            self.out.extend(format!(" {n}").into_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
        Reply::ok("SEARCH completed")
    }

    /// The common searches by flags alone (UNSEEN, FLAGGED, DELETED...),
    /// answered by the store's index without reading each message.
    async fn by_flags(&mut self, with: &[String], without: &[String], by_uid: bool) -> Result<Vec<u32>, Reply> {
        let Some(selected) = self.selected() else {
            return Err(Reply::bad("No mailbox selected"));
        };
        let folder = selected.folder.id;
        let uids = self.server.store.meta.uids_by_flags(folder, with, without).await.map_err(unavailable)?;
        let Some(selected) = self.selected() else {
            return Err(Reply::bad("No mailbox selected"));
        };
        // Only the messages this session knows (new ones are announced first).
        Ok(uids
            .into_iter()
            .filter_map(|uid| selected.uids.binary_search(&uid).ok().map(|i| if by_uid { uid } else { i as u32 + 1 }))
            .collect())
    }

    /// The messages of the selected folder that match all of `criteria`, in
    /// sequence order, each kept as `record` makes it: the caller decides
    /// how little to keep. Metadata is read in chunks; a message's raw bytes
    /// are read, one message at a time, when the criteria need them, or
    /// when `with_body` asks for them for the messages that match.
    pub(super) async fn matching<T>(
        &mut self,
        charset: Option<&Charset<'_>>,
        criteria: &[SearchKey<'_>],
        with_body: bool,
        mut record: impl FnMut(&Candidate<'_>) -> T,
    ) -> Result<Vec<T>, Reply> {
        if let Some(charset) = charset {
            let name = charset.as_ref().to_ascii_uppercase();
            if name != "UTF-8" && name != "US-ASCII" {
                return Err(Reply::no("Only UTF-8 searches are supported").with_code("BADCHARSET (UTF-8 US-ASCII)"));
            }
        }
        let Some(selected) = self.selected() else {
            return Err(Reply::bad("No mailbox selected"));
        };
        let folder = selected.folder.id;
        let uids = selected.uids.clone();
        let needs_body = criteria.iter().any(key_needs_body);
        let (meta, blobs) = (self.server.store.meta.clone(), self.server.store.blobs.clone());
        let mut found = Vec::new();
        for (chunk_index, chunk) in uids.chunks(CHUNK).enumerate() {
            let metas = meta.messages(folder, chunk).await.map_err(unavailable)?;
            let mut bodies = Bodies::new(&*blobs);
            for (i, m) in metas.iter().enumerate() {
                let position = chunk_index * CHUNK + chunk.binary_search(&m.uid).unwrap_or(0);
                let seq = position as u32 + 1;
                let mut raw = if needs_body { bodies.next(&metas, i).await.map_err(unavailable)? } else { None };
                let candidate = Candidate { seq, meta: m, raw: raw.as_deref() };
                if !criteria.iter().all(|key| matches(key, &candidate, &uids)) {
                    continue;
                }
                if with_body && !needs_body {
                    raw = read(&*blobs, m).await?;
                }
                found.push(record(&Candidate { seq, meta: m, raw: raw.as_deref() }));
            }
        }
        Ok(found)
    }
}

/// The raw bytes of a message; None when the blob is missing.
async fn read(blobs: &dyn BlobStore, m: &MessageMeta) -> Result<Option<Vec<u8>>, Reply> {
    blobs.get(&m.blob).await.map_err(unavailable)
}

/// The flags a conjunction of flag keys requires and forbids, if the
/// criteria are nothing else.
fn flags_only(criteria: &[SearchKey<'_>]) -> Option<(Vec<String>, Vec<String>)> {
    use SearchKey as K;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for key in criteria {
        let (list, flag) = match key {
            K::All | K::Old => continue,
            K::Seen => (&mut with, "\\Seen".to_string()),
            K::Unseen | K::New => (&mut without, "\\Seen".to_string()),
            K::Flagged => (&mut with, "\\Flagged".to_string()),
            K::Unflagged => (&mut without, "\\Flagged".to_string()),
            K::Deleted => (&mut with, "\\Deleted".to_string()),
            K::Undeleted => (&mut without, "\\Deleted".to_string()),
            K::Answered => (&mut with, "\\Answered".to_string()),
            K::Unanswered => (&mut without, "\\Answered".to_string()),
            K::Draft => (&mut with, "\\Draft".to_string()),
            K::Undraft => (&mut without, "\\Draft".to_string()),
            K::Keyword(k) => (&mut with, k.as_ref().to_string()),
            K::Unkeyword(k) => (&mut without, k.as_ref().to_string()),
            _ => return None,
        };
        list.push(flag);
    }
    Some((with, without))
}

fn key_needs_body(key: &SearchKey<'_>) -> bool {
    use SearchKey as K;
    match key {
        K::And(keys) => keys.as_ref().iter().any(key_needs_body),
        K::Not(key) => key_needs_body(key),
        K::Or(a, b) => key_needs_body(a) || key_needs_body(b),
        K::Bcc(_)
        | K::Body(_)
        | K::Cc(_)
        | K::From(_)
        | K::Header(..)
        | K::Subject(_)
        | K::Text(_)
        | K::To(_)
        | K::SentBefore(_)
        | K::SentOn(_)
        | K::SentSince(_) => true,
        _ => false,
    }
}

fn text(value: &AString<'_>) -> String {
    String::from_utf8_lossy(value.as_ref()).into_owned()
}

/// Midnight UTC of a search date, unix seconds.
fn day_start(date: &imap_codec::imap_types::datetime::NaiveDate) -> i64 {
    date.as_ref().and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp()).unwrap_or(0)
}

fn matches(key: &SearchKey<'_>, c: &Candidate<'_>, uids: &[u32]) -> bool {
    use SearchKey as K;
    let raw = c.raw.unwrap_or_default();
    let flag = |name: &str| c.meta.has_flag(name);
    let header = |name: &str, value: &AString<'_>| crate::message::header_contains(raw, name, &text(value));
    let sent = || crate::message::sent_date(raw).map(|t| t.div_euclid(DAY) * DAY);
    let internal = c.meta.received_at.div_euclid(DAY) * DAY;
    match key {
        K::And(keys) => keys.as_ref().iter().all(|k| matches(k, c, uids)),
        K::Not(key) => !matches(key, c, uids),
        K::Or(a, b) => matches(a, c, uids) || matches(b, c, uids),
        K::SequenceSet(set) => contains(set, c.seq, uids.len() as u32),
        K::Uid(set) => contains(set, c.meta.uid, uids.last().copied().unwrap_or(0)),
        K::All => true,
        K::Answered => flag("\\Answered"),
        K::Deleted => flag("\\Deleted"),
        K::Draft => flag("\\Draft"),
        K::Flagged => flag("\\Flagged"),
        K::Seen => flag("\\Seen"),
        K::Unanswered => !flag("\\Answered"),
        K::Undeleted => !flag("\\Deleted"),
        K::Undraft => !flag("\\Draft"),
        K::Unflagged => !flag("\\Flagged"),
        K::Unseen => !flag("\\Seen"),
        K::New => !flag("\\Seen"),
        K::Old => true,
        K::Recent => false,
        K::Keyword(k) => flag(k.as_ref()),
        K::Unkeyword(k) => !flag(k.as_ref()),
        K::Larger(n) => c.meta.size > u64::from(*n),
        K::Smaller(n) => c.meta.size < u64::from(*n),
        K::Before(d) => internal < day_start(d),
        K::On(d) => internal == day_start(d),
        K::Since(d) => internal >= day_start(d),
        K::SentBefore(d) => sent().is_some_and(|s| s < day_start(d)),
        K::SentOn(d) => sent() == Some(day_start(d)),
        K::SentSince(d) => sent().is_some_and(|s| s >= day_start(d)),
        K::Bcc(v) => header("Bcc", v),
        K::Cc(v) => header("Cc", v),
        K::From(v) => header("From", v),
        K::To(v) => header("To", v),
        K::Subject(v) => header("Subject", v),
        K::Header(name, v) => header(&text(name), v),
        K::Body(v) => crate::message::body_contains(raw, &text(v)),
        K::Text(v) => crate::message::text_contains(raw, &text(v)),
        K::ModSequence { modseq, .. } => c.meta.modseq >= *modseq,
    }
}
