//! A folder's list from the index: sorted, paged and searched by the
//! backend, messages without facts still listed.

use std::collections::HashMap;
use std::time::Duration;

use mss_store::*;

use crate::support::person;

/// A message from `sender` about `subject`, its facts (text: `body`) as a
/// caller would compute them.
fn message(n: u32, sender: &str, subject: &str, body: &str) -> (Vec<u8>, MessageFacts) {
    let raw = format!("Subject: {subject}\r\nX-N: {n}\r\n\r\n{body}\r\n").into_bytes();
    let fold = |s: &str| s.to_lowercase().replace('é', "e");
    let facts = MessageFacts {
        blob: BlobHash::of(&raw),
        version: 1,
        encoded: b"{}".to_vec(),
        columns: FactColumns {
            sent_at: Some(1_715_671_800 + i64::from(n)),
            subject: Some(subject.into()),
            from_name: Some(sender.into()),
            from_address: Some("x@pharma.test".into()),
            sender_key: fold(sender),
            subject_key: fold(subject),
            imap_subject_key: Some(subject.to_ascii_uppercase()),
            imap_from_key: Some(sender.to_ascii_uppercase()),
            ..FactColumns::default()
        },
        text: IndexedText::of(&format!("{subject}\n{sender}\n{body}")),
        searched: Default::default(),
        documents: Vec::new(),
    };
    (raw, facts)
}

fn query(order: ListOrder, descending: bool, offset: u64, limit: u32, search: Option<&str>) -> PageQuery {
    PageQuery { order, descending, offset, limit, search: search.map(str::to_string) }
}

fn uids(page: &FolderPage) -> Vec<u32> {
    page.messages.iter().map(|m| m.meta.uid).collect()
}

pub async fn a_folder_is_listed_sorted_and_paged_from_the_index(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let senders = ["Bruno", "Élodie", "alice", "Denis", "Céline"];
    for (i, sender) in senders.iter().enumerate() {
        let (raw, facts) = message(i as u32, sender, &format!("Objet {}", 5 - i), "corps");
        store.deliver_indexed(&raw, &[Placement::inbox(m.id)], Some(facts)).await.unwrap();
    }
    // Stored before facts existed: listed all the same, last by sender.
    store.deliver(b"Subject: ancien\r\n\r\nsans faits\r\n", &[m.id]).await.unwrap();
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    store.meta.set_flags(inbox.id, &[2], FlagChange::Add, &["\\Seen".into()], None).await.unwrap();

    let newest = store.meta.folder_page(inbox.id, &query(ListOrder::Arrival, true, 0, 4, None)).await.unwrap();
    assert_eq!((newest.total, uids(&newest)), (6, vec![6, 5, 4, 3]));
    assert_eq!(newest.messages[0].columns, None, "no facts: listed without columns");
    let next = store.meta.folder_page(inbox.id, &query(ListOrder::Arrival, true, 4, 4, None)).await.unwrap();
    assert_eq!((next.total, uids(&next)), (6, vec![2, 1]));
    assert!(next.messages[0].meta.has_flag("\\Seen") && !next.messages[1].meta.has_flag("\\Seen"));
    assert_eq!(next.messages[1].columns.as_ref().unwrap().subject.as_deref(), Some("Objet 5"));
    let beyond = store.meta.folder_page(inbox.id, &query(ListOrder::Arrival, false, 10, 4, None)).await.unwrap();
    assert_eq!((beyond.total, beyond.messages.len()), (6, 0));

    // By sender, case and accents folded by the writer: alice, Bruno, Céline, Denis, Élodie.
    let by_sender = store.meta.folder_page(inbox.id, &query(ListOrder::Sender, false, 0, 10, None)).await.unwrap();
    assert_eq!(uids(&by_sender), [6, 3, 1, 5, 4, 2]);
    let by_subject = store.meta.folder_page(inbox.id, &query(ListOrder::Subject, true, 0, 2, None)).await.unwrap();
    assert_eq!((by_subject.total, uids(&by_subject)), (6, vec![1, 2]));

    // The total is the count kept on the folder's row: it follows an
    // expunge, and a folder that is gone has none.
    store.meta.set_flags(inbox.id, &[3], FlagChange::Add, &["\\Deleted".into()], None).await.unwrap();
    store.meta.expunge(inbox.id, None).await.unwrap();
    let after = store.meta.folder_page(inbox.id, &query(ListOrder::Arrival, true, 0, 10, None)).await.unwrap();
    assert_eq!((after.total, uids(&after)), (5, vec![6, 5, 4, 2, 1]));
    let gone = store.meta.create_folder(m.id, "Ancien").await.unwrap();
    store.meta.delete_folder(m.id, "Ancien").await.unwrap();
    let page = store.meta.folder_page(gone.id, &query(ListOrder::Arrival, true, 0, 10, None)).await.unwrap();
    assert_eq!((page.total, page.messages.len()), (0, 0));
}

