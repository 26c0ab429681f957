//! Folders as IMAP uses them: hierarchy, UIDs, flags, MODSEQ, expunge
//! history and change notifications.

use mss_store::*;

use crate::support::person;

async fn mailbox(store: &Store) -> Mailbox {
    store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap()
}

async fn append(store: &Store, folder: &Folder, body: &[u8], flags: &[&str]) -> u32 {
    let stored = store.body(Bytes::copy_from_slice(body)).await.unwrap();
    let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    let message = Appended {
        blob: stored.hash,
        size: body.len() as u64,
        received_at: 1_700_000_000,
        flags,
        inline: stored.inline,
    };
    let (uidvalidity, uids) = store.meta.append(folder.id, &[message]).await.unwrap();
    assert_eq!(uidvalidity, folder.uidvalidity);
    uids[0]
}

pub async fn a_new_mailbox_has_inbox_and_the_special_use_folders(store: &Store) {
    let m = mailbox(store).await;
    let folders = store.meta.folders(m.id).await.unwrap();
    let names: Vec<(&str, Option<&str>)> =
        folders.iter().map(|f| (f.name.as_str(), f.special_use.as_deref())).collect();
    assert_eq!(
        names,
        [
            ("Archive", Some("\\Archive")),
            ("Drafts", Some("\\Drafts")),
            ("INBOX", None),
            ("Junk", Some("\\Junk")),
            ("Sent", Some("\\Sent")),
            ("Trash", Some("\\Trash"))
        ]
    );
    let mut validities: Vec<u32> = folders.iter().map(|f| f.uidvalidity).collect();
    validities.sort();
    validities.dedup();
    assert_eq!(validities.len(), folders.len(), "each folder its own UIDVALIDITY");
}

pub async fn folders_are_created_renamed_and_deleted_with_their_hierarchy(store: &Store) {
    let m = mailbox(store).await;
    let deep = store.meta.create_folder(m.id, "Projets/2026/Ordonnances").await.unwrap();
    assert!(store.meta.folder(m.id, "Projets").await.unwrap().is_some(), "parents are created");
    assert!(matches!(store.meta.create_folder(m.id, "Projets").await, Err(StoreError::AlreadyPresent(_))));
    append(store, &deep, b"Subject: a\r\n\r\nx", &[]).await;
    assert!(matches!(store.meta.delete_folder(m.id, "Projets").await, Err(StoreError::Invalid(_))));

    store.meta.rename_folder(m.id, "Projets", "Dossiers").await.unwrap();
    assert!(store.meta.folder(m.id, "Projets/2026/Ordonnances").await.unwrap().is_none());
    let moved = store.meta.folder(m.id, "Dossiers/2026/Ordonnances").await.unwrap().unwrap();
    assert_eq!(moved.id, deep.id);
    assert_eq!(moved.uidvalidity, deep.uidvalidity, "a rename keeps UIDVALIDITY");
    assert_eq!(store.meta.folder_uids(moved.id).await.unwrap(), [1]);
    assert!(matches!(store.meta.rename_folder(m.id, "Dossiers", "Dossiers/x").await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.meta.delete_folder(m.id, "INBOX").await, Err(StoreError::Invalid(_))));

    store.meta.delete_folder(m.id, "Dossiers/2026/Ordonnances").await.unwrap();
    let again = store.meta.create_folder(m.id, "Dossiers/2026/Ordonnances").await.unwrap();
    assert!(again.uidvalidity > deep.uidvalidity, "a re-created name gets a greater UIDVALIDITY");
    assert!(store.meta.folder_uids(again.id).await.unwrap().is_empty());
    store.meta.set_subscribed(m.id, "Dossiers", false).await.unwrap();
    assert!(!store.meta.folder(m.id, "Dossiers").await.unwrap().unwrap().subscribed);
}

pub async fn renaming_inbox_moves_its_messages_and_keeps_an_empty_inbox(store: &Store) {
    let m = mailbox(store).await;
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    append(store, &inbox, b"one", &["\\Seen"]).await;
    append(store, &inbox, b"two", &[]).await;
    store.meta.rename_folder(m.id, INBOX, "Ancien").await.unwrap();
    let old = store.meta.folder(m.id, "Ancien").await.unwrap().unwrap();
    let moved = store.meta.messages(old.id, &[1, 2]).await.unwrap();
    assert_eq!(moved.len(), 2);
    assert!(moved[0].has_flag("\\Seen"));
    assert!(store.meta.folder_uids(inbox.id).await.unwrap().is_empty());
    let inbox_now = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    assert_eq!(inbox_now.uidnext, 3, "INBOX UIDs are never reused");
}

