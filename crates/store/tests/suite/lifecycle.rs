//! Mailbox life cycle, roles under the delegation rules, sessions.

use mss_core::{MailboxKind, MailboxState, NationalId, Role};
use mss_store::*;

use crate::support::person;

fn id(text: &str) -> NationalId {
    text.parse().unwrap()
}

fn request(address: &str, kind: MailboxKind, due: i64) -> MailboxRequest {
    let mut mailbox = person(address, "10003621892");
    mailbox.kind = kind;
    mailbox.state = MailboxState::Pending;
    MailboxRequest {
        mailbox,
        cgu: CguAcceptance { national_id: id("810003621892"), version: "2026-01".into(), accepted_at: 1_000 },
        administrator: (kind == MailboxKind::Organisational).then(|| id("810003621892")),
        validation_due_at: due,
    }
}

pub async fn a_requested_mailbox_waits_for_validation_with_its_cgu_and_administrator(store: &Store) {
    let org = store
        .meta
        .request_mailbox(&request("pharmacie-x-75001-paris@pharma.test", MailboxKind::Organisational, 50))
        .await
        .unwrap();
    assert_eq!(org.state, MailboxState::Pending);
    assert_eq!(store.meta.role_of(org.id, &id("810003621892")).await.unwrap(), Some(Role::Administrateur));
    let cgu = store.meta.cgu_acceptances(org.id).await.unwrap();
    assert_eq!(cgu[0].version, "2026-01");
    assert!(store.meta.due_validations(49).await.unwrap().is_empty());
    assert_eq!(store.meta.due_validations(50).await.unwrap().len(), 1);
    store.meta.postpone_validation(org.id, 80).await.unwrap();
    assert!(store.meta.due_validations(60).await.unwrap().is_empty());

    assert!(store.meta.change_state(org.id, MailboxState::Pending, MailboxState::Active, None).await.unwrap());
    assert!(
        !store.meta.change_state(org.id, MailboxState::Pending, MailboxState::Active, None).await.unwrap(),
        "no longer pending"
    );
    assert!(store.meta.due_validations(100).await.unwrap().is_empty(), "active mailboxes are not validated again");
    assert!(matches!(
        store.meta.change_state(org.id, MailboxState::Active, MailboxState::Pending, None).await,
        Err(StoreError::Invalid(_))
    ));
    store.meta.change_state(org.id, MailboxState::Active, MailboxState::Suspended, Some("impayé")).await.unwrap();
    let suspended = store.meta.mailbox_by_id(org.id).await.unwrap().unwrap();
    assert_eq!((suspended.state, suspended.state_reason.as_deref()), (MailboxState::Suspended, Some("impayé")));
    let mut active = request("a@pharma.test", MailboxKind::Personal, 0);
    active.mailbox.state = MailboxState::Active;
    assert!(matches!(store.meta.request_mailbox(&active).await, Err(StoreError::Invalid(_))));
}

pub async fn the_last_administrateur_stays(store: &Store) {
    let org = store
        .meta
        .request_mailbox(&request("pharmacie-y-75001-paris@pharma.test", MailboxKind::Organisational, 0))
        .await
        .unwrap();
    let (owner, other) = (id("810003621892"), id("810000013994"));
    assert!(matches!(store.meta.set_role(org.id, &owner, None).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.meta.set_role(org.id, &owner, Some(Role::Gestionnaire)).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.meta.role_of(org.id, &owner).await.unwrap(), Some(Role::Administrateur), "nothing changed");
    store.meta.set_role(org.id, &other, Some(Role::Administrateur)).await.unwrap();
    store.meta.set_role(org.id, &owner, None).await.unwrap();
    assert_eq!(store.meta.roles_on(org.id).await.unwrap(), [(other, Role::Administrateur)]);
}

pub async fn sessions_rotate_refresh_tokens_and_are_revoked(store: &Store) {
    let session = Session {
        id: "s1".into(),
        national_id: id("810003621892"),
        first_name: "Alice".into(),
        last_name: "Martin".into(),
        method: "psc".into(),
        finess: vec!["750000002".into()],
        refresh_hash: "h1".into(),
        created_at: 100,
        expires_at: 1_000,
        revoked_at: None,
    };
    store.meta.create_session(&session).await.unwrap();
    assert_eq!(store.meta.session("s1").await.unwrap().as_ref(), Some(&session));
    assert!(store.meta.rotate_refresh("s1", "h1", "h2", 200).await.unwrap());
    assert!(!store.meta.rotate_refresh("s1", "h1", "h3", 300).await.unwrap(), "a used refresh token");
    let revoked = store.meta.session("s1").await.unwrap().unwrap();
    assert!(!revoked.is_live(300), "reusing a refresh token ends the session");
    store.meta.create_session(&Session { id: "s2".into(), ..session.clone() }).await.unwrap();
    assert_eq!(store.meta.revoke_sessions_of(&id("810003621892"), 400).await.unwrap(), 1);
    assert!(store.meta.session("missing").await.unwrap().is_none());
}

pub async fn deleted_mailboxes_are_emptied_after_their_retention_and_keep_their_address(store: &Store) {
    let mut new = request("gone@pharma.test", MailboxKind::Personal, 0).mailbox;
    new.state = MailboxState::Active;
    let gone = store.meta.create_mailbox(&new).await.unwrap();
    store.deliver(b"Subject: x\r\n\r\nbody", &[gone.id]).await.unwrap();
    store.meta.change_state(gone.id, MailboxState::Active, MailboxState::Deleted, Some("départ")).await.unwrap();
    assert!(store.meta.purge_deleted(0).await.unwrap().is_empty(), "still within its retention");
    let purged = store.meta.purge_deleted(now_unix() + 1).await.unwrap();
    assert_eq!(purged, ["gone@pharma.test"]);
    assert!(store.meta.folders(gone.id).await.unwrap().is_empty());
    assert!(store.meta.referenced_blobs().await.unwrap().is_empty(), "its messages are no longer referenced");
    assert!(store.meta.purge_deleted(now_unix() + 1).await.unwrap().is_empty(), "once");
    assert!(matches!(store.meta.create_mailbox(&new).await, Err(StoreError::AddressTaken(_))), "never reused");
}