pub async fn a_search_matches_every_word_whatever_the_accents_and_case(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let messages = [
        message(1, "Dr Martin", "Renouvellement", "Votre Ordonnance est prête à la Pharmacie du centre."),
        message(2, "Labo", "Résultats", "Glycémie normale, ordonnance inchangée."),
        message(3, "Dr Martin", "Rendez-vous", "Passez au cabinet."),
        // A long report: its words are each found, however often repeated.
        message(4, "CHU", "Compte-rendu", &format!("{}Cœur et Œdème.", "Bilan sanguin normal. ".repeat(5_000))),
    ];
    for (raw, facts) in &messages {
        store.deliver_indexed(raw, &[Placement::inbox(m.id)], Some(facts.clone())).await.unwrap();
    }
    store.deliver(b"Subject: ordonnance\r\n\r\nsans faits\r\n", &[m.id]).await.unwrap();
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    let found = async |search: &str| {
        let page = store.meta.folder_page(inbox.id, &query(ListOrder::Arrival, false, 0, 10, Some(search))).await;
        let page = page.unwrap();
        assert_eq!(page.total as usize, page.messages.len(), "{search}");
        uids(&page)
    };
    assert_eq!(found("ordonnance").await, [1, 2], "not the message without facts");
    assert_eq!(found("ORDONNANCE pharmacie").await, [1], "every word");
    assert_eq!(found("prete PHARMACIE").await, [1], "accents and case ignored");
    assert_eq!(found("glycemie resultats").await, [2]);
    assert_eq!(found("martin rend").await, [3], "the last word as a prefix");
    assert_eq!(found("pharm ordonnance").await, Vec::<u32>::new(), "only the last word is a prefix");
    assert_eq!(found("« ordo »").await, [1, 2], "punctuation separates words");
    assert_eq!(found("introuvable").await, Vec::<u32>::new());
    assert_eq!(found("coeur oedeme").await, [4], "ligatures as two letters, past a long text");
    assert_eq!(found("Œdème cœur").await, [4], "on both sides");
    assert_eq!(found("sanguin bil").await, [4]);
    let all = store.meta.folder_page(inbox.id, &query(ListOrder::Arrival, false, 0, 10, Some(" ?! "))).await.unwrap();
    assert_eq!(all.total, 5, "no word: no search");
    let paged = query(ListOrder::Arrival, true, 1, 1, Some("ordonnance"));
    let page = store.meta.folder_page(inbox.id, &paged).await.unwrap();
    assert_eq!((page.total, uids(&page)), (2, vec![1]));
    // Past the matches: none listed, the count still said.
    let past = query(ListOrder::Sender, false, 5, 1, Some("ordonnance"));
    let page = store.meta.folder_page(inbox.id, &past).await.unwrap();
    assert_eq!((page.total, page.messages.len()), (2, 0));

    // Facts written again replace the text; expunged, the text goes too.
    let (raw, mut facts) = messages[0].clone();
    facts.version = 2;
    facts.text = IndexedText::of("Renouvellement refait");
    assert_eq!(store.meta.put_facts(&[facts]).await.unwrap(), 1);
    assert_eq!(found("pharmacie").await, Vec::<u32>::new());
    assert_eq!(found("refait").await, [1]);
    store.meta.set_flags(inbox.id, &[1, 2, 3, 4, 5], FlagChange::Add, &["\\Deleted".into()], None).await.unwrap();
    store.meta.expunge(inbox.id, None).await.unwrap();
    store.collect_blobs(Duration::ZERO).await.unwrap();
    store.deliver(&raw, &[m.id]).await.unwrap();
    assert_eq!(found("refait").await, Vec::<u32>::new());
    let facts = MessageFacts { text: IndexedText::of("Nouveau texte"), ..messages[0].1.clone() };
    assert_eq!(store.meta.put_facts(&[facts]).await.unwrap(), 1);
    assert_eq!(found("nouveau").await, [6]);
    assert!(store.meta.facts(inbox.id, &[6]).await.unwrap()[0].1.text.is_empty(), "the text is not given back");
}

