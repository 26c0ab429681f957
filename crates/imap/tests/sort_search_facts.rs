//! SORT and SEARCH answered from the facts stored with each message
//! (issue 14): the same responses as from the messages themselves, whether
//! no message, some or all have facts, and the header keys and sort values
//! still answered with the messages' bytes gone.

mod support;

use mss_core::MailboxKind;
use mss_imap::Limits;
use support::*;

const ALICE: &str = "alice.martin@ours.test";

/// A mailbox's worth of varied mail: encoded and reply subjects, groups,
/// comments, quoted names, missing and invalid dates, two From or two
/// Subject fields, 8-bit headers, no header at all, and a MIME tree only a
/// header parse reads.
fn mails() -> Vec<Vec<u8>> {
    let mails: [&[u8]; 14] = [
        b"From: \"Dr. Alice Martin\" <Alice.Martin@pharma.mssante.fr>\r\n\
          To: 279035121518989@patient.mssante.fr, Equipe: bob@cabinet.mssante.fr;\r\n\
          Cc: carol@labo.mssante.fr (Carol, laboratoire)\r\n\
          Subject: =?UTF-8?Q?R=C3=A9sultats?=\r\nDate: Tue, 14 May 2024 09:30:00 +0200\r\n\
          Content-Type: text/plain\r\n\r\nPour info, glycemie normale.\r\n",
        b"From: labo@labo.mssante.fr\r\nTo: Alice <alice.martin@ours.test>\r\n\
          Subject: Re: [labo] Fwd: resultats (fwd)\r\nDate: Mon, 13 May 2024 23:30:00 -0200\r\n\r\nVoir.\r\n",
        b"From: <a@ours.test>\r\nFrom: <b@ours.test>\r\nTo: zed@ours.test\r\nSubject: two\r\n\
          Subject: second subject\r\nDate: Wed, 15 May 2024 08:00:00 +0000\r\n\r\nx\r\n",
        b"From: Bob <bob@cabinet.mssante.fr>\r\nTo: undisclosed-recipients:;\r\n\
          Bcc: secret@ours.test\r\nSubject: no date\r\n\r\nordonnance jointe\r\n",
        b"From: Carol <carol@labo.mssante.fr>\r\nTo: \"Martin, Alice\" <alice.martin@ours.test>\r\n\
          Subject: [fwd: Ordonnance]\r\nDate: 99 Foo 99999 99:99:99 +9999\r\n\r\nbody\r\n",
        b"Subject: bare\r\n\r\nline one\nline two",
        b"garbage without any structure",
        b"",
        b"From: \xc3\xa9lodie <elodie@ours.test>\r\nTo: m\xc3\xa9decin@ours.test\r\nSubject: caf\xc3\xa9 \xff\r\n\
          Date: Tue, 14 May 2024 09:30:00 +0200\r\n\r\n\xc3\xa9t\xc3\xa9\r\n",
        b"Subject: digest\r\nFrom: d@ours.test\r\nDate: Sun, 12 May 2024 10:00:00 +0000\r\n\
          Content-Type:multipart/digest;boundary=b\r\n\r\n--b\r\n\r\nContent-Type:message/rfc822\r\n\r\n\r\n--b--",
        b"From: x@ours.test\r\nTo: Equipe: ;, y@ours.test\r\nCc: =?utf-8?q?Z=C3=A9ro?= <zero@ours.test>\r\n\
          Subject:\r\nX-Custom: ordonnance\r\n\r\n",
        b"\r\n\r\nonly a body",
        b"From: Dr Alice Martin <alice.martin@ours.test>\r\nTo: pharmacie@ours.test\r\nSubject: Ordonnance\r\n\
          Date: Thu, 26 Nov 2026 10:00:00 +0100\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
          Content-Type: text/plain\r\n\r\nParacetamol 1g\r\n--b\r\nContent-Type: application/pdf\r\n\
          Content-Disposition: attachment; filename=\"ordonnance.pdf\"\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
        b"To: (nobody)\r\nCc: ,,\r\nSubject: =?utf-8?b?invalid?=\r\nDate: Tue, 14 May 2024 23:59:59 -1200\r\n\r\n",
    ];
    mails.iter().map(|m| m.to_vec()).collect()
}

