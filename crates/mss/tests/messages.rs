//! `mss messages index`: a store whose messages were kept without facts
//! (made before facts existed) gets them, in batches, picking up where an
//! earlier run stopped.

mod common;

use common::*;
use mss_core::{MailboxKind, MailboxState};
use mss_store::{FactsBacklog, INBOX, MailboxDraft, Store, StoreConfig};

#[tokio::test]
async fn messages_stored_without_facts_are_indexed_and_a_second_run_finds_nothing() {
    let operator = Operator::new("ours.test");
    let store = Store::open(&StoreConfig::Embedded { dir: operator.dir.clone() }).await.unwrap();
    let draft = MailboxDraft { display_name: "Pharmacie".into(), ..MailboxDraft::new(MailboxKind::Organisational) };
    let mailbox = draft.at("pharmacie@ours.test".parse().unwrap(), MailboxState::Active);
    let mailbox = store.meta.create_mailbox(&mailbox).await.unwrap();
    let raws: Vec<Vec<u8>> =
        (0..5).map(|i| format!("From: <labo@peer.test>\r\nSubject: Resultats {i}\r\n\r\nx\r\n").into_bytes()).collect();
    for raw in &raws {
        // What an older mss did: the message without its facts.
        store.deliver(raw, &[mailbox.id]).await.unwrap();
    }
    // An earlier run that stopped after one message.
    store.meta.put_facts(&[mss_message::stored(&raws[0])]).await.unwrap();
    let version = mss_message::stored::VERSION;
    assert_eq!(store.meta.facts_backlog(version).await.unwrap(), FactsBacklog { messages: 4, blobs: 4 });

    let printed = operator.ok("messages index --batch 3");
    assert!(printed.contains("4 messages read"), "{printed}");
    assert_eq!(store.meta.facts_backlog(version).await.unwrap(), FactsBacklog::default());
    let inbox = store.meta.folder(mailbox.id, INBOX).await.unwrap().unwrap();
    let facts = store.meta.facts(inbox.id, &[1, 2, 3, 4, 5]).await.unwrap();
    let subjects: Vec<String> =
        facts.iter().map(|(_, f)| mss_message::stored::decode(f).unwrap().envelope.subject.unwrap()).collect();
    assert_eq!(subjects, (0..5).map(|i| format!("Resultats {i}")).collect::<Vec<_>>());
    assert!(operator.ok("messages index").contains("0 messages read"));
    operator.refused("messages index --batch 0", "batch");
}