pub async fn the_sort_keys_of_a_folder_follow_the_facts_of_its_messages(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let (bruno, bruno_facts) = message(1, "Bruno", "Objet", "corps");
    let (alice, alice_facts) = message(2, "alice", "Objet", "corps");
    // Bruno's message arrives without facts; Alice's with.
    store.deliver(&bruno, &[m.id]).await.unwrap();
    store.deliver_indexed(&alice, &[Placement::inbox(m.id)], Some(alice_facts)).await.unwrap();
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    let by_sender = |folder: FolderId, descending: bool| async move {
        uids(&store.meta.folder_page(folder, &query(ListOrder::Sender, descending, 0, 10, None)).await.unwrap())
    };
    assert_eq!(by_sender(inbox.id, false).await, [1, 2], "without facts, first");
    // Its facts, written later, give it its key.
    store.meta.put_facts(std::slice::from_ref(&bruno_facts)).await.unwrap();
    assert_eq!(by_sender(inbox.id, false).await, [2, 1], "alice, Bruno");
    assert_eq!(by_sender(inbox.id, true).await, [1, 2]);
    // A copy keeps the keys; the same bytes delivered again take them.
    store.meta.create_folder(m.id, "Archives").await.unwrap();
    let archives = store.meta.folder(m.id, "Archives").await.unwrap().unwrap();
    store.meta.copy_messages(inbox.id, &[1, 2], archives.id).await.unwrap();
    assert_eq!(by_sender(archives.id, false).await, [2, 1]);
    store.deliver(&bruno, &[m.id]).await.unwrap();
    assert_eq!(by_sender(inbox.id, false).await, [2, 3, 1], "Bruno's two, newest first among equals");
    let newest = store.meta.folder_page(inbox.id, &query(ListOrder::Arrival, true, 0, 1, None)).await.unwrap();
    assert_eq!(uids(&newest), [3]);
    assert!(newest.messages[0].columns.is_some(), "the same bytes again: linked to their facts");
    // Facts of a newer version rewrite the keys of every copy.
    let renamed = MessageFacts {
        version: 2,
        columns: FactColumns { sender_key: "a".into(), ..bruno_facts.columns.clone() },
        ..bruno_facts
    };
    store.meta.put_facts(&[renamed]).await.unwrap();
    assert_eq!(by_sender(inbox.id, false).await, [3, 1, 2], "now before alice");
    assert_eq!(by_sender(archives.id, false).await, [1, 2]);
    // A body stored without facts, then delivered with them into two
    // folders: the earlier copy takes their keys, and so do the new ones.
    let (chloe, chloe_facts) = message(4, "Chloé", "Objet", "corps");
    store.deliver(&chloe, &[m.id]).await.unwrap();
    assert_eq!(by_sender(inbox.id, false).await, [4, 3, 1, 2], "without facts, first");
    let both = [Placement::inbox(m.id), Placement { mailbox: m.id, folder: "Archives".into() }];
    store.deliver_indexed(&chloe, &both, Some(chloe_facts)).await.unwrap();
    assert_eq!(by_sender(inbox.id, false).await, [3, 1, 2, 5, 4], "a, alice, then chloe's two");
    assert_eq!(by_sender(archives.id, false).await, [1, 2, 3]);
}

