//! The publication outbox against the ANS simulator: an unavailable
//! directory is asked again with backoff until it acknowledges, a deletion
//! withdraws the telecom, a liste rouge change replaces it, and a refusal
//! (404, 412) is final and kept with its reason.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::IntoResponse;
use mss_core::{MailboxKind, MailboxState};
use mss_directory::{AnsSimulator, Backoff, FhirPublisher, Outbox, send_due};
use mss_http::HttpClient;
use mss_store::{
    AuditFilter, Mailbox, NewMailbox, NewPublication, PublicationKind, PublicationStatus, Store, StoreConfig, now_unix,
};

const ALICE: &str = "810003621892";
const PERSON: &str = "urn%3Aoid%3A1.2.250.1.71.4.2.1%7C";

struct Directory {
    _dir: tempfile::TempDir,
    store: Store,
    outbox: Outbox,
    base_url: String,
}

/// A store, and the simulator behind a stub that answers 503 to the first
/// `unavailable` PATCH requests.
async fn directory(ans: AnsSimulator, unavailable: usize) -> Directory {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    let left = Arc::new(AtomicUsize::new(unavailable));
    let app = Arc::new(ans).router().layer(axum::middleware::from_fn(move |request: Request, next: Next| {
        let left = left.clone();
        async move {
            let patch = request.method() == axum::http::Method::PATCH;
            if patch && left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            next.run(request).await
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let publisher = FhirPublisher { base_url: base_url.clone(), http: HttpClient::new(None).unwrap() };
    let outbox = Outbox {
        store: store.clone(),
        publisher: Arc::new(publisher),
        interval: Duration::from_secs(1),
        backoff: Backoff { first: Duration::from_secs(30), cap: Duration::from_secs(3600) },
    };
    Directory { _dir: dir, store, outbox, base_url }
}

fn alice() -> NewMailbox {
    NewMailbox {
        address: "alice.martin@ours.test".parse().unwrap(),
        kind: MailboxKind::Personal,
        state: MailboxState::Active,
        national_id: Some(ALICE.parse().unwrap()),
        finess: None,
        first_name: Some("Alice".into()),
        last_name: Some("Martin".into()),
        display_name: "Alice Martin".into(),
        service: None,
        liste_rouge: false,
        certificate_dn: None,
    }
}

fn pharmacy(finess: &str) -> NewMailbox {
    NewMailbox {
        address: format!("pharmacie-{finess}@ours.test").parse().unwrap(),
        kind: MailboxKind::Organisational,
        national_id: None,
        finess: Some(finess.parse().unwrap()),
        display_name: "Pharmacie du Centre".into(),
        first_name: None,
        last_name: None,
        ..alice()
    }
}

/// The telecom entries the simulated directory holds for a record.
async fn held(base_url: &str, resource: &str, identifier: &str) -> Vec<serde_json::Value> {
    let url = format!("{base_url}/{resource}?identifier={identifier}");
    let response =
        HttpClient::new(None).unwrap().send(http::Request::get(url).body(Vec::new()).unwrap()).await.unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    bundle["entry"][0]["resource"]["telecom"].as_array().cloned().unwrap_or_default()
}

async fn change(store: &Store, m: &Mailbox, from: MailboxState, to: MailboxState) {
    let publication = PublicationKind::for_transition(from, to).map(NewPublication::queued);
    assert!(store.meta.change_state_published(m.id, from, to, Some("test"), publication).await.unwrap());
}

#[tokio::test]
async fn an_unavailable_directory_is_asked_again_until_it_acknowledges() {
    let d = directory(AnsSimulator::new(&[], &[]), 2).await;
    let alice = d.store.meta.create_published_mailbox(&alice()).await.unwrap();
    let now = now_unix();
    assert_eq!(send_due(&d.outbox, now).await.unwrap(), 1);
    let pending = d.store.meta.publications(false).await.unwrap();
    assert_eq!((pending[0].attempts, pending[0].last_error.as_deref()), (1, Some("HTTP 503")));
    assert_eq!(pending[0].next_attempt_at, now + 30);
    assert_eq!(send_due(&d.outbox, now + 29).await.unwrap(), 0, "not due before the backoff");
    assert_eq!(send_due(&d.outbox, now + 30).await.unwrap(), 1);
    assert_eq!(d.store.meta.publications(false).await.unwrap()[0].next_attempt_at, now + 30 + 60, "doubled");
    assert!(held(&d.base_url, "Practitioner", &format!("{PERSON}{ALICE}")).await.is_empty());

    assert_eq!(send_due(&d.outbox, now + 90).await.unwrap(), 1);
    assert!(d.store.meta.publications(false).await.unwrap().is_empty());
    let done = &d.store.meta.publications(true).await.unwrap()[0];
    assert_eq!(
        (done.status, done.attempts, done.acknowledged_at),
        (PublicationStatus::Acknowledged, 3, Some(now + 90))
    );
    let telecom = held(&d.base_url, "Practitioner", &format!("{PERSON}{ALICE}")).await;
    assert_eq!(telecom.len(), 1);
    assert_eq!(telecom[0]["value"], "alice.martin@ours.test");

    // A liste rouge change replaces what the directory shows.
    assert!(d.store.meta.set_liste_rouge(alice.id, true).await.unwrap());
    assert_eq!(send_due(&d.outbox, now_unix()).await.unwrap(), 1);
    let telecom = held(&d.base_url, "Practitioner", &format!("{PERSON}{ALICE}")).await;
    let metadata = telecom[0]["extension"][1]["extension"].as_array().unwrap();
    assert!(metadata.iter().any(|e| e["url"] == "listeRouge" && e["valueBoolean"] == true), "{telecom:?}");

    d.store.audit.flush().await;
    let trail = d.store.meta.audit_entries(&AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap();
    let results: Vec<(&str, &str)> =
        trail.iter().rev().map(|e| (e.entry.action.as_str(), e.entry.result.as_str())).collect();
    assert_eq!(results.len(), 4);
    assert!(results[0].1.starts_with("retry at") && results[0].1.ends_with("HTTP 503"), "{results:?}");
    assert_eq!(&results[2..], [("directory.publish", "ok"), ("directory.update", "ok")]);
}

#[tokio::test]
async fn suspension_and_deletion_withdraw_the_mailbox_and_resumption_publishes_it_again() {
    let d = directory(AnsSimulator::new(&[], &[]), 0).await;
    let alice = d.store.meta.create_published_mailbox(&alice()).await.unwrap();
    let second = NewMailbox { address: "alice.martin-2@ours.test".parse().unwrap(), ..self::alice() };
    let other = d.store.meta.create_published_mailbox(&second).await.unwrap();
    assert_eq!(send_due(&d.outbox, now_unix()).await.unwrap(), 2);
    assert_eq!(held(&d.base_url, "Practitioner", &format!("{PERSON}{ALICE}")).await.len(), 2);

    change(&d.store, &alice, MailboxState::Active, MailboxState::Suspended).await;
    change(&d.store, &alice, MailboxState::Suspended, MailboxState::Active).await;
    change(&d.store, &other, MailboxState::Active, MailboxState::Deleted).await;
    // In order per mailbox: withdraw then publish again.
    assert_eq!(send_due(&d.outbox, now_unix()).await.unwrap(), 3);
    let values: Vec<String> = held(&d.base_url, "Practitioner", &format!("{PERSON}{ALICE}"))
        .await
        .iter()
        .map(|t| t["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(values, ["alice.martin@ours.test"], "the deleted one is withdrawn, the resumed one is back");
    let kinds: Vec<PublicationKind> = d.store.meta.publications(true).await.unwrap().iter().map(|p| p.kind).collect();
    use PublicationKind::*;
    assert_eq!(kinds, [Publish, Publish, Withdraw, Publish, Withdraw]);

    change(&d.store, &alice, MailboxState::Active, MailboxState::Deleted).await;
    assert_eq!(send_due(&d.outbox, now_unix()).await.unwrap(), 1);
    assert!(held(&d.base_url, "Practitioner", &format!("{PERSON}{ALICE}")).await.is_empty());
}

#[tokio::test]
async fn a_refusal_is_final_and_kept_with_its_reason() {
    let ans = AnsSimulator::new(&[], &["750000002".to_string()]).with_ambiguous(&["1750000010".to_string()]);
    let d = directory(ans, 0).await;
    d.store.meta.create_published_mailbox(&pharmacy("750000002")).await.unwrap();
    d.store.meta.create_published_mailbox(&pharmacy("750000010")).await.unwrap();
    assert_eq!(send_due(&d.outbox, now_unix()).await.unwrap(), 2);
    assert_eq!(send_due(&d.outbox, now_unix() + 86_400).await.unwrap(), 0, "never retried");
    let all = d.store.meta.publications(true).await.unwrap();
    assert!(all.iter().all(|p| p.status == PublicationStatus::Failed && p.attempts == 1), "{all:?}");
    assert_eq!(all[0].last_error.as_deref(), Some("FINESS 750000002 inconnu du répertoire FINESS"));
    assert!(all[1].last_error.as_deref().unwrap().contains("Plusieurs fiches"), "{all:?}");
}
