//! What the metadata store holds, as plain records, and the trait every
//! metadata backend implements.

use async_trait::async_trait;
use mss_core::{EmailAddress, Finess, MailboxKind, MailboxState, NationalId, Relation, Role};

use crate::{BlobHash, StoreError};

/// Database id of a mailbox (BAL).
pub type MailboxId = i64;

/// A mailbox to create.
#[derive(Debug, Clone)]
pub struct NewMailbox {
    pub address: EmailAddress,
    pub kind: MailboxKind,
    pub state: MailboxState,
    /// The holder's national id (PER).
    pub national_id: Option<NationalId>,
    /// The structure's FINESS (ORG, APP, and PER attached to a structure).
    pub finess: Option<Finess>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// What the directory shows: the person's name or the structure's.
    pub display_name: String,
    /// Service or description (ORG, APP, CAB).
    pub service: Option<String>,
    /// Liste rouge: never published in the directory.
    pub liste_rouge: bool,
    /// APP: subject DN of the organisation certificate the software
    /// authenticates with (SASL EXTERNAL).
    pub certificate_dn: Option<String>,
}

impl NewMailbox {
    /// An active mailbox of a structure (ORG or APP) with its FINESS, no
    /// service, published.
    pub fn of_structure(address: EmailAddress, kind: MailboxKind, finess: Finess, display_name: &str) -> Self {
        Self {
            address,
            kind,
            state: MailboxState::Active,
            national_id: None,
            finess: Some(finess),
            first_name: None,
            last_name: None,
            display_name: display_name.to_string(),
            service: None,
            liste_rouge: false,
            certificate_dn: None,
        }
    }
}

/// A mailbox about to be created: everything but its address, and the
/// local part the address is built from (the naming rules of `mss-core`);
/// [`crate::create_at_free_address`] finds the address.
#[derive(Debug, Clone)]
pub struct MailboxDraft {
    pub base_local: String,
    pub kind: MailboxKind,
    pub national_id: Option<NationalId>,
    pub finess: Option<Finess>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: String,
    pub service: Option<String>,
    pub liste_rouge: bool,
    pub certificate_dn: Option<String>,
}

impl MailboxDraft {
    /// A draft of `kind` with nothing filled in yet.
    pub fn new(kind: MailboxKind) -> Self {
        Self {
            base_local: String::new(),
            kind,
            national_id: None,
            finess: None,
            first_name: None,
            last_name: None,
            display_name: String::new(),
            service: None,
            liste_rouge: false,
            certificate_dn: None,
        }
    }

    /// The mailbox at `address`, in `state`.
    pub fn at(&self, address: EmailAddress, state: MailboxState) -> NewMailbox {
        NewMailbox {
            address,
            kind: self.kind,
            state,
            national_id: self.national_id.clone(),
            finess: self.finess.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            display_name: self.display_name.clone(),
            service: self.service.clone(),
            liste_rouge: self.liste_rouge,
            certificate_dn: self.certificate_dn.clone(),
        }
    }
}

/// A stored mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub id: MailboxId,
    pub address: EmailAddress,
    pub kind: MailboxKind,
    pub state: MailboxState,
    pub national_id: Option<NationalId>,
    pub finess: Option<Finess>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: String,
    pub service: Option<String>,
    pub liste_rouge: bool,
    pub certificate_dn: Option<String>,
    /// Why the mailbox is in its state: the ANS refusal, the suspension.
    pub state_reason: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a liste blanche row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhitelistSource {
    /// The ANS file; replaced as a whole by each import.
    Ans,
    /// Added by this operator's administrator; kept across imports.
    Manual,
}

impl WhitelistSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ans => "ans",
            Self::Manual => "manual",
        }
    }
}

/// One liste blanche row: a domain and an operator certificate DN allowed
/// to speak for it (as text; `mss-trust` parses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhitelistRow {
    pub domain: String,
    pub operator_dn: String,
    pub description: String,
    pub responsible_contact: String,
    pub support_contact: String,
    pub updated_at: String,
    pub source: WhitelistSource,
}