/// SORT criteria and the search keys that select.
const SORTS: &[&str] = &[
    "SORT (ARRIVAL) UTF-8 ALL",
    "SORT (SIZE) UTF-8 ALL",
    "SORT (DATE) UTF-8 ALL",
    "SORT (REVERSE DATE) UTF-8 ALL",
    "SORT (SUBJECT) UTF-8 ALL",
    "SORT (REVERSE SUBJECT ARRIVAL) UTF-8 ALL",
    "SORT (TO) UTF-8 ALL",
    "SORT (CC DATE) UTF-8 ALL",
    "SORT (DISPLAYTO) UTF-8 ALL",
    "SORT (FROM) UTF-8 ALL",
    "SORT (DISPLAYFROM SUBJECT) UTF-8 ALL",
    "SORT (SUBJECT) UTF-8 SUBJECT ordonnance",
    "SORT (DATE) UTF-8 SENTSINCE 14-May-2024",
    "UID SORT (REVERSE TO) UTF-8 OR FROM alice CC carol",
    "SORT (SUBJECT) UTF-8 BODY ordonnance",
];

const SEARCHES: &[&str] = &[
    "SEARCH SUBJECT sultats",
    "SEARCH SUBJECT ordonnance",
    "SEARCH SUBJECT \"second\"",
    "SEARCH FROM alice",
    "SEARCH FROM \"\\\"Dr\"",
    "SEARCH FROM \"<b@\"",
    "SEARCH TO equipe",
    "SEARCH TO \"martin, alice\"",
    "SEARCH CC laboratoire",
    "SEARCH CC zero",
    "SEARCH BCC secret",
    "SEARCH HEADER Subject \"\"",
    "SEARCH HEADER FROM \"\"",
    "SEARCH HEADER cc \"\"",
    "SEARCH HEADER X-Custom ordonnance",
    "SEARCH HEADER Date 2024",
    "SEARCH SENTBEFORE 14-May-2024",
    "SEARCH SENTON 14-May-2024",
    "SEARCH SENTON 15-May-2024",
    "SEARCH SENTSINCE 14-May-2024",
    "SEARCH NOT SENTSINCE 1-Jan-2000",
    "SEARCH OR SUBJECT two TO pharmacie",
    "SEARCH NOT FROM ours.test",
    "SEARCH SUBJECT ordonnance BODY paracetamol",
    "SEARCH BODY ordonnance",
    "SEARCH TEXT ordonnance",
    "UID SEARCH LARGER 40 FROM labo",
];

/// The untagged responses of every command, in order.
async fn answers(c: &mut TlsClient, commands: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for command in commands {
        let response = c.cmd(command).await;
        assert!(response.ok(), "{command}: {response:?}");
        out.push(format!("{command} -> {}", response.untagged.trim_end()));
    }
    out
}

#[tokio::test]
async fn sort_and_search_from_facts_are_what_the_messages_say() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let mails = mails();
    for raw in &mails {
        // As an older mss stored them: without facts.
        site.store.deliver(raw, &[alice]).await.unwrap();
    }
    let commands: Vec<&str> = SORTS.iter().chain(SEARCHES).copied().collect();
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    let parsed = answers(&mut c, &commands).await;
    // Facts for every other message, then for all: the same answers.
    let facts: Vec<_> = mails.iter().map(|raw| mss_message::stored(raw)).collect();
    let halves: Vec<_> = facts.iter().step_by(2).cloned().collect();
    site.store.meta.put_facts(&halves).await.unwrap();
    assert_eq!(answers(&mut c, &commands).await, parsed);
    site.store.meta.put_facts(&facts).await.unwrap();
    let stored = answers(&mut c, &commands).await;
    assert_eq!(stored, parsed);
    // The header keys and the sort values the facts hold need no message.
    let from_facts: Vec<&str> = commands
        .iter()
        .copied()
        .filter(|c| !["FROM)", "DISPLAYFROM", "BODY", "TEXT", "X-Custom", "Date"].iter().any(|k| c.contains(k)))
        .collect();
    let before = answers(&mut c, &from_facts).await;
    // A message that does not parse (the digest) is read whatever its facts.
    for f in facts.iter().filter(|f| mss_message::stored::decode(f).is_some_and(|f| f.has_header())) {
        site.store.blobs.delete(&f.blob).await.unwrap();
    }
    assert_eq!(answers(&mut c, &from_facts).await, before);
    // Without its bytes, a message the facts cannot answer for matches nothing.
    let gone = c.cmd("SEARCH BODY ordonnance").await;
    assert_eq!(gone.untagged.trim_end(), "* SEARCH");
}

