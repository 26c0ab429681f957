//! Where a message our users send goes, for every way they send it: SMTP
//! submission and the portal's webmail both route recipients and store the
//! message through a [`Submitter`], so both follow the same rules.
//!
//! Rules kept here:
//! - a recipient of our domain must be an active mailbox; another domain
//!   must be in the trust space (the liste blanche, or patients at Mon espace
//!   santé), else the message is refused before anything is stored;
//! - a person sends as their own mailbox, or as an organisational mailbox
//!   their role allows sending for: the access rule's send-as right
//!   (`mss_core::rights`), which a mailbox receiving no mail never grants;
//! - local recipients get the message in their INBOX, the sender a copy in
//!   Sent, remote recipients through the queue: all durable when
//!   [`Submitter::store`] returns;
//! - the patients written to are recorded for the sending mailbox before
//!   the message is queued (their answers are let in by that record);
//! - each recipient's delivery state starts here: delivered (ours), or
//!   queued (the outbound worker records the rest).

use std::sync::Arc;
use std::time::Duration;

use mss_core::patients::{self, MAX_PATIENT_MESSAGE_BYTES};
use mss_core::{Domain, EmailAddress, NationalId, Relation, Right, rights};
use mss_store::{Bytes, Dsn, MailboxId, MetadataStore, Placement, RecipientDsn, SENT, Store, StoreError, now_unix};
use tokio::sync::Notify;

use crate::notify;

/// Where one recipient's copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// One of our active mailboxes.
    Local(EmailAddress, MailboxId),
    /// Another operator's, in the trust space: queued for delivery.
    Remote(EmailAddress),
}

impl Route {
    pub fn address(&self) -> &EmailAddress {
        match self {
            Route::Local(a, _) | Route::Remote(a) => a,
        }
    }
}

/// Why a recipient is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0}: no such active mailbox")]
    NoSuchMailbox(EmailAddress),
    #[error("{0} is outside the MSSanté trust space (not in the liste blanche)")]
    OutsideTrustSpace(Domain),
    /// At the patients' domain, but the part before `@` is not a valid INS
    /// (`mss_core::patients`): no patient has this address.
    #[error("{0} is not a patient's address: the part before @ must be a valid INS")]
    NotAPatient(EmailAddress),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Routes and stores what our users send.
pub struct Submitter {
    pub store: Store,
    /// Our mail domain.
    pub domain: Domain,
    /// Wakes the outbound worker when mail is queued.
    pub wake: Arc<Notify>,
    /// How long queued mail may wait before it is bounced.
    pub queue_expiry: Duration,
    /// Whether the sender keeps a copy in Sent.
    pub sent_copy: bool,
}

/// Whether a message of `size` bytes may go to `routes`: Mon espace santé
/// takes at most [`MAX_PATIENT_MESSAGE_BYTES`] and bounces the rest, so a
/// larger message to a patient is refused before it is stored.
pub fn fits_patients(size: usize, routes: &[Route]) -> bool {
    size <= MAX_PATIENT_MESSAGE_BYTES || !routes.iter().any(|r| r.address().domain().is_patient())
}

/// The active mailbox at `address`, if there is one.
pub async fn active_mailbox(meta: &dyn MetadataStore, address: &EmailAddress) -> Result<Option<MailboxId>, StoreError> {
    Ok(meta.mailbox(address).await?.filter(|m| m.state.receives_mail()).map(|m| m.id))
}

impl Submitter {
    /// Where `address` is delivered, or why it may not be.
    pub async fn route(&self, address: &EmailAddress) -> Result<Route, Refused> {
        let meta = self.store.meta.as_ref();
        if *address.domain() == self.domain {
            return match active_mailbox(meta, address).await? {
                Some(id) => Ok(Route::Local(address.clone(), id)),
                None => Err(Refused::NoSuchMailbox(address.clone())),
            };
        }
        let domain = address.domain();
        if domain.is_patient() && patients::patient_of(address).is_none() {
            return Err(Refused::NotAPatient(address.clone()));
        }
        if domain.is_patient() || !meta.whitelist_for_domain(domain.as_str()).await?.is_empty() {
            return Ok(Route::Remote(address.clone()));
        }
        Err(Refused::OutsideTrustSpace(domain.clone()))
    }

