//! Message facts: written with the message, shared by its copies, read by
//! UID, found missing for the index, gone with their blob.

use std::time::Duration;

use mss_store::*;

use crate::support::person;

/// Facts as a caller would compute them; the store keeps them opaque.
pub(crate) fn facts_of(raw: &[u8], version: u32, subject: &str) -> MessageFacts {
    MessageFacts {
        blob: BlobHash::of(raw),
        version,
        encoded: format!("{{\"subject\":\"{subject}\"}}").into_bytes(),
        columns: FactColumns {
            sent_at: Some(1_715_671_800),
            subject: Some(subject.into()),
            from_name: Some("Dr. Alice Martin".into()),
            from_address: Some("alice@pharma.test".into()),
            to_addresses: "279035121518989@patient.mssante.fr, bob@pharma.test".into(),
            cc_addresses: String::new(),
            message_id: Some("<1@pharma.test>".into()),
            in_reply_to: None,
            patient_ins: Some("279035121518989".into()),
            xdm: true,
            closes_conversation: false,
            receipt_for: None,
            receipt_disposition: None,
            attachments: 2,
            sender_key: "dr-alice-martin".into(),
            subject_key: subject.to_lowercase(),
            header: true,
            preview: format!("Bonjour, voici {subject} du patient."),
            imap_subject_key: Some(subject.to_ascii_uppercase()),
            imap_from_key: Some("ALICE".into()),
        },
        text: IndexedText::default(),
        searched: [
            Some(subject.to_lowercase()),
            Some("\"dr. alice martin\" <alice@pharma.test>\ndr. alice martin <alice@pharma.test>".into()),
            Some("279035121518989@patient.mssante.fr, bob@pharma.test".into()),
            Some(String::new()),
            None,
        ],
        documents: Vec::new(),
    }
}

/// Facts as the store gives them back: the searched texts stay in the store.
fn read_back(facts: &MessageFacts) -> MessageFacts {
    MessageFacts { searched: Default::default(), documents: Vec::new(), ..facts.clone() }
}

pub async fn facts_are_written_with_the_message_and_shared_by_its_copies(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let delivered = b"Subject: livraison\r\n\r\nx\r\n";
    let facts = facts_of(delivered, 1, "livraison");
    let delivery = store.deliver_indexed(delivered, &[Placement::inbox(m.id)], Some(facts.clone())).await.unwrap();
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    let uid = delivery.copies[0].uid;
    assert_eq!(store.meta.facts(inbox.id, &[uid, 99]).await.unwrap(), [(uid, read_back(&facts))]);

    // APPEND with facts; a message appended without them has none.
    let appended = b"Subject: brouillon\r\n\r\ny\r\n";
    let bare = b"Subject: sans\r\n\r\nz\r\n";
    let mut messages = Vec::new();
    for raw in [&appended[..], &bare[..]] {
        let body = store.body(Bytes::copy_from_slice(raw)).await.unwrap();
        messages.push(Appended {
            blob: body.hash,
            size: raw.len() as u64,
            received_at: 1,
            flags: vec![],
            inline: body.inline,
        });
    }
    let draft_facts = facts_of(appended, 1, "brouillon");
    let (_, uids) = store.meta.append_indexed(inbox.id, &messages, std::slice::from_ref(&draft_facts)).await.unwrap();
    let read = store.meta.facts(inbox.id, &[uids[1], uids[0], uid]).await.unwrap();
    assert_eq!(read, [(uid, read_back(&facts)), (uids[0], read_back(&draft_facts))], "by UID, without the bare one");
    // With the messages' metadata, in one read: the bare one without facts.
    let asked = [uids[1], 99, uids[0], uid];
    let with_facts = store.meta.messages_with_facts(inbox.id, &asked).await.unwrap();
    let metas = store.meta.messages(inbox.id, &asked).await.unwrap();
    assert_eq!(with_facts.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(), metas, "the same metadata, by UID");
    let encoded = |f: &MessageFacts| Some(EncodedFacts { version: f.version, encoded: f.encoded.clone() });
    let expected = [encoded(&facts), encoded(&draft_facts), None];
    assert_eq!(with_facts.into_iter().map(|(_, f)| f).collect::<Vec<_>>(), expected);

    // COPY and MOVE share the message, hence the facts.
    let archive = store.meta.folder(m.id, "Archive").await.unwrap().unwrap();
    let copied = store.meta.copy_messages(inbox.id, &[uid], archive.id).await.unwrap();
    let moved = store.meta.move_messages(inbox.id, &[uids[0]], archive.id).await.unwrap();
    let in_archive = store.meta.facts(archive.id, &[copied.pairs[0].1, moved.pairs[0].1]).await.unwrap();
    assert_eq!(in_archive, [(copied.pairs[0].1, read_back(&facts)), (moved.pairs[0].1, read_back(&draft_facts))]);
    // The same bytes delivered again keep the facts they have.
    let other_facts = Some(facts_of(delivered, 1, "autre"));
    let again = store.deliver_indexed(delivered, &[Placement::inbox(m.id)], other_facts).await.unwrap().copies[0].uid;
    assert_eq!(store.meta.facts(inbox.id, &[again]).await.unwrap()[0].1.columns.subject.as_deref(), Some("livraison"));
    // Facts of other bytes are refused, and the delivery with them.
    let wrong = store.deliver_indexed(b"other", &[Placement::inbox(m.id)], Some(facts.clone())).await;
    assert!(matches!(wrong, Err(StoreError::Invalid(_))), "{wrong:?}");
}

