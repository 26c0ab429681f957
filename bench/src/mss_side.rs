//! mss under load: `mss init` with the run's CA, the load generator listed
//! in its liste blanche, 50 mailboxes, `mss serve` from the release build;
//! on its embedded store, or on PostgreSQL and an S3 bucket with further
//! nodes serving copies of its data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mss_store::{Appended, BlobsConfig, PostgresConfig, S3Config, Store, StoreConfig};
use mss_testkit::S3Bucket;

use crate::imap_load::ImapTarget;
use crate::interrupt::{self, OnInterrupt};
use crate::smtp_load::Target;
use crate::tls::Pki;

pub const MAILBOXES: usize = 50;

/// Numbers the mailboxes made for the IMAP figures.
static NEXT_IMAP_BOX: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// Where the store lives.
pub enum Backend<'a> {
    /// SQLite and body files in the data directory.
    Embedded,
    /// PostgreSQL at `url` and an S3 bucket, which several nodes may share.
    Shared { url: &'a str, bucket: &'a S3Bucket },
}

/// Connections each node (and the harness) keeps to PostgreSQL.
const POOL_SIZE: usize = 16;

pub struct Mss {
    /// Stopped first, before its data directory goes.
    node: Node,
    store: Store,
    pub data: PathBuf,
    pub recipients: Vec<String>,
    _dir: interrupt::TempDir,
}

/// One `mss serve` of a data directory and the listeners it opened;
/// stopped on drop.
pub struct Node {
    child: Child,
    ports: serde_json::Value,
    /// The copy of the data directory a further node serves.
    _copy: Option<interrupt::TempDir>,
    _stopped_on_interrupt: OnInterrupt,
}

fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current executable");
    let mss = exe.with_file_name("mss");
    assert!(mss.exists(), "build it first: cargo build --release -p mss -p mss-bench");
    mss
}

