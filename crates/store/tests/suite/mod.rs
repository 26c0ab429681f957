//! The store test suite, written once and run against every backend (see
//! `embedded.rs` and `postgres.rs`, through [`every_test`]).

mod account_links;
mod app_passwords;
mod audit;
mod facts;
mod folders;
mod indicator;
mod leases;
mod lifecycle;
mod listing;
mod login_failures;
mod login_flows;
mod maintenance;
mod patients;
mod publication;
mod stats;

pub use account_links::*;
pub use app_passwords::*;
pub use audit::*;
pub use facts::*;
pub use folders::*;
pub use indicator::*;
pub use leases::*;
pub use lifecycle::*;
pub use listing::*;
pub use login_failures::*;
pub use login_flows::*;
pub use maintenance::*;
use mss_core::{MailboxKind, MailboxState};
use mss_store::*;
pub use patients::*;
pub use publication::*;
pub use stats::*;

use crate::support::{address, person};

/// Calls `$m!` with the name of every test of the suite: each backend's
/// file makes one `#[tokio::test]` of each.
macro_rules! every_test {
    ($m:ident) => {
        $m!(
            mailbox_round_trips_with_every_field,
            an_address_is_never_given_twice,
            mailboxes_are_listed_by_address_and_found_by_prefix,
            delivery_stores_one_blob_and_numbers_each_inbox,
            a_delivery_to_an_unknown_mailbox_changes_nothing,
            blobs_are_content_addressed_and_checked,
            an_ans_import_replaces_ans_rows_and_keeps_manual_ones,
            an_empty_store_has_no_import,
            application_passwords_are_found_by_hash_and_revoked_by_their_maker,
            accounts_link_to_one_person_each,
            the_queue_tracks_each_recipient_until_all_are_final,
            roles_are_granted_replaced_and_read_back,
            a_new_mailbox_has_inbox_and_the_special_use_folders,
            folders_are_created_renamed_and_deleted_with_their_hierarchy,
            the_sent_copy_is_seen_and_the_delivered_one_unseen,
            renaming_inbox_moves_its_messages_and_keeps_an_empty_inbox,
            flags_modseq_and_expunge_history_tell_what_changed,
            copy_and_move_give_new_uids_and_keep_flags,
            watchers_hear_of_deliveries_and_changes,
            a_person_sees_every_mailbox_they_hold_a_role_on,
            the_audit_trail_is_chained_and_filtered,
            purging_old_entries_keeps_the_chain_verifiable,
            a_requested_mailbox_waits_for_validation_with_its_cgu_and_administrator,
            the_last_administrateur_stays,
            sessions_rotate_refresh_tokens_and_are_revoked,
            deleted_mailboxes_are_emptied_after_their_retention_and_keep_their_address,
            a_healthy_store_checks_clean_and_collects_only_unreferenced_blobs,
            a_backup_holds_every_message_and_checks_clean,
            state_changes_queue_their_publication_in_order_per_mailbox,
            a_liste_rouge_change_queues_an_update_of_an_active_mailbox,
            facts_are_written_with_the_message_and_shared_by_its_copies,
            messages_without_facts_are_found_in_batches_and_indexed,
            facts_go_with_their_blob,
            documents_are_found_by_id_and_by_what_they_replace,
            sort_and_header_search_read_the_columns_of_the_facts,
            a_folder_is_listed_sorted_and_paged_from_the_index,
            a_search_matches_every_word_whatever_the_accents_and_case,
            the_sort_keys_of_a_folder_follow_the_facts_of_its_messages,
            a_whole_folder_is_sorted_by_the_imap_keys_of_its_rows,
            a_folder_sorts_the_same_before_during_and_after_its_sort_index,
            a_folder_marked_and_backfilled_while_flagged_never_deadlocks,
            a_mailboxs_patient_conversations_are_read_from_its_folders,
            whom_a_mailbox_wrote_to_is_recorded_or_read_from_its_messages,
            quick_answers_are_the_mailboxs_own_once_chosen,
            each_recipient_of_a_sent_message_has_its_delivery_state,
            dispensations_are_kept_replaced_and_read_by_pharmacy_and_time,
            a_pharmacys_patient_exchanges_are_found_from_its_mailboxes,
            usage_counts_mailboxes_messages_documents_and_logins_of_the_period,
            a_lease_has_one_holder_until_it_expires_or_is_released,
            login_failures_are_counted_per_key_go_stale_and_are_forgotten,
            a_login_flow_is_taken_once_before_it_expires,
            one_client_cannot_take_every_login_flow,
        );
    };
}
pub(crate) use every_test;

