//! THE access rule: what a person may do on a mailbox, from their relation to
//! it (its holder, or a member with a [`Role`]), its kind and its state.
//! IMAP (as RFC 4314 letters), SMTP submission (send as) and the webmail all
//! ask [`rights`]; none keeps its own copy.
//!
//! Invariants:
//! - a mailbox that does not receive mail (pending, suspended, deleted)
//!   grants nothing, to anyone: logins refuse it the same way;
//! - a role grants something on an organisational mailbox only (roles are
//!   given there only; anywhere else they are ignored);
//! - the holder of a mailbox may do everything on it.
//!
//! What each role gets comes from the permission matrix ([`permits`]):
//! Administrateur everything; Gestionnaire everything but administering
//! members; Utilisateur reading, marking seen and sending as the mailbox
//! (reading only, were sending not allowed).

use crate::mailbox::{MailboxKind, MailboxState};
use crate::role::{Action, Role, permits};

/// Someone's relation to a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// The person or software the mailbox is theirs (a personal mailbox's
    /// professional, an applicative mailbox's software).
    Holder,
    /// A member of an organisational mailbox, with their role.
    Member(Role),
}

impl Relation {
    /// The role, for a member.
    pub fn role(self) -> Option<Role> {
        match self {
            Relation::Holder => None,
            Relation::Member(role) => Some(role),
        }
    }
}

/// One thing that may be done on a mailbox (RFC 4314 letters in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Right {
    /// See its folders and read its messages (`l`, `r`).
    Read,
    /// Mark messages seen or unseen (`s`).
    MarkSeen,
    /// Set or clear the other flags, `\Flagged` say (`w`).
    SetFlags,
    /// Put messages in its folders: append, copy, save drafts (`i`).
    Write,
    /// Send as the mailbox (`p`).
    SendAs,
    /// Create and delete folders (`k`, `x`).
    CreateFolders,
    /// Delete messages and expunge them (`t`, `e`).
    Delete,
    /// Administer who may use it (`a`).
    Administer,
}

impl Right {
    pub const ALL: [Right; 8] = [
        Right::Read,
        Right::MarkSeen,
        Right::SetFlags,
        Right::Write,
        Right::SendAs,
        Right::CreateFolders,
        Right::Delete,
        Right::Administer,
    ];

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of [`Right`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    pub const NONE: Rights = Rights(0);
    pub const ALL: Rights = Rights::NONE
        .with(Right::Read)
        .with(Right::MarkSeen)
        .with(Right::SetFlags)
        .with(Right::Write)
        .with(Right::SendAs)
        .with(Right::CreateFolders)
        .with(Right::Delete)
        .with(Right::Administer);

    /// These rights and `right`.
    #[must_use]
    pub const fn with(self, right: Right) -> Rights {
        Rights(self.0 | right.bit())
    }

    /// These rights without `right`.
    #[must_use]
    pub const fn without(self, right: Right) -> Rights {
        Rights(self.0 & !right.bit())
    }

    pub const fn has(self, right: Right) -> bool {
        self.0 & right.bit() != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// What `relation` allows on a mailbox of `kind` in `state`.
pub fn rights(relation: Relation, kind: MailboxKind, state: MailboxState) -> Rights {
    if !state.receives_mail() {
        return Rights::NONE;
    }
    match relation {
        Relation::Holder => Rights::ALL,
        Relation::Member(role) if kind == MailboxKind::Organisational => of_role(role),
        Relation::Member(_) => Rights::NONE,
    }
}

/// What a role grants on an active organisational mailbox.
fn of_role(role: Role) -> Rights {
    let grants = |action| permits(role, action);
    if !grants(Action::ReadMail) {
        return Rights::NONE;
    }
    let mut rights = Rights::NONE.with(Right::Read);
    if grants(Action::SendMail) {
        rights = rights.with(Right::MarkSeen).with(Right::SendAs);
    }
    if grants(Action::ManageFolders) && grants(Action::DeleteMail) {
        for right in [Right::MarkSeen, Right::SetFlags, Right::Write, Right::CreateFolders, Right::Delete] {
            rights = rights.with(right);
        }
    }
    if grants(Action::ManageMembers) {
        rights = rights.with(Right::Administer);
    }
    rights
}
