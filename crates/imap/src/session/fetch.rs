//! FETCH (RFC 9051 §6.4.5) with BINARY (RFC 3516) and CONDSTORE's MODSEQ
//! and CHANGEDSINCE (RFC 7162). Messages are read in chunks and responses
//! written as they are made, so memory stays bounded by the chunk, not the
//! mailbox.
//!
//! ENVELOPE and BODY/BODYSTRUCTURE are written from the facts stored with
//! each message (read with its metadata, one read per chunk; decoded only as
//! far as [`mss_message::facts::Structure`]), so a FETCH of those and of metadata
//! reads no message at all; a message without facts of this version, or
//! whose facts cannot say it exactly ([`Described`]), is parsed as before.
//! So are the header fields a mail client lists a folder with (HEADER,
//! HEADER.FIELDS): from the header block the facts keep, the message read
//! only when they do not keep it.

use imap_codec::imap_types::command::FetchModifier;
use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Part, Section as WireSection};
use imap_codec::imap_types::sequence::SequenceSet;
use mss_core::Civil;
use mss_message::facts::Structure;
use mss_store::{FlagChange, FolderId, MessageMeta, MetadataStore, StoreError};

use super::bodies::Bodies;
use super::sequence::{indices, sequence_numbers_valid};
use super::{Reply, Session, unavailable};
use crate::conn::Conn;
use crate::described::Described;
use crate::message::{self, Section, SectionKind};
use crate::wire;

/// Message metadata read from the store at a time.
const CHUNK: usize = 256;
/// Untagged output buffered before it is written.
const FLUSH_BYTES: usize = 64 * 1024;

