//! The background work of `mss serve`: the ANS validation of new mailboxes,
//! the directory publication outbox, the daily housekeeping
//! (`mss_ops::housekeeping`), the liste blanche's refresh when configured
//! ([`super::whitelist`]) and, at start, the backfill of message facts
//! (`mss_ops::facts`). The housekeeping and the refresh run on one node of
//! those sharing the store, the holder of their lease ([`super::cluster`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mss_directory::{AnsSimulator, Backoff, FhirPublisher, Outbox, Publisher, Validation};
use mss_http::HttpClient;
use mss_ops::housekeeping::{self, Retention};
use mss_store::Store;
use tokio::task::JoinHandle;

use super::cluster::{self, Holder};
use super::http::ANS_SIMULATOR_PATH;
use crate::config::DataDir;
use crate::error::{CliError, failed};

/// Starts the workers; returns the embedded ANS simulator to serve on
/// `http_addr` when no ANS URL is configured.
pub fn start(
    data: &DataDir,
    store: &Store,
    holder: &Holder,
    http_addr: SocketAddr,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Option<Arc<AnsSimulator>>, CliError> {
    let lifecycle = &data.config.lifecycle;
    let simulator = match &lifecycle.ans_url {
        Some(_) => None,
        None => Some(Arc::new(AnsSimulator::new(&lifecycle.ans_unknown_national_ids, &lifecycle.ans_unknown_finess))),
    };
    let publisher: Arc<dyn Publisher> = Arc::new(FhirPublisher {
        // The simulator is ours: reached on the listener itself.
        base_url: lifecycle.ans_url.clone().unwrap_or_else(|| format!("http://{http_addr}{ANS_SIMULATOR_PATH}")),
        http: HttpClient::new(None).map_err(|e| failed("ans", e))?,
    });
    let validation = Validation {
        store: store.clone(),
        publisher: publisher.clone(),
        interval: Duration::from_secs(1),
        retry: Duration::from_secs(300),
    };
    tasks.push(tokio::spawn(validation.run()));
    let outbox =
        Outbox { store: store.clone(), publisher, interval: Duration::from_secs(1), backoff: Backoff::default() };
    tasks.push(tokio::spawn(outbox.run()));
    let days = |n: u64| Duration::from_secs(n.saturating_mul(86_400));
    let retention = Retention {
        audit: days(lifecycle.audit_retention_days),
        deleted_mailboxes: days(lifecycle.deleted_retention_days),
    };
    let mut turns = cluster::HOUSEKEEPING.turns(store.clone(), holder.clone(), days(1));
    let swept = store.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            turns.next().await;
            housekeeping::sweep(&swept, retention).await;
        }
    }));
    tasks.push(tokio::spawn(mss_ops::facts::backfill(store.clone())));
    if let Some(source) = super::whitelist::Source::of(data)? {
        tasks.push(tokio::spawn(source.run(store.clone(), holder.clone())));
    }
    Ok(simulator)
}

/// Gives up this node's leases once its workers are stopped: another node
/// takes the work over at once.
pub async fn stop(store: &Store, holder: &Holder) {
    cluster::release(store, holder, &[cluster::HOUSEKEEPING, cluster::WHITELIST]).await;
}