/// The ANS file an import came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhitelistImport {
    /// `DateDeGeneration` of the file.
    pub generated_at: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    pub entry_count: i64,
    /// Unix seconds.
    pub imported_at: i64,
}

/// A message body about to be linked, stored by [`crate::Store::body`].
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub blob: BlobHash,
    pub size: u64,
    /// Unix seconds (IMAP INTERNALDATE).
    pub received_at: i64,
    /// A small body, written with the rows that name it (see [`crate::Body`]).
    pub inline: Option<Vec<u8>>,
    /// The facts of the body, written with the rows (see [`crate::FactsStore`]).
    pub facts: Option<crate::MessageFacts>,
}

/// Where to put one copy of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub mailbox: MailboxId,
    pub folder: String,
}

impl Placement {
    pub fn inbox(mailbox: MailboxId) -> Self {
        Self { mailbox, folder: INBOX.to_string() }
    }
}

/// Name of the folder sent copies go to (RFC 6154 \\Sent).
pub const SENT: &str = "Sent";
/// Names of the other special folders (RFC 6154 \\Drafts, \\Trash, \\Junk).
pub const DRAFTS: &str = "Drafts";
pub const TRASH: &str = "Trash";
pub const JUNK: &str = "Junk";

/// The folders every mailbox is created with besides INBOX, and their RFC
/// 6154 special-use attribute.
pub const SPECIAL_FOLDERS: &[(&str, &str)] =
    &[(SENT, "\\Sent"), (DRAFTS, "\\Drafts"), (TRASH, "\\Trash"), (JUNK, "\\Junk"), ("Archive", "\\Archive")];

/// Where one copy of a delivered message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredCopy {
    pub mailbox: MailboxId,
    pub folder: String,
    pub uid: u32,
}

/// The result of [`crate::Store::deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub blob: BlobHash,
    pub copies: Vec<DeliveredCopy>,
}

/// A message as listed in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderMessage {
    pub uid: u32,
    pub blob: BlobHash,
    pub size: u64,
    pub received_at: i64,
}

/// Database id of a queued message.
pub type QueueId = i64;

/// A message to send to remote recipients; its blob is already stored.
#[derive(Debug, Clone)]
pub struct NewQueued {
    pub blob: BlobHash,
    pub size: u64,
    /// Envelope sender; empty for the null reverse-path.
    pub sender: String,
    /// Recipient addresses (their domain is derived).
    pub recipients: Vec<EmailAddress>,
    /// Unix seconds after which the message is given up (and bounced).
    pub expires_at: i64,
    /// What the sender asked of delivery status notifications: for the
    /// message, and for each recipient (by index; missing: nothing asked).
    pub dsn: Dsn,
    pub recipient_dsn: Vec<RecipientDsn>,
}

/// RFC 3461 parameters of a message (MAIL FROM `RET`, `ENVID`), as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsn {
    pub ret: Option<String>,
    pub envid: Option<String>,
}

/// RFC 3461 parameters of a recipient (RCPT TO `NOTIFY`, `ORCPT`), as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientDsn {
    pub notify: Option<String>,
    pub orcpt: Option<String>,
}

/// What became of one recipient of a message our users sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting in the queue (a temporary refusal's reply, if any).
    Queued,
    /// Accepted by the recipient's operator.
    Accepted,
    /// Put in one of our mailboxes.
    Delivered,
    /// Refused for good, or expired.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Accepted => "accepted",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [DeliveryState::Queued, DeliveryState::Accepted, DeliveryState::Delivered, DeliveryState::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One recipient's [`DeliveryState`], with the last reply and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    pub recipient: String,
    pub state: DeliveryState,
    pub reply: String,
    pub updated_at: i64,
}

/// Where a queued recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientStatus {
    Pending,
    Delivered,
    Failed,
}

