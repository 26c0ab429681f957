//! The S3 blob store against a real S3 server (`s3s-fs` from `mss-testkit`,
//! which checks signatures and keeps each object in a file): it behaves as
//! the filesystem store does, refuses bad credentials, reports damage and an
//! unreachable server as errors, and a collection never removes a blob being
//! stored again.

mod support;

use std::time::{Duration, Instant, SystemTime};

use mss_store::{BlobHash, BlobStore, BlobsConfig, Bytes, PostgresConfig, S3BlobStore, Store, StoreConfig, StoreError};
use mss_testkit::{Cluster, S3Bucket, S3Server};
use support::s3_config;

/// Where the tests keep their blobs in the bucket.
const PREFIX: &str = "mss/blobs";

/// A running server, a fresh bucket, and a store opened on it.
struct Fresh {
    server: S3Server,
    bucket: S3Bucket,
    store: S3BlobStore,
}

impl Fresh {
    async fn start() -> Option<Self> {
        let server = S3Server::start()?;
        let bucket = server.bucket();
        let store =
            S3BlobStore::open(&s3_config(&bucket, PREFIX)).await.unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
        Some(Self { server, bucket, store })
    }

    /// The file s3s-fs keeps the blob in.
    fn file_of(&self, hash: &BlobHash) -> std::path::PathBuf {
        let hex = hash.to_hex();
        self.server.object_path(&self.bucket, &format!("{PREFIX}/{}/{hex}", &hex[..2]))
    }

    /// The file of the marker of a collection of `hash`.
    fn marker_of(&self, hash: &BlobHash) -> std::path::PathBuf {
        self.server.object_path(&self.bucket, &format!("{PREFIX}/collecting/{hash}"))
    }
}

/// Makes the object in `file` look last written `by` ago.
fn age(file: &std::path::Path, by: Duration) {
    let file = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

fn large(seed: &str) -> Vec<u8> {
    seed.bytes().cycle().take(200 * 1024).collect()
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn blobs_round_trip_and_the_same_content_is_one_object() {
    let Some(fresh) = Fresh::start().await else { return };
    let store = &fresh.store;
    let body = large("a large body ");
    let hash = store.put(body.clone().into()).await.unwrap();
    assert_eq!(hash, BlobHash::of(&body));
    assert_eq!(store.put(body.clone().into()).await.unwrap(), hash, "storing again is idempotent");
    let small = store.put(Bytes::from_static(b"small")).await.unwrap();
    assert_eq!(store.get(&hash).await.unwrap(), Some(body));
    assert_eq!(store.get(&small).await.unwrap().as_deref(), Some(&b"small"[..]));
    assert!(store.contains(&hash).await.unwrap());
    assert!(fresh.file_of(&hash).is_file(), "the documented layout: <prefix>/<2 hex digits>/<hash>");

    let missing = BlobHash::of(b"never stored");
    assert_eq!(store.get(&missing).await.unwrap(), None);
    assert!(!store.contains(&missing).await.unwrap());
    let many = store.get_many(&[small, missing, hash]).await.unwrap();
    assert_eq!(many.iter().map(Option::is_some).collect::<Vec<_>>(), [true, false, true]);
    assert_eq!(many[0].as_deref(), Some(&b"small"[..]));

    let mut both = vec![hash, small];
    both.sort();
    assert_eq!(store.list().await.unwrap(), both, "one object per content");
}

#[tokio::test]
async fn with_an_empty_prefix_blobs_are_at_the_root_of_the_bucket() {
    let Some(server) = S3Server::start() else { return };
    let bucket = server.bucket();
    let store = S3BlobStore::open(&s3_config(&bucket, "")).await.unwrap();
    let hash = store.put(Bytes::from_static(b"at the root")).await.unwrap();
    let hex = hash.to_hex();
    assert!(server.object_path(&bucket, &format!("{}/{hex}", &hex[..2])).is_file());
    assert_eq!(store.list().await.unwrap(), vec![hash]);
    assert!(store.remove_if_idle(&hash, Duration::ZERO).await.unwrap());
    assert_eq!(store.list().await.unwrap(), vec![]);
}

#[tokio::test]
async fn an_object_altered_behind_the_store_is_reported_not_served() {
    let Some(fresh) = Fresh::start().await else { return };
    let hash = fresh.store.put(large("original ").into()).await.unwrap();
    std::fs::write(fresh.file_of(&hash), large("tampered ")).unwrap();
    let read = fresh.store.get(&hash).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
    let read = fresh.store.get_many(&[hash]).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
}

#[tokio::test]
async fn listing_pages_through_every_blob_and_deleting_removes_one() {
    let Some(fresh) = Fresh::start().await else { return };
    // More than one page of 1,000 keys, written behind the store (quicker).
    let mut expected: Vec<BlobHash> = (0..1_100).map(|i| BlobHash::of(format!("blob {i}").as_bytes())).collect();
    for (i, hash) in expected.iter().enumerate() {
        let file = fresh.file_of(hash);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, format!("blob {i}")).unwrap();
    }
    // A collection marker left behind is not a blob.
    let marker = fresh.marker_of(&expected[0]);
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, b"").unwrap();
    expected.sort();
    assert_eq!(fresh.store.list().await.unwrap(), expected);

    let gone = expected.remove(10);
    fresh.store.delete(&gone).await.unwrap();
    fresh.store.delete(&gone).await.unwrap();
    assert!(!fresh.store.contains(&gone).await.unwrap());
    assert_eq!(fresh.store.list().await.unwrap(), expected);
    assert_eq!(fresh.store.get(&expected[0]).await.unwrap().map(|d| BlobHash::of(&d)), Some(expected[0]));
}