/// IMAP SORT SUBJECT / FROM of a whole folder from the keys on its rows:
/// by key, then by UID among equals (also when reversed); none while a
/// message has no key; copies and rewritten facts carry theirs.
pub async fn a_whole_folder_is_sorted_by_the_imap_keys_of_its_rows(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    // Sent at 1, 2, 3, 4 (after the epoch of `message`): 3 keeps no date.
    let parsed = |(raw, mut facts): (Vec<u8>, MessageFacts)| {
        facts.columns.header = true;
        (raw, facts)
    };
    let mut messages = [
        message(1, "bruno", "Objet B", "x"),
        message(2, "Alice", "Objet A", "x"),
        message(3, "bruno", "Objet A", "y"),
        message(4, "Chloé", "Objet C", "x"),
    ]
    .map(parsed);
    messages[0].1.columns.sent_at = Some(1_715_671_800 + 10);
    messages[2].1.columns.sent_at = None;
    for (raw, facts) in &messages[..3] {
        store.deliver_indexed(raw, &[Placement::inbox(m.id)], Some(facts.clone())).await.unwrap();
    }
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    let sorted = |folder, key, reverse| async move { store.meta.sorted_uids(folder, key, reverse).await.unwrap() };
    assert_eq!(sorted(inbox.id, ImapSortKey::From, false).await, Some(vec![2, 1, 3]), "ALICE, BRUNO by UID");
    assert_eq!(sorted(inbox.id, ImapSortKey::From, true).await, Some(vec![1, 3, 2]), "reversed, ties by UID");
    assert_eq!(sorted(inbox.id, ImapSortKey::Subject, false).await, Some(vec![2, 3, 1]));
    assert_eq!(sorted(inbox.id, ImapSortKey::Subject, true).await, Some(vec![1, 2, 3]), "B, then A's by UID");
    // By date: the Date, else the arrival (now, after every Date here).
    assert_eq!(sorted(inbox.id, ImapSortKey::Date, false).await, Some(vec![2, 1, 3]));
    assert_eq!(sorted(inbox.id, ImapSortKey::Date, true).await, Some(vec![3, 1, 2]));
    // A message without facts: the keys do not say.
    store.deliver(&messages[3].0, &[m.id]).await.unwrap();
    assert_eq!(sorted(inbox.id, ImapSortKey::From, false).await, None);
    store.meta.put_facts(std::slice::from_ref(&messages[3].1)).await.unwrap();
    assert_eq!(sorted(inbox.id, ImapSortKey::From, false).await, Some(vec![2, 1, 3, 4]));
    // Copies carry their keys; rewritten facts change them everywhere.
    store.meta.create_folder(m.id, "Archives").await.unwrap();
    let archives = store.meta.folder(m.id, "Archives").await.unwrap().unwrap();
    store.meta.copy_messages(inbox.id, &[1, 4], archives.id).await.unwrap();
    assert_eq!(sorted(archives.id, ImapSortKey::Subject, true).await, Some(vec![2, 1]), "C then B");
    let renamed = MessageFacts {
        version: 2,
        columns: FactColumns { imap_from_key: Some("AAA".into()), ..messages[3].1.columns.clone() },
        ..messages[3].1.clone()
    };
    store.meta.put_facts(&[renamed]).await.unwrap();
    assert_eq!(sorted(inbox.id, ImapSortKey::From, false).await, Some(vec![4, 2, 1, 3]));
    // Facts whose columns do not say (no key): the folder is read instead.
    let unsaid = MessageFacts {
        version: 3,
        columns: FactColumns { imap_from_key: None, ..messages[0].1.columns.clone() },
        ..messages[0].1.clone()
    };
    store.meta.put_facts(&[unsaid]).await.unwrap();
    assert_eq!(sorted(archives.id, ImapSortKey::From, false).await, None);
    let unparsed = MessageFacts {
        version: 4,
        columns: FactColumns { header: false, ..messages[1].1.columns.clone() },
        ..messages[1].1.clone()
    };
    store.meta.put_facts(&[unparsed]).await.unwrap();
    assert_eq!(sorted(inbox.id, ImapSortKey::Date, false).await, None, "a header that did not parse has no date");
    assert_eq!(sorted(archives.id, ImapSortKey::Subject, false).await, Some(vec![1, 2]));
}

