//! Outbound delivery: the queue worker that sends queued messages to peer
//! operators over mutual TLS, retries with exponential backoff and jitter,
//! and reports failures to the sender (DSN), and success when asked (RFC
//! 3461: to a peer without DSN, "relayed"; a peer with DSN is given the
//! sender's NOTIFY, ORCPT, RET and ENVID and reports itself).
//!
//! Routing ([`Routes`]): a static table first (tests, private deployments),
//! then MX records. A domain without a route is retried until the message
//! expires.

mod client;
pub mod dsn;
mod route;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use mss_core::{Domain, EmailAddress};
use mss_store::{
    AttemptOutcome, Bytes, Placement, QueueId, QueuedRecipient, RecipientDsn, Store, StoreError, now_unix,
};
use tokio::sync::Notify;
use tokio_rustls::rustls::ClientConfig;

use self::client::Attempt;
pub use self::client::PeerReply;
use self::dsn::{Action, Reported, report};
pub use self::route::{Dns, Routes};
use crate::notify;
use crate::peers::PeerTrust;

/// When to try again, and when to give up.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt; doubled after each one.
    pub first_delay: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
    /// How long a message may stay queued (the expiry given at enqueue).
    pub expiry: Duration,
    /// How long a recipient taken for an attempt stays with the node that
    /// took it: past that, the node is presumed dead and another takes the
    /// recipient over. Longer than any attempt lasts.
    pub claim: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(3600),
            expiry: Duration::from_secs(5 * 86_400),
            claim: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// Seconds to wait after `attempts` failed attempts: exponential, capped,
    /// with ±20 % jitter so that a peer coming back is not hit by every
    /// operator at once.
    pub fn delay_after(&self, attempts: u32) -> i64 {
        let base = self.first_delay.as_secs_f64() * 2f64.powi(attempts.min(30) as i32);
        let capped = base.min(self.max_delay.as_secs_f64());
        let jitter = 0.8 + 0.4 * random_unit();
        (capped * jitter).ceil().max(1.0) as i64
    }
}

/// A number in [0, 1) from the process's random hasher keys.
fn random_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The queue worker.
pub struct Outbound {
    pub store: Store,
    /// Our mail domain (bounces to our own users are delivered locally).
    pub domain: Domain,
    /// Our host name, for EHLO and the reports.
    pub hostname: String,
    /// From `TlsMaterial::trust_space_client`.
    pub tls: Arc<ClientConfig>,
    /// Where each domain's mail goes.
    pub routes: Routes,
    /// Who speaks for which domain, beyond the liste blanche.
    pub peers: PeerTrust,
    pub retry: RetryPolicy,
    /// Notified when something is queued, to send it without waiting.
    pub wake: Arc<Notify>,
}

/// Messages tried per round.
const BATCH: usize = 200;
/// How often the queue is looked at when nothing wakes the worker.
const IDLE_POLL: Duration = Duration::from_secs(1);

