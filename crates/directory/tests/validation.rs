//! The ANS validation step of the life cycle, with the simulator and with
//! an ANS that cannot be reached.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mss_core::{MailboxKind, MailboxState, NationalId};
use mss_directory::{AnsSimulator, FhirPublisher, PublishError, Publisher, Validation, Verdict, validate_due};
use mss_http::HttpClient;
use mss_store::{
    AuditFilter, CguAcceptance, Mailbox, MailboxRequest, NewMailbox, PublicationKind, PublicationStatus, Store,
    StoreConfig,
};

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    (dir, store)
}

async fn request(store: &Store, address: &str, national_id: &str, due: i64) -> Mailbox {
    let national_id: NationalId = national_id.parse().unwrap();
    let mailbox = NewMailbox {
        address: address.parse().unwrap(),
        kind: MailboxKind::Personal,
        state: MailboxState::Pending,
        national_id: Some(national_id.clone()),
        finess: None,
        first_name: Some("Alice".into()),
        last_name: Some("Martin".into()),
        display_name: "Alice Martin".into(),
        service: None,
        liste_rouge: false,
        certificate_dn: None,
    };
    let cgu = CguAcceptance { national_id, version: "2026-01".into(), accepted_at: 0 };
    let request = MailboxRequest { mailbox, cgu, administrator: None, validation_due_at: due };
    store.meta.request_mailbox(&request).await.unwrap()
}

#[tokio::test]
async fn the_simulated_ans_activates_known_people_and_refuses_unknown_ones() {
    let (_dir, store) = store().await;
    let known = request(&store, "alice.martin@ours.test", "810003621892", 100).await;
    let unknown = request(&store, "bob.durand@ours.test", "810000013994", 100).await;
    let later = request(&store, "carl.petit@ours.test", "810003621892", 500).await;
    let ans = Arc::new(AnsSimulator::new(&["810000013994".to_string()], &[]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, ans.router()).await });
    let base_url = format!("http://{addr}");
    let publisher = FhirPublisher { base_url: base_url.clone(), http: HttpClient::new(None).unwrap() };
    let v = Validation {
        store: store.clone(),
        publisher: Arc::new(publisher),
        interval: Duration::from_secs(1),
        retry: Duration::from_secs(60),
    };
    assert_eq!(validate_due(&v, 99).await.unwrap(), 0, "not due yet");
    assert_eq!(validate_due(&v, 100).await.unwrap(), 2);
    let known = store.meta.mailbox_by_id(known.id).await.unwrap().unwrap();
    assert_eq!(known.state, MailboxState::Active);
    let unknown = store.meta.mailbox_by_id(unknown.id).await.unwrap().unwrap();
    assert_eq!(unknown.state, MailboxState::Deleted);
    assert!(unknown.state_reason.unwrap().contains("810000013994 inconnu"));
    let later = store.meta.mailbox_by_id(later.id).await.unwrap().unwrap();
    assert_eq!(later.state, MailboxState::Pending);
    // What the directory now holds for Alice: the mailbox, with the MSSanté extensions.
    let http = HttpClient::new(None).unwrap();
    let url = format!("{base_url}/Practitioner?identifier=urn%3Aoid%3A1.2.250.1.71.4.2.1%7C810003621892");
    let response = http.send(http::Request::get(url).body(Vec::new()).unwrap()).await.unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    let telecom = &bundle["entry"][0]["resource"]["telecom"][0];
    assert_eq!(telecom["value"], "alice.martin@ours.test");
    assert_eq!(telecom["extension"][0]["valueCoding"]["code"], "MSSANTE");
    assert_eq!(telecom["extension"][1]["extension"][0]["valueCoding"]["code"], "PER");
    store.audit.flush().await;
    let trail = store.meta.audit_entries(&AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(actions, ["mailbox.refuse", "mailbox.activate"]);
    // The activation's publication is in the outbox, already acknowledged.
    let outbox = store.meta.publications(true).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!((outbox[0].address.as_str(), outbox[0].kind), ("alice.martin@ours.test", PublicationKind::Publish));
    assert_eq!(outbox[0].status, PublicationStatus::Acknowledged);
}

struct Unreachable;

#[async_trait]
impl Publisher for Unreachable {
    async fn publish(&self, _: &Mailbox) -> Result<Verdict, PublishError> {
        Err(PublishError("connection refused".into()))
    }
    async fn update(&self, m: &Mailbox) -> Result<Verdict, PublishError> {
        self.publish(m).await
    }
    async fn withdraw(&self, m: &Mailbox) -> Result<Verdict, PublishError> {
        self.publish(m).await
    }
}

#[tokio::test]
async fn an_unreachable_ans_is_asked_again_later() {
    let (_dir, store) = store().await;
    let m = request(&store, "alice.martin@ours.test", "810003621892", 100).await;
    let v = Validation {
        store: store.clone(),
        publisher: Arc::new(Unreachable),
        interval: Duration::from_secs(1),
        retry: Duration::from_secs(60),
    };
    assert_eq!(validate_due(&v, 100).await.unwrap(), 0);
    assert_eq!(store.meta.mailbox_by_id(m.id).await.unwrap().unwrap().state, MailboxState::Pending);
    assert!(store.meta.due_validations(159).await.unwrap().is_empty(), "postponed by the retry delay");
    assert_eq!(store.meta.due_validations(160).await.unwrap().len(), 1);
}
