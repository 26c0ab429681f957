//! Accounts of a second identity provider linked to people: found by
//! account and by person, one account per person and provider (linking a
//! new one replaces the old), never one account for two people, unlinked
//! by their person.

use mss_store::*;

pub async fn accounts_link_to_one_person_each(store: &Store) {
    let claire: mss_core::NationalId = "810003621892".parse().unwrap();
    let bob: mss_core::NationalId = "810000013994".parse().unwrap();
    let link = |subject: &str, person: &mss_core::NationalId, at: i64| AccountLink {
        issuer: "https://comptes.editeur.test".into(),
        subject: subject.into(),
        national_id: person.clone(),
        first_name: "Claire".into(),
        last_name: "Petit".into(),
        linked_at: at,
    };
    let issuer = "https://comptes.editeur.test";
    store.meta.link_account(&link("compte-1", &claire, 10)).await.unwrap();
    assert_eq!(store.meta.account_link(issuer, "compte-1").await.unwrap(), Some(link("compte-1", &claire, 10)));
    assert_eq!(store.meta.linked_account(issuer, &claire).await.unwrap().unwrap().subject, "compte-1");
    assert_eq!(store.meta.account_link("https://autre.test", "compte-1").await.unwrap(), None, "per issuer");

    // Bob may not take Claire's account; nothing changes.
    let taken = store.meta.link_account(&link("compte-1", &bob, 11)).await;
    assert!(matches!(taken, Err(StoreError::AlreadyPresent(_))), "{taken:?}");
    assert_eq!(store.meta.account_link(issuer, "compte-1").await.unwrap().unwrap().national_id, claire);
    assert_eq!(store.meta.linked_account(issuer, &bob).await.unwrap(), None);

    // Linking again (the same account, or another) replaces Claire's link.
    store.meta.link_account(&link("compte-1", &claire, 12)).await.unwrap();
    store.meta.link_account(&link("compte-2", &claire, 13)).await.unwrap();
    assert_eq!(store.meta.account_link(issuer, "compte-1").await.unwrap(), None, "the old account no longer signs in");
    assert_eq!(store.meta.linked_account(issuer, &claire).await.unwrap(), Some(link("compte-2", &claire, 13)));

    assert!(!store.meta.unlink_account(issuer, &bob).await.unwrap());
    assert!(store.meta.unlink_account(issuer, &claire).await.unwrap());
    assert_eq!(store.meta.account_link(issuer, "compte-2").await.unwrap(), None);
    // Free again: Bob may link it.
    store.meta.link_account(&link("compte-1", &bob, 14)).await.unwrap();
}