impl Session<'_> {
    pub(super) async fn fetch(
        &mut self,
        conn: &mut Conn,
        set: &SequenceSet,
        names: MacroOrMessageDataItemNames<'_>,
        by_uid: bool,
        modifiers: &[FetchModifier],
    ) -> Reply {
        let macro_names;
        let mut items = match names {
            MacroOrMessageDataItemNames::Macro(m) => {
                macro_names = m;
                macro_names.expand()
            }
            MacroOrMessageDataItemNames::MessageDataItemNames(items) => items,
        };
        let changed_since = modifiers.iter().find_map(|m| match m {
            FetchModifier::ChangedSince(n) => Some(n.get()),
            FetchModifier::Vanished => None,
        });
        if changed_since.is_some() {
            self.condstore = true;
        }
        if by_uid && !items.contains(&MessageDataItemName::Uid) {
            items.insert(0, MessageDataItemName::Uid);
        }
        if (self.condstore && changed_since.is_some()) && !items.contains(&MessageDataItemName::ModSeq) {
            items.push(MessageDataItemName::ModSeq);
        }
        let Some(selected) = self.selected() else {
            return Reply::bad("No mailbox selected");
        };
        if !by_uid && !sequence_numbers_valid(set, selected.uids.len()) {
            return Reply::bad("Invalid sequence number");
        }
        let wanted = indices(set, &selected.uids, by_uid);
        let folder = selected.folder.id;
        let marks_seen = !selected.read_only && selected.rights.has('s') && items.iter().any(sets_seen);
        let needs_body = items.iter().any(needs_body);
        let needs_structure = items.iter().any(needs_structure);
        let needs_header = items.iter().any(in_header);
        let meta = self.server.store.meta.clone();
        let blobs = self.server.store.blobs.clone();
        for chunk in wanted.chunks(CHUNK) {
            let Some(selected) = self.selected() else {
                break;
            };
            let chunk_uids: Vec<u32> = chunk.iter().map(|&i| selected.uids[i]).collect();
            let read = if needs_structure {
                with_facts(&*meta, folder, &chunk_uids, mss_message::stored::decode_structure).await
            } else if needs_header {
                with_facts(&*meta, folder, &chunk_uids, header_only).await
            } else {
                meta.messages(folder, &chunk_uids).await.map(|metas| (metas, Vec::new()))
            };
            let (mut metas, mut facts) = match read {
                Ok(read) => read,
                Err(e) => return unavailable(e),
            };
            let mut now_seen = Vec::new();
            if marks_seen {
                let unseen: Vec<u32> = metas.iter().filter(|m| !m.has_flag("\\Seen")).map(|m| m.uid).collect();
                if !unseen.is_empty() {
                    match meta.set_flags(folder, &unseen, FlagChange::Add, &["\\Seen".to_string()], None).await {
                        Ok(updated) => {
                            for (uid, flags, modseq) in updated.changed {
                                now_seen.push(uid);
                                if let Some(m) = metas.iter_mut().find(|m| m.uid == uid) {
                                    m.flags = flags;
                                    m.modseq = modseq;
                                }
                                if let Some(selected) = self.selected() {
                                    selected.own_changes.insert((uid, modseq));
                                }
                            }
                        }
                        Err(e) => return unavailable(e),
                    }
                }
            }
            if let Some(since) = changed_since {
                // The facts are in the order of their messages (or none).
                let changed: Vec<bool> = metas.iter().map(|m| m.modseq > since).collect();
                let (mut of_facts, mut of_metas) = (changed.iter(), changed.iter());
                facts.retain(|_| of_facts.next().is_some_and(|&c| c));
                metas.retain(|_| of_metas.next().is_some_and(|&c| c));
            }
            let described: Vec<Option<Described<'_>>> = metas
                .iter()
                .enumerate()
                .map(|(i, _)| facts.get(i)?.as_ref().filter(|_| needs_structure).and_then(Described::new))
                .collect();
            let headers: Vec<Option<&[u8]>> = metas
                .iter()
                .enumerate()
                .map(|(i, _)| Some(facts.get(i)?.as_ref()?.header.as_ref()?.as_bytes()))
                .collect();
            // Only the messages the facts do not answer for are read.
            let reads_body = |i: usize| {
                needs_body || (needs_structure && described[i].is_none()) || (needs_header && headers[i].is_none())
            };
            let to_read: Vec<MessageMeta> =
                metas.iter().enumerate().filter(|&(i, _)| reads_body(i)).map(|(_, m)| m.clone()).collect();
            let mut bodies = Bodies::new(&*blobs);
            let mut read = 0;
            for (i, m) in metas.iter().enumerate() {
                let raw = if reads_body(i) {
                    read += 1;
                    match bodies.next(&to_read, read - 1).await {
                        Ok(Some(raw)) => Some(raw),
                        Ok(None) => {
                            tracing::error!(uid = m.uid, "imap: message body missing from the blob store");
                            None
                        }
                        Err(e) => return unavailable(e),
                    }
                } else {
                    None
                };
                let Some(selected) = self.selected() else {
                    break;
                };
                let Ok(position) = selected.uids.binary_search(&m.uid) else {
                    continue;
                };
                let out = &mut self.out;
                out.extend(format!("* {} FETCH (", position + 1).into_bytes());
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    // The message, or its header block when only that is asked.
                    let raw = raw.as_deref().or(headers[i]).unwrap_or_default();
                    render(out, item, m, raw, described[i].as_ref());
                }
                // RFC 9051 §6.4.5: a \Seen set by this FETCH is reported with it.
                if now_seen.contains(&m.uid) && !items.contains(&MessageDataItemName::Flags) {
                    out.push(b' ');
                    render(out, &MessageDataItemName::Flags, m, &[], None);
                }
                out.extend_from_slice(b")\r\n");
                if out.len() > FLUSH_BYTES && conn.write(&std::mem::take(out)).await.is_err() {
                    return Reply::no("Connection lost");
                }
            }
        }
        Reply::ok("FETCH completed")
    }
}

fn sets_seen(item: &MessageDataItemName<'_>) -> bool {
    matches!(
        item,
        MessageDataItemName::BodyExt { peek: false, .. }
            | MessageDataItemName::Binary { peek: false, .. }
            | MessageDataItemName::Rfc822
            | MessageDataItemName::Rfc822Text
    )
}

/// Items that read the message whatever its facts.
fn needs_body(item: &MessageDataItemName<'_>) -> bool {
    !matches!(
        item,
        MessageDataItemName::Flags
            | MessageDataItemName::Uid
            | MessageDataItemName::InternalDate
            | MessageDataItemName::Rfc822Size
            | MessageDataItemName::ModSeq
    ) && !needs_structure(item)
        && !in_header(item)
}

/// Items read from the message's header block alone, which the facts keep
/// ([`mss_message::facts::Facts::header`]): the top-level HEADER,
/// HEADER.FIELDS and HEADER.FIELDS.NOT, whole or partial.
fn in_header(item: &MessageDataItemName<'_>) -> bool {
    match item {
        MessageDataItemName::Rfc822Header => true,
        MessageDataItemName::BodyExt { section: Some(section), .. } => matches!(
            section,
            WireSection::Header(None) | WireSection::HeaderFields(None, _) | WireSection::HeaderFieldsNot(None, _)
        ),
        _ => false,
    }
}

