//! Application passwords: kept by hash, listed for their maker, revoked by
//! them only, all of a person's revoked at once, each use recorded.

use mss_store::*;

use crate::support::person;

pub async fn application_passwords_are_found_by_hash_and_revoked_by_their_maker(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let claire: mss_core::NationalId = "810003621892".parse().unwrap();
    let other: mss_core::NationalId = "810000013994".parse().unwrap();
    let new = |hash: &str, scope| NewAppPassword {
        mailbox: m.id,
        national_id: claire.clone(),
        label: "Téléphone".into(),
        hash: hash.into(),
        scope,
        created_at: 100,
        expires_at: 1000,
    };
    let phone = store.meta.create_app_password(&new("h1", Scope::Both)).await.unwrap();
    let laptop = store.meta.create_app_password(&new("h2", Scope::Imap)).await.unwrap();
    assert!(store.meta.create_app_password(&new("h2", Scope::Imap)).await.is_err(), "one secret, one row");

    let found = store.meta.app_password_by_hash("h1").await.unwrap().unwrap();
    assert_eq!((found.id, found.scope, found.national_id.clone()), (phone, Scope::Both, claire.clone()));
    assert!(found.is_live(999) && !found.is_live(1000));
    assert_eq!(store.meta.app_password_by_hash("nope").await.unwrap(), None);
    let listed: Vec<i64> = store.meta.app_passwords(m.id, &claire).await.unwrap().iter().map(|p| p.id).collect();
    assert_eq!(listed, [laptop, phone], "newest first");
    assert!(store.meta.app_passwords(m.id, &other).await.unwrap().is_empty());

    store.meta.app_password_used(phone, 500).await.unwrap();
    assert_eq!(store.meta.app_password(phone).await.unwrap().unwrap().last_used_at, Some(500));
    assert!(!store.meta.revoke_app_password(phone, m.id, &other, 600).await.unwrap(), "not theirs");
    assert!(store.meta.revoke_app_password(phone, m.id, &claire, 600).await.unwrap());
    assert!(!store.meta.revoke_app_password(phone, m.id, &claire, 601).await.unwrap(), "once");
    assert!(!store.meta.app_password(phone).await.unwrap().unwrap().is_live(200));
    assert_eq!(store.meta.revoke_app_passwords_of(&claire, 700).await.unwrap(), 1);
    assert_eq!(store.meta.app_password(laptop).await.unwrap().unwrap().revoked_at, Some(700));
}
