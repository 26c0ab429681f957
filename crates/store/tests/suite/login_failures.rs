use mss_store::*;

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|k| k.to_string()).collect()
}

pub async fn login_failures_are_counted_per_key_go_stale_and_are_forgotten(store: &Store) {
    let meta = &store.meta;
    let both = keys(&["ip:192.0.2.1", "user:a@pharma.test"]);
    assert!(meta.login_failures(&both, 0).await.unwrap().is_empty());
    meta.add_login_failure(&both, 1_000, 0).await.unwrap();
    meta.add_login_failure(&both, 2_000, 0).await.unwrap();
    meta.add_login_failure(&keys(&["ip:192.0.2.1"]), 3_000, 0).await.unwrap();
    let mut read = meta.login_failures(&both, 0).await.unwrap();
    read.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        read,
        [
            LoginFailures { key: "ip:192.0.2.1".into(), count: 3, last: 3_000 },
            LoginFailures { key: "user:a@pharma.test".into(), count: 2, last: 2_000 },
        ]
    );
    // Stale counts read as absent and start again at one.
    assert_eq!(meta.login_failures(&both, 2_500).await.unwrap().len(), 1);
    meta.add_login_failure(&keys(&["user:a@pharma.test"]), 10_000, 5_000).await.unwrap();
    let again = meta.login_failures(&keys(&["user:a@pharma.test"]), 0).await.unwrap();
    assert_eq!((again[0].count, again[0].last), (1, 10_000));
    // A late failure (another node's clock) never moves the time back.
    meta.add_login_failure(&keys(&["user:a@pharma.test"]), 9_000, 5_000).await.unwrap();
    let late = meta.login_failures(&keys(&["user:a@pharma.test"]), 0).await.unwrap();
    assert_eq!((late[0].count, late[0].last), (2, 10_000));

    meta.clear_login_failures(&keys(&["user:a@pharma.test", "user:nobody"])).await.unwrap();
    assert_eq!(meta.login_failures(&both, 0).await.unwrap().len(), 1, "the client's count stays");
    assert_eq!(meta.forget_login_failures(3_001).await.unwrap(), 1);
    assert!(meta.login_failures(&both, 0).await.unwrap().is_empty());

    // Bounds: no empty or overlong key, a few keys per call.
    let long = "x".repeat(LOGIN_FAILURE_KEY_MAX + 1);
    assert!(matches!(meta.add_login_failure(&[long], 1, 0).await, Err(StoreError::Invalid(_))));
    assert!(matches!(meta.login_failures(&[String::new()], 0).await, Err(StoreError::Invalid(_))));
    let many: Vec<String> = (0..=LOGIN_FAILURE_KEYS_MAX).map(|i| format!("ip:{i}")).collect();
    assert!(matches!(meta.add_login_failure(&many, 1, 0).await, Err(StoreError::Invalid(_))));
    assert!(meta.login_failures(&many[..LOGIN_FAILURE_KEYS_MAX], 0).await.unwrap().is_empty(), "nothing counted");
}