pub async fn flags_modseq_and_expunge_history_tell_what_changed(store: &Store) {
    let m = mailbox(store).await;
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    for i in 0..5 {
        append(store, &inbox, format!("message {i}").as_bytes(), &[]).await;
    }
    let start = store.meta.folder(m.id, INBOX).await.unwrap().unwrap().highest_modseq;
    let counts = store.meta.folder_counts(inbox.id).await.unwrap();
    assert_eq!((counts.messages, counts.unseen, counts.deleted), (5, 5, 0));

    let seen = store.meta.set_flags(inbox.id, &[1, 2], FlagChange::Add, &["\\Seen".into()], None).await.unwrap();
    assert_eq!(seen.changed.len(), 2);
    let again = store.meta.set_flags(inbox.id, &[1, 2], FlagChange::Add, &["\\Seen".into()], None).await.unwrap();
    assert!(again.changed.is_empty(), "no change, no new MODSEQ");
    let guarded =
        store.meta.set_flags(inbox.id, &[1, 3], FlagChange::Add, &["\\Deleted".into()], Some(start)).await.unwrap();
    assert_eq!(guarded.modified, [1], "UID 1 changed after UNCHANGEDSINCE");
    assert_eq!(guarded.changed.iter().map(|c| c.0).collect::<Vec<_>>(), [3]);
    store.meta.set_flags(inbox.id, &[4], FlagChange::Replace, &["\\Deleted".into()], None).await.unwrap();

    let counts = store.meta.folder_counts(inbox.id).await.unwrap();
    assert_eq!((counts.messages, counts.unseen, counts.deleted), (5, 3, 2));
    let flags = |list: &[&str]| list.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    assert_eq!(store.meta.uids_by_flags(inbox.id, &flags(&["\\seen"]), &[]).await.unwrap(), [1, 2]);
    assert_eq!(store.meta.uids_by_flags(inbox.id, &[], &flags(&["\\Seen", "\\Deleted"])).await.unwrap(), [5]);
    assert_eq!(store.meta.uids_by_flags(inbox.id, &flags(&["\\Deleted"]), &flags(&["\\Seen"])).await.unwrap(), [3, 4]);
    assert_eq!(store.meta.expunge(inbox.id, Some(&[4, 5])).await.unwrap(), [4], "UID EXPUNGE limits the set");
    assert_eq!(store.meta.expunge(inbox.id, None).await.unwrap(), [3]);
    assert_eq!(store.meta.folder_uids(inbox.id).await.unwrap(), [1, 2, 5]);
    // The counts follow the expunges, bytes too ("message 0" .. "message 4").
    let counts = store.meta.folder_counts(inbox.id).await.unwrap();
    assert_eq!((counts.messages, counts.unseen, counts.deleted, counts.size), (3, 1, 0, 3 * 9));

    let changes = store.meta.changes_since(inbox.id, start).await.unwrap();
    assert_eq!(changes.expunged, [3, 4]);
    assert_eq!(changes.changed.iter().map(|c| c.uid).collect::<Vec<_>>(), [1, 2]);
    assert!(changes.highest_modseq > start);
    let none = store.meta.changes_since(inbox.id, changes.highest_modseq).await.unwrap();
    assert!(none.expunged.is_empty() && none.changed.is_empty());
}