fn mss(args: &[&str]) -> String {
    let out = Command::new(binary()).args(args).output().expect("mss");
    assert!(out.status.success(), "mss {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes the `[store]` section and the secret file that put `data` on
/// `backend`; returns how the harness opens the same store.
fn configure_store(data: &std::path::Path, backend: &Backend) -> StoreConfig {
    let Backend::Shared { url, bucket } = backend else {
        return StoreConfig::Embedded { dir: data.to_path_buf() };
    };
    use std::os::unix::fs::OpenOptionsExt;
    let mut secret = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(data.join("s3.secret"))
        .expect("secret");
    std::io::Write::write_all(&mut secret, bucket.secret_access_key.as_bytes()).expect("secret");
    let section = format!(
        "\n[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\npostgres_pool_size = {POOL_SIZE}\nblobs = \"s3\"\n\
         s3_endpoint = \"{}\"\ns3_region = \"{}\"\ns3_bucket = \"{}\"\ns3_access_key_id = \"{}\"\n\
         s3_secret_access_key_file = \"s3.secret\"\n",
        bucket.endpoint, bucket.region, bucket.name, bucket.access_key_id
    );
    let config = data.join("mss.toml");
    let text = std::fs::read_to_string(&config).expect("mss.toml");
    std::fs::write(config, text + &section).expect("mss.toml");
    StoreConfig::Postgres {
        database: PostgresConfig { url: url.to_string(), password: None, pool_size: POOL_SIZE, ca_pem: None },
        blobs: BlobsConfig::S3(S3Config {
            endpoint: Some(bucket.endpoint.clone()),
            region: bucket.region.clone(),
            bucket: bucket.name.clone(),
            access_key_id: bucket.access_key_id.clone(),
            secret_access_key: bucket.secret_access_key.clone(),
            prefix: String::new(),
            allow_http: true,
        }),
    }
}

impl Mss {
    /// On the embedded store.
    pub async fn start(pki: &Pki) -> Self {
        Self::start_on(pki, &Backend::Embedded).await
    }

    pub async fn start_on(pki: &Pki, backend: &Backend<'_>) -> Self {
        let dir = interrupt::TempDir::create();
        let data = dir.path().join("data");
        let d = data.to_str().expect("path");
        let any = "127.0.0.1:0";
        mss(&[
            "init",
            "--data-dir",
            d,
            "--domain",
            "bench.test",
            "--ca",
            pki.ca_dir.to_str().expect("path"),
            "--smtp",
            any,
            "--submission",
            any,
            "--imap",
            any,
            "--http",
            any,
        ]);
        let config = data.join("mss.toml");
        let text = std::fs::read_to_string(&config).expect("mss.toml");
        // The IMAP client logs in with LOGIN on both sides (a token as password here).
        let text = text.replace(
            "[imap]\nmax_append_bytes = 26214400\nplain_with_token = false",
            "[imap]\nplain_with_token = true",
        );
        // One client address may hold as many connections in their handshake
        // as Postfix lets it (anvil's smtpd_client_connection_count_limit).
        let text = text.replace("max_unproven_per_address = 16", "max_unproven_per_address = 50");
        assert!(text.contains("max_unproven_per_address = 50"), "mss.toml: {text}");
        std::fs::write(&config, text).expect("mss.toml");
        let store_config = configure_store(&data, backend);
        mss(&["whitelist", "add", "--data-dir", d, "peer.test", "--dn", &pki.load_generator.subject.to_string()]);
        let mut recipients = Vec::new();
        for n in 1..=MAILBOXES {
            let name = format!("Box {n}");
            recipients.push(mss(&[
                "mailbox",
                "create",
                "--data-dir",
                d,
                "--type",
                "app",
                "--finess",
                "750000002",
                "--name",
                &name,
            ]));
        }
        let node = Node::serve(&data);
        let store = Store::open(&store_config).await.expect("store");
        Self { node, store, data, recipients, _dir: dir }
    }

    /// Another node on a copy of the data directory (keys, configuration),
    /// as a deployment of several nodes has: for a shared store only.
    pub fn another_node(&self) -> Node {
        // Registered before the node's own stop: interrupted, the run stops
        // the node first, then removes its copy (and a copy cut short too).
        let copy = interrupt::TempDir::create();
        let data = copy.path().join("data");
        let status = Command::new("cp").arg("-a").arg(&self.data).arg(&data).status().expect("cp");
        assert!(status.success(), "copying the data directory");
        let _ = std::fs::remove_file(data.join("serve.lock"));
        let mut node = Node::serve(&data);
        node._copy = Some(copy);
        node
    }

    fn addr(&self, listener: &str) -> SocketAddr {
        self.node.addr(listener)
    }

    pub fn pid(&self) -> u32 {
        self.node.pid()
    }

    pub fn smtp_target(&self, pki: &Pki) -> Target {
        self.smtp_target_of(&self.node, pki)
    }

    /// The load mailboxes through `node`'s SMTP listener.
    pub fn smtp_target_of(&self, node: &Node, pki: &Pki) -> Target {
        Target {
            addr: node.addr("smtp"),
            tls: pki.client(),
            sender: "loadgen@peer.test".into(),
            recipients: self.recipients.clone(),
        }
    }

    /// Messages in the INBOXes of the load mailboxes.
    pub async fn delivered(&self) -> usize {
        let mut total = 0;
        for address in &self.recipients {
            let mailbox =
                self.store.meta.mailbox(&address.parse().expect("address")).await.expect("store").expect("mailbox");
            let inbox = self.store.meta.folder(mailbox.id, "INBOX").await.expect("store").expect("INBOX");
            total += self.store.meta.folder_counts(inbox.id).await.expect("store").messages as usize;
        }
        total
    }

    /// A mailbox holding `messages` messages (see [`Self::fill`]) and how to
    /// log in to it.
    pub async fn imap_target(&self, pki: &Pki, messages: usize) -> ImapTarget {
        let d = self.data.to_str().expect("path");
        let name = format!("Imap {}", NEXT_IMAP_BOX.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let address =
            mss(&["mailbox", "create", "--data-dir", d, "--type", "app", "--finess", "750000002", "--name", &name]);
        self.fill(&address, messages, |n, to| crate::smtp_load::message(n, 4 * 1024, "dr.house@peer.test", to)).await;
        self.login(pki, address)
    }

    /// A token to log in to `address` over IMAP.
    pub fn login(&self, pki: &Pki, address: String) -> ImapTarget {
        let d = self.data.to_str().expect("path");
        let token = mss(&["token", "--data-dir", d, &address, "--ttl-minutes", "600"]);
        ImapTarget { addr: self.addr("imap"), tls: pki.client(), user: address, password: token }
    }

    /// Appends `messages` messages made by `make(n, address)` to the INBOX
    /// of `address`, one in ten unseen, as an import would: bodies are
    /// prepared 64 at a time (large ones written to files, their fsyncs
    /// overlapping), then linked in batches, in order; then they are given
    /// their facts ([`Self::index`]), as every delivered message has them.
    pub async fn fill(&self, address: &str, messages: usize, make: fn(usize, &str) -> Vec<u8>) {
        let mailbox =
            self.store.meta.mailbox(&address.parse().expect("address")).await.expect("store").expect("mailbox");
        let inbox = self.store.meta.folder(mailbox.id, "INBOX").await.expect("store").expect("INBOX");
        for chunk in (0..messages).collect::<Vec<_>>().chunks(1024) {
            let mut puts = tokio::task::JoinSet::new();
            let mut stored = Vec::with_capacity(chunk.len());
            for &n in chunk {
                let (store, address) = (self.store.clone(), address.to_string());
                puts.spawn(async move {
                    let raw = make(n, &address);
                    (n, store.body(raw.clone().into()).await.expect("blob"), raw.len() as u64)
                });
                if puts.len() >= 64 {
                    stored.push(puts.join_next().await.expect("a task").expect("stored"));
                }
            }
            stored.extend(puts.join_all().await);
            stored.sort_by_key(|(n, _, _)| *n);
            let batch: Vec<Appended> = stored
                .into_iter()
                .map(|(n, body, size)| {
                    let flags = if n % 10 == 0 { vec![] } else { vec!["\\Seen".to_string()] };
                    Appended {
                        blob: body.hash,
                        size,
                        received_at: 1_790_000_000 + n as i64,
                        flags,
                        inline: body.inline,
                    }
                })
                .collect();
            self.store.meta.append(inbox.id, &batch).await.expect("append");
        }
        self.index();
    }

    /// `mss messages index`: what migrating a store of messages without
    /// their facts runs once.
    pub fn index(&self) {
        mss(&["messages", "index", "--data-dir", self.data.to_str().expect("path")]);
    }

    /// The running operator's store (the same files `mss serve` uses).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// `mss token`: a bearer token acting as `address`.
    pub fn token(&self, address: &str) -> String {
        mss(&["token", "--data-dir", self.data.to_str().expect("path"), address])
    }

    /// The address of the HTTP listener.
    pub fn http(&self) -> SocketAddr {
        self.addr("http")
    }

    /// A personal mailbox of the person `national_id`, and a portal session
    /// cookie of that person (signed with the operator's key, as a login
    /// through Pro Santé Connect would give).
    pub async fn personal_with_session(&self, local: &str, national_id: &str) -> (String, String) {
        use mss_core::{MailboxKind, MailboxState};
        let new = mss_store::NewMailbox {
            address: format!("{local}@bench.test").parse().expect("address"),
            kind: MailboxKind::Personal,
            state: MailboxState::Active,
            national_id: Some(national_id.parse().expect("national id")),
            finess: None,
            first_name: Some("Claire".into()),
            last_name: Some("Martin".into()),
            display_name: "Claire Martin".into(),
            service: None,
            liste_rouge: false,
            certificate_dn: None,
        };
        let mailbox = self.store.meta.create_mailbox(&new).await.expect("mailbox");
        let key_pem = std::fs::read_to_string(self.data.join("tls/server.key")).expect("server key");
        let key = mss_identity::token::TokenKey::from_pem(&key_pem, "bench.test").expect("token key");
        let sessions = mss_identity::SessionAuthority::new(std::sync::Arc::new(key), self.store.meta.clone());
        let person = mss_identity::Person {
            national_id: national_id.parse().expect("national id"),
            first_name: "Claire".into(),
            last_name: "Martin".into(),
            finess: vec![],
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
        let token = sessions.open_portal(&person, mss_identity::Method::Psc, now).await.expect("portal session");
        (mailbox.address.to_string(), format!("mss-portail={token}"))
    }

    pub fn stop(self) {
        drop(self);
    }
}

impl Node {
    /// `mss serve` on `data`, once it has written its listeners' ports.
    fn serve(data: &std::path::Path) -> Self {
        let _ = std::fs::remove_file(data.join("ports.json"));
        let child = Command::new(binary())
            .args(["serve", "--data-dir", data.to_str().expect("path")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mss serve");
        // Killed if the start fails from here on: nothing outlives the run.
        let mut starting = Starting(Some(child));
        let deadline = Instant::now() + Duration::from_secs(30);
        let ports = loop {
            if let Ok(text) = std::fs::read_to_string(data.join("ports.json")) {
                break serde_json::from_str(&text).expect("ports.json");
            }
            assert!(Instant::now() < deadline, "mss serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        let child = starting.0.take().expect("the child");
        Self { _stopped_on_interrupt: interrupt::kills(child.id()), child, ports, _copy: None }
    }

    pub fn addr(&self, listener: &str) -> SocketAddr {
        self.ports[listener].as_str().expect("port").parse().expect("address")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A run that fails half-way (a panic, a peer that does not start) stops
/// `mss serve` all the same: nothing of a run outlives it.
/// `mss serve` while it starts: killed if the start fails.
struct Starting(Option<Child>);

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        interrupt::terminate(self.child.id());
        let _ = self.child.wait();
    }
}