/// SORT of a whole folder whose messages all have facts from a parsed
/// header reads only their columns ([`mss_store::FactsStore::sort_rows`]):
/// the same orders as the messages give, and without the messages' bytes.
#[tokio::test]
async fn sort_of_a_whole_folder_from_the_columns_is_what_the_messages_say() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let mut mails: Vec<Vec<u8>> = mails().into_iter().filter(|raw| mss_message::Facts::of(raw).has_header()).collect();
    assert!(mails.len() >= 10, "most of the varied mail parses");
    // A quoted recipient address may hold the columns' separator: SORT
    // (TO) then reads the facts instead.
    mails.push(b"From: q@ours.test\r\nTo: \"a, b\"@ours.test\r\nSubject: q\r\n\r\nx\r\n".to_vec());
    for raw in &mails {
        site.store.deliver(raw, &[alice]).await.unwrap();
    }
    let whole: Vec<&str> = SORTS.iter().copied().filter(|c| c.ends_with(" ALL")).collect();
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    let parsed = answers(&mut c, &whole).await;
    let facts: Vec<_> = mails.iter().map(|raw| mss_message::stored(raw)).collect();
    site.store.meta.put_facts(&facts).await.unwrap();
    assert_eq!(answers(&mut c, &whole).await, parsed);
    // Those the columns answer need no message at all.
    let by_columns: Vec<&str> =
        whole.iter().copied().filter(|c| !["FROM", "DISPLAY", "TO", "CC"].iter().any(|k| c.contains(k))).collect();
    assert!(by_columns.len() >= 5, "{by_columns:?}");
    let before = answers(&mut c, &by_columns).await;
    for f in &facts {
        site.store.blobs.delete(&f.blob).await.unwrap();
    }
    assert_eq!(answers(&mut c, &by_columns).await, before);
}