impl Outbound {
    /// Works the queue until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = %e, "outbound: queue round failed");
            }
            tokio::select! {
                () = tokio::time::sleep(IDLE_POLL) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// One round: every due recipient gets an attempt, one SMTP transaction
    /// per message and domain. Returns how many recipients were tried.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = now_unix();
        let until = now.saturating_add(i64::try_from(self.retry.claim.as_secs()).unwrap_or(i64::MAX));
        let due = self.store.meta.claim_due_recipients(now, until, BATCH).await?;
        let tried = due.len();
        let mut groups: BTreeMap<(QueueId, String), Vec<QueuedRecipient>> = BTreeMap::new();
        for recipient in due {
            groups.entry((recipient.message, recipient.domain.clone())).or_default().push(recipient);
        }
        for ((_, domain), group) in groups {
            self.attempt(&domain, &group).await?;
        }
        Ok(tried)
    }

    async fn attempt(&self, domain: &str, group: &[QueuedRecipient]) -> Result<(), StoreError> {
        let Some(first) = group.first() else {
            return Ok(());
        };
        let now = now_unix();
        let all = |reply: PeerReply| vec![reply; group.len()];
        // Whether the peer that took the message offers DSN (and so reports
        // success itself).
        let mut peer_dsn = false;
        let replies = if now >= first.expires_at {
            all(PeerReply { code: 554, text: format!("5.4.7 Delivery time expired; last error: {}", first.last_reply) })
        } else {
            match self.routes.hops(domain).await {
                Err(reply) => all(reply),
                Ok(hops) => match self.store.blobs.get(&first.blob).await? {
                    None => all(PeerReply { code: 554, text: "5.3.0 Message body missing from the store".into() }),
                    Some(message) => {
                        let recipients: Vec<String> = group.iter().map(|r| r.recipient.clone()).collect();
                        let recipient_dsn: Vec<RecipientDsn> = group.iter().map(|r| r.dsn.clone()).collect();
                        let mut result = Err(PeerReply { code: 451, text: format!("4.4.4 No route to {domain}") });
                        for addr in hops {
                            let attempt = Attempt {
                                store: &self.store,
                                peers: &self.peers,
                                tls: self.tls.clone(),
                                hostname: &self.hostname,
                                addr,
                                domain,
                                sender: &first.sender,
                                recipients: &recipients,
                                message: &message,
                                dsn: &first.message_dsn,
                                recipient_dsn: &recipient_dsn,
                            };
                            match attempt.run().await {
                                Ok(delivered) => {
                                    peer_dsn = delivered.peer_dsn;
                                    result = Ok(delivered.outcomes);
                                    break;
                                }
                                // RFC 5321 §5.1: the next address only when this one was unreachable.
                                Err(failure) => {
                                    let next = failure.unreachable;
                                    result = Err(failure.reply);
                                    if !next {
                                        break;
                                    }
                                }
                            }
                        }
                        result.unwrap_or_else(all)
                    }
                },
            }
        };

        let mut failed = Vec::new();
        let mut relayed = Vec::new();
        for (recipient, reply) in group.iter().zip(replies) {
            let text = format!("{} {}", reply.code, reply.text);
            let outcome = if reply.is_positive() {
                AttemptOutcome::Delivered { reply: text.clone() }
            } else if reply.is_permanent() {
                AttemptOutcome::Failed { reply: text.clone() }
            } else {
                let retry_at = (now + self.retry.delay_after(recipient.attempts)).min(recipient.expires_at);
                AttemptOutcome::Deferred { reply: text.clone(), retry_at }
            };
            tracing::info!(
                queue_id = recipient.message,
                recipient = %recipient.recipient,
                attempt = recipient.attempts + 1,
                reply = %text,
                "outbound: attempt"
            );
            let result = match outcome {
                AttemptOutcome::Delivered { .. } => "delivered",
                AttemptOutcome::Failed { .. } => "failed",
                AttemptOutcome::Deferred { .. } => "deferred",
            };
            mss_net::counters::add(mss_net::counters::DELIVERY_ATTEMPTS, result);
            if self.store.meta.record_attempt(recipient.id, &outcome).await? {
                match outcome {
                    AttemptOutcome::Failed { .. } if notify::wants(&recipient.dsn, "FAILURE") => {
                        failed.push((recipient, text));
                    }
                    AttemptOutcome::Delivered { .. } if !peer_dsn && notify::wants(&recipient.dsn, "SUCCESS") => {
                        relayed.push((recipient, text));
                    }
                    _ => {}
                }
            }
        }
        for (action, reported) in [(Action::Failed, failed), (Action::Relayed, relayed)] {
            if !reported.is_empty() && !first.sender.is_empty() {
                self.report(first, action, &reported).await?;
            }
        }
        Ok(())
    }

    /// Sends the sender a report of `action` for `reported` recipients.
    async fn report(
        &self,
        queued: &QueuedRecipient,
        action: Action,
        reported: &[(&QueuedRecipient, String)],
    ) -> Result<(), StoreError> {
        let original = self.store.blobs.get(&queued.blob).await?.unwrap_or_default();
        let recipients: Vec<Reported<'_>> = reported
            .iter()
            .map(|(r, reply)| Reported { address: &r.recipient, action, reply, orcpt: r.dsn.orcpt.as_deref() })
            .collect();
        let dsn = &queued.message_dsn;
        let report = report(&self.hostname, self.domain.as_str(), &queued.sender, &original, &recipients, dsn);
        let expires_at = now_unix() + i64::try_from(self.retry.expiry.as_secs()).unwrap_or(i64::MAX / 2);
        if deliver_report(&self.store, &self.domain, &queued.sender, &report, expires_at).await? {
            self.wake.notify_one();
        }
        Ok(())
    }
}

/// Sends a delivery report to `sender`: into their INBOX when they are one
/// of ours, through the queue (null sender) otherwise. Returns whether it
/// was queued (the worker is to be woken).
pub async fn deliver_report(
    store: &Store,
    domain: &Domain,
    sender: &str,
    report: &[u8],
    expires_at: i64,
) -> Result<bool, StoreError> {
    let Ok(sender) = sender.parse::<EmailAddress>() else {
        tracing::warn!(%sender, "outbound: cannot report to an invalid sender");
        return Ok(false);
    };
    if sender.domain() == domain {
        match store.meta.mailbox(&sender).await? {
            Some(mailbox) if mailbox.state.receives_mail() => {
                let read = |raw: &[u8]| Some(mss_message::stored(raw));
                store.deliver_read(Bytes::copy_from_slice(report), &[Placement::inbox(mailbox.id)], read).await?;
            }
            _ => tracing::warn!(%sender, "outbound: report dropped, the sender has no active mailbox"),
        }
        return Ok(false);
    }
    store.enqueue(report, "", &[sender], expires_at).await?;
    Ok(true)
}
