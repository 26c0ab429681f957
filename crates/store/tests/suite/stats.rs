//! The operator's usage over a period: counts from mailboxes, delivery
//! states, the audit trail and the Sent folders, and only those of the
//! period.

use mss_store::*;

use crate::support::{address, person};

pub async fn usage_counts_mailboxes_messages_documents_and_logins_of_the_period(store: &Store) {
    let elodie = store.meta.create_mailbox(&person("elodie@pharma.test", "10003621892")).await.unwrap();
    store.meta.create_mailbox(&person("bob@pharma.test", "10000013994")).await.unwrap();
    let to = |a: &str| -> mss_core::EmailAddress { address(a) };
    // Sent: one delivered here, one accepted by a peer, one by Mon espace
    // santé, one failed; the sent copy carries an XDM package.
    let raw = b"Subject: ordonnance\r\n\r\nx\r\n";
    let facts = MessageFacts {
        blob: BlobHash::of(raw),
        version: 1,
        encoded: b"{}".to_vec(),
        columns: FactColumns { xdm: true, header: true, ..FactColumns::default() },
        text: IndexedText::default(),
        searched: Default::default(),
        documents: Vec::new(),
    };
    let sent = store
        .deliver_indexed(raw, &[Placement { mailbox: elodie.id, folder: SENT.into() }], Some(facts))
        .await
        .unwrap();
    store.meta.record_local_delivery(&sent.blob, &["bob@pharma.test".into()]).await.unwrap();
    let far = now_unix() + 3600;
    let recipients = [to("x@peer.test"), to("279035121518989@patient.mssante.fr"), to("y@peer.test")];
    store.enqueue(raw, "elodie@pharma.test", &recipients, far).await.unwrap();
    let due = store.meta.claim_due_recipients(now_unix(), now_unix() + 600, 10).await.unwrap();
    for (recipient, outcome) in due.iter().zip([
        AttemptOutcome::Delivered { reply: "250".into() },
        AttemptOutcome::Delivered { reply: "250".into() },
        AttemptOutcome::Failed { reply: "550".into() },
    ]) {
        store.meta.record_attempt(recipient.id, &outcome).await.unwrap();
    }
    for (actor, action, target, result, detail) in [
        ("CN=peer", "smtp.receive", "a@peer.test", "ok", ""),
        ("CN=gateway", "smtp.receive", "279035121518989@patient.mssante.fr", "ok", ""),
        ("810003621892", "session.login", "810003621892", "ok", "method=psc"),
        ("810003621892", "session.login", "810003621892", "ok", "method=cps"),
        ("anonymous", "session.login", "", "refused: bad", "method=psc"),
        ("elodie@pharma.test", "imap.login", "elodie@pharma.test", "ok", "peer=x"),
    ] {
        store.audit.record(NewAuditEntry::now(actor, action, target, result, detail)).await;
    }
    store.audit.flush().await;

    let now = now_unix();
    let usage = store.meta.usage(now - 60, now + 60).await.unwrap();
    assert_eq!(usage.mailboxes, [("PER".to_string(), "active".to_string(), 2)]);
    assert_eq!((usage.mailboxes_created, usage.mailboxes_closed), (2, 0));
    assert_eq!((usage.sent_inside, usage.sent_to_operators, usage.sent_to_patients, usage.sent_failed), (1, 1, 1, 1));
    assert_eq!((usage.received_from_operators, usage.received_from_patients), (1, 1));
    assert_eq!(usage.documents_sent, 1);
    assert_eq!(usage.logins, [("cps".to_string(), 1), ("imap".to_string(), 1), ("psc".to_string(), 1)]);

    let before = store.meta.usage(now - 7200, now - 3600).await.unwrap();
    assert_eq!(
        (before.mailboxes_created, before.sent_inside, before.documents_sent, before.logins.len()),
        (0, 0, 0, 0)
    );
    assert_eq!(before.mailboxes.len(), 1, "the mailboxes now, whatever the period");
}
