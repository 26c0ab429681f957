use mss_store::*;

/// A flow of `kind` under `key`, started by `client` at `now`, for 120 s.
fn flow<'a>(kind: &'a str, key: &'a str, secret: &'a str, client: &'a str, now: i64) -> NewLoginFlow<'a> {
    NewLoginFlow { kind, key, secret, client, now, expires_at: now + 120 }
}

const ROOMY: FlowLimits = FlowLimits { per_client: 10, total: 10 };

pub async fn a_login_flow_is_taken_once_before_it_expires(store: &Store) {
    let meta = &store.meta;
    assert!(meta.begin_login_flow(&flow("psc", "state-1", "verifier nonce", "192.0.2.1", 1_000), ROOMY).await.unwrap());
    let again = flow("psc", "state-1", "other", "192.0.2.1", 1_000);
    assert!(!meta.begin_login_flow(&again, ROOMY).await.unwrap(), "a key is kept once");
    assert_eq!(meta.take_login_flow("account", "state-1", 1_001).await.unwrap(), None, "another kind's");
    assert_eq!(meta.take_login_flow("psc", "state-1", 1_001).await.unwrap().as_deref(), Some("verifier nonce"));
    assert_eq!(meta.take_login_flow("psc", "state-1", 1_002).await.unwrap(), None, "taken once");

    assert!(meta.begin_login_flow(&flow("cps", "challenge", "", "192.0.2.1", 1_000), ROOMY).await.unwrap());
    assert_eq!(meta.take_login_flow("cps", "challenge", 1_120).await.unwrap(), None, "expired");
    assert_eq!(meta.take_login_flow("cps", "challenge", 1_000).await.unwrap(), None, "and gone");

    // At most `total` pending per kind, whoever started them; expired ones
    // make room.
    let limits = FlowLimits { per_client: 10, total: 3 };
    for n in 0..3 {
        let client = format!("192.0.2.{n}");
        assert!(meta.begin_login_flow(&flow("cps", &format!("c{n}"), "", &client, 2_000), limits).await.unwrap());
    }
    assert!(!meta.begin_login_flow(&flow("cps", "c3", "", "192.0.2.9", 2_000), limits).await.unwrap(), "full");
    assert!(meta.begin_login_flow(&flow("psc", "s", "", "192.0.2.9", 2_000), limits).await.unwrap(), "other kinds");
    let later = flow("cps", "c3", "", "192.0.2.9", 2_120);
    assert!(meta.begin_login_flow(&later, limits).await.unwrap(), "the expired were removed");
    assert_eq!(meta.take_login_flow("cps", "c0", 2_121).await.unwrap(), None);
    let long = "k".repeat(LOGIN_FLOW_FIELD_MAX + 1);
    let too_long = flow("cps", &long, "", "192.0.2.9", 0);
    assert!(matches!(meta.begin_login_flow(&too_long, limits).await, Err(StoreError::Invalid(_))));
    let long_client = flow("cps", "k", "", &long, 0);
    assert!(matches!(meta.begin_login_flow(&long_client, limits).await, Err(StoreError::Invalid(_))));
    assert_eq!(meta.take_login_flow("cps", &long, 0).await.unwrap(), None, "nothing that long was kept");
    assert_eq!(meta.take_login_flow("cps", "", 0).await.unwrap(), None);
}

pub async fn one_client_cannot_take_every_login_flow(store: &Store) {
    let meta = &store.meta;
    let limits = FlowLimits { per_client: 3, total: 5 };
    // Another client's login, started first, must survive the flood.
    assert!(meta.begin_login_flow(&flow("psc", "pharmacist", "v n", "198.51.100.7", 1_000), limits).await.unwrap());
    for n in 0..20 {
        let key = format!("flood-{n:02}");
        let started = flow("psc", &key, "", "2001:db8:1:2::/64", 1_000 + n);
        assert!(meta.begin_login_flow(&started, limits).await.unwrap(), "a client's newest is always kept");
    }
    let now = 1_030;
    for n in 0..17 {
        let key = format!("flood-{n:02}");
        assert_eq!(meta.take_login_flow("psc", &key, now).await.unwrap(), None, "{key} made room");
    }
    for n in 17..20 {
        let key = format!("flood-{n:02}");
        assert!(meta.take_login_flow("psc", &key, now).await.unwrap().is_some(), "{key}: the client's newest kept");
    }
    assert_eq!(meta.take_login_flow("psc", "pharmacist", now).await.unwrap().as_deref(), Some("v n"));
    // The share is per kind: a client's CPS challenges leave its PSC flows.
    assert!(meta.begin_login_flow(&flow("psc", "mine", "", "203.0.113.5", 2_000), limits).await.unwrap());
    for n in 0..4 {
        assert!(meta.begin_login_flow(&flow("cps", &format!("c{n}"), "", "203.0.113.5", 2_000), limits).await.unwrap());
    }
    assert!(meta.take_login_flow("psc", "mine", 2_001).await.unwrap().is_some());
}
