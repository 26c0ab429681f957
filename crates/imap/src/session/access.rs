//! Which mailbox and folder an IMAP name designates, and with which RFC 4314
//! rights. The principal's own mailbox is the personal namespace (names as
//! they are); each organisational mailbox where the person holds a role is
//! `Partage/<address>/<folder>` in the shared namespace (RFC 2342), with
//! the rights `mss_core::rights` gives the role, written as RFC 4314 letters.

use mss_core::{EmailAddress, Relation, Right, Role};
use mss_store::{Folder, INBOX, Mailbox, MailboxId};

use super::{Reply, Session, unavailable};

/// The shared namespace's prefix (without the separator).
pub const SHARED_PREFIX: &str = "Partage";

/// RFC 4314 §4: the letters each right of the access rule is written with,
/// in the order of "lrswipkxtea".
const LETTERS: [(Right, &str); 8] = [
    (Right::Read, "lr"),
    (Right::MarkSeen, "s"),
    (Right::SetFlags, "w"),
    (Right::Write, "i"),
    (Right::SendAs, "p"),
    (Right::CreateFolders, "kx"),
    (Right::Delete, "te"),
    (Right::Administer, "a"),
];

/// RFC 4314 rights, as the letters they are written with: the access rule's
/// rights ([`mss_core::rights`]) in IMAP's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    letters: [u8; 11],
    len: usize,
}

impl Rights {
    pub const ALL: Rights = Rights::from_core(mss_core::Rights::ALL);

    /// The letters of the access rule's `rights`.
    pub const fn from_core(rights: mss_core::Rights) -> Rights {
        let mut out = Rights { letters: [0; 11], len: 0 };
        let mut i = 0;
        while i < LETTERS.len() {
            let (right, letters) = LETTERS[i];
            if rights.has(right) {
                let mut j = 0;
                while j < letters.len() {
                    out.letters[out.len] = letters.as_bytes()[j];
                    out.len += 1;
                    j += 1;
                }
            }
            i += 1;
        }
        out
    }

    /// The rights a role grants on an active organisational mailbox.
    pub fn of(role: Role) -> Rights {
        Rights::on(Relation::Member(role), mss_core::MailboxKind::Organisational, mss_core::MailboxState::Active)
    }

    /// The rights `relation` grants on a mailbox of `kind` in `state`.
    pub fn on(relation: Relation, kind: mss_core::MailboxKind, state: mss_core::MailboxState) -> Rights {
        Rights::from_core(mss_core::rights(relation, kind, state))
    }

    pub fn has(self, right: char) -> bool {
        self.as_str().contains(right)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever written.
        std::str::from_utf8(&self.letters[..self.len]).unwrap_or_default()
    }
}

/// What a name designates.
#[derive(Debug, Clone)]
pub struct Target {
    pub mailbox: MailboxId,
    /// The mailbox's address (the audit trail's target).
    pub address: String,
    /// The folder's name inside its mailbox (INBOX normalised).
    pub folder: String,
    /// The name as the client sees it.
    pub name: String,
    pub rights: Rights,
}

/// Splits "INBOX"-insensitive names: INBOX in any case is INBOX.
pub fn normalise(folder: &str) -> String {
    match folder.split_once('/') {
        Some((first, rest)) if first.eq_ignore_ascii_case(INBOX) => format!("{INBOX}/{rest}"),
        None if folder.eq_ignore_ascii_case(INBOX) => INBOX.to_string(),
        _ => folder.to_string(),
    }
}

