//! Folder commands of the authenticated state: LIST/LSUB, CREATE, DELETE,
//! RENAME, SUBSCRIBE/UNSUBSCRIBE, STATUS.

use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox as MailboxName};
use imap_codec::imap_types::status::StatusDataItemName;
use mss_store::{Folder, StoreError};

use super::access::{SHARED_PREFIX, mailbox_name};
use super::{Reply, Session, State, unavailable};
use crate::wire;

/// One name LIST may show.
struct Listed {
    name: String,
    attributes: Vec<&'static str>,
    subscribed: bool,
}

impl Session<'_> {
    pub(super) async fn list(
        &mut self,
        reference: &MailboxName<'_>,
        pattern: &ListMailbox<'_>,
        subscribed_only: bool,
    ) -> Reply {
        let command = if subscribed_only { "LSUB" } else { "LIST" };
        let reference = match reference {
            MailboxName::Inbox => "INBOX".to_string(),
            other => mailbox_name(other),
        };
        let pattern = match pattern {
            ListMailbox::Token(t) => String::from_utf8_lossy(t.as_ref()).into_owned(),
            ListMailbox::String(s) => String::from_utf8_lossy(s.as_ref()).into_owned(),
        };
        if pattern.is_empty() {
            // RFC 9051 §6.3.9: the hierarchy delimiter and root.
            self.out.extend_from_slice(format!("* {command} (\\Noselect) \"/\" \"\"\r\n").as_bytes());
            return Reply::ok(format!("{command} completed"));
        }
        let full = format!("{reference}{pattern}");
        let names = match self.listable().await {
            Ok(names) => names,
            Err(reply) => return reply,
        };
        for entry in names.iter().filter(|l| !subscribed_only || l.subscribed) {
            if !wildcard_match(&full, &entry.name) {
                continue;
            }
            let mut attributes = entry.attributes.clone();
            if !subscribed_only && entry.subscribed {
                attributes.push("\\Subscribed");
            }
            self.out.extend(format!("* {command} ({}) \"/\" ", attributes.join(" ")).into_bytes());
            wire::astring(&mut self.out, &entry.name);
            self.out.extend_from_slice(b"\r\n");
        }
        Reply::ok(format!("{command} completed"))
    }

    /// Every name the principal may see: their folders, then the shared
    /// namespace.
    async fn listable(&self) -> Result<Vec<Listed>, Reply> {
        let principal = self.principal.as_ref().ok_or_else(|| Reply::no("Authenticate first"))?;
        let meta = &self.server.store.meta;
        let own = meta.folders(principal.mailbox.id).await.map_err(unavailable)?;
        let mut out = listed(&own, "");
        let shared = self.shared_mailboxes().await?;
        if !shared.is_empty() {
            out.push(Listed {
                name: SHARED_PREFIX.into(),
                attributes: vec!["\\Noselect", "\\HasChildren"],
                subscribed: true,
            });
        }
        for (mailbox, rights) in shared {
            if !rights.has('l') {
                continue;
            }
            let prefix = format!("{SHARED_PREFIX}/{}", mailbox.address);
            out.push(Listed {
                name: prefix.clone(),
                attributes: vec!["\\Noselect", "\\HasChildren"],
                subscribed: true,
            });
            let folders = meta.folders(mailbox.id).await.map_err(unavailable)?;
            out.extend(listed(&folders, &format!("{prefix}/")));
        }
        Ok(out)
    }

    pub(super) async fn create(&mut self, mailbox: &MailboxName<'_>) -> Reply {
        let name = mailbox_name(mailbox);
        let name = name.trim_end_matches('/').to_string();
        let target = match self.resolve_with(&name, 'k').await {
            Ok(target) => target,
            Err(reply) => return reply,
        };
        if target.folder.is_empty() || target.folder.split('/').any(str::is_empty) {
            return Reply::bad("Invalid mailbox name");
        }
        let result = self.server.store.meta.create_folder(target.mailbox, &target.folder).await;
        let reply = match result {
            Ok(_) => Reply::ok("CREATE completed"),
            Err(StoreError::AlreadyPresent(_)) => Reply::no("Mailbox already exists").with_code("ALREADYEXISTS"),
            Err(e) => unavailable(e),
        };
        self.audit("create", &target.name, &reply);
        reply
    }

    pub(super) async fn delete(&mut self, mailbox: &MailboxName<'_>) -> Reply {
        let name = mailbox_name(mailbox);
        let target = match self.resolve_with(&name, 'x').await {
            Ok(target) => target,
            Err(reply) => return reply,
        };
        if let State::Selected(selected) = &self.state
            && selected.folder.mailbox == target.mailbox
            && selected.folder.name == target.folder
        {
            self.state = State::Authenticated;
            self.out.extend_from_slice(b"* OK [CLOSED] Mailbox deleted\r\n");
        }
        let reply = match self.server.store.meta.delete_folder(target.mailbox, &target.folder).await {
            Ok(()) => Reply::ok("DELETE completed"),
            Err(StoreError::NotFound(_)) => Reply::no("No such mailbox").with_code("NONEXISTENT"),
            Err(StoreError::Invalid(why)) => Reply::no(format!("Cannot delete: {why}")).with_code("CANNOT"),
            Err(e) => unavailable(e),
        };
        self.audit("delete", &target.name, &reply);
        reply
    }

    pub(super) async fn rename(&mut self, from: &MailboxName<'_>, to: &MailboxName<'_>) -> Reply {
        let (from_name, to_name) = (mailbox_name(from), mailbox_name(to));
        let source = match self.resolve_with(&from_name, 'x').await {
            Ok(target) => target,
            Err(reply) => return reply,
        };
        let target = match self.resolve_with(&to_name, 'k').await {
            Ok(target) => target,
            Err(reply) => return reply,
        };
        if source.mailbox != target.mailbox {
            return Reply::no("Cannot rename across mailboxes").with_code("CANNOT");
        }
        let result = self.server.store.meta.rename_folder(source.mailbox, &source.folder, &target.folder).await;
        let reply = match result {
            Ok(()) => Reply::ok("RENAME completed"),
            Err(StoreError::NotFound(_)) => Reply::no("No such mailbox").with_code("NONEXISTENT"),
            Err(StoreError::AlreadyPresent(_)) => Reply::no("Target exists").with_code("ALREADYEXISTS"),
            Err(StoreError::Invalid(why)) => Reply::no(format!("Cannot rename: {why}")).with_code("CANNOT"),
            Err(e) => unavailable(e),
        };
        self.audit("rename", &source.name, &reply);
        reply
    }

    pub(super) async fn subscribe(&mut self, mailbox: &MailboxName<'_>, subscribed: bool) -> Reply {
        let name = mailbox_name(mailbox);
        let target = match self.resolve_with(&name, 'l').await {
            Ok(target) => target,
            Err(reply) => return reply,
        };
        match self.server.store.meta.set_subscribed(target.mailbox, &target.folder, subscribed).await {
            Ok(()) => Reply::ok(if subscribed { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" }),
            Err(StoreError::NotFound(_)) => Reply::no("No such mailbox").with_code("NONEXISTENT"),
            Err(e) => unavailable(e),
        }
    }

    pub(super) async fn status(&mut self, mailbox: &MailboxName<'_>, items: &[StatusDataItemName]) -> Reply {
        let name = mailbox_name(mailbox);
        let target = match self.resolve_with(&name, 'r').await {
            Ok(target) => target,
            Err(reply) => return reply,
        };
        let meta = &self.server.store.meta;
        let folder = match meta.folder(target.mailbox, &target.folder).await {
            Ok(Some(folder)) => folder,
            Ok(None) => return Reply::no(format!("No such mailbox: {name}")).with_code("NONEXISTENT"),
            Err(e) => return unavailable(e),
        };
        let counts = match meta.folder_counts(folder.id).await {
            Ok(counts) => counts,
            Err(e) => return unavailable(e),
        };
        let mut values = Vec::new();
        for item in items {
            let value = match item {
                StatusDataItemName::Messages => format!("MESSAGES {}", counts.messages),
                StatusDataItemName::Recent => "RECENT 0".to_string(),
                StatusDataItemName::UidNext => format!("UIDNEXT {}", folder.uidnext),
                StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", folder.uidvalidity),
                StatusDataItemName::Unseen => format!("UNSEEN {}", counts.unseen),
                StatusDataItemName::Deleted => format!("DELETED {}", counts.deleted),
                StatusDataItemName::Size => format!("SIZE {}", counts.size),
                StatusDataItemName::HighestModSeq => format!("HIGHESTMODSEQ {}", folder.highest_modseq),
                _ => continue,
            };
            values.push(value);
        }
        self.out.extend_from_slice(b"* STATUS ");
        wire::astring(&mut self.out, &target.name);
        self.out.extend(format!(" ({})\r\n", values.join(" ")).into_bytes());
        Reply::ok("STATUS completed")
    }
}

/// Folders as LIST entries under `prefix`, with CHILDREN and SPECIAL-USE
/// attributes.
fn listed(folders: &[Folder], prefix: &str) -> Vec<Listed> {
    folders
        .iter()
        .map(|f| {
            let children = folders.iter().any(|c| c.name.strip_prefix(&f.name).is_some_and(|r| r.starts_with('/')));
            let mut attributes = vec![if children { "\\HasChildren" } else { "\\HasNoChildren" }];
            if let Some(special) = special_use(f) {
                attributes.push(special);
            }
            Listed { name: format!("{prefix}{}", f.name), attributes, subscribed: f.subscribed }
        })
        .collect()
}

fn special_use(folder: &Folder) -> Option<&'static str> {
    match folder.special_use.as_deref()? {
        "\\Sent" => Some("\\Sent"),
        "\\Drafts" => Some("\\Drafts"),
        "\\Trash" => Some("\\Trash"),
        "\\Junk" => Some("\\Junk"),
        "\\Archive" => Some("\\Archive"),
        _ => None,
    }
}

