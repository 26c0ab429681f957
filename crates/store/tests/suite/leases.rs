//! Leases: one holder at a time per name, kept by renewing, taken over
//! once expired, given up by their holder only.

use mss_store::*;

pub async fn a_lease_has_one_holder_until_it_expires_or_is_released(store: &Store) {
    let meta = &store.meta;
    // Free: taken.
    assert!(meta.take_lease("housekeeping", "node-a", 1000, 1100).await.unwrap());
    // Running: refused to another holder, to the very last second.
    assert!(!meta.take_lease("housekeeping", "node-b", 1000, 1100).await.unwrap());
    assert!(!meta.take_lease("housekeeping", "node-b", 1099, 1200).await.unwrap());
    // The holder extends it; the other is still refused past the first end.
    assert!(meta.take_lease("housekeeping", "node-a", 1050, 1300).await.unwrap());
    assert!(!meta.take_lease("housekeeping", "node-b", 1200, 1400).await.unwrap());
    // Expired (at its end, not only after it): another holder takes it over,
    // and the former holder is refused in turn.
    assert!(meta.take_lease("housekeeping", "node-b", 1300, 1400).await.unwrap());
    assert!(!meta.take_lease("housekeeping", "node-a", 1350, 1450).await.unwrap());

    // Names are independent.
    assert!(meta.take_lease("whitelist", "node-a", 1350, 1450).await.unwrap());
    assert!(!meta.take_lease("whitelist", "node-b", 1350, 1450).await.unwrap());

    // Only the holder releases: another's release changes nothing.
    meta.release_lease("housekeeping", "node-a").await.unwrap();
    assert!(!meta.take_lease("housekeeping", "node-a", 1360, 1460).await.unwrap());
    // Released: free at once, long before it would have expired.
    meta.release_lease("housekeeping", "node-b").await.unwrap();
    assert!(meta.take_lease("housekeeping", "node-a", 1360, 1460).await.unwrap());
    // Releasing a lease no one holds is no error; the other name is untouched.
    meta.release_lease("nothing", "node-a").await.unwrap();
    assert!(!meta.take_lease("whitelist", "node-b", 1360, 1460).await.unwrap());

    // A lease that would end before it starts is refused.
    assert!(matches!(meta.take_lease("other", "node-a", 1000, 1000).await, Err(StoreError::Invalid(_))));
    assert!(matches!(meta.take_lease("", "node-a", 1000, 1100).await, Err(StoreError::Invalid(_))));
}
