//! SEARCH (RFC 9051 §6.4.4): every search key, evaluated message by message
//! over chunks of metadata; message bodies are read only when a key needs
//! them. SORT and THREAD select their messages with the same
//! [`Session::matching`].
//!
//! The header keys (FROM, TO, CC, BCC, SUBJECT, HEADER of those fields) and
//! the sent dates are answered from the facts stored with the message
//! ([`mss_message::Facts`], one store read per chunk) when it has facts of
//! this version that keep them; the facts hold the very texts and date the
//! message's bytes give ([`Facts::searched`], [`Facts::has_header`]), so the
//! answer is the same. Before that, the header keys every match must satisfy
//! narrow the messages read to the store's candidates (the same texts kept
//! as columns, [`mss_store::FactsStore::header_candidates`]): a search for
//! a subject reads only the messages whose subject may hold it.
//!
//! BODY and TEXT always read the message: the full-text index finds words
//! from their start, while RFC 9051 §6.4.4 matches any substring (`onnance`
//! in `Ordonnance`), and its text leaves out attachment names and the
//! header fields TEXT searches, so it could not even narrow the candidates
//! without losing some.

use std::io::Write as _;

use imap_codec::imap_types::core::{AString, Charset};
use imap_codec::imap_types::search::SearchKey;
use mss_message::Facts;
use mss_message::stored::{VERSION, decode_encoded};
use mss_store::{BlobStore, MessageMeta, SearchedHeader};

use super::bodies::Bodies;
use super::fetch::with_facts;
use super::sequence::contains;
use super::{Reply, Session, unavailable};

const CHUNK: usize = 1024;
const DAY: i64 = 86_400;

/// One message as the search sees it.
pub(super) struct Candidate<'m> {
    pub seq: u32,
    pub meta: &'m MessageMeta,
    pub raw: Option<&'m [u8]>,
    /// Its stored facts, when read, of this version and from a parsed
    /// header ([`Facts::has_header`]).
    pub facts: Option<&'m Facts>,
}