#[tokio::test]
async fn an_idle_blob_is_collected_and_one_stored_again_is_kept() {
    let Some(fresh) = Fresh::start().await else { return };
    let store = &fresh.store;
    let fresh_one = store.put(Bytes::from_static(b"just written")).await.unwrap();
    let reused = store.put(Bytes::from_static(b"same content")).await.unwrap();
    let idle = store.put(Bytes::from_static(b"forgotten")).await.unwrap();
    age(&fresh.file_of(&reused), 2 * HOUR);
    age(&fresh.file_of(&idle), 2 * HOUR);
    // A delivery re-using the blob writes it again, which refreshes it.
    assert_eq!(store.put(Bytes::from_static(b"same content")).await.unwrap(), reused);

    assert!(!store.remove_if_idle(&fresh_one, HOUR).await.unwrap());
    assert!(!store.remove_if_idle(&reused, HOUR).await.unwrap());
    assert!(store.remove_if_idle(&idle, HOUR).await.unwrap());
    assert!(!store.contains(&idle).await.unwrap());
    assert!(!store.remove_if_idle(&idle, HOUR).await.unwrap(), "already gone");
    assert!(store.contains(&fresh_one).await.unwrap() && store.contains(&reused).await.unwrap());
    assert!(!fresh.marker_of(&idle).exists(), "the collection's marker is removed");
}

#[tokio::test]
async fn a_store_during_a_collection_waits_for_it_and_writes_the_blob_anew() {
    let Some(fresh) = Fresh::start().await else { return };
    let body = large("collected meanwhile ");
    let hash = BlobHash::of(&body);
    // A collector has written its marker and is about to remove the blob.
    let marker = fresh.marker_of(&hash);
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, b"").unwrap();
    let store = fresh.store.clone();
    let storing = tokio::spawn(async move { store.put(body.clone().into()).await });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!storing.is_finished(), "the store waits for the collection to end");
    // The collector removes the blob, then its marker.
    std::fs::remove_file(fresh.file_of(&hash)).unwrap();
    std::fs::remove_file(&marker).unwrap();
    assert_eq!(storing.await.unwrap().unwrap(), hash);
    assert!(fresh.store.get(&hash).await.unwrap().is_some(), "written anew");
}

