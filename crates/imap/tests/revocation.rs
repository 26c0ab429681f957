//! A logout, a revoked session, a suspended mailbox or a withdrawn role
//! reaches the IMAP sessions already open: the next command, or an IDLE
//! within seconds, ends with BYE, and nothing more of the mailbox is shown.

mod support;

use std::sync::Arc;
use std::time::Duration;

use mss_core::{MailboxKind, MailboxState, Role};
use mss_identity::{Method, Person, SessionAuthority};
use mss_imap::Limits;
use mss_store::now_unix;
use support::*;

const ALICE: &str = "alice.martin@ours.test";
const BOB: &str = "bob.durand@ours.test";
const PHARMACY: &str = "pharmacie-centrale-75001-paris@ours.test";

fn alice() -> Person {
    Person {
        national_id: ALICE_ID.parse().unwrap(),
        first_name: "Alice".into(),
        last_name: "Martin".into(),
        finess: vec![],
    }
}

/// Reads until the server closes; the lines it sent.
async fn until_closed(c: &mut TlsClient, within: Duration) -> String {
    let mut seen = String::new();
    let closed = tokio::time::timeout(within, async {
        while let Some(line) = c.line().await {
            seen.push_str(&line);
            seen.push_str("\r\n");
        }
    })
    .await;
    assert!(closed.is_ok(), "still open after {within:?}; the server sent {seen:?}");
    seen
}

#[tokio::test]
async fn a_logout_through_the_api_ends_the_open_imap_session() {
    let site = Site::new().await;
    site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let authority = SessionAuthority::new(Arc::new(site.tokens()), site.store.meta.clone());
    let tokens = authority.open(&alice(), Method::Psc, now_unix()).await.unwrap();
    let mut c = starttls(addr, site.anonymous()).await;
    assert!(c.xoauth2(ALICE, &tokens.access_token).await.ok());
    assert!(c.cmd("SELECT INBOX").await.ok());

    let sid = authority.verify(&tokens.access_token, now_unix()).await.unwrap().session;
    authority.close(&sid, now_unix()).await.unwrap();
    c.send(b"a1 NOOP\r\n").await;
    let said = until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(said.starts_with("* BYE [UNAVAILABLE] Session revoked"), "{said:?}");
    assert!(!said.contains("a1 OK"), "{said:?}");
    site.store.audit.flush().await;
    let filter = mss_store::AuditFilter { action_prefix: Some("imap.revoked".into()), limit: 10, ..Default::default() };
    assert_eq!(site.store.meta.audit_entries(&filter).await.unwrap().len(), 1, "the end is audited");
}

#[tokio::test]
async fn a_suspended_mailbox_ends_its_open_sessions() {
    let site = Site::new().await;
    let id = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    assert!(c.cmd("SELECT INBOX").await.ok());
    let meta = &site.store.meta;
    assert!(meta.change_state(id, MailboxState::Active, MailboxState::Suspended, Some("test")).await.unwrap());
    site.deliver(id, &message("After", "suspension")).await;
    c.send(b"a1 FETCH 1:* (FLAGS)\r\n").await;
    let said = until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(said.starts_with("* BYE [UNAVAILABLE] Mailbox closed"), "{said:?}");
    assert!(!said.contains("EXISTS"), "{said:?}");
}

/// An organisational mailbox where Alice is Utilisateur and Bob
/// Administrateur; Alice idles on its INBOX.
async fn alice_idles_on_the_pharmacy() -> (Site, mss_store::MailboxId, TlsClient) {
    let site = Site::new().await;
    site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    site.mailbox(BOB, MailboxKind::Personal, Some(BOB_ID)).await;
    let org = site.mailbox(PHARMACY, MailboxKind::Organisational, None).await;
    site.grant(org, BOB_ID, Role::Administrateur).await;
    site.grant(org, ALICE_ID, Role::Utilisateur).await;
    site.deliver(org, &message("First", "one")).await;
    let addr = site.start(Limits::default()).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    assert!(c.cmd(&format!("SELECT Partage/{PHARMACY}/INBOX")).await.ok());
    c.send(b"i1 IDLE\r\n").await;
    assert!(c.line().await.unwrap().starts_with('+'));
    (site, org, c)
}

#[tokio::test]
async fn idle_on_a_shared_folder_ends_when_the_role_is_removed_and_shows_no_new_mail() {
    let (site, org, mut c) = alice_idles_on_the_pharmacy().await;
    site.store.meta.set_role(org, &ALICE_ID.parse().unwrap(), None).await.unwrap();
    site.deliver(org, &message("Second", "not for Alice any more")).await;
    let said = until_closed(&mut c, Duration::from_secs(3)).await;
    assert!(said.contains("* BYE [NOPERM]"), "{said:?}");
    assert!(!said.contains("EXISTS"), "no new mail announced after the role was removed: {said:?}");
}

#[tokio::test]
async fn idle_on_a_shared_folder_ends_within_seconds_of_the_role_removal_without_mail() {
    let (site, org, mut c) = alice_idles_on_the_pharmacy().await;
    site.store.meta.set_role(org, &ALICE_ID.parse().unwrap(), None).await.unwrap();
    let said = until_closed(&mut c, Duration::from_secs(8)).await;
    assert!(said.contains("* BYE [NOPERM]"), "{said:?}");
}

#[tokio::test]
async fn idle_ends_within_seconds_of_a_revoked_session() {
    let site = Site::new().await;
    site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let authority = SessionAuthority::new(Arc::new(site.tokens()), site.store.meta.clone());
    let tokens = authority.open(&alice(), Method::Cps, now_unix()).await.unwrap();
    let mut c = starttls(addr, site.anonymous()).await;
    assert!(c.xoauth2(ALICE, &tokens.access_token).await.ok());
    assert!(c.cmd("SELECT INBOX").await.ok());
    c.send(b"i1 IDLE\r\n").await;
    assert!(c.line().await.unwrap().starts_with('+'));
    // A lost card: every session of the person is revoked.
    site.store.meta.revoke_sessions_of(&ALICE_ID.parse().unwrap(), now_unix()).await.unwrap();
    let said = until_closed(&mut c, Duration::from_secs(8)).await;
    assert!(said.starts_with("* BYE [UNAVAILABLE] Session revoked"), "{said:?}");
}

#[tokio::test]
async fn a_noop_after_the_role_removal_closes_the_shared_folder_without_showing_new_mail() {
    let (site, org, mut c) = alice_idles_on_the_pharmacy().await;
    c.send(b"DONE\r\n").await;
    assert!(c.until("i1").await.ok());
    site.store.meta.set_role(org, &ALICE_ID.parse().unwrap(), None).await.unwrap();
    site.deliver(org, &message("Second", "not for Alice any more")).await;
    let noop = c.cmd("NOOP").await;
    assert!(noop.ok(), "{noop:?}");
    assert!(!noop.untagged.contains("EXISTS"), "{noop:?}");
    assert!(noop.untagged.contains("[CLOSED]"), "{noop:?}");
}
