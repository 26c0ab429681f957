//! Mailbox kinds and the life cycle of a mailbox (BAL, *boîte aux lettres*).
//!
//! Kinds are the ANS codes (`PER`, `ORG`, `APP`, `CAB`); a mailbox's kind never
//! changes after creation. States:
//!
//! ```text
//!   pending ──> active <──> suspended
//!      │          │            │
//!      └──────────┴──> deleted <┘      (deleted is final)
//! ```
//!
//! A new mailbox is `pending` until the ANS has validated and published it in the
//! Annuaire Santé (24 h at least); only an `active` mailbox receives mail.

use std::fmt;
use std::str::FromStr;

/// Why a kind code or a state name was not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxError {
    #[error("mailbox kind: unknown code {0:?}, expected PER, ORG, APP or CAB")]
    UnknownKind(String),
    #[error("mailbox state: unknown state {0:?}, expected pending, active, suspended or deleted")]
    UnknownState(String),
}

/// The type of a mailbox (*type de BAL*, ANS nomenclature TRE_R257).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailboxKind {
    /// `PER`: one professional's personal mailbox.
    Personal,
    /// `ORG`: shared by the staff of a structure, under a responsible person.
    Organisational,
    /// `APP`: used by software, authenticated by certificate.
    Applicative,
    /// `CAB`: an independent practice.
    Cabinet,
}

impl MailboxKind {
    pub const ALL: [MailboxKind; 4] =
        [MailboxKind::Personal, MailboxKind::Organisational, MailboxKind::Applicative, MailboxKind::Cabinet];

    /// The ANS code: `PER`, `ORG`, `APP` or `CAB`.
    pub fn code(self) -> &'static str {
        match self {
            MailboxKind::Personal => "PER",
            MailboxKind::Organisational => "ORG",
            MailboxKind::Applicative => "APP",
            MailboxKind::Cabinet => "CAB",
        }
    }
}

impl FromStr for MailboxKind {
    type Err = MailboxError;

    /// Accepts the codes in any case (`PER`, `per`, `Per`).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        MailboxKind::ALL
            .into_iter()
            .find(|kind| kind.code().eq_ignore_ascii_case(input))
            .ok_or_else(|| MailboxError::UnknownKind(crate::excerpt(input)))
    }
}

impl fmt::Display for MailboxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Where a mailbox is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailboxState {
    /// Created, waiting for the ANS to validate and publish it.
    Pending,
    /// Published; sends and receives mail.
    Active,
    /// Temporarily closed; keeps its address and content.
    Suspended,
    /// Closed for good; its address is never reused for another holder.
    Deleted,
}

impl MailboxState {
    pub const ALL: [MailboxState; 4] =
        [MailboxState::Pending, MailboxState::Active, MailboxState::Suspended, MailboxState::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            MailboxState::Pending => "pending",
            MailboxState::Active => "active",
            MailboxState::Suspended => "suspended",
            MailboxState::Deleted => "deleted",
        }
    }

    /// Whether a mailbox in this state may move to `next`. Staying in the same
    /// state is not a transition and answers false.
    pub fn can_become(self, next: MailboxState) -> bool {
        use MailboxState::{Active, Deleted, Pending, Suspended};
        matches!(
            (self, next),
            (Pending, Active | Deleted) | (Active, Suspended | Deleted) | (Suspended, Active | Deleted)
        )
    }

    /// Whether mail addressed to the mailbox is delivered (active only).
    pub fn receives_mail(self) -> bool {
        self == MailboxState::Active
    }
}

impl FromStr for MailboxState {
    type Err = MailboxError;

    /// Accepts the names in any case (`active`, `ACTIVE`).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        MailboxState::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(input))
            .ok_or_else(|| MailboxError::UnknownState(crate::excerpt(input)))
    }
}

impl fmt::Display for MailboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::MailboxState::{Active, Deleted, Pending, Suspended};
    use super::*;

    #[test]
    fn kinds_round_trip_and_ignore_case() {
        for kind in MailboxKind::ALL {
            assert_eq!(kind.code().parse::<MailboxKind>(), Ok(kind));
            assert_eq!(kind.code().to_lowercase().parse::<MailboxKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.code());
        }
        assert_eq!("Org".parse(), Ok(MailboxKind::Organisational));
        assert_eq!(
            "BAL".parse::<MailboxKind>().unwrap_err().to_string(),
            "mailbox kind: unknown code \"BAL\", expected PER, ORG, APP or CAB"
        );
        assert!(" PER".parse::<MailboxKind>().is_err());
    }

    #[test]
    fn states_round_trip() {
        for state in MailboxState::ALL {
            assert_eq!(state.as_str().parse::<MailboxState>(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
        }
        assert!("actif".parse::<MailboxState>().is_err());
    }

    #[test]
    fn life_cycle_table() {
        // (from, to, allowed): every pair of states.
        let table = [
            (Pending, Pending, false),
            (Pending, Active, true),
            (Pending, Suspended, false),
            (Pending, Deleted, true),
            (Active, Pending, false),
            (Active, Active, false),
            (Active, Suspended, true),
            (Active, Deleted, true),
            (Suspended, Pending, false),
            (Suspended, Active, true),
            (Suspended, Suspended, false),
            (Suspended, Deleted, true),
            (Deleted, Pending, false),
            (Deleted, Active, false),
            (Deleted, Suspended, false),
            (Deleted, Deleted, false),
        ];
        assert_eq!(table.len(), 16);
        for (from, to, allowed) in table {
            assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
        }
    }

    #[test]
    fn only_active_mailboxes_receive_mail() {
        assert!(Active.receives_mail());
        for state in [Pending, Suspended, Deleted] {
            assert!(!state.receives_mail(), "{state}");
        }
    }
}