pub async fn messages_without_facts_are_found_in_batches_and_indexed(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let raws: Vec<Vec<u8>> = (0..5).map(|i| format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes()).collect();
    for raw in &raws {
        store.deliver(raw, &[m.id]).await.unwrap();
    }
    store.deliver(&raws[0], &[m.id]).await.unwrap();
    assert_eq!(store.meta.facts_backlog(1).await.unwrap(), FactsBacklog { messages: 6, blobs: 5 });
    assert_eq!(store.check(true).await.unwrap().messages_without_facts, 6);

    // Two messages at a time, in the order they were stored, resuming after
    // the last one seen; a blob stored twice comes once.
    let hashes: Vec<BlobHash> = raws.iter().map(|r| BlobHash::of(r)).collect();
    let start = FactsWalk::default();
    let (first, walk) = store.meta.blobs_without_facts(1, start, 2).await.unwrap();
    assert_eq!(first, hashes[..2]);
    let (next, _) = store.meta.blobs_without_facts(1, walk, 2).await.unwrap();
    assert_eq!(next, hashes[2..4]);
    let (all, end) = store.meta.blobs_without_facts(1, start, 10).await.unwrap();
    assert_eq!(all, hashes);
    assert_eq!(store.meta.blobs_without_facts(1, end, 10).await.unwrap(), (vec![], end));
    let by_hash = |hash: &BlobHash| raws.iter().find(|r| BlobHash::of(r) == *hash).unwrap().clone();
    let written: Vec<MessageFacts> = first.iter().map(|h| facts_of(&by_hash(h), 1, "v1")).collect();
    assert_eq!(store.meta.put_facts(&written).await.unwrap(), 2);
    // An interrupted index starts again with what is still missing.
    assert_eq!(store.meta.blobs_without_facts(1, start, 10).await.unwrap().0, hashes[2..]);
    assert_eq!(store.meta.facts_backlog(1).await.unwrap(), FactsBacklog { messages: 3, blobs: 3 });

    // A newer version re-indexes the older facts; an older one changes nothing.
    assert_eq!(store.meta.blobs_without_facts(2, start, 10).await.unwrap().0, hashes);
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    let newer = facts_of(&by_hash(&hashes[0]), 2, "v2");
    assert_eq!(store.meta.put_facts(&[newer.clone(), facts_of(&by_hash(&hashes[1]), 0, "v0")]).await.unwrap(), 1);
    let all = store.meta.facts(inbox.id, &[1, 2, 3, 4, 5, 6]).await.unwrap();
    assert!(all.iter().any(|(_, f)| *f == read_back(&newer)));
    assert!(all.iter().all(|(_, f)| f.columns.subject.as_deref() != Some("v0")));
    // Facts of bytes no message names are not kept.
    assert_eq!(store.meta.put_facts(&[facts_of(b"nobody", 1, "x")]).await.unwrap(), 0);
}