/// What a caller's record reads of a matching message, beyond its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reads {
    Metadata,
    /// Its header: from [`Candidate::facts`], read for every message; the
    /// message's bytes when it has none.
    Header,
    /// Its bytes.
    Bytes,
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
        if let Err(reply) = within_limit(criteria) {
            return reply;
        }
        let indexed = match flags_only(criteria) {
            Some((with, without)) if charset.is_none() => self.by_flags(&with, &without, by_uid).await.map(Some),
            _ => self.by_header_texts(charset, criteria, by_uid).await,
        };
        let found = match indexed {
            Ok(Some(found)) => found,
            Ok(None) => match self.matching(charset, criteria, Reads::Metadata, |c| c.number(by_uid)).await {
                Ok(found) => found,
                Err(reply) => return reply,
            },
            Err(reply) => return reply,
        };
        numbers_response(&mut self.out, "SEARCH", found);
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
        self.numbered(uids, by_uid)
    }

    /// How the response names each of `uids` (the store's answer, by UID):
    /// by UID or by sequence number, only the messages this session knows
    /// (new ones are announced first).
    fn numbered(&mut self, uids: impl IntoIterator<Item = u32>, by_uid: bool) -> Result<Vec<u32>, Reply> {
        let Some(selected) = self.selected() else {
            return Err(Reply::bad("No mailbox selected"));
        };
        // The store answers in UID order, the order of the session's UIDs:
        // each one is first looked for just after the last one found (all
        // of a large folder's UNSEEN are then found in one walk).
        let mut next = 0;
        Ok(uids
            .into_iter()
            .filter_map(|uid| {
                let at = match selected.uids.get(next) {
                    Some(&here) if here == uid => Some(next),
                    _ => selected.uids.binary_search(&uid).ok(),
                }?;
                next = at + 1;
                Some(if by_uid { uid } else { at as u32 + 1 })
            })
            .collect())
    }

    /// The common searches by header texts alone (SUBJECT, FROM, TO...,
    /// ANDed), answered by the store's texts without reading a message's
    /// metadata; None when some message's facts do not say (it is then to
    /// be read, see [`Self::matching`]) or the keys are not all such.
    async fn by_header_texts(
        &mut self,
        charset: Option<&Charset<'_>>,
        criteria: &[SearchKey<'_>],
        by_uid: bool,
    ) -> Result<Option<Vec<u32>>, Reply> {
        let (needles, whole) = header_needles(criteria);
        if !whole || needles.is_empty() || charset.is_some_and(|charset| !supported(charset)) {
            return Ok(None);
        }
        let Some(selected) = self.selected() else {
            return Err(Reply::bad("No mailbox selected"));
        };
        let folder = selected.folder.id;
        let meta = self.server.store.meta.clone();
        let candidates = meta.header_candidates(folder, VERSION, &needles).await.map_err(unavailable)?;
        if !candidates.iter().all(|&(_, answered)| answered) {
            return Ok(None);
        }
        self.numbered(candidates.into_iter().map(|(uid, _)| uid), by_uid).map(Some)
    }

    /// The messages of the selected folder that match all of `criteria`, in
    /// sequence order, each kept as `record` makes it: the caller decides
    /// how little to keep, and says what it reads (`reads`). Metadata is
    /// read in chunks, and with it the facts when a key or `reads` can use
    /// them; a message's raw bytes are read when a key needs them and its
    /// facts do not answer every key, or when `reads` asks for them for a
    /// message that matches.
    pub(super) async fn matching<T>(
        &mut self,
        charset: Option<&Charset<'_>>,
        criteria: &[SearchKey<'_>],
        reads: Reads,
        mut record: impl FnMut(&Candidate<'_>) -> T,
    ) -> Result<Vec<T>, Reply> {
        if charset.is_some_and(|charset| !supported(charset)) {
            return Err(Reply::no("Only UTF-8 searches are supported").with_code("BADCHARSET (UTF-8 US-ASCII)"));
        }
        within_limit(criteria)?;
        let Some(selected) = self.selected() else {
            return Err(Reply::bad("No mailbox selected"));
        };
        let folder = selected.folder.id;
        let uids = selected.uids.clone();
        let keys_read = criteria.iter().any(key_needs_body);
        let (meta, blobs) = (self.server.store.meta.clone(), self.server.store.blobs.clone());
        // The header keys every match must satisfy narrow the messages read
        // to those the store finds may (a superset: each is checked below).
        // When they are the whole search and the record reads metadata
        // only, the messages the store's facts answered match as they are.
        let (needles, only_needles) = header_needles(criteria);
        let exact = only_needles && reads == Reads::Metadata;
        let (mut wanted, mut settled) = (Vec::new(), Vec::new());
        if needles.is_empty() {
            wanted.clone_from(&uids);
        } else {
            let candidates = meta.header_candidates(folder, VERSION, &needles).await.map_err(unavailable)?;
            for &uid in &uids {
                match candidates.binary_search_by_key(&uid, |(uid, _)| *uid) {
                    Ok(i) if exact && candidates[i].1 => settled.push(uid),
                    Ok(_) => wanted.push(uid),
                    Err(_) => {}
                }
            }
        }
        let sequence = |uid: u32| uids.binary_search(&uid).map_or(0, |position| position as u32 + 1);
        let mut found: Vec<(u32, T)> = Vec::new();
        for chunk in settled.chunks(CHUNK) {
            for m in meta.messages(folder, chunk).await.map_err(unavailable)? {
                let seq = sequence(m.uid);
                found.push((seq, record(&Candidate { seq, meta: &m, raw: None, facts: None })));
            }
        }
        for chunk in wanted.chunks(CHUNK) {
            let (metas, facts): (Vec<MessageMeta>, Vec<Option<Facts>>) = match keys_read || reads == Reads::Header {
                true => with_facts(&*meta, folder, chunk, decode_encoded).await.map_err(unavailable)?,
                false => (meta.messages(folder, chunk).await.map_err(unavailable)?, Vec::new()),
            };
            let facts: Vec<Option<&Facts>> =
                (0..metas.len()).map(|i| facts.get(i)?.as_ref().filter(|f| f.has_header())).collect();
            // Only the messages whose facts do not answer every key are read.
            let keys_read_body =
                |i: usize| keys_read && !facts[i].is_some_and(|f| criteria.iter().all(|k| answered(k, f)));
            let to_read: Vec<MessageMeta> =
                metas.iter().enumerate().filter(|&(i, _)| keys_read_body(i)).map(|(_, m)| m.clone()).collect();
            let mut bodies = Bodies::new(&*blobs);
            let mut read_count = 0;
            for (i, m) in metas.iter().enumerate() {
                let seq = sequence(m.uid);
                let mut raw = None;
                if keys_read_body(i) {
                    raw = bodies.next(&to_read, read_count).await.map_err(unavailable)?;
                    read_count += 1;
                }
                let candidate = Candidate { seq, meta: m, raw: raw.as_deref(), facts: facts[i] };
                if !criteria.iter().all(|key| matches(key, &candidate, &uids)) {
                    continue;
                }
                let record_reads = match reads {
                    Reads::Metadata => false,
                    Reads::Header => facts[i].is_none(),
                    Reads::Bytes => true,
                };
                if record_reads && !keys_read_body(i) {
                    raw = read(&*blobs, m).await?;
                }
                found.push((seq, record(&Candidate { seq, meta: m, raw: raw.as_deref(), facts: facts[i] })));
            }
        }
        // In sequence order, the answered ones among the others.
        found.sort_by_key(|(seq, _)| *seq);
        Ok(found.into_iter().map(|(_, record)| record).collect())
    }
}

/// `* SEARCH 1 2 3` (or SORT...): the numbers written into `out` itself,
/// no string each (a search may answer 100,000 of them).
pub(super) fn numbers_response(out: &mut Vec<u8>, name: &str, numbers: impl IntoIterator<Item = u32>) {
    write!(out, "* {name}").expect("writing to memory");
    for n in numbers {
        write!(out, " {n}").expect("writing to memory");
    }
    out.extend_from_slice(b"\r\n");
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

/// Whether a search may name this charset (what BADCHARSET lists).
pub(super) fn supported(charset: &Charset<'_>) -> bool {
    let name = charset.as_ref();
    name.eq_ignore_ascii_case("UTF-8") || name.eq_ignore_ascii_case("US-ASCII")
}

/// Header keys given to the store at most: a search naming more is still
/// answered, the others checked message by message (a hostile client could
/// name thousands in one command, past what one SQL statement binds).
const MAX_NEEDLES: usize = 16;

/// The most search keys one command may name, nested ones counted: real
/// clients send a handful; a hostile one could name tens of thousands in
/// a 400 KB command and make every message of the folder test each.
pub(super) const MAX_KEYS: usize = 256;

/// Refuses a search naming more than [`MAX_KEYS`] keys (RFC 5530 `LIMIT`).
fn within_limit(criteria: &[SearchKey<'_>]) -> Result<(), Reply> {
    use SearchKey as K;
    let mut count = 0;
    let mut keys: Vec<&SearchKey<'_>> = criteria.iter().collect();
    while let Some(key) = keys.pop() {
        count += 1;
        if count > MAX_KEYS {
            return Err(Reply::no(format!("Too many search keys (at most {MAX_KEYS})")).with_code("LIMIT"));
        }
        match key {
            K::And(inner) => keys.extend(inner.as_ref().iter()),
            K::Not(inner) => keys.push(inner),
            K::Or(a, b) => keys.extend([a.as_ref(), b.as_ref()]),
            _ => {}
        }
    }
    Ok(())
}

/// The header keys every matching message satisfies (the top-level keys
/// and those of a top-level AND), as the store's candidates query takes
/// them: a field and its needle, lowercased as [`texts_contain`] compares;
/// and whether the store's answer is the whole search (ALL aside, no empty
/// needle). A needle with a line feed is left out (the store joins a
/// field's occurrences with one), and any past [`MAX_NEEDLES`].
///
/// [`texts_contain`]: crate::message::texts_contain
fn header_needles(criteria: &[SearchKey<'_>]) -> (Vec<(SearchedHeader, String)>, bool) {
    use SearchKey as K;
    let mut needles = Vec::new();
    let mut whole = true;
    let mut keys: Vec<&SearchKey<'_>> = criteria.iter().collect();
    while let Some(key) = keys.pop() {
        let (field, value) = match key {
            K::And(inner) => {
                keys.extend(inner.as_ref().iter());
                continue;
            }
            K::Subject(v) => (SearchedHeader::Subject, v),
            K::From(v) => (SearchedHeader::From, v),
            K::To(v) => (SearchedHeader::To, v),
            K::Cc(v) => (SearchedHeader::Cc, v),
            K::Bcc(v) => (SearchedHeader::Bcc, v),
            K::Header(name, v) => match SearchedHeader::named(&text(name)) {
                Some(field) => (field, v),
                None => {
                    whole = false;
                    continue;
                }
            },
            K::All => continue,
            _ => {
                whole = false;
                continue;
            }
        };
        let needle = text(value).to_lowercase();
        // An empty needle asks whether the field is there at all, which the
        // joined texts do not tell: such a key is checked on the facts.
        whole &= !needle.is_empty();
        match needle.contains('\n') || needles.len() == MAX_NEEDLES {
            true => whole = false,
            false => needles.push((field, needle)),
        }
    }
    (needles, whole)
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

/// Whether `facts` answer `key` as the message's bytes would: its metadata
/// keys, the sent dates ([`Facts::has_header`] holds), and the header fields
/// the facts keep ([`Facts::searched`]); not BODY and TEXT.
fn answered(key: &SearchKey<'_>, facts: &Facts) -> bool {
    use SearchKey as K;
    match key {
        K::And(keys) => keys.as_ref().iter().all(|k| answered(k, facts)),
        K::Not(key) => answered(key, facts),
        K::Or(a, b) => answered(a, facts) && answered(b, facts),
        K::Body(_) | K::Text(_) => false,
        K::Bcc(_) => facts.searched("Bcc").is_some(),
        K::Cc(_) => facts.searched("Cc").is_some(),
        K::From(_) => facts.searched("From").is_some(),
        K::To(_) => facts.searched("To").is_some(),
        K::Subject(_) => facts.searched("Subject").is_some(),
        K::Header(name, _) => facts.searched(&text(name)).is_some(),
        _ => true,
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
    // From the facts when they answer (see `answered`), else from the bytes.
    let header = |name: &str, value: &AString<'_>| match c.facts.and_then(|f| f.searched(name)) {
        Some(texts) => crate::message::texts_contain(texts, &text(value)),
        None => crate::message::header_contains(raw, name, &text(value)),
    };
    let sent_at = || c.facts.map_or_else(|| crate::message::sent_date(raw), |f| f.envelope.sent_at);
    let sent = || sent_at().map(|t| t.div_euclid(DAY) * DAY);
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