/// Items the stored facts answer.
fn needs_structure(item: &MessageDataItemName<'_>) -> bool {
    matches!(item, MessageDataItemName::Envelope | MessageDataItemName::Body | MessageDataItemName::BodyStructure)
}

/// The header block alone of stored facts, as a [`Structure`] that says
/// nothing else (read only when no item needs the structure).
fn header_only(version: u32, encoded: &[u8]) -> Option<Structure> {
    let header = mss_message::stored::decode_header(version, encoded)?;
    Some(Structure { header: Some(header), ..Structure::default() })
}

/// The metadata of the messages `uids` of `folder` and, in the same order,
/// their facts (`None` without facts of this version): one store read. The
/// facts are decoded by `decode` ([`mss_message::stored::decode_encoded`]
/// or, for as far as ENVELOPE and BODYSTRUCTURE read, `decode_structure`).
pub(super) async fn with_facts<T>(
    meta: &dyn MetadataStore,
    folder: FolderId,
    uids: &[u32],
    decode: fn(u32, &[u8]) -> Option<T>,
) -> Result<(Vec<MessageMeta>, Vec<Option<T>>), StoreError> {
    let rows = meta.messages_with_facts(folder, uids).await?;
    Ok(rows.into_iter().map(|(m, stored)| (m, stored.and_then(|f| decode(f.version, &f.encoded)))).unzip())
}

/// Writes one data item of a FETCH response; ENVELOPE and BODYSTRUCTURE
/// from `described` when the facts answer for the message.
fn render(
    out: &mut Vec<u8>,
    item: &MessageDataItemName<'_>,
    m: &MessageMeta,
    raw: &[u8],
    described: Option<&Described<'_>>,
) {
    use MessageDataItemName as I;
    match item {
        I::Uid => out.extend(format!("UID {}", m.uid).into_bytes()),
        I::Flags => {
            out.extend_from_slice(b"FLAGS ");
            flag_list(out, &m.flags);
        }
        I::InternalDate => out.extend(format!("INTERNALDATE \"{}\"", internal_date(m.received_at)).into_bytes()),
        I::Rfc822Size => out.extend(format!("RFC822.SIZE {}", m.size).into_bytes()),
        I::ModSeq => out.extend(format!("MODSEQ ({})", m.modseq).into_bytes()),
        I::Envelope => {
            out.extend_from_slice(b"ENVELOPE ");
            match described {
                Some(described) => described.envelope(out),
                None => message::envelope(out, raw),
            }
        }
        I::Body | I::BodyStructure => {
            let extensible = matches!(item, I::BodyStructure);
            out.extend_from_slice(if extensible { b"BODYSTRUCTURE " } else { b"BODY " });
            match described {
                Some(described) => described.body_structure(out, extensible),
                None => message::body_structure(out, raw, extensible),
            }
        }
        I::Rfc822 => {
            out.extend_from_slice(b"RFC822 ");
            wire::literal(out, raw);
        }
        I::Rfc822Header => {
            out.extend_from_slice(b"RFC822.HEADER ");
            let header = message::section(raw, &Section { part: vec![], kind: SectionKind::Header });
            wire::literal(out, &header.unwrap_or_default());
        }
        I::Rfc822Text => {
            out.extend_from_slice(b"RFC822.TEXT ");
            let text = message::section(raw, &Section { part: vec![], kind: SectionKind::Text });
            wire::literal(out, &text.unwrap_or_default());
        }
        I::BodyExt { section, partial, .. } => {
            let (spec, section) = convert_section(section.as_ref());
            let data = message::section(raw, &section).unwrap_or_default();
            out.extend(format!("BODY[{spec}]").into_bytes());
            write_partial(out, &data, partial.map(|(origin, len)| (origin, len.get())), false);
        }
        I::Binary { section, partial, .. } => {
            let part: Vec<u32> = section.iter().map(|n| n.get()).collect();
            let data = message::binary(raw, &part);
            out.extend(format!("BINARY[{}]", dotted(&part)).into_bytes());
            match data {
                Some(data) => write_partial(out, &data, partial.map(|(origin, len)| (origin, len.get())), true),
                None => out.extend_from_slice(b" NIL"),
            }
        }
        I::BinarySize { section } => {
            let part: Vec<u32> = section.iter().map(|n| n.get()).collect();
            let size = message::binary(raw, &part).map_or(0, |d| d.len());
            out.extend(format!("BINARY.SIZE[{}] {size}", dotted(&part)).into_bytes());
        }
    }
}

