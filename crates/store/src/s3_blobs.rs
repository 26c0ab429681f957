//! Blobs as objects in an S3-compatible bucket (AWS, MinIO, Garage, Ceph
//! RGW), shared by several mss nodes: `<prefix>/<first two hex digits>/<hash>`,
//! the layout of a blob directory, so copying one into a bucket migrates it.
//!
//! The client is `object_store` (SigV4 signing, retries, pagination) over
//! reqwest and rustls with ring. Every request is bounded: a connection in
//! [`CONNECT_TIMEOUT`], a request in [`REQUEST_TIMEOUT`], retries of a failed
//! one within [`RETRY_TIMEOUT`]. A read verifies the content against its
//! hash: a damaged object is reported, never served.
//!
//! Storing content that is already present writes it again, which refreshes
//! the object's last-modified time, what [`BlobStore::remove_if_idle`] reads.
//! S3 has no rename nor portable conditional delete, so a collection and a
//! concurrent store of the same blob agree through a marker object,
//! `<prefix>/collecting/<hash>`: the collector writes it before looking at the
//! blob and removes it once done; a store that sees a fresh marker after
//! writing waits for it to go (or fails after [`COLLECTION_WAIT`], a
//! temporary failure), then checks that the blob is still there and writes
//! it anew if not. A marker left by a collector that died is ignored once
//! older than [`MARKER_LIFETIME`], and removed at open. This relies on the strong
//! read-after-write consistency every S3 implementation named above offers,
//! and on clocks agreeing within the grace period (last-modified times are
//! the server's).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use crate::StoreError;
use crate::blob::{BlobHash, BlobStore, elapsed_since, verified};

/// How long to wait for a TCP (and TLS) connection to the server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take, body included: a 1 GiB message (the
/// largest mss accepts) at 80 Mbit/s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a failed request (connection refused, 5xx) is retried for.
pub const RETRY_TIMEOUT: Duration = Duration::from_secs(10);
/// After this, a collection marker is debris of a collector that died (a
/// live one holds it for two small requests, each bounded as above).
pub const MARKER_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// How long a store waits for a collection of the same blob to end.
pub const COLLECTION_WAIT: Duration = Duration::from_secs(30);
/// How often a store waiting for a collection looks again.
const MARKER_POLL: Duration = Duration::from_millis(200);
/// Where the collection markers live, under the prefix.
const MARKERS: &str = "collecting";
/// Concurrent reads of one [`BlobStore::get_many`].
const GET_CONCURRENCY: usize = 8;
/// How many times a store writes a blob that concurrent collections keep
/// removing before it gives up.
const STORE_ATTEMPTS: usize = 3;

