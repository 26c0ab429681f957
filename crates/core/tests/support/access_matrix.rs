//! The one matrix every front end's access test iterates (issue 14): every
//! mailbox kind, every state, every relation a person may have to it (its
//! holder, for a personal mailbox; a member with each role; nothing at all),
//! each case with what `mss_core::rights` grants. Included by path
//! (`#[path]`) from the IMAP, submission and webmail tests, and checked
//! here by `tests/access.rs`; it needs `mss_core` only.
#![allow(dead_code)] // each includer uses its own part

use mss_core::{MailboxKind, MailboxState, Relation, Rights, Role, rights};

/// One cell: a mailbox of `kind` in `state`, and the person's relation to
/// it (`None`: neither its holder nor a member).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub kind: MailboxKind,
    pub state: MailboxState,
    pub relation: Option<Relation>,
}

impl Case {
    /// What the access rule grants the person here.
    pub fn rights(self) -> Rights {
        self.relation.map_or(Rights::NONE, |relation| rights(relation, self.kind, self.state))
    }

    /// A local part naming the case, unique in the matrix:
    /// `org-active-gestionnaire`, `per-pending-holder`, `app-deleted-none`.
    pub fn local_part(self) -> String {
        let relation = match self.relation {
            None => "none",
            Some(Relation::Holder) => "holder",
            Some(Relation::Member(role)) => role.as_str(),
        };
        format!("{}-{}-{relation}", self.kind.code().to_ascii_lowercase(), self.state)
    }

    /// The case's mailbox address in `domain`.
    pub fn address(self, domain: &str) -> String {
        format!("{}@{domain}", self.local_part())
    }

    /// Whether the person holds the mailbox (then it is theirs: a personal
    /// mailbox with their national id).
    pub fn held(self) -> bool {
        self.relation == Some(Relation::Holder)
    }

    /// The role to grant the person on the mailbox, for a member.
    pub fn role(self) -> Option<Role> {
        self.relation.and_then(Relation::role)
    }
}

/// Every case: each kind × each state × (holder, for personal mailboxes
/// only: a person holds no other kind; a member with each role; no
/// relation). 68 cases.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in MailboxKind::ALL {
        for state in MailboxState::ALL {
            let holder = (kind == MailboxKind::Personal).then_some(Relation::Holder);
            let members = Role::ALL.map(Relation::Member);
            for relation in holder.into_iter().chain(members).map(Some).chain([None]) {
                cases.push(Case { kind, state, relation });
            }
        }
    }
    cases
}

/// The case a front end logs in as: the person's own active personal mailbox.
pub const OWN: Case =
    Case { kind: MailboxKind::Personal, state: MailboxState::Active, relation: Some(Relation::Holder) };
