//! The store suite on PostgreSQL + S3 (a throwaway cluster and an s3s-fs
//! server of their own per test, from `mss-testkit`), plus what is specific
//! to PostgreSQL: migrations run once when nodes open the database
//! together, a newer schema is refused, connections are TLS verified
//! against the configured CA.

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
        let database = PostgresConfig { url: self.cluster.url("mss"), password: None, pool_size: 8, ca_pem: None };
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_nodes_racing_for_a_free_lease_exactly_one_takes_it() {
    let Some(fresh) = Fresh::start() else { return };
    // Two nodes, eight tasks between them, all asking at once.
    let nodes = [fresh.open().await, fresh.open().await];
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let now = mss_store::now_unix();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (meta, start) = (nodes[i % 2].meta.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                meta.take_lease("housekeeping", &format!("node-{i}"), now, now + 60).await.unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        if task.await.unwrap() {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    // The winner holds it: the others are still refused, it renews.
    let winner = format!("node-{}", winners[0]);
    let loser = format!("node-{}", (winners[0] + 1) % 8);
    assert!(!nodes[1].meta.take_lease("housekeeping", &loser, now + 1, now + 61).await.unwrap());
    assert!(nodes[0].meta.take_lease("housekeeping", &winner, now + 1, now + 61).await.unwrap());
}

/// IDLE across nodes: a delivery on node A wakes a watcher of node B,
/// through PostgreSQL `LISTEN`/`NOTIFY`, also after B's listening
/// connection was killed (it reconnects).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_on_one_node_wakes_the_watchers_of_another() {
    use std::time::Duration;
    let Some(fresh) = Fresh::start() else { return };
    let (a, b) = (fresh.open().await, fresh.open().await);
    let m = a.meta.create_mailbox(&support::person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let mut watch = b.meta.watch();
    a.deliver(b"Subject: hello\r\n\r\nhi", &[m.id]).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), watch.recv()).await;
    assert_eq!(heard.expect("node B not woken within 5 s").unwrap(), m.id);

    // The listeners' connections killed from the server side.
    let listeners = "SELECT pid FROM pg_stat_activity WHERE application_name = 'mss-listener' \
                     AND query LIKE 'LISTEN%' ORDER BY pid";
    let before = fresh.cluster.psql("mss", listeners);
    assert_eq!(before.lines().count(), 2, "{before}");
    let killed = fresh
        .cluster
        .psql("mss", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mss-listener'");
    assert_eq!(killed.lines().filter(|l| *l == "t").count(), 2, "{killed}");
    // Both nodes listen again on new connections.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = fresh.cluster.psql("mss", listeners);
        if now.lines().count() == 2 && now.lines().all(|pid| !before.lines().any(|old| old == pid)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "listeners not back within 10 s: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.deliver(b"Subject: again\r\n\r\nhi", &[m.id]).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(10), watch.recv()).await;
    assert_eq!(heard.expect("node B not woken within 10 s after reconnecting").unwrap(), m.id);
}

/// With the CA of the server's certificate every connection (the pool's,
/// the change listener's) is TLS and the server must prove the host name;
/// a server that takes TLS only refuses a store without a CA; a wrong CA
/// or a wrong name is refused with a reason a person can act on.
#[tokio::test]
async fn connections_are_tls_with_the_server_verified_against_the_configured_ca() {
    use mss_trust::pki::{CertificateAuthority, OperatorIdentity};
    let ca = CertificateAuthority::generate("PostgreSQL TEST CA", "TEST").unwrap();
    let who = |host: &str| OperatorIdentity {
        host: host.into(),
        organisation: "TEST".into(),
        unit: "TEST".into(),
        state: "Paris (75)".into(),
    };
    let server = ca.issue_operator(&who("db.pharma.test")).unwrap();
    let Some(cluster) = Cluster::with_tls(&server.chain_pem, &server.key_pem) else { return };
    cluster.create_database("mss");
    let config = |host: &str, ca: Option<&str>| PostgresConfig {
        url: cluster.url("mss").replace("host=127.0.0.1", &format!("host={host} hostaddr=127.0.0.1")),
        password: None,
        pool_size: 2,
        ca_pem: ca.map(str::to_string),
    };
    let refusal = |opened: Result<PgStore, StoreError>| match opened {
        Ok(_) => panic!("opened"),
        Err(e) => e.to_string(),
    };

    let store = PgStore::open(&config("db.pharma.test", Some(ca.cert_pem())))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.log()));
    let mailbox = support::person("a.martin@pharma.test", "10003621892");
    let created = mss_store::MetadataStore::create_mailbox(&store, &mailbox).await.unwrap();
    assert_eq!(mss_store::MetadataStore::mailbox(&store, &mailbox.address).await.unwrap(), Some(created));
    let connections = cluster.psql(
        "mss",
        "SELECT a.application_name, s.ssl, s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
         WHERE a.application_name LIKE 'mss%' ORDER BY 1",
    );
    assert!(connections.contains("mss|t|TLSv1.3") && connections.contains("mss-listener|t|TLSv1.3"), "{connections}");
    assert!(!connections.contains("|f|"), "{connections}");

    let without_ca = refusal(PgStore::open(&config("db.pharma.test", None)).await);
    assert!(without_ca.contains("no encryption"), "the server's own refusal: {without_ca}");
    let other_ca = CertificateAuthority::generate("Another CA", "TEST").unwrap();
    let wrong_ca = refusal(PgStore::open(&config("db.pharma.test", Some(other_ca.cert_pem()))).await);
    assert!(wrong_ca.contains("UnknownIssuer"), "{wrong_ca}");
    let wrong_name = refusal(PgStore::open(&config("db.elsewhere.test", Some(ca.cert_pem()))).await);
    assert!(wrong_name.contains("not valid for name \"db.elsewhere.test\""), "{wrong_name}");
    let not_pem = refusal(PgStore::open(&config("db.pharma.test", Some("not a certificate"))).await);
    assert!(not_pem.contains("PostgreSQL CA: no certificate"), "{not_pem}");
    let mut asks_tls = config("db.pharma.test", None);
    asks_tls.url.push_str(" sslmode=require");
    let unverified = refusal(PgStore::open(&asks_tls).await);
    assert!(unverified.contains("postgres_ca_file"), "TLS without verification is refused: {unverified}");
}