impl Session<'_> {
    /// The organisational mailboxes this person may use, with their rights.
    pub(super) async fn shared_mailboxes(&self) -> Result<Vec<(Mailbox, Rights)>, Reply> {
        let Some(national_id) = self.principal.as_ref().and_then(|p| p.national_id.clone()) else {
            return Ok(Vec::new());
        };
        let relations = self.server.store.meta.relations_of(&national_id).await.map_err(unavailable)?;
        Ok(relations
            .into_iter()
            // The person's own personal mailboxes are other logins, not
            // shared folders of this one.
            .filter(|(_, relation)| matches!(relation, Relation::Member(_)))
            .map(|(m, relation)| {
                let rights = Rights::on(relation, m.kind, m.state);
                (m, rights)
            })
            .filter(|(_, rights)| rights.len > 0)
            .collect())
    }

    /// Resolves a client-side name. `NO [NONEXISTENT]` for names outside
    /// every mailbox the principal may use.
    pub(super) async fn resolve(&self, name: &str) -> Result<Target, Reply> {
        let principal = self.principal.as_ref().ok_or_else(|| Reply::no("Authenticate first"))?;
        let nonexistent = || Reply::no(format!("No such mailbox: {name}")).with_code("NONEXISTENT");
        let shared = name
            .split_once('/')
            .filter(|(prefix, _)| *prefix == SHARED_PREFIX)
            .map(|(_, rest)| rest.split_once('/').unwrap_or((rest, "")));
        let Some((address, folder)) = shared else {
            return Ok(Target {
                mailbox: principal.mailbox.id,
                address: principal.address().to_string(),
                folder: normalise(name),
                name: normalise(name),
                rights: Rights::on(Relation::Holder, principal.mailbox.kind, principal.mailbox.state),
            });
        };
        let address: EmailAddress = address.parse().map_err(|_| nonexistent())?;
        if folder.is_empty() {
            return Err(nonexistent());
        }
        let found = self.shared_mailboxes().await?.into_iter().find(|(m, _)| m.address == address);
        let Some((mailbox, rights)) = found else {
            return Err(nonexistent());
        };
        let folder = normalise(folder);
        let name = format!("{SHARED_PREFIX}/{address}/{folder}");
        Ok(Target { mailbox: mailbox.id, address: address.to_string(), name, folder, rights })
    }

    /// The existing folder a name designates, with the rights on it:
    /// `NO [NONEXISTENT]` when there is none, `NO [NOPERM]` without `right`.
    pub(super) async fn open_folder(&self, name: &str, right: char) -> Result<(Target, Folder), Reply> {
        let target = self.resolve_with(name, right).await?;
        match self.server.store.meta.folder(target.mailbox, &target.folder).await {
            Ok(Some(folder)) => Ok((target, folder)),
            Ok(None) => Err(Reply::no(format!("No such mailbox: {name}")).with_code("NONEXISTENT")),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The destination of COPY, MOVE or APPEND: as [`Self::open_folder`],
    /// a missing one answered with `TRYCREATE` (RFC 9051 §6.4.7).
    pub(super) async fn destination(&self, name: &str) -> Result<(Target, Folder), Reply> {
        self.open_folder(name, 'i').await.map_err(|reply| match reply.code.as_deref() {
            Some("NONEXISTENT") => reply.with_code("TRYCREATE"),
            _ => reply,
        })
    }

    /// Resolves and refuses without `right`.
    pub(super) async fn resolve_with(&self, name: &str, right: char) -> Result<Target, Reply> {
        let target = self.resolve(name).await?;
        if !target.rights.has(right) {
            return Err(Reply::no(format!("Your role does not allow this on {name}")).with_code("NOPERM"));
        }
        Ok(target)
    }
}

/// A mailbox name from the parser, as text.
pub fn mailbox_name(mailbox: &imap_codec::imap_types::mailbox::Mailbox<'_>) -> String {
    use imap_codec::imap_types::mailbox::Mailbox as M;
    match mailbox {
        M::Inbox => INBOX.to_string(),
        M::Other(other) => String::from_utf8_lossy(other.as_ref()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_follow_the_roles() {
        assert_eq!(Rights::of(Role::Administrateur), Rights::ALL);
        assert_eq!(Rights::ALL.as_str(), "lrswipkxtea");
        assert_eq!(Rights::of(Role::Gestionnaire).as_str(), "lrswipkxte");
        assert_eq!(Rights::of(Role::Utilisateur).as_str(), "lrsp");
        assert_eq!(normalise("inbox"), "INBOX");
        assert_eq!(normalise("Inbox/Sub"), "INBOX/Sub");
        assert_eq!(normalise("Archive"), "Archive");
    }

    /// Every letter is granted exactly when the access rule grants its
    /// right, for every kind, state and relation.
    #[test]
    fn the_letters_are_the_core_rule() {
        use mss_core::{MailboxKind, MailboxState};
        let relations = [Relation::Holder].into_iter().chain(Role::ALL.map(Relation::Member));
        for relation in relations {
            for kind in MailboxKind::ALL {
                for state in MailboxState::ALL {
                    let core = mss_core::rights(relation, kind, state);
                    let imap = Rights::on(relation, kind, state);
                    for (right, letters) in LETTERS {
                        for letter in letters.chars() {
                            assert_eq!(imap.has(letter), core.has(right), "{letter} {relation:?} {kind} {state}");
                        }
                    }
                    assert!("lrswipkxtea".chars().all(|l| LETTERS.iter().any(|(_, ls)| ls.contains(l))));
                }
            }
        }
    }
}