/// A folder's sort index is built once the folder is sorted, in batches,
/// while deliveries go on (`mss_store::sort_index`): the folder sorts the
/// same before, during and after, a message delivered during the marking
/// included, by IMAP SORT and by the webmail's sorted pages alike.
pub async fn a_folder_sorts_the_same_before_during_and_after_its_sort_index(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    let senders = ["Bruno", "alice", "Chloé", "Denis", "Élodie", "bruno"];
    let parsed = |n: u32| {
        let (raw, mut facts) =
            message(n, senders[n as usize % senders.len()], &format!("Objet {}", (n * 7) % 13), "corps");
        facts.columns.header = true;
        (raw, facts)
    };
    // More than one batch of marking (5,000 rows).
    let (mut appended, mut all_facts) = (Vec::new(), Vec::new());
    for n in 0..5_100 {
        let (raw, facts) = parsed(n);
        let body = store.body(Bytes::from(raw.clone())).await.unwrap();
        let (size, flags) = (raw.len() as u64, vec![]);
        appended.push(Appended { blob: body.hash, size, received_at: 1, flags, inline: body.inline });
        all_facts.push(facts);
    }
    let (_, appended_uids) = store.meta.append_indexed(inbox.id, &appended, &all_facts).await.unwrap();
    let mut keyed: Vec<(u32, FactColumns)> =
        appended_uids.iter().copied().zip(all_facts.into_iter().map(|f| f.columns)).collect();

    // The expected orders, from the keys: RFC 5256 breaks ties by UID, also
    // when reversed; the webmail lists the newest first among equals.
    let imap_order = |keyed: &[(u32, FactColumns)], key: ImapSortKey, reverse: bool| {
        let text = |c: &FactColumns| match key {
            ImapSortKey::Subject => c.imap_subject_key.clone().unwrap(),
            ImapSortKey::From => c.imap_from_key.clone().unwrap(),
            ImapSortKey::Date => format!("{:020}", c.sent_at.unwrap()),
        };
        let mut rows: Vec<(String, u32)> = keyed.iter().map(|(uid, c)| (text(c), *uid)).collect();
        rows.sort_by(|a, b| if reverse { b.0.cmp(&a.0).then(a.1.cmp(&b.1)) } else { a.cmp(b) });
        rows.into_iter().map(|(_, uid)| uid).collect::<Vec<u32>>()
    };
    let page_order = |keyed: &[(u32, FactColumns)]| {
        let mut rows: Vec<(String, u32)> = keyed.iter().map(|(uid, c)| (c.sender_key.clone(), *uid)).collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        rows.into_iter().map(|(_, uid)| uid).take(60).collect::<Vec<u32>>()
    };
    let sorts_as_expected = async |folder: FolderId, keyed: &[(u32, FactColumns)], when: &str| {
        for key in [ImapSortKey::Subject, ImapSortKey::From, ImapSortKey::Date] {
            for reverse in [false, true] {
                let sorted = store.meta.sorted_uids(folder, key, reverse).await.unwrap();
                assert_eq!(sorted, Some(imap_order(keyed, key, reverse)), "{when}: {key:?}, reverse {reverse}");
            }
        }
        let page = store.meta.folder_page(folder, &query(ListOrder::Sender, false, 0, 60, None)).await.unwrap();
        assert_eq!((page.total as usize, uids(&page)), (keyed.len(), page_order(keyed)), "{when}: by sender");
    };

    // Marked step by step: a message delivered between two batches is
    // written marked, and sorted with the others once the index serves.
    assert_eq!(store.meta.mark_sorted_rows(inbox.id, None).await.unwrap(), Some(0));
    let first = store.meta.mark_sorted_rows(inbox.id, Some(0)).await.unwrap();
    assert_eq!(first, Some(appended_uids[4_999]), "a batch of 5,000, by UID");
    let (raw, facts) = parsed(5_100);
    let delivered = store.deliver_indexed(&raw, &[Placement::inbox(m.id)], Some(facts.clone())).await.unwrap();
    keyed.push((delivered.copies[0].uid, facts.columns));
    let mut step = first;
    while let Some(after) = step {
        step = store.meta.mark_sorted_rows(inbox.id, Some(after)).await.unwrap();
    }
    assert_eq!(store.meta.mark_sorted_rows(inbox.id, None).await.unwrap(), None, "indexed already");
    sorts_as_expected(inbox.id, &keyed, "indexed").await;
    // Delivered once indexed: marked too.
    let (raw, facts) = parsed(5_101);
    let delivered = store.deliver_indexed(&raw, &[Placement::inbox(m.id)], Some(facts.clone())).await.unwrap();
    keyed.push((delivered.copies[0].uid, facts.columns));
    sorts_as_expected(inbox.id, &keyed, "indexed, then a delivery").await;

    // A copy of every message in another folder, never sorted: the same
    // orders from its rows (its marking starting in the background), then
    // from its index; and in a third, whose marking stopped after a batch
    // (a stop): the same, before and after the rest of it.
    for name in ["Archives", "Dossier"] {
        let folder = store.meta.create_folder(m.id, name).await.unwrap();
        let all: Vec<u32> = keyed.iter().map(|(uid, _)| *uid).collect();
        let copied = store.meta.copy_messages(inbox.id, &all, folder.id).await.unwrap();
        let renamed: HashMap<u32, u32> = copied.pairs.into_iter().collect();
        let copies: Vec<(u32, FactColumns)> = keyed.iter().map(|(uid, c)| (renamed[uid], c.clone())).collect();
        if name == "Dossier" {
            assert_eq!(store.meta.mark_sorted_rows(folder.id, None).await.unwrap(), Some(0));
            assert_eq!(store.meta.mark_sorted_rows(folder.id, Some(0)).await.unwrap(), Some(copies[4_999].0));
        }
        sorts_as_expected(folder.id, &copies, name).await;
        store.meta.index_sort_keys(folder.id).await.unwrap();
        assert_eq!(store.meta.mark_sorted_rows(folder.id, None).await.unwrap(), None, "indexed");
        sorts_as_expected(folder.id, &copies, &format!("{name}, indexed")).await;
    }
    assert_eq!(store.meta.mark_sorted_rows(FolderId::MAX, None).await.unwrap(), None, "no such folder");
}