/// Where the bucket is and how to sign in to it.
#[derive(Clone)]
pub struct S3Config {
    /// The server's URL (`https://minio.example:9000`), path-style requests;
    /// `None` for AWS itself (virtual-hosted style, from the region).
    pub endpoint: Option<String>,
    /// The region the signatures name (`us-east-1` for most other servers).
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    /// Never printed (see the `Debug` implementation).
    pub secret_access_key: String,
    /// Where the blobs go in the bucket (`mss/blobs`); empty for its root.
    pub prefix: String,
    /// Whether a plain `http://` endpoint is accepted (a server on loopback
    /// or behind a TLS proxy of the same host).
    pub allow_http: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// The S3 blob store.
#[derive(Clone)]
pub struct S3BlobStore {
    client: Arc<AmazonS3>,
    /// The configured prefix, parsed.
    prefix: ObjectPath,
    /// `bucket` or `endpoint/bucket`, for error messages.
    place: String,
}

impl S3BlobStore {
    /// Connects to the bucket and removes the markers of collectors that
    /// died, which checks that it can be listed with these credentials: a
    /// wrong setting stops the start, not a delivery.
    pub async fn open(config: &S3Config) -> Result<Self, StoreError> {
        if config.bucket.is_empty() || config.access_key_id.is_empty() || config.secret_access_key.is_empty() {
            return Err(StoreError::Invalid("S3 needs a bucket, an access key id and a secret access key".into()));
        }
        let prefix = ObjectPath::parse(config.prefix.trim_matches('/'))
            .map_err(|e| StoreError::Invalid(format!("S3 prefix `{}`: {e}", config.prefix)))?;
        // reqwest's rustls takes the process's crypto provider; mss uses
        // ring everywhere. One installed already (by mss or a test) stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = ClientOptions::new()
            .with_allow_http(config.allow_http)
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT);
        let retry = RetryConfig { max_retries: 3, retry_timeout: RETRY_TIMEOUT, ..RetryConfig::default() };
        let mut builder = AmazonS3Builder::new()
            .with_region(&config.region)
            .with_bucket_name(&config.bucket)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key)
            .with_client_options(options)
            .with_retry(retry);
        builder = match &config.endpoint {
            Some(endpoint) => builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false),
            None => builder.with_virtual_hosted_style_request(true),
        };
        let place = match &config.endpoint {
            Some(endpoint) => format!("{}/{}", endpoint.trim_end_matches('/'), config.bucket),
            None => config.bucket.clone(),
        };
        let client = builder.build().map_err(|e| StoreError::Invalid(format!("S3 bucket {place}: {e}")))?;
        let store = Self { client: Arc::new(client), prefix, place };
        store.remove_abandoned_markers().await?;
        Ok(store)
    }

    async fn remove_abandoned_markers(&self) -> Result<(), StoreError> {
        let markers = self.prefix.clone().join(MARKERS);
        let mut listing = self.client.list(Some(&markers));
        while let Some(meta) = listing.try_next().await.map_err(|e| self.failed("listing", &markers, e))? {
            if age(&meta) >= MARKER_LIFETIME {
                self.remove(&meta.location).await?;
            }
        }
        Ok(())
    }

    fn key_of(&self, hash: &BlobHash) -> ObjectPath {
        hash.relative_path().split('/').fold(self.prefix.clone(), ObjectPath::join)
    }

    fn marker_of(&self, hash: &BlobHash) -> ObjectPath {
        self.prefix.clone().join(MARKERS).join(hash.to_hex().as_str())
    }

    /// The error of a request that failed: what, where, and the server's or
    /// the connection's reason (the causes the message does not already
    /// say, such as "Connection refused").
    fn failed(&self, action: &str, key: &ObjectPath, error: object_store::Error) -> StoreError {
        let mut message = format!("{action} `{key}` in S3 bucket {}: {error}", self.place);
        let mut cause = std::error::Error::source(&error);
        while let Some(reason) = cause {
            let reason_text = reason.to_string();
            if !message.contains(&reason_text) {
                message = format!("{message}: {reason_text}");
            }
            cause = reason.source();
        }
        StoreError::Objects(message)
    }

    /// The object's metadata; `None` if absent.
    async fn head(&self, key: &ObjectPath) -> Result<Option<ObjectMeta>, StoreError> {
        match self.client.head(key).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed("looking up", key, e)),
        }
    }

    /// The blob's content, checked; `None` if absent.
    async fn read(&self, hash: BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.key_of(&hash);
        let object = match self.client.get(&key).await {
            Ok(object) => object,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.failed("reading", &key, e)),
        };
        let data = object.bytes().await.map_err(|e| self.failed("reading", &key, e))?;
        verified(&hash, data.to_vec()).map(Some)
    }

    async fn write(&self, key: &ObjectPath, data: Bytes) -> Result<(), StoreError> {
        let payload = PutPayload::from(data);
        self.client.put(key, payload).await.map(drop).map_err(|e| self.failed("writing", key, e))
    }

    async fn remove(&self, key: &ObjectPath) -> Result<(), StoreError> {
        match self.client.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed("removing", key, e)),
        }
    }

    /// Waits while a collection of `hash` is under way (its marker is
    /// fresh), [`COLLECTION_WAIT`] at most.
    async fn wait_for_collection(&self, hash: &BlobHash) -> Result<(), StoreError> {
        let marker = self.marker_of(hash);
        let deadline = tokio::time::Instant::now() + COLLECTION_WAIT;
        while let Some(meta) = self.head(&marker).await? {
            if age(&meta) >= MARKER_LIFETIME {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Objects(format!(
                    "blob {hash} is being collected in S3 bucket {} for {}s; try again later",
                    self.place,
                    COLLECTION_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(MARKER_POLL).await;
        }
        Ok(())
    }

    /// Removes the blob if idle, the marker being in place.
    async fn remove_marked_if_idle(&self, key: &ObjectPath, idle: Duration) -> Result<bool, StoreError> {
        match self.head(key).await? {
            Some(meta) if age(&meta) >= idle => self.remove(key).await.map(|()| true),
            _ => Ok(false),
        }
    }
}

/// How long ago the object was last written.
fn age(meta: &ObjectMeta) -> Duration {
    elapsed_since(SystemTime::from(meta.last_modified))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, data: Bytes) -> Result<BlobHash, StoreError> {
        let hash = BlobHash::of(&data);
        let key = self.key_of(&hash);
        for _ in 0..STORE_ATTEMPTS {
            self.write(&key, data.clone()).await?;
            // A collector that wrote its marker after this point sees the
            // fresh write and keeps the blob; one that wrote it before may
            // have removed the blob once it is done: look again.
            self.wait_for_collection(&hash).await?;
            if self.head(&key).await?.is_some() {
                return Ok(hash);
            }
        }
        Err(StoreError::Objects(format!("blob {hash} kept being collected while it was stored in {}", self.place)))
    }

    async fn get(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(*hash).await
    }

    async fn get_many(&self, hashes: &[BlobHash]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        // Collected first: a lazy map would not be `Send` (a rustc limit).
        let reads: Vec<_> = hashes.iter().map(|hash| self.read(*hash)).collect();
        futures_util::stream::iter(reads).buffered(GET_CONCURRENCY).try_collect().await
    }

    async fn contains(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        Ok(self.head(&self.key_of(hash)).await?.is_some())
    }

    async fn delete(&self, hash: &BlobHash) -> Result<(), StoreError> {
        self.remove(&self.key_of(hash)).await
    }

    async fn list(&self) -> Result<Vec<BlobHash>, StoreError> {
        let mut objects = self.client.list(Some(&self.prefix));
        let mut hashes = Vec::new();
        while let Some(meta) = objects.try_next().await.map_err(|e| self.failed("listing", &self.prefix, e))? {
            let Some(parts) = meta.location.prefix_match(&self.prefix) else { continue };
            let relative = parts.map(|part| part.as_ref().to_string()).collect::<Vec<_>>().join("/");
            if !relative.starts_with(&format!("{MARKERS}/")) {
                hashes.push(BlobHash::from_relative_path(&relative)?);
            }
        }
        hashes.sort();
        Ok(hashes)
    }

    async fn remove_if_idle(&self, hash: &BlobHash, idle: Duration) -> Result<bool, StoreError> {
        // The marker first: a store of this blob that does not see it wrote
        // before the look below, which then finds the blob fresh.
        let marker = self.marker_of(hash);
        self.write(&marker, Bytes::new()).await?;
        let removed = self.remove_marked_if_idle(&self.key_of(hash), idle).await;
        let unmarked = self.remove(&marker).await;
        let removed = removed?;
        unmarked?;
        Ok(removed)
    }
}