/// SORT of a whole folder by SUBJECT, FROM or DATE alone when every message has
/// its keys ([`mss_store::FactsStore::sorted_uids`], read from an index):
/// the same orders, ties and reversals as the messages give.
#[tokio::test]
async fn sort_by_the_keys_of_the_folder_rows_is_what_the_messages_say() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let keyed = |raw: &Vec<u8>| {
        let columns = mss_message::stored(raw).columns;
        columns.imap_subject_key.is_some() && columns.imap_from_key.is_some()
    };
    let mut mails: Vec<Vec<u8>> = mails().into_iter().filter(keyed).collect();
    // Ties: the same subject and author again, decided by sequence.
    mails.extend(mails.clone());
    assert!(mails.len() >= 12, "{}", mails.len());
    for raw in &mails {
        site.store.deliver(raw, &[alice]).await.unwrap();
    }
    let commands = [
        "SORT (DATE) UTF-8 ALL",
        "UID SORT (REVERSE DATE) UTF-8 ALL",
        "SORT (SUBJECT) UTF-8 ALL",
        "SORT (REVERSE SUBJECT) UTF-8 ALL",
        "UID SORT (FROM) UTF-8 ALL",
        "SORT (REVERSE FROM) UTF-8 ALL",
    ];
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    let parsed = answers(&mut c, &commands).await;
    let facts: Vec<_> = mails.iter().map(|raw| mss_message::stored(raw)).collect();
    site.store.meta.put_facts(&facts).await.unwrap();
    let inbox = site.store.meta.folder(alice, "INBOX").await.unwrap().unwrap();
    let by_index = site.store.meta.sorted_uids(inbox.id, mss_store::ImapSortKey::From, false).await.unwrap();
    assert!(by_index.is_some(), "every row has its keys");
    assert_eq!(answers(&mut c, &commands).await, parsed);
    // A message delivered since the session last looked is not numbered.
    site.store.deliver(&mails[0], &[alice]).await.unwrap();
    let response = c.cmd("UID SORT (FROM) UTF-8 ALL").await;
    let newest = (mails.len() + 1).to_string();
    let sorted: Vec<&str> = response.untagged.lines().next().unwrap_or_default().split(' ').collect();
    assert_eq!(sorted.len(), mails.len() + 2, "{sorted:?}");
    assert!(!sorted.contains(&newest.as_str()), "{sorted:?}");
    // Nor by a search by header texts alone (answered from the store's),
    // the first command after the delivery.
    let search_line = |response: Response| response.lines("SEARCH").concat();
    for search in ["UID SEARCH FROM alice", "SEARCH SUBJECT ordonnance FROM alice", "SEARCH TO alice"] {
        c.cmd("NOOP").await;
        let before = search_line(c.cmd(search).await);
        assert_ne!(before, "* SEARCH", "{search}: some messages match");
        site.store.deliver(&mails[1], &[alice]).await.unwrap();
        assert_eq!(search_line(c.cmd(search).await), before, "{search}: the new message is not numbered");
    }
}

/// A search naming many header keys: the store is given at most a few
/// (a hostile client could name more than one SQL statement binds), and
/// every key past them is still applied to each message.
#[tokio::test]
async fn a_search_with_many_header_keys_applies_every_one() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    for raw in mails() {
        let facts = mss_message::stored(&raw);
        site.store.deliver_indexed(&raw, &[mss_store::Placement::inbox(alice)], Some(facts)).await.unwrap();
    }
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    let many = |last: &str| format!("SEARCH {}SUBJECT {last}", "SUBJECT o ".repeat(40));
    let none = c.cmd(&many("nowhere")).await;
    assert!(none.ok(), "{none:?}");
    assert_eq!(none.untagged.trim_end(), "* SEARCH", "the 41st key, past those the store is given, is applied");
    let second = c.cmd(&many("second")).await;
    assert_eq!(second.untagged.trim_end(), "* SEARCH 3");
}

/// A search naming more keys than any client needs is refused with
/// `[LIMIT]` before a message is read, whether it would be answered by
/// flags alone, by headers or nested in OR and NOT; the session goes on.
#[tokio::test]
async fn a_search_naming_too_many_keys_is_refused_with_limit() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    for raw in mails() {
        let facts = mss_message::stored(&raw);
        site.store.deliver_indexed(&raw, &[mss_store::Placement::inbox(alice)], Some(facts)).await.unwrap();
    }
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    for too_many in [
        format!("SEARCH {}ALL", "SUBJECT o ".repeat(300)),
        format!("SEARCH {}SEEN", "UNSEEN ".repeat(300)),
        format!("SEARCH {}ALL", "OR NOT SEEN SUBJECT o ".repeat(100)),
        format!("UID SORT (SUBJECT) UTF-8 {}ALL", "FROM x ".repeat(300)),
    ] {
        let reply = c.cmd(&too_many).await;
        let status = reply.tagged.split_once(' ').map_or("", |(_, status)| status);
        assert!(status.starts_with("NO [LIMIT]"), "{too_many:.40}: {reply:?}");
        assert!(reply.untagged.is_empty(), "{reply:?}");
    }
    let allowed = c.cmd(&format!("SEARCH {}SUBJECT second", "SUBJECT o ".repeat(200))).await;
    assert_eq!(allowed.untagged.trim_end(), "* SEARCH 3", "{allowed:?}");
}
