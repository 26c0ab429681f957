//! Why a use case refused or failed.

use mss_core::MailboxState;
use mss_store::StoreError;

use crate::mailboxes::DraftError;

/// A refusal (nothing was written) or a failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The creation request is incomplete or malformed.
    #[error(transparent)]
    Draft(#[from] DraftError),
    /// No mailbox at this address (or none the person may see).
    #[error("no mailbox {0}")]
    NoMailbox(String),
    /// The mailbox is not in a state the change starts from.
    #[error("{address} is {state}; it cannot become {to}")]
    State { address: String, state: MailboxState, to: MailboxState },
    /// Only a pending mailbox waits for the ANS.
    #[error("{address} is {state}, not pending")]
    NotPending { address: String, state: MailboxState },
    /// Someone else changed the mailbox between our read and our write.
    #[error("{0} changed meanwhile; try again")]
    Raced(String),
    /// The person may not do this (see [`Refusal`]).
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The store refused the change as invalid (no free address, the last
    /// Administrateur).
    #[error("{0}")]
    Invalid(String),
    /// The applicative mailbox's certificate DN is already bound to the
    /// mailbox named.
    #[error("certificate DN is already bound to {0}")]
    CertificateTaken(String),
    /// The terms of use (CGU) in force, with this version, are not
    /// accepted.
    #[error("the CGU version {0} are not accepted")]
    Cgu(String),
    /// The directory search failed.
    #[error("directory: {0}")]
    Directory(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(StoreError),
}

/// Why a use case refused the person asking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("only the operator creates cabinet mailboxes")]
    CabinetByOperator,
    #[error("the person already holds a personal mailbox")]
    PersonalHeld,
    /// The FINESS the person's identity does not attach them to.
    #[error("the person is not attached to FINESS {0}")]
    NotAttached(String),
    #[error(
        "only an Administrateur of an active organisational mailbox of the structure creates an applicative mailbox"
    )]
    NotAdministrator,
    #[error("only organisational mailboxes have members")]
    NotOrganisational,
    #[error("the person's role does not manage members")]
    NotManager,
    #[error("a Gestionnaire manages Utilisateurs only")]
    GestionnaireLimit,
    #[error("the person is not a member of the mailbox")]
    NotMember,
    #[error("only an Administrateur or the holder reads the audit trail")]
    NotAuditor,
}

impl From<StoreError> for OpsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(why) => Self::Invalid(why),
            StoreError::CertificateTaken(bound) => Self::CertificateTaken(bound),
            e => Self::Store(e),
        }
    }
}