impl RecipientStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// One recipient of a queued message, with what the worker needs to try it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecipient {
    pub id: i64,
    pub message: QueueId,
    pub blob: BlobHash,
    pub sender: String,
    pub recipient: String,
    pub domain: String,
    pub status: RecipientStatus,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub expires_at: i64,
    pub last_reply: String,
    /// What the sender asked of notifications for this recipient, and for
    /// the message.
    pub dsn: RecipientDsn,
    pub message_dsn: Dsn,
}

/// The result of one delivery attempt to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered {
        reply: String,
    },
    /// Try again at `retry_at` (unix seconds).
    Deferred {
        reply: String,
        retry_at: i64,
    },
    /// Given up: a permanent refusal or the expiry.
    Failed {
        reply: String,
    },
}

/// Name of the folder every mailbox is created with and delivered into.
pub const INBOX: &str = "INBOX";

/// Metadata: mailboxes, folders, message index, liste blanche.
#[async_trait]
pub trait MetadataStore:
    crate::AccountLinkStore
    + crate::AppPasswordStore
    + crate::FolderStore
    + crate::FactsStore
    + crate::PatientStore
    + crate::IndicatorStore
    + crate::StatsStore
    + crate::AuditStore
    + crate::LifecycleStore
    + crate::LeaseStore
    + crate::LoginFailureStore
    + crate::LoginFlowStore
    + crate::MaintenanceStore
    + crate::PublicationStore
    + Send
    + Sync
{
    /// Creates a mailbox and its INBOX. [`StoreError::AddressTaken`] if the
    /// address exists (whatever its state: addresses are never reused).
    async fn create_mailbox(&self, new: &NewMailbox) -> Result<Mailbox, StoreError>;
    /// The mailbox with this address, in any state.
    async fn mailbox(&self, address: &EmailAddress) -> Result<Option<Mailbox>, StoreError>;
    /// Every mailbox, ordered by address.
    async fn mailboxes(&self) -> Result<Vec<Mailbox>, StoreError>;
    /// Mailboxes bound to a certificate DN (for SASL EXTERNAL).
    async fn certificate_bound_mailboxes(&self) -> Result<Vec<Mailbox>, StoreError>;
    /// Gives `national_id` a role on a mailbox, replacing any previous one.
    async fn grant_role(&self, mailbox: MailboxId, national_id: &NationalId, role: Role) -> Result<(), StoreError>;
    /// The role of `national_id` on a mailbox, if any.
    async fn role_of(&self, mailbox: MailboxId, national_id: &NationalId) -> Result<Option<Role>, StoreError>;
    /// The mailboxes held by a person (personal ones), by address.
    async fn mailboxes_of(&self, national_id: &NationalId) -> Result<Vec<Mailbox>, StoreError>;
    /// The mailboxes of a structure (FINESS), by address.
    async fn mailboxes_of_finess(&self, finess: &str) -> Result<Vec<Mailbox>, StoreError>;
    /// Who holds a role on a mailbox, by national id.
    async fn roles_on(&self, mailbox: MailboxId) -> Result<Vec<(NationalId, Role)>, StoreError>;
    /// Every mailbox where this person holds a role, with the role.
    async fn roles_of(&self, national_id: &NationalId) -> Result<Vec<(Mailbox, Role)>, StoreError>;
    /// The mailboxes a person may use and how: the personal mailboxes they
    /// hold, then those they hold a role on. The one question every front
    /// end asks; what each relation allows is `mss_core::rights`.
    async fn relations_of(&self, person: &NationalId) -> Result<Vec<(Mailbox, Relation)>, StoreError> {
        let held = self.mailboxes_of(person).await?.into_iter().filter(|m| m.kind == MailboxKind::Personal);
        let mut relations: Vec<(Mailbox, Relation)> = held.map(|m| (m, Relation::Holder)).collect();
        let roles = self.roles_of(person).await?;
        relations.extend(roles.into_iter().map(|(m, role)| (m, Relation::Member(role))));
        Ok(relations)
    }
    /// A person's relation to one mailbox, if they have one.
    async fn relation_to(&self, mailbox: &Mailbox, person: &NationalId) -> Result<Option<Relation>, StoreError> {
        if mailbox.kind == MailboxKind::Personal && mailbox.national_id.as_ref() == Some(person) {
            return Ok(Some(Relation::Holder));
        }
        Ok(self.role_of(mailbox.id, person).await?.map(Relation::Member))
    }
    /// Addresses of `domain` whose local part starts with `prefix` (to pick a
    /// free address without one query per candidate).
    async fn addresses_with_prefix(&self, prefix: &str, domain: &str) -> Result<Vec<String>, StoreError>;

    /// Replaces every ANS row by `rows` and records the import, atomically.
    async fn replace_ans_whitelist(&self, import: &WhitelistImport, rows: &[WhitelistRow]) -> Result<(), StoreError>;
    /// Adds one manual row; [`StoreError::AlreadyPresent`] if that domain
    /// already names that DN manually.
    async fn add_manual_whitelist_row(&self, row: &WhitelistRow) -> Result<(), StoreError>;
    /// Removes the manual rows of `domain` (lower case), only the one naming
    /// `dn` when given; returns how many went. ANS rows stay (the next
    /// import decides them).
    async fn remove_manual_whitelist_rows(&self, domain: &str, dn: Option<&str>) -> Result<usize, StoreError>;
    /// Every row, ANS then manual, in insertion order.
    async fn whitelist(&self) -> Result<Vec<WhitelistRow>, StoreError>;
    /// The rows of one domain (lower case), ANS then manual.
    async fn whitelist_for_domain(&self, domain: &str) -> Result<Vec<WhitelistRow>, StoreError>;
    /// The last ANS import, if any.
    async fn last_whitelist_import(&self) -> Result<Option<WhitelistImport>, StoreError>;

    /// Links a stored blob into each placement (a mailbox's folder), in one
    /// transaction, allocating UIDs. A folder other than INBOX is created
    /// when missing (Sent for the first sent copy); a missing INBOX means
    /// there is no such mailbox.
    async fn link_message(&self, message: NewMessage, placements: &[Placement]) -> Result<Delivery, StoreError>;
    /// Messages of a folder, by UID.
    async fn folder_messages(&self, mailbox: MailboxId, folder: &str) -> Result<Vec<FolderMessage>, StoreError>;
    /// Every blob a message or queue row refers to, sorted, without
    /// duplicates (for consistency checks and blob collection).
    async fn referenced_blobs(&self) -> Result<Vec<BlobHash>, StoreError>;

    /// Queues a message for remote delivery, every recipient pending and due
    /// now (and [`DeliveryState::Queued`]).
    async fn enqueue(&self, message: &NewQueued) -> Result<QueueId, StoreError>;
    /// Records that the message of `blob` was put in our mailboxes of
    /// `recipients` ([`DeliveryState::Delivered`]).
    async fn record_local_delivery(&self, blob: &BlobHash, recipients: &[String]) -> Result<(), StoreError>;
    /// What became of each recipient of the message of `blob`, by recipient.
    async fn delivery_status(&self, blob: &BlobHash) -> Result<Vec<DeliveryStatus>, StoreError>;
    /// Claims pending recipients due at `now`, oldest first, at most
    /// `limit`: their next attempt moves to `until`, so that no node (this
    /// one included) is given them again before their attempt is recorded,
    /// or before `until` if the node trying them died: another then takes
    /// them over. Claims are atomic across nodes sharing the store.
    async fn claim_due_recipients(
        &self,
        now: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<QueuedRecipient>, StoreError>;
    /// Records an attempt on a pending recipient; a recipient already final
    /// is left as it is (false is returned).
    async fn record_attempt(&self, recipient: i64, outcome: &AttemptOutcome) -> Result<bool, StoreError>;
    /// Every queued recipient, by message.
    async fn queue(&self) -> Result<Vec<QueuedRecipient>, StoreError>;
    /// Makes the pending recipients of a message due now; false if none.
    async fn retry_now(&self, message: QueueId) -> Result<bool, StoreError>;
    /// Removes a message from the queue; false if it was not there.
    async fn delete_queued(&self, message: QueueId) -> Result<bool, StoreError>;
}
