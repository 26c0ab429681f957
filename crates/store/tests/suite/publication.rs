//! The directory publication outbox: operations recorded with the change
//! that calls for them, sent in order per mailbox, retried or final.

use mss_core::MailboxState;
use mss_store::*;

use crate::support::person;

fn kinds(list: &[Publication]) -> Vec<(&str, PublicationKind, PublicationStatus)> {
    list.iter().map(|p| (p.address.as_str(), p.kind, p.status)).collect()
}

pub async fn state_changes_queue_their_publication_in_order_per_mailbox(store: &Store) {
    use PublicationKind::*;
    use PublicationStatus::*;
    let a = store.meta.create_published_mailbox(&person("a.a@pharma.test", "10003621892")).await.unwrap();
    let mut pending = person("b.b@pharma.test", "10003621892");
    pending.state = MailboxState::Pending;
    assert!(matches!(store.meta.create_published_mailbox(&pending).await, Err(StoreError::Invalid(_))));
    let b = store.meta.create_mailbox(&pending).await.unwrap();
    // The validation publishes by itself: recorded as acknowledged at once.
    let ack = Some(NewPublication::acknowledged(Publish));
    assert!(
        store.meta.change_state_published(b.id, MailboxState::Pending, MailboxState::Active, None, ack).await.unwrap()
    );
    let withdraw =
        PublicationKind::for_transition(MailboxState::Active, MailboxState::Suspended).map(NewPublication::queued);
    assert_eq!(withdraw, Some(NewPublication::queued(Withdraw)));
    assert!(
        store
            .meta
            .change_state_published(a.id, MailboxState::Active, MailboxState::Suspended, Some("x"), withdraw)
            .await
            .unwrap()
    );
    assert!(
        !store
            .meta
            .change_state_published(a.id, MailboxState::Active, MailboxState::Suspended, None, withdraw)
            .await
            .unwrap(),
        "no longer active: nothing recorded"
    );
    assert!(matches!(
        store.meta.change_state_published(a.id, MailboxState::Suspended, MailboxState::Pending, None, None).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.meta.mailbox_by_id(a.id).await.unwrap().unwrap().state, MailboxState::Suspended);

    let all = store.meta.publications(true).await.unwrap();
    assert_eq!(
        kinds(&all),
        [
            ("a.a@pharma.test", Publish, Pending),
            ("b.b@pharma.test", Publish, Acknowledged),
            ("a.a@pharma.test", Withdraw, Pending)
        ]
    );
    assert!(all[1].acknowledged_at.is_some() && all[0].acknowledged_at.is_none());
    assert_eq!(kinds(&store.meta.publications(false).await.unwrap()).len(), 2, "pending only");

    // Only the oldest pending operation of a mailbox is due.
    let now = now_unix();
    let due = store.meta.claim_due_publications(now, now + 30, 10).await.unwrap();
    assert_eq!(kinds(&due), [("a.a@pharma.test", Publish, Pending)]);
    // Claimed: no other node is given it (nor the withdraw behind it) until
    // the claim lapses; then it is taken over.
    assert!(store.meta.claim_due_publications(now, now, 10).await.unwrap().is_empty());
    let taken_over = store.meta.claim_due_publications(now + 30, now, 10).await.unwrap();
    assert_eq!(taken_over.iter().map(|p| p.id).collect::<Vec<_>>(), [due[0].id]);
    let retry = PublicationOutcome::Retry { error: "HTTP 503".into(), retry_at: now + 60 };
    assert!(store.meta.record_publication(due[0].id, &retry, now).await.unwrap());
    assert!(
        store.meta.claim_due_publications(now, now, 10).await.unwrap().is_empty(),
        "the withdraw waits for the publish"
    );
    let later = store.meta.claim_due_publications(now + 60, now + 60, 10).await.unwrap();
    assert_eq!((later[0].attempts, later[0].last_error.as_deref()), (1, Some("HTTP 503")));
    assert!(store.meta.record_publication(due[0].id, &PublicationOutcome::Acknowledged, now + 60).await.unwrap());
    assert!(!store.meta.record_publication(due[0].id, &retry, now).await.unwrap(), "final stays final");
    let next = store.meta.claim_due_publications(now + 60, now + 60, 10).await.unwrap();
    assert_eq!(kinds(&next), [("a.a@pharma.test", Withdraw, Pending)]);
    let refused = PublicationOutcome::Failed { error: "FINESS inconnu".into() };
    assert!(store.meta.record_publication(next[0].id, &refused, now + 61).await.unwrap());
    assert!(store.meta.publications(false).await.unwrap().is_empty());
    let all = store.meta.publications(true).await.unwrap();
    assert_eq!((all[0].status, all[0].attempts, all[0].acknowledged_at), (Acknowledged, 2, Some(now + 60)));
    assert_eq!((all[2].status, all[2].last_error.as_deref()), (Failed, Some("FINESS inconnu")));
}

pub async fn a_liste_rouge_change_queues_an_update_of_an_active_mailbox(store: &Store) {
    let a = store.meta.create_mailbox(&person("a.a@pharma.test", "10003621892")).await.unwrap();
    assert!(store.meta.set_liste_rouge(a.id, true).await.unwrap());
    assert!(!store.meta.set_liste_rouge(a.id, true).await.unwrap(), "unchanged: nothing queued");
    assert!(store.meta.mailbox_by_id(a.id).await.unwrap().unwrap().liste_rouge);
    let queued = store.meta.publications(false).await.unwrap();
    assert_eq!(kinds(&queued), [("a.a@pharma.test", PublicationKind::Update, PublicationStatus::Pending)]);
    store.meta.change_state(a.id, MailboxState::Active, MailboxState::Suspended, None).await.unwrap();
    assert!(store.meta.set_liste_rouge(a.id, false).await.unwrap());
    assert_eq!(store.meta.publications(false).await.unwrap().len(), 1, "a suspended mailbox is not in the directory");
    assert!(matches!(store.meta.set_liste_rouge(9999, true).await, Err(StoreError::NotFound(_))));

    // A flush makes what waits for a retry due now.
    let now = now_unix();
    let retry = PublicationOutcome::Retry { error: "HTTP 503".into(), retry_at: now + 3600 };
    store.meta.record_publication(queued[0].id, &retry, now).await.unwrap();
    assert!(store.meta.claim_due_publications(now, now, 10).await.unwrap().is_empty());
    assert_eq!(store.meta.publications_due_now(now).await.unwrap(), 1);
    assert_eq!(store.meta.claim_due_publications(now, now, 10).await.unwrap().len(), 1);
}
