//! Folder commands of the authenticated state: LIST/LSUB, CREATE, DELETE,
//! RENAME, SUBSCRIBE/UNSUBSCRIBE, STATUS.

use imap_codec::imap_types::mailbox::Mailbox as MailboxName;
use imap_codec::imap_types::status::StatusDataItemName;
use mss_store::{Folder, INBOX, MailboxId, StoreError};

use super::access::{SHARED_PREFIX, mailbox_name};
use super::folder_limits;
use super::list::List;
use super::{Reply, Session, State, unavailable};
use crate::wire;

/// One name LIST may show.
struct Listed {
    name: String,
    attributes: Vec<&'static str>,
    special_use: Option<&'static str>,
    subscribed: bool,
}

/// The STATUS items this server answers (RFC 9051, RFC 7162, RFC 8438).
pub const STATUS_ITEMS: &[&str] =
    &["MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "HIGHESTMODSEQ"];

/// The name of a parsed STATUS item, if this server answers it.
pub fn status_item_name(item: &StatusDataItemName) -> Option<&'static str> {
    Some(match item {
        StatusDataItemName::Messages => "MESSAGES",
        StatusDataItemName::Recent => "RECENT",
        StatusDataItemName::UidNext => "UIDNEXT",
        StatusDataItemName::UidValidity => "UIDVALIDITY",
        StatusDataItemName::Unseen => "UNSEEN",
        StatusDataItemName::Deleted => "DELETED",
        StatusDataItemName::Size => "SIZE",
        StatusDataItemName::HighestModSeq => "HIGHESTMODSEQ",
        _ => return None,
    })
}

impl Session<'_> {
    /// LIST and LSUB, plain or extended (RFC 5258, RFC 5819).
    pub(super) async fn list_with(&mut self, list: &List) -> Reply {
        let command = if list.lsub { "LSUB" } else { "LIST" };
        if list.patterns.iter().all(String::is_empty) {
            // RFC 9051 §6.3.9: the hierarchy delimiter and root.
            self.out.extend_from_slice(format!("* {command} (\\Noselect) \"/\" \"\"\r\n").as_bytes());
            return Reply::ok(format!("{command} completed"));
        }
        let patterns: Vec<String> = list.patterns.iter().map(|p| format!("{}{p}", list.reference)).collect();
        let names = match self.listable().await {
            Ok(names) => names,
            Err(reply) => return reply,
        };
        let subscribed_only = list.lsub || list.subscribed_only;
        for entry in &names {
            if subscribed_only && !entry.subscribed
                || list.special_use_only && entry.special_use.is_none()
                || !patterns.iter().any(|p| wildcard_match(p, &entry.name))
            {
                continue;
            }
            let mut attributes = entry.attributes.clone();
            attributes.extend(entry.special_use);
            if !list.lsub && entry.subscribed {
                attributes.push("\\Subscribed");
            }
            self.out.extend(format!("* {command} ({}) \"/\" ", attributes.join(" ")).into_bytes());
            wire::astring(&mut self.out, &entry.name);
            self.out.extend_from_slice(b"\r\n");
            if !list.status.is_empty() && !attributes.contains(&"\\Noselect") {
                // RFC 5819: a failure for one name is not reported.
                let _ = self.status(&entry.name, &list.status).await;
            }
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
                special_use: None,
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
                special_use: None,
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
        if let Err(reply) = self.within_limits(target.mailbox, &target.folder, None).await {
            self.audit("create", &target, &reply).await;
            return reply;
        }
        let result = self.server.store.meta.create_folder(target.mailbox, &target.folder).await;
        let reply = match result {
            Ok(_) => Reply::ok("CREATE completed"),
            Err(StoreError::AlreadyPresent(_)) => Reply::no("Mailbox already exists").with_code("ALREADYEXISTS"),
            Err(e) => unavailable(e),
        };
        self.audit("create", &target, &reply).await;
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
        self.audit("delete", &target, &reply).await;
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
        if let Err(reply) = self.within_limits(target.mailbox, &target.folder, Some(&source.folder)).await {
            self.audit("rename", &source, &reply).await;
            return reply;
        }
        let result = self.server.store.meta.rename_folder(source.mailbox, &source.folder, &target.folder).await;
        let reply = match result {
            Ok(()) => Reply::ok("RENAME completed"),
            Err(StoreError::NotFound(_)) => Reply::no("No such mailbox").with_code("NONEXISTENT"),
            Err(StoreError::AlreadyPresent(_)) => Reply::no("Target exists").with_code("ALREADYEXISTS"),
            Err(StoreError::Invalid(why)) => Reply::no(format!("Cannot rename: {why}")).with_code("CANNOT"),
            Err(e) => unavailable(e),
        };
        self.audit("rename", &source, &reply).await;
        reply
    }

    /// Whether `name` may be made (by CREATE, or by RENAME of `from` with
    /// its subfolders) within the [`folder_limits`].
    async fn within_limits(&self, mailbox: MailboxId, name: &str, from: Option<&str>) -> Result<(), Reply> {
        folder_limits::check_name(name)?;
        let existing = self.server.store.meta.folders(mailbox).await.map_err(unavailable)?;
        let Some(from) = from else {
            return folder_limits::check_count(&existing, name, true);
        };
        // Subfolders move with their parent: their new names are bounded too.
        for folder in existing.iter().filter(|f| f.name.strip_prefix(from).is_some_and(|r| r.starts_with('/'))) {
            folder_limits::check_name(&format!("{name}{}", &folder.name[from.len()..]))?;
        }
        // RFC 9051 §6.3.6: renaming INBOX leaves an empty INBOX behind.
        folder_limits::check_count(&existing, name, from == INBOX)
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

    /// STATUS of a name (also each name of a LIST-STATUS).
    pub(super) async fn status(&mut self, name: &str, items: &[&str]) -> Reply {
        let (target, folder) = match self.open_folder(name, 'r').await {
            Ok(opened) => opened,
            Err(reply) => return reply,
        };
        let counts = match self.server.store.meta.folder_counts(folder.id).await {
            Ok(counts) => counts,
            Err(e) => return unavailable(e),
        };
        let values: Vec<String> = items
            .iter()
            .map(|&item| {
                let value = match item {
                    "MESSAGES" => u64::from(counts.messages),
                    "UIDNEXT" => u64::from(folder.uidnext),
                    "UIDVALIDITY" => u64::from(folder.uidvalidity),
                    "UNSEEN" => u64::from(counts.unseen),
                    "DELETED" => u64::from(counts.deleted),
                    "SIZE" => counts.size,
                    "HIGHESTMODSEQ" => folder.highest_modseq,
                    _ => 0,
                };
                format!("{item} {value}")
            })
            .collect();
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
            let attributes = vec![if children { "\\HasChildren" } else { "\\HasNoChildren" }];
            Listed {
                name: format!("{prefix}{}", f.name),
                attributes,
                special_use: special_use(f),
                subscribed: f.subscribed,
            }
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
