//! The selected state: SELECT/EXAMINE, the session's map of sequence
//! numbers to UIDs, the untagged updates that keep it in step with other
//! sessions and deliveries (EXISTS, EXPUNGE, FETCH FLAGS), CLOSE/UNSELECT and
//! IDLE.

use std::collections::HashSet;

use imap_codec::imap_types::command::SelectParameter;
use imap_codec::imap_types::mailbox::Mailbox as MailboxName;
use mss_store::{Folder, MailboxId};
use tokio::sync::broadcast::error::RecvError;

use super::access::{Rights, mailbox_name};
use super::fetch::flag_list;
use super::{Next, Reply, Session, State, unavailable};
use crate::conn::{Conn, ReadEnd};
use crate::wire;

/// What the session knows of its selected folder.
pub struct Selected {
    pub mailbox: MailboxId,
    /// The mailbox's address (the audit trail's target).
    pub address: String,
    pub folder: Folder,
    /// The name as the client selected it.
    pub name: String,
    pub read_only: bool,
    pub rights: Rights,
    /// Sequence number n is `uids[n - 1]`: the only per-message state kept.
    pub uids: Vec<u32>,
    /// Changes up to this MODSEQ have been reported.
    pub modseq: u64,
    /// Expunged elsewhere, not yet announced (announcing is not allowed
    /// during FETCH, STORE, SEARCH, SORT and THREAD by sequence number).
    pub pending_expunges: Vec<u32>,
    /// (UID, MODSEQ) of flag changes this session made and already
    /// reported, so that the next refresh does not report them again.
    pub own_changes: HashSet<(u32, u64)>,
}