/// `<origin>` and the requested slice, or the whole data.
fn write_partial(out: &mut Vec<u8>, data: &[u8], partial: Option<(u32, u32)>, binary: bool) {
    let slice = match partial {
        Some((origin, len)) => {
            out.extend(format!("<{origin}>").into_bytes());
            let start = (origin as usize).min(data.len());
            let end = start.saturating_add(len as usize).min(data.len());
            &data[start..end]
        }
        None => data,
    };
    out.push(b' ');
    if binary && slice.contains(&0) {
        out.push(b'~');
    }
    wire::literal(out, slice);
}

fn dotted(part: &[u32]) -> String {
    part.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// The section as the response echoes it, and as `message` reads it.
fn convert_section(section: Option<&WireSection<'_>>) -> (String, Section) {
    let part_of =
        |p: &Option<Part>| p.as_ref().map(|p| p.0.as_ref().iter().map(|n| n.get()).collect()).unwrap_or_default();
    let names = |fields: &[AString<'_>]| -> Vec<String> {
        fields.iter().map(|f| String::from_utf8_lossy(f.as_ref()).into_owned()).collect()
    };
    let prefix = |part: &Vec<u32>| if part.is_empty() { String::new() } else { format!("{}.", dotted(part)) };
    let Some(section) = section else {
        return (String::new(), Section { part: vec![], kind: SectionKind::Full });
    };
    match section {
        WireSection::Part(p) => {
            let part: Vec<u32> = p.0.as_ref().iter().map(|n| n.get()).collect();
            (dotted(&part), Section { part, kind: SectionKind::Full })
        }
        WireSection::Header(p) => {
            let part = part_of(p);
            (format!("{}HEADER", prefix(&part)), Section { part, kind: SectionKind::Header })
        }
        WireSection::HeaderFields(p, fields) | WireSection::HeaderFieldsNot(p, fields) => {
            let not = matches!(section, WireSection::HeaderFieldsNot(..));
            let part = part_of(p);
            let names = names(fields.as_ref());
            let spec = format!(
                "{}HEADER.FIELDS{} ({})",
                prefix(&part),
                if not { ".NOT" } else { "" },
                names.iter().map(|n| n.to_ascii_uppercase()).collect::<Vec<_>>().join(" ")
            );
            (spec, Section { part, kind: SectionKind::HeaderFields { names, not } })
        }
        WireSection::Text(p) => {
            let part = part_of(p);
            (format!("{}TEXT", prefix(&part)), Section { part, kind: SectionKind::Text })
        }
        WireSection::Mime(p) => {
            let part: Vec<u32> = p.0.as_ref().iter().map(|n| n.get()).collect();
            (format!("{}.MIME", dotted(&part)), Section { part, kind: SectionKind::Mime })
        }
    }
}

/// `(\Seen $Forwarded)`.
pub fn flag_list(out: &mut Vec<u8>, flags: &[String]) {
    out.push(b'(');
    out.extend_from_slice(flags.join(" ").as_bytes());
    out.push(b')');
}

/// INTERNALDATE in RFC 9051's `date-time` form, in UTC.
pub fn internal_date(unix: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let Civil { year, month, day, hour, minute, second } = Civil::from_unix(unix);
    let month = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!("{day:02}-{month}-{year:04} {hour:02}:{minute:02}:{second:02} +0000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_dates_are_written_in_utc() {
        assert_eq!(internal_date(0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(internal_date(1_795_000_000), "18-Nov-2026 11:06:40 +0000");
        assert_eq!(internal_date(951_782_400), "29-Feb-2000 00:00:00 +0000");
    }

    #[test]
    fn partials_slice_the_data() {
        let mut out = Vec::new();
        write_partial(&mut out, b"0123456789", Some((2, 3)), false);
        assert_eq!(out, b"<2> {3}\r\n234");
        let mut out = Vec::new();
        write_partial(&mut out, b"0123", Some((10, 3)), false);
        assert_eq!(out, b"<10> {0}\r\n");
    }
}
