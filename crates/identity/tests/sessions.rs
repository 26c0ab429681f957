//! Session tokens against a real store: issue, verify, refresh, revoke, and
//! the login path of IMAP and submission with them.

use std::sync::Arc;

use mss_core::{MailboxKind, MailboxState, NationalId};
use mss_identity::login::{self, LoginError};
use mss_identity::{BearerCredentials, Method, Person, SessionAuthority, SessionError, TokenKey};
use mss_store::{NewMailbox, Store, StoreConfig};

const NOW: i64 = 1_790_000_000;

async fn world() -> (tempfile::TempDir, Store, SessionAuthority, Person) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    let authority = SessionAuthority::new(Arc::new(TokenKey::generate("ours.test").unwrap()), store.meta.clone());
    let person = Person {
        national_id: "810003621892".parse().unwrap(),
        first_name: "Alice".into(),
        last_name: "Martin".into(),
        finess: vec!["750000002".into()],
    };
    for (address, kind, owner) in [
        ("alice.martin@ours.test", MailboxKind::Personal, Some("810003621892")),
        ("bob.durand@ours.test", MailboxKind::Personal, Some("810000013994")),
    ] {
        let new = NewMailbox {
            address: address.parse().unwrap(),
            kind,
            state: MailboxState::Active,
            national_id: owner.map(|o| o.parse::<NationalId>().unwrap()),
            finess: None,
            first_name: None,
            last_name: None,
            display_name: address.into(),
            service: None,
            liste_rouge: false,
            certificate_dn: None,
        };
        store.meta.create_mailbox(&new).await.unwrap();
    }
    (dir, store, authority, person)
}

#[tokio::test]
async fn a_session_issues_verifies_refreshes_and_ends() {
    let (_dir, _store, authority, person) = world().await;
    let tokens = authority.open(&person, Method::Psc, NOW).await.unwrap();
    assert_eq!(tokens.expires_in, 300);
    let who = authority.verify(&tokens.access_token, NOW + 10).await.unwrap();
    assert_eq!(who.person, person);
    assert_eq!(who.method, "psc");
    assert!(matches!(authority.verify(&tokens.access_token, NOW + 300).await, Err(SessionError::Token(_))), "expired");

    let refreshed = authority.refresh(&tokens.refresh_token, NOW + 400).await.unwrap();
    assert!(authority.verify(&refreshed.access_token, NOW + 401).await.is_ok());
    // The old refresh token again: stolen; the whole session ends.
    assert!(matches!(authority.refresh(&tokens.refresh_token, NOW + 500).await, Err(SessionError::BadRefresh)));
    assert!(matches!(authority.verify(&refreshed.access_token, NOW + 501).await, Err(SessionError::Ended)));

    let second = authority.open(&person, Method::Cps, NOW).await.unwrap();
    let sid = authority.verify(&second.access_token, NOW).await.unwrap().session;
    authority.close(&sid, NOW + 1).await.unwrap();
    assert!(matches!(authority.verify(&second.access_token, NOW + 2).await, Err(SessionError::Ended)), "logout");
    assert!(matches!(authority.refresh(&second.refresh_token, NOW + 3).await, Err(SessionError::BadRefresh)));
    assert!(matches!(authority.refresh("garbage", NOW).await, Err(SessionError::BadRefresh)));
    let dev = authority.key.issue("alice.martin@ours.test", NOW, 60).unwrap();
    assert!(matches!(authority.verify(&dev, NOW).await, Err(SessionError::NotASession)));
}

#[tokio::test]
async fn a_session_token_opens_the_persons_own_mailbox_only() {
    let (_dir, store, authority, person) = world().await;
    let tokens = authority.open(&person, Method::Psc, NOW).await.unwrap();
    let now = mss_store::now_unix();
    let fresh = authority.open(&person, Method::Psc, now).await.unwrap();
    let credentials =
        |user: Option<&str>, token: &str| BearerCredentials { user: user.map(str::to_string), token: token.into() };
    let meta = store.meta.as_ref();
    let own =
        login::by_token(meta, &authority.key, &credentials(Some("alice.martin@ours.test"), &fresh.access_token), now)
            .await;
    assert_eq!(own.unwrap().national_id, Some(person.national_id.clone()));
    let other =
        login::by_token(meta, &authority.key, &credentials(Some("bob.durand@ours.test"), &fresh.access_token), now)
            .await;
    assert!(matches!(other, Err(LoginError::Invalid(_))), "someone else's mailbox");
    let anonymous = login::by_token(meta, &authority.key, &credentials(None, &fresh.access_token), now).await;
    assert!(matches!(anonymous, Err(LoginError::Invalid(_))));
    let expired =
        login::by_token(meta, &authority.key, &credentials(Some("alice.martin@ours.test"), &tokens.access_token), now)
            .await;
    assert!(matches!(expired, Err(LoginError::Invalid(_))));
    store.meta.revoke_sessions_of(&person.national_id, now).await.unwrap();
    let revoked =
        login::by_token(meta, &authority.key, &credentials(Some("alice.martin@ours.test"), &fresh.access_token), now)
            .await;
    assert!(matches!(revoked, Err(LoginError::Invalid(_))), "revocation ends the token at once");
}

#[tokio::test]
async fn a_login_stops_holding_after_logout_or_suspension() {
    let (_dir, store, authority, person) = world().await;
    let meta = store.meta.as_ref();
    let now = mss_store::now_unix();
    let login = |token: String| BearerCredentials { user: Some("alice.martin@ours.test".into()), token };
    let tokens = authority.open(&person, Method::Psc, now).await.unwrap();
    let principal = login::by_token(meta, &authority.key, &login(tokens.access_token.clone()), now).await.unwrap();
    let sid = authority.verify(&tokens.access_token, now).await.unwrap().session;
    assert_eq!(principal.session.as_deref(), Some(sid.as_str()), "the principal remembers its login session");
    assert_eq!(login::revoked(meta, &principal, now).await.unwrap(), None);
    authority.close(&sid, now).await.unwrap();
    assert_eq!(login::revoked(meta, &principal, now).await.unwrap(), Some(login::Revoked::SessionEnded), "logout");

    // A development token has no session; the mailbox's state still counts.
    let dev = authority.key.issue("alice.martin@ours.test", now, 60).unwrap();
    let principal = login::by_token(meta, &authority.key, &login(dev), now).await.unwrap();
    assert_eq!(principal.session, None);
    assert_eq!(login::revoked(meta, &principal, now).await.unwrap(), None);
    let id = principal.mailbox.id;
    assert!(meta.change_state(id, MailboxState::Active, MailboxState::Suspended, Some("test")).await.unwrap());
    assert_eq!(login::revoked(meta, &principal, now).await.unwrap(), Some(login::Revoked::MailboxClosed), "suspended");
}