/// RFC 9051 §6.3.9 wildcards: `*` matches anything, `%` anything but the
/// hierarchy delimiter. INBOX matches case-insensitively. Dynamic
/// programming over (pattern, name) positions: linear in their product
/// whatever the wildcards.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (super::access::normalise(pattern), super::access::normalise(name));
    let (p, n) = (p.as_bytes(), n.as_bytes());
    // row[j]: does p[..i] match n[..j]?
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &c in p {
        let mut next = vec![false; n.len() + 1];
        for j in 0..=n.len() {
            next[j] = match c {
                b'*' => row[j] || (j > 0 && next[j - 1]),
                b'%' => row[j] || (j > 0 && n[j - 1] != b'/' && next[j - 1]),
                _ => j > 0 && row[j - 1] && n[j - 1] == c,
            };
        }
        row = next;
    }
    row[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_rfc_9051() {
        assert!(wildcard_match("*", "Archive/2026"));
        assert!(!wildcard_match("%", "Archive/2026"));
        assert!(wildcard_match("%", "Archive"));
        assert!(wildcard_match("Archive/%", "Archive/2026"));
        assert!(wildcard_match("inbox", "INBOX"));
        assert!(wildcard_match("Partage/%", "Partage/a@b.test"));
        assert!(!wildcard_match("Arch", "Archive"));
        assert!(!wildcard_match(&"*a".repeat(2000), &"a".repeat(1999)), "no exponential blow-up");
    }
}