pub async fn facts_go_with_their_blob(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let raw = b"Subject: gone\r\n\r\nx\r\n";
    let large = crate::suite::large("gone too");
    store.deliver_indexed(raw, &[Placement::inbox(m.id)], Some(facts_of(raw, 1, "gone"))).await.unwrap();
    store.deliver_indexed(&large, &[Placement::inbox(m.id)], Some(facts_of(&large, 1, "large"))).await.unwrap();
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    store.meta.set_flags(inbox.id, &[1, 2], FlagChange::Add, &["\\Deleted".into()], None).await.unwrap();
    store.meta.expunge(inbox.id, None).await.unwrap();
    store.collect_blobs(Duration::ZERO).await.unwrap();
    // Delivered again: no facts left over from before.
    store.deliver(raw, &[m.id]).await.unwrap();
    store.deliver(&large, &[m.id]).await.unwrap();
    assert!(store.meta.facts(inbox.id, &[3, 4]).await.unwrap().is_empty());
    assert_eq!(store.meta.facts_backlog(1).await.unwrap().blobs, 2);
}

pub async fn sort_and_header_search_read_the_columns_of_the_facts(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let raws: Vec<Vec<u8>> = (0..5).map(|i| format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes()).collect();
    for raw in &raws {
        store.deliver(raw, &[m.id]).await.unwrap();
    }
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    // UID 1: an order; 2: a report; 3: no facts; 4: facts of an older
    // version; 5: facts of a header that did not parse.
    let unparsed = MessageFacts {
        columns: FactColumns { header: false, ..facts_of(&raws[4], 4, "ordonnance").columns },
        ..facts_of(&raws[4], 4, "ordonnance")
    };
    let written = [facts_of(&raws[0], 4, "Ordonnance"), facts_of(&raws[1], 4, "Bilan"), facts_of(&raws[3], 3, "x")];
    store.meta.put_facts(&written).await.unwrap();
    store.meta.put_facts(&[unparsed]).await.unwrap();

    let candidates = |needles: Vec<(SearchedHeader, &str)>| {
        let needles: Vec<(SearchedHeader, String)> = needles.into_iter().map(|(h, n)| (h, n.to_string())).collect();
        async move {
            let found = store.meta.header_candidates(inbox.id, 4, &needles).await.unwrap();
            found.into_iter().map(|(uid, _)| uid).collect::<Vec<u32>>()
        }
    };
    // Which ones the facts answered: only those with facts that keep every field asked.
    let answered = |needles: Vec<(SearchedHeader, &str)>| {
        let needles: Vec<(SearchedHeader, String)> = needles.into_iter().map(|(h, n)| (h, n.to_string())).collect();
        async move {
            let found = store.meta.header_candidates(inbox.id, 4, &needles).await.unwrap();
            found.into_iter().filter(|(_, answered)| *answered).map(|(uid, _)| uid).collect::<Vec<u32>>()
        }
    };
    assert_eq!(answered(vec![(SearchedHeader::Subject, "ordonn")]).await, [1]);
    assert_eq!(answered(vec![(SearchedHeader::Subject, "n")]).await, [1, 2]);
    assert_eq!(answered(vec![(SearchedHeader::Subject, "n"), (SearchedHeader::Bcc, "")]).await, Vec::<u32>::new());
    // What may match, and every message whose facts do not say.
    assert_eq!(candidates(vec![(SearchedHeader::Subject, "ordonn")]).await, [1, 3, 4, 5]);
    assert_eq!(candidates(vec![(SearchedHeader::Subject, "bilan")]).await, [2, 3, 4, 5]);
    // Every needle must be found; a field the facts do not keep keeps all.
    let both = vec![(SearchedHeader::Subject, "ordonn"), (SearchedHeader::To, "bob@")];
    assert_eq!(candidates(both).await, [1, 3, 4, 5]);
    assert_eq!(candidates(vec![(SearchedHeader::Bcc, "zzz")]).await, [1, 2, 3, 4, 5]);
    assert_eq!(candidates(vec![(SearchedHeader::Cc, "a")]).await, [3, 4, 5]);
    assert_eq!(candidates(vec![(SearchedHeader::From, "\"dr. alice")]).await, [1, 2, 3, 4, 5]);
    assert_eq!(candidates(vec![]).await, [1, 2, 3, 4, 5]);

    // One read of the whole folder for SORT: columns of the version asked
    // for, the texts asked for only.
    let subjects = SortTexts { subject: true, ..SortTexts::default() };
    let rows = store.meta.sort_rows(inbox.id, 4, subjects).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.uid).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    let subject_of = |r: &SortedMessage| r.facts.as_ref().and_then(|f| f.subject.clone());
    let read: Vec<Option<String>> = rows.iter().map(subject_of).collect();
    let expected = [Some("Ordonnance"), Some("Bilan"), None, None, Some("ordonnance")];
    assert_eq!(read, expected.map(|s| s.map(str::to_string)));
    assert!(!rows[4].facts.as_ref().unwrap().header && rows[0].facts.as_ref().unwrap().header);
    let first = rows[0].facts.as_ref().unwrap();
    assert_eq!((first.sent_at, first.from_address.as_ref()), (Some(1_715_671_800), None), "the date, not the sender");
    assert_eq!((rows[2].size, rows[2].received_at > 0), (raws[2].len() as u64, true));
    let older = store.meta.sort_rows(inbox.id, 3, SortTexts::default()).await.unwrap();
    assert!(older[3].facts.is_some());
}

