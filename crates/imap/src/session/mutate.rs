//! Commands that change messages: STORE (with UNCHANGEDSINCE), COPY and
//! MOVE (with COPYUID), EXPUNGE and UID EXPUNGE, APPEND (with APPENDUID).
//! Each checks the rights of the role on the mailbox first; each change is
//! committed before it is answered.

use imap_codec::imap_types::command::StoreModifier;
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::mailbox::Mailbox as MailboxName;
use imap_codec::imap_types::sequence::SequenceSet;
use mss_store::{Appended, FlagChange, now_unix};

use super::access::mailbox_name;
use super::fetch::flag_list;
use super::sequence::{compact, indices, sequence_numbers_valid};
use super::{Reply, Session, unavailable};

impl Session<'_> {
    /// The UIDs a set names in the selected folder, or the reply refusing it.
    fn named_uids(&mut self, set: &SequenceSet, by_uid: bool) -> Result<Vec<u32>, Reply> {
        let selected = self.selected().ok_or_else(|| Reply::bad("No mailbox selected"))?;
        if !by_uid && !sequence_numbers_valid(set, selected.uids.len()) {
            return Err(Reply::bad("Invalid sequence number"));
        }
        Ok(indices(set, &selected.uids, by_uid).into_iter().map(|i| selected.uids[i]).collect())
    }

    pub(super) async fn store(
        &mut self,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[Flag<'_>],
        by_uid: bool,
        modifiers: &[StoreModifier],
    ) -> Reply {
        let unchanged_since = modifiers.iter().map(|StoreModifier::UnchangedSince(n)| *n).next();
        if unchanged_since.is_some() {
            self.condstore = true;
        }
        let uids = match self.named_uids(set, by_uid) {
            Ok(uids) => uids,
            Err(reply) => return reply,
        };
        let condstore = self.condstore;
        let Some(selected) = self.selected() else {
            return Reply::bad("No mailbox selected");
        };
        if selected.read_only {
            return Reply::no("Mailbox is read-only").with_code("READ-ONLY");
        }
        let names: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let needed = |flag: &str| match flag {
            "\\Seen" => 's',
            "\\Deleted" => 't',
            _ => 'w',
        };
        let rights = selected.rights;
        if kind == StoreType::Replace && !(rights.has('s') && rights.has('t') && rights.has('w'))
            || names.iter().any(|f| !rights.has(needed(f)))
        {
            return Reply::no("Your role does not allow changing these flags").with_code("NOPERM");
        }
        let change = match kind {
            StoreType::Add => FlagChange::Add,
            StoreType::Remove => FlagChange::Remove,
            StoreType::Replace => FlagChange::Replace,
        };
        let folder = selected.folder.id;
        let updated = match self.server.store.meta.set_flags(folder, &uids, change, &names, unchanged_since).await {
            Ok(updated) => updated,
            Err(e) => return unavailable(e),
        };
        let Some(selected) = self.selected() else {
            return Reply::bad("No mailbox selected");
        };
        let mut out = Vec::new();
        for (uid, flags, modseq) in &updated.changed {
            selected.own_changes.insert((*uid, *modseq));
            if response == StoreResponse::Silent && unchanged_since.is_none() {
                continue;
            }
            let Ok(i) = selected.uids.binary_search(uid) else { continue };
            out.extend(format!("* {} FETCH (", i + 1).into_bytes());
            if by_uid {
                out.extend(format!("UID {uid} ").into_bytes());
            }
            out.extend_from_slice(b"FLAGS ");
            flag_list(&mut out, flags);
            if condstore {
                out.extend(format!(" MODSEQ ({modseq})").into_bytes());
            }
            out.extend_from_slice(b")\r\n");
        }
        let modified: Vec<u32> = if by_uid {
            updated.modified.clone()
        } else {
            updated.modified.iter().filter_map(|u| selected.uids.binary_search(u).ok().map(|i| i as u32 + 1)).collect()
        };
        self.out.extend(out);
        if modified.is_empty() {
            Reply::ok("STORE completed")
        } else {
            Reply::ok("Some messages changed since").with_code(format!("MODIFIED {}", compact(modified)))
        }
    }

    pub(super) async fn copy(
        &mut self,
        set: &SequenceSet,
        mailbox: &MailboxName<'_>,
        by_uid: bool,
        moving: bool,
    ) -> Reply {
        let uids = match self.named_uids(set, by_uid) {
            Ok(uids) => uids,
            Err(reply) => return reply,
        };
        let (target, to) = match self.destination(&mailbox_name(mailbox)).await {
            Ok(opened) => opened,
            Err(reply) => return reply,
        };
        let meta = self.server.store.meta.clone();
        let Some(selected) = self.selected() else {
            return Reply::bad("No mailbox selected");
        };
        if moving && (selected.read_only || !selected.rights.has('t') || !selected.rights.has('e')) {
            return Reply::no("Your role does not allow moving messages out of this mailbox").with_code("NOPERM");
        }
        let from = selected.folder.id;
        if uids.is_empty() {
            return Reply::ok(if moving { "MOVE completed" } else { "COPY completed" });
        }
        let result = if moving {
            meta.move_messages(from, &uids, to.id).await
        } else {
            meta.copy_messages(from, &uids, to.id).await
        };
        let copied = match result {
            Ok(copied) => copied,
            Err(e) => return unavailable(e),
        };
        let code = format!(
            "COPYUID {} {} {}",
            copied.uidvalidity,
            compact(copied.pairs.iter().map(|p| p.0)),
            compact(copied.pairs.iter().map(|p| p.1))
        );
        self.audit(if moving { "move" } else { "copy" }, &target, &Reply::ok("")).await;
        if !moving {
            return Reply::ok("COPY completed").with_code(code);
        }
        // RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGEs.
        self.out.extend(format!("* OK [{code}] Moved\r\n").into_bytes());
        let moved: Vec<u32> = copied.pairs.iter().map(|p| p.0).collect();
        self.announce_expunged(&moved);
        Reply::ok("MOVE completed")
    }

    /// Writes EXPUNGE responses for UIDs this session removed, and forgets them.
    fn announce_expunged(&mut self, gone: &[u32]) {
        let Some(selected) = self.selected() else {
            return;
        };
        let mut out = Vec::new();
        let mut positions: Vec<usize> = gone.iter().filter_map(|u| selected.uids.binary_search(u).ok()).collect();
        positions.sort_unstable();
        for &i in positions.iter().rev() {
            out.extend(format!("* {} EXPUNGE\r\n", i + 1).into_bytes());
        }
        for &i in positions.iter().rev() {
            selected.uids.remove(i);
        }
        self.out.extend(out);
    }

    pub(super) async fn expunge(&mut self, only: Option<&SequenceSet>) -> Reply {
        let only = match only {
            Some(set) => match self.named_uids(set, true) {
                Ok(uids) => Some(uids),
                Err(reply) => return reply,
            },
            None => None,
        };
        let Some(selected) = self.selected() else {
            return Reply::bad("No mailbox selected");
        };
        if selected.read_only {
            return Reply::no("Mailbox is read-only").with_code("READ-ONLY");
        }
        if !selected.rights.has('e') {
            return Reply::no("Your role does not allow expunging").with_code("NOPERM");
        }
        let folder = selected.folder.id;
        let gone = match self.server.store.meta.expunge(folder, only.as_deref()).await {
            Ok(gone) => gone,
            Err(e) => return unavailable(e),
        };
        self.announce_expunged(&gone);
        Reply::ok(format!("EXPUNGE completed ({} messages)", gone.len()))
    }

    pub(super) async fn append(
        &mut self,
        mailbox: &MailboxName<'_>,
        flags: &[Flag<'_>],
        date: Option<&DateTime>,
        message: LiteralOrLiteral8<'_>,
    ) -> Reply {
        let (target, folder) = match self.destination(&mailbox_name(mailbox)).await {
            Ok(opened) => opened,
            Err(reply) => return reply,
        };
        let store = &self.server.store;
        let data: &[u8] = match &message {
            LiteralOrLiteral8::Literal(l) => l.data(),
            LiteralOrLiteral8::Literal8(l) => l.data.as_ref(),
        };
        if data.is_empty() {
            return Reply::no("Empty message");
        }
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let received_at = date.map_or_else(now_unix, |d| d.as_ref().timestamp());
        // A large body durable first, then the rows (with a small body): OK
        // only once both are on disk.
        let body = match store.body(mss_store::Bytes::copy_from_slice(data)).await {
            Ok(body) => body,
            Err(e) => return unavailable(e),
        };
        let message = Appended { blob: body.hash, size: data.len() as u64, received_at, flags, inline: body.inline };
        // Read once here, kept with the message (issue 14).
        let facts = mss_message::stored::encode(body.hash, data);
        let reply = match store.meta.append_indexed(folder.id, &[message], &[facts]).await {
            Ok((uidvalidity, uids)) => {
                Reply::ok("APPEND completed").with_code(format!("APPENDUID {uidvalidity} {}", compact(uids)))
            }
            Err(e) => unavailable(e),
        };
        self.audit("append", &target, &reply).await;
        reply
    }
}