    /// The mailbox a person may send as `sender` from: their own (`own`),
    /// or one where their role (by `national_id`) has the access rule's
    /// send-as right (`mss_core::rights`).
    pub async fn sending_mailbox(
        &self,
        own: (&EmailAddress, MailboxId),
        national_id: Option<&NationalId>,
        sender: &EmailAddress,
    ) -> Result<Option<MailboxId>, StoreError> {
        let meta = &self.store.meta;
        let Some(mailbox) = meta.mailbox(sender).await? else {
            return Ok(None);
        };
        // The login's own mailbox (software's applicative one included);
        // otherwise a role on it, asked as the one store question. Another
        // personal mailbox is another login, not something to send as.
        let relation = if mailbox.id == own.1 {
            Some(Relation::Holder)
        } else {
            match national_id {
                Some(national_id) => meta.relation_to(&mailbox, national_id).await?.filter(|r| r.role().is_some()),
                None => None,
            }
        };
        let Some(relation) = relation else {
            return Ok(None);
        };
        Ok(rights(relation, mailbox.kind, mailbox.state).has(Right::SendAs).then_some(mailbox.id))
    }

    /// Stores `message` for `routes`, with a copy in Sent of
    /// `sending_mailbox` when configured; durable when it returns.
    pub async fn store(
        &self,
        message: Bytes,
        from: &str,
        sending_mailbox: MailboxId,
        routes: &[Route],
    ) -> Result<(), StoreError> {
        self.store_with_dsn(message, from, sending_mailbox, routes, (&Dsn::default(), &[])).await
    }

    /// [`Submitter::store`], with what the sender asked of delivery status
    /// notifications (RFC 3461, `crate::notify`): for the message, and for
    /// each route (same order). Local recipients that asked get their
    /// success report at once; remote ones keep their request in the queue.
    pub async fn store_with_dsn(
        &self,
        message: Bytes,
        from: &str,
        sending_mailbox: MailboxId,
        routes: &[Route],
        (dsn, recipient_dsn): (&Dsn, &[RecipientDsn]),
    ) -> Result<(), StoreError> {
        let asked = |i: usize| recipient_dsn.get(i).cloned().unwrap_or_default();
        let mut local: Vec<Placement> = routes
            .iter()
            .filter_map(|r| if let Route::Local(_, id) = r { Some(Placement::inbox(*id)) } else { None })
            .collect();
        if self.sent_copy {
            local.push(Placement { mailbox: sending_mailbox, folder: SENT.to_string() });
        }
        let remote: Vec<EmailAddress> =
            routes.iter().filter_map(|r| if let Route::Remote(a) = r { Some(a.clone()) } else { None }).collect();
        // Before the message may leave: the patient's answer is let in
        // (`mss_core::patients`) whether or not a copy is kept in Sent.
        for ins in remote.iter().filter_map(patients::patient_of) {
            self.store.meta.record_patient_contact(sending_mailbox, ins.as_str(), now_unix()).await?;
        }
        if !local.is_empty() {
            // Read once here, kept with the message (issue 14).
            let delivery =
                self.store.deliver_read(message.clone(), &local, |raw| Some(mss_message::stored(raw))).await?;
            let delivered: Vec<(String, RecipientDsn)> = routes
                .iter()
                .enumerate()
                .filter_map(|(i, r)| if let Route::Local(a, _) = r { Some((a.to_string(), asked(i))) } else { None })
                .collect();
            if !delivered.is_empty() {
                let addresses: Vec<String> = delivered.iter().map(|(a, _)| a.clone()).collect();
                self.store.meta.record_local_delivery(&delivery.blob, &addresses).await?;
                let expires_at = now_unix() + self.expiry_seconds();
                let host = (self.domain.as_str(), &self.domain);
                if notify::report_delivered(&self.store, host, from, &message, &delivered, dsn, expires_at).await? {
                    self.wake.notify_one();
                }
            }
        }
        if !remote.is_empty() {
            let remote_dsn: Vec<RecipientDsn> = routes
                .iter()
                .enumerate()
                .filter(|(_, r)| matches!(r, Route::Remote(_)))
                .map(|(i, _)| asked(i))
                .collect();
            let expires_at = now_unix() + self.expiry_seconds();
            self.store.enqueue_with_dsn(message, from, &remote, expires_at, dsn.clone(), remote_dsn).await?;
            self.wake.notify_one();
        }
        Ok(())
    }

    fn expiry_seconds(&self) -> i64 {
        i64::try_from(self.queue_expiry.as_secs()).unwrap_or(i64::MAX / 2)
    }
}
