//! The mailbox use cases on a real store.

use mss_core::{MailboxKind, MailboxState, NationalId, Relation, Role};
use mss_store::{AuditFilter, PublicationKind};

use super::*;
use crate::error::Refusal;
use crate::testing::{domain, store};

fn holder() -> NationalId {
    "810003621892".parse().unwrap()
}

fn personal() -> CreationForm {
    CreationForm {
        national_id: Some(holder()),
        first_name: Some("Jean".into()),
        last_name: Some("Martin".into()),
        ..CreationForm::new(MailboxKind::Personal)
    }
}

fn pharmacy() -> CreationForm {
    CreationForm {
        finess: Some("750000002".into()),
        name: Some("Pharmacie du Centre".into()),
        pharmacy: true,
        postal_code: Some("75001".into()),
        city: Some("Paris".into()),
        ..CreationForm::new(MailboxKind::Organisational)
    }
}

async fn actions(store: &Store) -> Vec<String> {
    store.audit.flush().await;
    let filter = AuditFilter { targets: Vec::new(), action_prefix: None, since: None, before_id: None, limit: 100 };
    let entries = store.meta.audit_entries(&filter).await.unwrap();
    entries.iter().map(|e| format!("{} {} {}", e.entry.action, e.entry.target, e.entry.result)).collect()
}

#[tokio::test]
async fn the_operator_creates_active_mailboxes_at_the_next_free_address() {
    let (store, _dir) = store().await;
    let draft = validate(&personal()).unwrap();
    let first = create(&store, &domain(), &draft).await.unwrap();
    let second = create(&store, &domain(), &draft).await.unwrap();
    assert_eq!(first.address.to_string(), "jean.martin@pharmacie.test");
    assert_eq!(second.address.to_string(), "jean.martin-2@pharmacie.test");
    assert_eq!(first.state, MailboxState::Active);
    let outbox = store.meta.claim_due_publications(i64::MAX, i64::MAX, 10).await.unwrap();
    assert!(outbox.iter().all(|p| p.kind == PublicationKind::Publish), "{outbox:?}");
    assert_eq!(outbox.len(), 2);
}

#[tokio::test]
async fn suspending_revokes_sessions_publishes_and_audits_once() {
    let (store, _dir) = store().await;
    let mailbox = create(&store, &domain(), &validate(&personal()).unwrap()).await.unwrap();
    let address = mailbox.address.clone();
    let resume = transition(&store, "cli", &address, Change::Resume, None).await.unwrap_err();
    assert!(matches!(resume, OpsError::State { state: MailboxState::Active, .. }), "{resume}");

    let to = transition(&store, "cli", &address, Change::Suspend, Some("départ")).await.unwrap();
    assert_eq!(to, MailboxState::Suspended);
    assert_eq!(find(&store, &address).await.unwrap().state, MailboxState::Suspended);
    let again = transition(&store, "cli", &address, Change::Suspend, None).await.unwrap_err();
    assert!(matches!(again, OpsError::State { .. }));
    transition(&store, "cli", &address, Change::Resume, None).await.unwrap();
    transition(&store, "cli", &address, Change::Delete, Some("fin")).await.unwrap();

    let audited = actions(&store).await;
    assert_eq!(audited.iter().filter(|a| a.starts_with("mailbox.")).count(), 3, "{audited:?}");
    assert!(audited.iter().any(|a| a == &format!("mailbox.suspended {address} ok")), "{audited:?}");
    let unknown = "nobody@pharmacie.test".parse().unwrap();
    assert!(matches!(transition(&store, "cli", &unknown, Change::Delete, None).await, Err(OpsError::NoMailbox(_))));
}

