//! The store suite on PostgreSQL + S3 (a throwaway cluster and an s3s-fs
//! server of their own per test, from `mss-testkit`), plus what is specific
//! to PostgreSQL: migrations run once when nodes open the database
//! together, a newer schema is refused.

mod suite;
mod support;

use mss_store::{BlobsConfig, PgStore, PostgresConfig, Store, StoreConfig, StoreError};
use mss_testkit::{Cluster, S3Bucket, S3Server};
use support::s3_config;

/// A running cluster with an empty database, an S3 server with an empty
/// bucket, and the configuration that opens them.
struct Fresh {
    cluster: Cluster,
    _objects: S3Server,
    bucket: S3Bucket,
}

impl Fresh {
    fn start() -> Option<Self> {
        let cluster = Cluster::start()?;
        cluster.create_database("mss");
        let objects = S3Server::start()?;
        let bucket = objects.bucket();
        Some(Self { cluster, _objects: objects, bucket })
    }

    fn config(&self) -> StoreConfig {
        let database = PostgresConfig { url: self.cluster.url("mss"), password: None, pool_size: 8 };
        StoreConfig::Postgres { database, blobs: BlobsConfig::S3(s3_config(&self.bucket, "blobs")) }
    }

    async fn open(&self) -> Store {
        Store::open(&self.config()).await.unwrap_or_else(|e| panic!("{e}\n{}", self.cluster.log()))
    }
}

macro_rules! suite_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let Some(fresh) = Fresh::start() else { return };
            let store = fresh.open().await;
            suite::$name(&store).await;
        }
    )*};
}

suite::every_test!(suite_tests);

#[tokio::test]
async fn nodes_opening_together_migrate_once_and_a_newer_schema_is_refused() {
    let Some(fresh) = Fresh::start() else { return };
    let config = fresh.config();
    let opened = open_together(&config).await;
    assert!(opened.iter().all(Result::is_ok), "{:?}", opened.iter().filter_map(|r| r.as_ref().err()).next());
    let applied = fresh.cluster.psql("mss", "SELECT COUNT(*) FROM schema_migrations");
    assert_eq!(applied.trim(), PgStore::schema_version().to_string());
    drop(opened);

    fresh.cluster.psql("mss", "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
    let refused = Store::open(&config).await.err().expect("a newer schema must be refused");
    assert!(matches!(refused, StoreError::SchemaTooNew { found: 999, .. }), "{refused}");
}

/// Four stores opened at once, as four nodes starting together would.
async fn open_together(config: &StoreConfig) -> Vec<Result<Store, StoreError>> {
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let config = config.clone();
            tokio::spawn(async move { Store::open(&config).await })
        })
        .collect();
    let mut opened = Vec::new();
    for task in tasks {
        opened.push(task.await.unwrap());
    }
    opened
}