pub async fn copy_and_move_give_new_uids_and_keep_flags(store: &Store) {
    let m = mailbox(store).await;
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    let archive = store.meta.folder(m.id, "Archive").await.unwrap().unwrap();
    for i in 0..4 {
        append(store, &inbox, format!("message {i}").as_bytes(), &["$Ordonnance"]).await;
    }
    let copied = store.meta.copy_messages(inbox.id, &[2, 3, 9], archive.id).await.unwrap();
    assert_eq!(copied.uidvalidity, archive.uidvalidity);
    assert_eq!(copied.pairs, [(2, 1), (3, 2)], "missing UIDs are skipped");
    let moved = store.meta.move_messages(inbox.id, &[1, 4], archive.id).await.unwrap();
    assert_eq!(moved.pairs, [(1, 3), (4, 4)]);
    assert_eq!(store.meta.folder_uids(inbox.id).await.unwrap(), [2, 3]);
    let any_order = store.meta.messages(archive.id, &[4, 1, 3, 1]).await.unwrap();
    assert_eq!(any_order.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 3, 4], "any order, each once");
    let in_archive = store.meta.messages(archive.id, &[1, 2, 3, 4]).await.unwrap();
    assert!(in_archive.iter().all(|m| m.has_flag("$Ordonnance")));
    let ordonnance = ["$ordonnance".to_string()];
    assert_eq!(store.meta.uids_by_flags(archive.id, &ordonnance, &[]).await.unwrap(), [1, 2, 3, 4], "keywords too");
    store.meta.set_flags(inbox.id, &[2], FlagChange::Add, &["\\Flagged".into()], None).await.unwrap();
    let copied = store.meta.copy_messages(inbox.id, &[2], archive.id).await.unwrap();
    let flagged = store.meta.uids_by_flags(archive.id, &["\\Flagged".into()], &ordonnance[..0]).await.unwrap();
    assert_eq!(flagged, [copied.pairs[0].1], "a copy keeps its system flags");
    assert!(matches!(store.meta.move_messages(inbox.id, &[2], inbox.id).await, Err(StoreError::Invalid(_))));
    // The body is shared, not copied: deleting the source keeps the copies whole.
    store.meta.set_flags(inbox.id, &[2, 3], FlagChange::Add, &["\\Deleted".into()], None).await.unwrap();
    store.meta.expunge(inbox.id, None).await.unwrap();
    let blob = &in_archive[0].blob;
    assert!(store.blobs.get(blob).await.unwrap().is_some());
    assert!(store.meta.referenced_blobs().await.unwrap().contains(blob));
    // Each folder's kept counts follow copies, moves and expunges.
    let counts = |c: mss_store::FolderCounts| (c.messages, c.unseen, c.deleted, c.size);
    assert_eq!(counts(store.meta.folder_counts(archive.id).await.unwrap()), (5, 5, 0, 5 * 9));
    assert_eq!(counts(store.meta.folder_counts(inbox.id).await.unwrap()), (0, 0, 0, 0));
    let report = store.check(false).await.unwrap();
    assert!(report.is_consistent(), "{report:?}");
}

pub async fn watchers_hear_of_deliveries_and_changes(store: &Store) {
    let m = mailbox(store).await;
    let mut watch = store.meta.watch();
    store.deliver(b"Subject: hello\r\n\r\nhi", &[m.id]).await.unwrap();
    assert_eq!(watch.recv().await.unwrap(), m.id);
    let inbox = store.meta.folder(m.id, INBOX).await.unwrap().unwrap();
    store.meta.set_flags(inbox.id, &[1], FlagChange::Add, &["\\Seen".into()], None).await.unwrap();
    assert_eq!(watch.recv().await.unwrap(), m.id);
}

pub async fn a_person_sees_every_mailbox_they_hold_a_role_on(store: &Store) {
    use mss_core::{NationalId, Role};
    let owner: NationalId = "810003621892".parse().unwrap();
    let org =
        store.meta.create_mailbox(&person("pharmacie-centrale-75001-paris@pharma.test", "10000013994")).await.unwrap();
    let other =
        store.meta.create_mailbox(&person("pharmacie-gare-75010-paris@pharma.test", "10000013994")).await.unwrap();
    store.meta.grant_role(org.id, &owner, Role::Administrateur).await.unwrap();
    store.meta.grant_role(other.id, &owner, Role::Utilisateur).await.unwrap();
    let roles = store.meta.roles_of(&owner).await.unwrap();
    let seen: Vec<(&str, Role)> = roles.iter().map(|(m, r)| (m.address.local(), *r)).collect();
    assert_eq!(
        seen,
        [("pharmacie-centrale-75001-paris", Role::Administrateur), ("pharmacie-gare-75010-paris", Role::Utilisateur)]
    );
    let bob: NationalId = "810000013994".parse().unwrap();
    store.meta.grant_role(org.id, &bob, Role::Gestionnaire).await.unwrap();
    assert_eq!(store.meta.roles_on(org.id).await.unwrap(), [(bob, Role::Gestionnaire), (owner, Role::Administrateur)]);
}

/// The sender's own copy in Sent is read already; a delivery to INBOX is not.
pub async fn the_sent_copy_is_seen_and_the_delivered_one_unseen(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let raw = b"Subject: envoi\r\n\r\nx\r\n";
    store.deliver_to(raw, &[Placement::inbox(m.id), Placement { mailbox: m.id, folder: SENT.into() }]).await.unwrap();
    for (folder, seen) in [(INBOX, false), (SENT, true)] {
        let folder = store.meta.folder(m.id, folder).await.unwrap().unwrap();
        let meta = store.meta.messages(folder.id, &[1]).await.unwrap().remove(0);
        assert_eq!(meta.has_flag("\\Seen"), seen, "{}", folder.name);
        assert_eq!(store.meta.folder_counts(folder.id).await.unwrap().unseen, u32::from(!seen), "{}", folder.name);
    }
}
