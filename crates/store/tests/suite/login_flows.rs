use mss_store::*;

pub async fn a_login_flow_is_taken_once_before_it_expires(store: &Store) {
    let meta = &store.meta;
    assert!(meta.begin_login_flow("psc", "state-1", "verifier nonce", 1_000, 1_600, 10).await.unwrap());
    assert!(!meta.begin_login_flow("psc", "state-1", "other", 1_000, 1_600, 10).await.unwrap(), "a key is kept once");
    assert_eq!(meta.take_login_flow("account", "state-1", 1_001).await.unwrap(), None, "another kind's");
    assert_eq!(meta.take_login_flow("psc", "state-1", 1_001).await.unwrap().as_deref(), Some("verifier nonce"));
    assert_eq!(meta.take_login_flow("psc", "state-1", 1_002).await.unwrap(), None, "taken once");

    assert!(meta.begin_login_flow("cps", "challenge", "", 1_000, 1_120, 10).await.unwrap());
    assert_eq!(meta.take_login_flow("cps", "challenge", 1_120).await.unwrap(), None, "expired");
    assert_eq!(meta.take_login_flow("cps", "challenge", 1_000).await.unwrap(), None, "and gone");

    // At most `max` pending per kind; expired ones make room.
    for n in 0..3 {
        assert!(meta.begin_login_flow("cps", &format!("c{n}"), "", 2_000, 2_120, 3).await.unwrap());
    }
    assert!(!meta.begin_login_flow("cps", "c3", "", 2_000, 2_120, 3).await.unwrap(), "full");
    assert!(meta.begin_login_flow("psc", "s", "", 2_000, 2_120, 3).await.unwrap(), "other kinds are not");
    assert!(meta.begin_login_flow("cps", "c3", "", 2_120, 2_240, 3).await.unwrap(), "the expired were removed");
    assert_eq!(meta.take_login_flow("cps", "c0", 2_121).await.unwrap(), None);
    let long = "k".repeat(LOGIN_FLOW_FIELD_MAX + 1);
    assert!(matches!(meta.begin_login_flow("cps", &long, "", 0, 1, 3).await, Err(StoreError::Invalid(_))));
    assert_eq!(meta.take_login_flow("cps", &long, 0).await.unwrap(), None, "nothing that long was kept");
    assert_eq!(meta.take_login_flow("cps", "", 0).await.unwrap(), None);
}