fn ans_row(domain: &str, dn: &str) -> WhitelistRow {
    WhitelistRow {
        domain: domain.into(),
        operator_dn: dn.into(),
        description: "test".into(),
        responsible_contact: String::new(),
        support_contact: String::new(),
        updated_at: "2025-03-13T14:54:10Z".into(),
        source: WhitelistSource::Ans,
    }
}

pub async fn mailbox_round_trips_with_every_field(store: &Store) {
    let new = NewMailbox {
        liste_rouge: true,
        certificate_dn: Some("CN=lgo.pharma.test,O=LGO,C=FR".into()),
        service: Some("Officine".into()),
        ..person("elodie.dupont@pharma.test", "10003621892")
    };
    let created = store.meta.create_mailbox(&new).await.unwrap();
    assert_eq!(created.address, new.address);
    assert_eq!(created.kind, MailboxKind::Personal);
    assert_eq!(created.state, MailboxState::Active);
    assert_eq!(created.national_id, new.national_id);
    assert_eq!(created.first_name.as_deref(), Some("Élodie"));
    assert!(created.liste_rouge);
    assert_eq!(created.certificate_dn.as_deref(), Some("CN=lgo.pharma.test,O=LGO,C=FR"));
    let held = store.meta.mailboxes_of(new.national_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(held, vec![created.clone()]);
    assert!(store.meta.mailboxes_of(&"810000013994".parse().unwrap()).await.unwrap().is_empty());
    let bound = store.meta.certificate_bound_mailboxes().await.unwrap();
    assert_eq!(bound, vec![created.clone()]);
    assert!(created.created_at > 1_700_000_000);
    let read = store.meta.mailbox(&new.address).await.unwrap().unwrap();
    assert_eq!(read, created);
    assert!(store.meta.mailbox(&address("nobody@pharma.test")).await.unwrap().is_none());
}

pub async fn an_address_is_never_given_twice(store: &Store) {
    let new = person("jean.martin@pharma.test", "10003621892");
    store.meta.create_mailbox(&new).await.unwrap();
    let again = store.meta.create_mailbox(&new).await;
    assert!(matches!(again, Err(StoreError::AddressTaken(a)) if a == "jean.martin@pharma.test"));
    assert_eq!(store.meta.mailboxes().await.unwrap().len(), 1);
}

pub async fn mailboxes_are_listed_by_address_and_found_by_prefix(store: &Store) {
    for addr in ["b.b@pharma.test", "a.a@pharma.test", "a.a-2@pharma.test", "a.a@other.test"] {
        store.meta.create_mailbox(&person(addr, "10003621892")).await.unwrap();
    }
    let all: Vec<String> = store.meta.mailboxes().await.unwrap().iter().map(|m| m.address.to_string()).collect();
    assert_eq!(all, ["a.a-2@pharma.test", "a.a@other.test", "a.a@pharma.test", "b.b@pharma.test"]);
    let taken = store.meta.addresses_with_prefix("a.a", "pharma.test").await.unwrap();
    assert_eq!(taken, ["a.a-2@pharma.test", "a.a@pharma.test"]);
    assert!(store.meta.addresses_with_prefix("a.a", "harma.test").await.unwrap().is_empty());
}

pub async fn delivery_stores_one_blob_and_numbers_each_inbox(store: &Store) {
    let a = store.meta.create_mailbox(&person("a.a@pharma.test", "10003621892")).await.unwrap();
    let b = store.meta.create_mailbox(&person("b.b@pharma.test", "10003621892")).await.unwrap();
    let first = store.deliver(b"Subject: one\r\n\r\nhello\r\n", &[a.id, b.id]).await.unwrap();
    let second = store.deliver(b"Subject: two\r\n\r\nhello\r\n", &[a.id]).await.unwrap();
    assert_eq!(first.copies.iter().map(|c| c.uid).collect::<Vec<_>>(), [1, 1]);
    assert_eq!(second.copies[0].uid, 2);

    let inbox_a = store.meta.folder_messages(a.id, INBOX).await.unwrap();
    assert_eq!(inbox_a.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(inbox_a[0].blob, first.blob);
    assert_eq!(inbox_a[0].size, 23);
    let body = store.blobs.get(&inbox_a[1].blob).await.unwrap().unwrap();
    assert_eq!(body, b"Subject: two\r\n\r\nhello\r\n");
    // The same bytes delivered again are stored once.
    let again = store.deliver(b"Subject: one\r\n\r\nhello\r\n", &[b.id]).await.unwrap();
    assert_eq!(again.blob, first.blob);
    assert_eq!(store.blobs.list().await.unwrap().len(), 2);
    assert_eq!(store.meta.referenced_blobs().await.unwrap().len(), 2);

    // A copy into a folder that does not exist yet creates it.
    let sent = Placement { mailbox: a.id, folder: SENT.to_string() };
    let copy = store.deliver_to(b"Subject: sent\r\n\r\nx\r\n", &[sent.clone(), Placement::inbox(b.id)]).await.unwrap();
    assert_eq!(copy.copies[0], DeliveredCopy { mailbox: a.id, folder: SENT.into(), uid: 1 });
    assert_eq!(copy.copies[1].uid, 3);
    let again = store.deliver_to(b"Subject: sent 2\r\n\r\nx\r\n", &[sent]).await.unwrap();
    assert_eq!(again.copies[0].uid, 2);
    assert_eq!(store.meta.folder_messages(a.id, SENT).await.unwrap().len(), 2);
    assert_eq!(store.meta.folder_messages(a.id, INBOX).await.unwrap().len(), 2, "INBOX untouched");
}

pub async fn a_delivery_to_an_unknown_mailbox_changes_nothing(store: &Store) {
    let a = store.meta.create_mailbox(&person("a.a@pharma.test", "10003621892")).await.unwrap();
    let failed = store.deliver(b"x", &[a.id, 9999]).await;
    assert!(matches!(failed, Err(StoreError::NotFound(_))), "{failed:?}");
    assert!(store.meta.folder_messages(a.id, INBOX).await.unwrap().is_empty(), "all or nothing");
    assert!(store.meta.referenced_blobs().await.unwrap().is_empty());
    assert!(matches!(store.deliver(b"x", &[]).await, Err(StoreError::Invalid(_))));
}

pub async fn blobs_are_content_addressed_and_checked(store: &Store) {
    let hash = store.blobs.put(Bytes::from_static(b"content")).await.unwrap();
    assert_eq!(hash, BlobHash::of(b"content"));
    assert!(store.blobs.contains(&hash).await.unwrap());
    assert_eq!(store.blobs.put(Bytes::from_static(b"content")).await.unwrap(), hash);
    assert_eq!(store.blobs.get(&hash).await.unwrap().as_deref(), Some(&b"content"[..]));
    let missing = BlobHash::of(b"missing");
    assert_eq!(store.blobs.get(&missing).await.unwrap(), None);
    store.blobs.delete(&hash).await.unwrap();
    store.blobs.delete(&hash).await.unwrap();
    assert!(!store.blobs.contains(&hash).await.unwrap());
    assert_eq!(hash.to_hex().parse::<BlobHash>().unwrap(), hash);
    assert!("zz".parse::<BlobHash>().is_err());
}

pub async fn an_ans_import_replaces_ans_rows_and_keeps_manual_ones(store: &Store) {
    let manual = WhitelistRow { source: WhitelistSource::Manual, ..ans_row("peer.test", "CN=mss.peer.test,C=FR") };
    store.meta.add_manual_whitelist_row(&manual).await.unwrap();
    assert!(matches!(store.meta.add_manual_whitelist_row(&manual).await, Err(StoreError::AlreadyPresent(_))));

    let import = |sha: &str, n| WhitelistImport {
        generated_at: "2025-03-13T14:54:10Z".into(),
        sha256: sha.into(),
        entry_count: n,
        imported_at: 1,
    };
    let first = [
        ans_row("a.mssante.fr", "CN=a,C=FR"),
        ans_row("a.mssante.fr", "CN=a2,C=FR"),
        ans_row("b.mssante.fr", "CN=b,C=FR"),
    ];
    store.meta.replace_ans_whitelist(&import("one", 3), &first).await.unwrap();
    let second = [ans_row("c.mssante.fr", "CN=c,C=FR")];
    store.meta.replace_ans_whitelist(&import("two", 1), &second).await.unwrap();

    let rows = store.meta.whitelist().await.unwrap();
    let domains: Vec<(&str, WhitelistSource)> = rows.iter().map(|r| (r.domain.as_str(), r.source)).collect();
    assert_eq!(domains, [("c.mssante.fr", WhitelistSource::Ans), ("peer.test", WhitelistSource::Manual)]);
    assert_eq!(store.meta.last_whitelist_import().await.unwrap().unwrap().sha256, "two");
    let peer = store.meta.whitelist_for_domain("PEER.test").await.unwrap();
    assert_eq!(peer, vec![manual.clone()]);
    assert!(store.meta.whitelist_for_domain("a.mssante.fr").await.unwrap().is_empty(), "replaced");
    // Rows of the wrong source are refused and change nothing.
    assert!(store.meta.replace_ans_whitelist(&import("three", 1), std::slice::from_ref(&manual)).await.is_err());
    assert_eq!(store.meta.whitelist().await.unwrap().len(), 2);

    // Removing by hand: manual rows only, one DN or the domain's all.
    let other = WhitelistRow { operator_dn: "CN=mss2.peer.test,C=FR".into(), ..manual.clone() };
    store.meta.add_manual_whitelist_row(&other).await.unwrap();
    assert_eq!(store.meta.remove_manual_whitelist_rows("peer.test", Some("CN=nobody,C=FR")).await.unwrap(), 0);
    assert_eq!(store.meta.remove_manual_whitelist_rows("PEER.test", Some("CN=mss2.peer.test,C=FR")).await.unwrap(), 1);
    assert_eq!(store.meta.whitelist_for_domain("peer.test").await.unwrap(), vec![manual.clone()]);
    assert_eq!(store.meta.remove_manual_whitelist_rows("c.mssante.fr", None).await.unwrap(), 0, "ANS rows stay");
    assert_eq!(store.meta.remove_manual_whitelist_rows("peer.test", None).await.unwrap(), 1);
    assert_eq!(store.meta.whitelist().await.unwrap().len(), 1);
}

pub async fn an_empty_store_has_no_import(store: &Store) {
    assert!(store.meta.last_whitelist_import().await.unwrap().is_none());
    assert!(store.meta.whitelist().await.unwrap().is_empty());
    assert!(store.meta.mailboxes().await.unwrap().is_empty());
}

pub async fn the_queue_tracks_each_recipient_until_all_are_final(store: &Store) {
    let to = |a: &str| -> mss_core::EmailAddress { address(a) };
    let far = now_unix() + 5 * 86_400;
    let id = store
        .enqueue(b"Subject: x\r\n\r\nx\r\n", "a.a@pharma.test", &[to("x@peer.test"), to("y@other.test")], far)
        .await
        .unwrap();
    let claimed_until = now_unix() + 300;
    let due = store.meta.claim_due_recipients(now_unix(), claimed_until, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!((due[0].message, due[0].domain.as_str(), due[0].status), (id, "peer.test", RecipientStatus::Pending));
    assert_eq!(store.blobs.get(&due[0].blob).await.unwrap().unwrap(), b"Subject: x\r\n\r\nx\r\n");
    assert!(store.meta.referenced_blobs().await.unwrap().contains(&due[0].blob), "a queued blob is referenced");

    // Claimed: given to no one else until the claim lapses (its node died).
    assert!(store.meta.claim_due_recipients(now_unix(), claimed_until, 10).await.unwrap().is_empty());
    let taken_over = store.meta.claim_due_recipients(claimed_until, claimed_until + 300, 10).await.unwrap();
    assert_eq!(taken_over.iter().map(|r| r.id).collect::<Vec<_>>(), due.iter().map(|r| r.id).collect::<Vec<_>>());

    let later = now_unix() + 600;
    let deferred = AttemptOutcome::Deferred { reply: "421 busy".into(), retry_at: later };
    assert!(store.meta.record_attempt(due[0].id, &deferred).await.unwrap());
    assert!(store.meta.retry_now(id).await.unwrap());
    let due_now = store.meta.claim_due_recipients(now_unix(), claimed_until, 10).await.unwrap();
    assert_eq!(due_now.len(), 2, "retry now makes every pending recipient due, claimed or not");

    let delivered = AttemptOutcome::Delivered { reply: "250 ok".into() };
    assert!(store.meta.record_attempt(due[0].id, &delivered).await.unwrap());
    assert!(!store.meta.record_attempt(due[0].id, &deferred).await.unwrap(), "a final recipient stays final");
    let queue = store.meta.queue().await.unwrap();
    assert_eq!(queue.len(), 2);
    assert_eq!(queue[0].status, RecipientStatus::Delivered);
    assert_eq!(queue[0].attempts, 2);
    assert_eq!(queue[0].last_reply, "250 ok");

    let failed = AttemptOutcome::Failed { reply: "550 no".into() };
    assert!(store.meta.record_attempt(due[1].id, &failed).await.unwrap());
    assert!(store.meta.queue().await.unwrap().is_empty(), "all final: the message left the queue");

    let other = store.enqueue(b"y", "", &[to("z@peer.test")], far).await.unwrap();
    assert!(store.meta.delete_queued(other).await.unwrap());
    assert!(!store.meta.delete_queued(other).await.unwrap());
    assert!(!store.meta.retry_now(other).await.unwrap());
    assert!(store.meta.queue().await.unwrap().is_empty());
    assert!(store.enqueue(b"z", "", &[], far).await.is_err(), "no recipient, nothing queued");
}

pub async fn roles_are_granted_replaced_and_read_back(store: &Store) {
    let org =
        store.meta.create_mailbox(&person("pharmacie-du-centre-75001-paris@pharma.test", "10003621892")).await.unwrap();
    let titulaire: mss_core::NationalId = "810003621892".parse().unwrap();
    let preparateur: mss_core::NationalId = "810000013994".parse().unwrap();
    assert_eq!(store.meta.role_of(org.id, &titulaire).await.unwrap(), None);
    store.meta.grant_role(org.id, &titulaire, mss_core::Role::Administrateur).await.unwrap();
    store.meta.grant_role(org.id, &preparateur, mss_core::Role::Gestionnaire).await.unwrap();
    store.meta.grant_role(org.id, &preparateur, mss_core::Role::Utilisateur).await.unwrap();
    assert_eq!(store.meta.role_of(org.id, &titulaire).await.unwrap(), Some(mss_core::Role::Administrateur));
    assert_eq!(store.meta.role_of(org.id, &preparateur).await.unwrap(), Some(mss_core::Role::Utilisateur), "replaced");
    assert!(matches!(
        store.meta.grant_role(9999, &titulaire, mss_core::Role::Utilisateur).await,
        Err(StoreError::NotFound(_))
    ));
}

/// What became of each recipient of a sent message: queued (with a
/// temporary refusal's reply), accepted by the peer, failed, delivered
/// here; kept while its Sent copy is, gone with it.
pub async fn each_recipient_of_a_sent_message_has_its_delivery_state(store: &Store) {
    let to = |a: &str| -> mss_core::EmailAddress { address(a) };
    let m = store.meta.create_mailbox(&person("elodie@pharma.test", "10003621892")).await.unwrap();
    let raw = b"Subject: ordonnance\r\n\r\nx\r\n";
    let sent = Placement { mailbox: m.id, folder: SENT.into() };
    let delivery = store.deliver_indexed(raw, &[sent], None).await.unwrap();
    let far = now_unix() + 86_400;
    store.enqueue(raw, "elodie@pharma.test", &[to("x@peer.test"), to("Y@Other.test")], far).await.unwrap();
    store.meta.record_local_delivery(&delivery.blob, &["bob@pharma.test".into()]).await.unwrap();
    let states = |all: Vec<DeliveryStatus>| -> Vec<(String, DeliveryState, String)> {
        all.into_iter().map(|s| (s.recipient, s.state, s.reply)).collect()
    };
    let status = states(store.meta.delivery_status(&delivery.blob).await.unwrap());
    assert_eq!(
        status,
        [
            ("bob@pharma.test".into(), DeliveryState::Delivered, String::new()),
            ("x@peer.test".into(), DeliveryState::Queued, String::new()),
            ("y@other.test".into(), DeliveryState::Queued, String::new()),
        ]
    );
    let due = store.meta.claim_due_recipients(now_unix(), now_unix() + 600, 10).await.unwrap();
    let deferred = AttemptOutcome::Deferred { reply: "421 4.3.2 busy".into(), retry_at: now_unix() + 600 };
    store.meta.record_attempt(due[0].id, &deferred).await.unwrap();
    store.meta.record_attempt(due[1].id, &AttemptOutcome::Failed { reply: "550 5.1.1 unknown".into() }).await.unwrap();
    let status = states(store.meta.delivery_status(&delivery.blob).await.unwrap());
    assert_eq!(status[1], ("x@peer.test".into(), DeliveryState::Queued, "421 4.3.2 busy".into()));
    assert_eq!(status[2], ("y@other.test".into(), DeliveryState::Failed, "550 5.1.1 unknown".into()));
    store.meta.record_attempt(due[0].id, &AttemptOutcome::Delivered { reply: "250 ok".into() }).await.unwrap();
    assert!(store.meta.queue().await.unwrap().is_empty(), "all final");
    let status = states(store.meta.delivery_status(&delivery.blob).await.unwrap());
    assert_eq!(status[1], ("x@peer.test".into(), DeliveryState::Accepted, "250 ok".into()), "kept with the Sent copy");

    // The Sent copy expunged: the states go with it.
    let folder = store.meta.folder(m.id, SENT).await.unwrap().unwrap();
    store
        .meta
        .set_flags(folder.id, &[delivery.copies[0].uid], FlagChange::Add, &["\\Deleted".into()], None)
        .await
        .unwrap();
    store.meta.expunge(folder.id, None).await.unwrap();
    assert!(store.meta.delivery_status(&delivery.blob).await.unwrap().is_empty());
}