/// A folder's writers at once: its marking for the sort indexes, facts
/// written for its messages (a backfill, in the reverse of the folder's
/// order), a client flagging every message and another expunging two. Each
/// locks the rows it
/// writes in the same order (the folder's row first, then its messages by
/// UID): none waits for another in a circle, none is refused for it.
pub async fn a_folder_marked_and_backfilled_while_flagged_never_deadlocks(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let mut blobs = Vec::new();
    for n in 0..40u32 {
        let (raw, _) = message(n, "Bruno", &format!("Objet {n}"), "corps");
        blobs.push((n, BlobHash::of(&raw)));
        store.deliver(&raw, &[m.id]).await.unwrap();
    }
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    let all: Vec<u32> = (1..=40).collect();
    for round in 0..25u32 {
        let folder = store.meta.create_folder(m.id, &format!("Dossier {round}")).await.unwrap();
        store.meta.copy_messages(inbox.id, &all, folder.id).await.unwrap();
        // Newer facts each round, their sort keys changed: every folder row
        // of each message is written again.
        let facts: Vec<MessageFacts> = blobs
            .iter()
            .rev()
            .map(|&(n, blob)| {
                let (_, mut facts) = message(n, &format!("Denis {round}"), &format!("Objet {n} {round}"), "corps");
                (facts.blob, facts.version) = (blob, round + 1);
                facts
            })
            .collect();
        let doomed = [round + 3, 38 - round];
        store.meta.set_flags(folder.id, &doomed, FlagChange::Add, &["\\Deleted".into()], None).await.unwrap();
        let flag = [format!("$tour{round}")];
        let (marked, backfilled, flagged, flagged_inbox, expunged) = tokio::join!(
            store.meta.index_sort_keys(folder.id),
            store.meta.put_facts(&facts),
            store.meta.set_flags(folder.id, &all, FlagChange::Add, &flag, None),
            store.meta.set_flags(inbox.id, &all, FlagChange::Add, &flag, None),
            store.meta.expunge(folder.id, None),
        );
        marked.unwrap_or_else(|e| panic!("round {round}: marking: {e}"));
        assert_eq!(backfilled.unwrap_or_else(|e| panic!("round {round}: facts: {e}")), 40);
        flagged.unwrap_or_else(|e| panic!("round {round}: flags of the folder: {e}"));
        let flagged_inbox = flagged_inbox.unwrap_or_else(|e| panic!("round {round}: flags of the INBOX: {e}"));
        assert_eq!(flagged_inbox.changed.len(), 40, "round {round}");
        expunged.unwrap_or_else(|e| panic!("round {round}: expunge: {e}"));
        let left = store.meta.messages(folder.id, &all).await.unwrap();
        assert_eq!(left.len(), 38, "round {round}");
        assert!(left.iter().all(|m| m.has_flag(&flag[0]) && !doomed.contains(&m.uid)), "round {round}");
    }
}