/// The same document in two messages, and a later one replacing it, are
/// found by id in the mailbox holding them, not in another; rewritten
/// facts replace their documents, and they go with their facts.
pub async fn documents_are_found_by_id_and_by_what_they_replace(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let other = store.meta.create_mailbox(&person("bob@pharma.test", "10000013994")).await.unwrap();
    let with = |raw: &[u8], subject: &str, documents: &[(&str, Option<&str>)]| MessageFacts {
        documents: documents
            .iter()
            .map(|(id, replaces)| DocumentKey { id: id.to_string(), replaces: replaces.map(str::to_string) })
            .collect(),
        ..facts_of(raw, 1, subject)
    };
    let (first, twice, newer) =
        (&b"Subject: cr\r\n\r\n1\r\n"[..], &b"Subject: cr\r\n\r\n2\r\n"[..], &b"Subject: cr v2\r\n\r\n3\r\n"[..]);
    let here = [Placement::inbox(m.id)];
    store.deliver_indexed(first, &here, Some(with(first, "cr", &[("1.2.3^A1", None)]))).await.unwrap();
    store.deliver_indexed(twice, &here, Some(with(twice, "cr", &[("1.2.3^A1", None)]))).await.unwrap();
    let replacing = with(newer, "cr v2", &[("1.2.3^A2", Some("1.2.3^A1"))]);
    store.deliver_indexed(newer, &here, Some(replacing)).await.unwrap();
    let elsewhere = b"Subject: cr\r\n\r\n4\r\n";
    let facts = Some(with(elsewhere, "cr", &[("1.2.3^A1", None)]));
    store.deliver_indexed(elsewhere, &[Placement::inbox(other.id)], facts).await.unwrap();

    let found = store.meta.document_copies(m.id, &["1.2.3^A1".into()]).await.unwrap();
    let seen: Vec<(&str, Option<&str>, u32)> =
        found.iter().map(|c| (c.document_id.as_str(), c.replaces.as_deref(), c.uid)).collect();
    assert_eq!(seen, [("1.2.3^A1", None, 1), ("1.2.3^A1", None, 2), ("1.2.3^A2", Some("1.2.3^A1"), 3)]);
    assert!(found.iter().all(|c| c.folder == INBOX));
    assert!(store.meta.document_copies(m.id, &["9.9^Z".into()]).await.unwrap().is_empty());

    // Facts written again (a newer version) say the documents again.
    let rewritten = MessageFacts { version: 2, documents: Vec::new(), ..with(twice, "cr", &[]) };
    store.meta.put_facts(&[rewritten]).await.unwrap();
    assert_eq!(store.meta.document_copies(m.id, &["1.2.3^A1".into()]).await.unwrap().len(), 2);
    // Expunged and collected: gone.
    let folder = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    store.meta.set_flags(folder.id, &[1, 2, 3], FlagChange::Add, &["\\Deleted".into()], None).await.unwrap();
    store.meta.expunge(folder.id, None).await.unwrap();
    store.collect_blobs(Duration::ZERO).await.unwrap();
    assert!(store.meta.document_copies(m.id, &["1.2.3^A1".into()]).await.unwrap().is_empty());
    assert_eq!(store.meta.document_copies(other.id, &["1.2.3^A1".into()]).await.unwrap().len(), 1);
}