#[tokio::test]
async fn a_pharmacist_requests_an_org_mailbox_and_it_waits_for_the_ans() {
    let (store, _dir) = store().await;
    let id = holder();
    let finess = vec!["750000002".to_string()];
    let requester = Requester { national_id: &id, finess: &finess };
    let cgu = ("v1", Some("v1"));
    let refused = request(&store, &domain(), requester, &pharmacy(), ("v2", Some("v1")), 0).await.unwrap_err();
    assert!(matches!(refused, OpsError::Cgu(v) if v == "v2"));

    let planned = plan(&store, requester, &pharmacy()).await.unwrap();
    let previewed = preview(&store, &domain(), &planned).await.unwrap();
    let (mailbox, role) = request(&store, &domain(), requester, &pharmacy(), cgu, 0).await.unwrap();
    assert_eq!(mailbox.address, previewed);
    assert_eq!((mailbox.state, role), (MailboxState::Pending, Some(Role::Administrateur)));
    assert_eq!(access(&store, &id, &mailbox.address).await.unwrap().1, Relation::Member(Role::Administrateur));
    assert_eq!(visible(&store, &id).await.unwrap().len(), 1);

    let elsewhere = vec!["130000003".to_string()];
    let stranger = Requester { national_id: &id, finess: &elsewhere };
    let refused = request(&store, &domain(), stranger, &pharmacy(), cgu, 0).await.unwrap_err();
    assert!(matches!(refused, OpsError::Refused(Refusal::NotAttached(_))), "{refused}");
    let cabinet = CreationForm::new(MailboxKind::Cabinet);
    let refused = request(&store, &domain(), requester, &cabinet, cgu, 0).await.unwrap_err();
    assert!(matches!(refused, OpsError::Refused(Refusal::CabinetByOperator)));
    let audited = actions(&store).await;
    assert_eq!(audited.iter().filter(|a| a.contains("mailbox.request") && a.contains("refused")).count(), 3);
    assert!(audited.iter().any(|a| a == &format!("mailbox.request {} ok", mailbox.address)), "{audited:?}");
}

#[tokio::test]
async fn a_person_holds_one_personal_mailbox_and_sees_no_one_elses() {
    let (store, _dir) = store().await;
    let id = holder();
    let requester = Requester { national_id: &id, finess: &[] };
    let (mailbox, role) = request(&store, &domain(), requester, &personal(), ("v1", Some("v1")), 0).await.unwrap();
    assert_eq!(role, None);
    let again = plan(&store, requester, &personal()).await.unwrap_err();
    assert!(matches!(again, OpsError::Refused(Refusal::PersonalHeld)));
    assert_eq!(access(&store, &id, &mailbox.address).await.unwrap().1, Relation::Holder);
    let other: NationalId = "810000013994".parse().unwrap();
    assert!(matches!(access(&store, &other, &mailbox.address).await, Err(OpsError::NoMailbox(_))));
    let view = MailboxView::new(&mailbox, None);
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["status"], "pending");
    assert_eq!(json["state"], "pending");
    assert_eq!(json["first_name"], "Jean");
    assert_eq!(json["role"], serde_json::Value::Null);
}

#[tokio::test]
async fn the_liste_rouge_and_the_ans_question_change_what_they_say() {
    let (store, _dir) = store().await;
    let mailbox = create(&store, &domain(), &validate(&personal()).unwrap()).await.unwrap();
    set_liste_rouge(&store, "cli", &mailbox.address, true).await.unwrap();
    set_liste_rouge(&store, "cli", &mailbox.address, true).await.unwrap();
    assert!(find(&store, &mailbox.address).await.unwrap().liste_rouge);
    let audited = actions(&store).await;
    assert_eq!(audited.iter().filter(|a| a.starts_with("mailbox.liste_rouge")).count(), 1, "only a change");
    let active = validate_now(&store, &mailbox.address).await.unwrap_err();
    assert!(matches!(active, OpsError::NotPending { state: MailboxState::Active, .. }));
    grant(&store, "cli", &mailbox.address, &holder(), Role::Utilisateur).await.unwrap();
    assert_eq!(store.meta.role_of(mailbox.id, &holder()).await.unwrap(), Some(Role::Utilisateur));
    assert!(actions(&store).await.iter().any(|a| a.starts_with("role.set")), "the operator's grant is audited");
}