#[tokio::test]
async fn the_marker_of_a_collector_that_died_is_ignored_and_removed_at_open() {
    let Some(fresh) = Fresh::start().await else { return };
    let hash = BlobHash::of(b"content");
    let marker = fresh.marker_of(&hash);
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, b"").unwrap();
    age(&marker, HOUR);
    let started = Instant::now();
    assert_eq!(fresh.store.put(Bytes::from_static(b"content")).await.unwrap(), hash);
    assert!(started.elapsed() < Duration::from_secs(5), "no wait: {:?}", started.elapsed());
    assert!(marker.exists());
    S3BlobStore::open(&s3_config(&fresh.bucket, PREFIX)).await.unwrap();
    assert!(!marker.exists(), "debris removed at open");
}

#[tokio::test]
async fn a_wrong_secret_or_a_missing_bucket_is_refused_at_open_and_the_secret_never_printed() {
    let Some(server) = S3Server::start() else { return };
    let bucket = server.bucket();
    let mut config = s3_config(&bucket, "");
    config.secret_access_key = "not-the-secret".into();
    let refused = S3BlobStore::open(&config).await.err().expect("a wrong secret must be refused");
    let text = refused.to_string();
    assert!(matches!(refused, StoreError::Objects(_)), "{refused:?}");
    assert!(text.contains("403") && text.contains(&bucket.name), "{text}");
    assert!(!text.contains("not-the-secret") && !format!("{config:?}").contains("not-the-secret"), "{config:?}");

    let mut config = s3_config(&bucket, "");
    config.bucket = "no-such-bucket".into();
    let refused = S3BlobStore::open(&config).await.err().expect("a missing bucket must be refused").to_string();
    assert!(refused.contains("no-such-bucket") && refused.contains("404"), "{refused}");
}

#[tokio::test]
async fn a_stopped_server_is_a_prompt_error_not_a_hang() {
    let Some(fresh) = Fresh::start().await else { return };
    let hash = fresh.store.put(Bytes::from_static(b"before the stop")).await.unwrap();
    let Fresh { server, store, .. } = fresh;
    drop(server);
    let started = Instant::now();
    let put = store.put(Bytes::from_static(b"after the stop")).await;
    let get = store.get(&hash).await;
    let listed = store.list().await;
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    for failed in [put.err(), get.err(), listed.err()] {
        let failed = failed.expect("every request fails");
        assert!(matches!(failed, StoreError::Objects(_)), "{failed:?}");
        let text = failed.to_string();
        assert!(text.contains("127.0.0.1") && text.contains("Connection refused"), "names the server and why: {text}");
    }
}

/// The store the operators of several nodes run: PostgreSQL for the rows and
/// the small bodies, the bucket for the others.
#[tokio::test]
async fn a_store_on_postgresql_keeps_large_bodies_in_the_bucket() {
    let Some(fresh) = Fresh::start().await else { return };
    let Some(cluster) = Cluster::start() else { return };
    cluster.create_database("mss");
    let database = PostgresConfig { url: cluster.url("mss"), password: None, pool_size: 4, ca_pem: None };
    let config = StoreConfig::Postgres { database, blobs: BlobsConfig::S3(s3_config(&fresh.bucket, PREFIX)) };
    let store = Store::open(&config).await.unwrap_or_else(|e| panic!("{e}\n{}", cluster.log()));
    let mailbox = store.meta.create_mailbox(&support::person("a.a@pharma.test", "10003621892")).await.unwrap();
    let body = large("a large message ");
    let delivered = store.deliver(&body, &[mailbox.id]).await.unwrap();
    assert!(fresh.file_of(&delivered.blob).is_file(), "a large body goes to the bucket");
    assert_eq!(store.blobs.get(&delivered.blob).await.unwrap(), Some(body));

    let orphan = store.blobs.put(large("never linked ").into()).await.unwrap();
    age(&fresh.file_of(&orphan), 2 * HOUR);
    let collection = store.collect_blobs(HOUR).await.unwrap();
    assert_eq!((collection.unreferenced, collection.removed), (1, 1));
    assert!(fresh.file_of(&delivered.blob).is_file() && !fresh.file_of(&orphan).exists());
}