impl Session<'_> {
    pub(super) fn selected(&mut self) -> Option<&mut Selected> {
        match &mut self.state {
            State::Selected(selected) => Some(selected),
            _ => None,
        }
    }

    pub(super) async fn select(
        &mut self,
        mailbox: &MailboxName<'_>,
        read_only: bool,
        parameters: &[SelectParameter],
    ) -> Reply {
        // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected.
        if matches!(self.state, State::Selected(_)) {
            self.state = State::Authenticated;
            self.out.extend_from_slice(b"* OK [CLOSED] Previous mailbox closed\r\n");
        }
        if parameters.iter().any(|p| matches!(p, SelectParameter::CondStore)) {
            self.condstore = true;
        }
        let (target, folder) = match self.open_folder(&mailbox_name(mailbox), 'r').await {
            Ok(opened) => opened,
            Err(reply) => return reply,
        };
        let uids = match self.server.uid_lists.uids(&self.server.store, &folder).await {
            Ok(uids) => uids,
            Err(e) => return unavailable(e),
        };
        let read_only = read_only || !(target.rights.has('s') || target.rights.has('w') || target.rights.has('t'));
        let mut out = Vec::new();
        out.extend_from_slice(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $MDNSent)\r\n");
        out.extend_from_slice(b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags\r\n");
        out.extend(format!("* {} EXISTS\r\n", uids.len()).into_bytes());
        if !self.rev2 {
            out.extend_from_slice(b"* 0 RECENT\r\n");
        }
        out.extend(format!("* OK [UIDVALIDITY {}] UIDs valid\r\n", folder.uidvalidity).into_bytes());
        out.extend(format!("* OK [UIDNEXT {}] Predicted next UID\r\n", folder.uidnext).into_bytes());
        out.extend(format!("* OK [HIGHESTMODSEQ {}] Highest\r\n", folder.highest_modseq).into_bytes());
        out.extend_from_slice(b"* LIST () \"/\" ");
        wire::astring(&mut out, &target.name);
        out.extend_from_slice(b"\r\n");
        self.out.extend(out);
        self.audit(if read_only { "examine" } else { "select" }, &target, &Reply::ok("")).await;
        let modseq = folder.highest_modseq;
        self.state = State::Selected(Box::new(Selected {
            mailbox: target.mailbox,
            address: target.address.clone(),
            folder,
            name: target.name,
            read_only,
            rights: target.rights,
            uids,
            modseq,
            pending_expunges: Vec::new(),
            own_changes: HashSet::new(),
        }));
        let code = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        Reply::ok(if read_only { "EXAMINE completed" } else { "SELECT completed" }).with_code(code)
    }

    /// Reports what changed in the selected folder since the last report.
    /// `allow_expunge` is false while answering FETCH, STORE, SEARCH, SORT or
    /// THREAD by sequence number (RFC 9051 §7.5.1).
    pub(super) async fn refresh(&mut self, allow_expunge: bool) {
        // Nothing more is reported of a mailbox whose access was withdrawn.
        if self.selected_still_allowed().await.is_err() {
            return;
        }
        let condstore = self.condstore;
        let Some(selected) = self.selected() else {
            return;
        };
        let (folder, since) = (selected.folder.id, selected.modseq);
        let changes = match self.server.store.meta.changes_since(folder, since).await {
            Ok(changes) => changes,
            Err(e) => {
                tracing::error!(error = %e, "imap: cannot read changes");
                return;
            }
        };
        let Some(selected) = self.selected() else {
            return;
        };
        let mut out = Vec::new();
        selected.pending_expunges.extend(changes.expunged.iter().filter(|u| selected.uids.binary_search(u).is_ok()));
        if allow_expunge && !selected.pending_expunges.is_empty() {
            let gone: HashSet<u32> = selected.pending_expunges.drain(..).collect();
            let mut positions: Vec<usize> =
                selected.uids.iter().enumerate().filter(|(_, u)| gone.contains(u)).map(|(i, _)| i).collect();
            positions.reverse();
            for i in &positions {
                out.extend(format!("* {} EXPUNGE\r\n", i + 1).into_bytes());
            }
            selected.uids.retain(|u| !gone.contains(u));
        }
        let (last, known) = (selected.uids.last().copied().unwrap_or(0), selected.uids.len());
        // Expunges wait above for a command that may report them.
        crate::uid_cache::catch_up(&mut selected.uids, &[], changes.changed.iter().map(|m| m.uid));
        let added = selected.uids.len() > known;
        for meta in changes.changed.iter().filter(|m| m.uid <= last) {
            if !selected.own_changes.contains(&(meta.uid, meta.modseq))
                && let Ok(i) = selected.uids.binary_search(&meta.uid)
            {
                out.extend(format!("* {} FETCH (UID {} FLAGS ", i + 1, meta.uid).into_bytes());
                flag_list(&mut out, &meta.flags);
                if condstore {
                    out.extend(format!(" MODSEQ ({})", meta.modseq).into_bytes());
                }
                out.extend_from_slice(b")\r\n");
            }
        }
        if added {
            out.extend(format!("* {} EXISTS\r\n", selected.uids.len()).into_bytes());
        }
        selected.own_changes.clear();
        selected.modseq = selected.modseq.max(changes.highest_modseq);
        self.out.extend(out);
    }

    /// CLOSE (expunging silently when allowed) or UNSELECT.
    pub(super) async fn close(&mut self, expunge: bool) -> Reply {
        let State::Selected(selected) = std::mem::replace(&mut self.state, State::Authenticated) else {
            return Reply::bad("No mailbox selected");
        };
        if expunge
            && !selected.read_only
            && selected.rights.has('e')
            && let Err(e) = self.server.store.meta.expunge(selected.folder.id, None).await
        {
            return unavailable(e);
        }
        Reply::ok(if expunge { "CLOSE completed" } else { "UNSELECT completed" })
    }

    /// IDLE (RFC 2177): updates as they happen until the client says DONE.
    /// The login and the rights on the selected mailbox are checked again
    /// at each wake-up and every `revalidate_every`; when they no longer
    /// hold, IDLE ends with `* BYE` (a server cannot end IDLE otherwise
    /// without a DONE) and the session with it.
    pub(super) async fn idle(&mut self, conn: &mut Conn) -> Result<(Reply, Next), ReadEnd> {
        let mut watch = self.server.store.meta.watch();
        conn.write(b"+ idling\r\n").await.map_err(ReadEnd::Io)?;
        let watched = self.selected().map(|s| s.mailbox);
        self.refresh(true).await;
        conn.write(&std::mem::take(&mut self.out)).await.map_err(ReadEnd::Io)?;
        let limits = self.server.limits.frame(true);
        let every = self.server.limits.revalidate_every;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut open = true;
        loop {
            tokio::select! {
                line = conn.line(limits.max_line, limits.idle, limits.progress, true) => {
                    let line = line?;
                    let reply = match line {
                        Some(line) if line.trim_ascii().eq_ignore_ascii_case(b"DONE") => Reply::ok("IDLE terminated"),
                        _ => Reply::bad("Expected DONE"),
                    };
                    return Ok((reply, Next::Continue));
                }
                changed = watch.recv(), if open => {
                    let relevant = match changed {
                        Ok(mailbox) => Some(mailbox) == watched,
                        Err(RecvError::Lagged(_)) => true,
                        Err(RecvError::Closed) => {
                            open = false;
                            false
                        }
                    };
                    if relevant {
                        if let Some(end) = self.idle_end().await {
                            return Ok(end);
                        }
                        self.refresh(true).await;
                        conn.write(&std::mem::take(&mut self.out)).await.map_err(ReadEnd::Io)?;
                    }
                }
                _ = tick.tick() => {
                    if let Some(end) = self.idle_end().await {
                        return Ok(end);
                    }
                }
            }
        }
    }

    /// The end of IDLE when the login or the access to the selected mailbox
    /// no longer holds: a `* BYE` queued, and the tagged refusal.
    async fn idle_end(&mut self) -> Option<(Reply, Next)> {
        if let Some(bye) = self.login_revoked().await {
            self.out.extend(bye);
            return Some((Reply::no("IDLE ended: the login no longer holds").with_code("UNAVAILABLE"), Next::Logout));
        }
        if let Err(reply) = self.selected_still_allowed().await {
            self.out.extend_from_slice(b"* BYE [NOPERM] Access to the shared mailbox was withdrawn\r\n");
            return Some((reply, Next::Logout));
        }
        None
    }
}
