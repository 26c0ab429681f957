//! Helpers shared by the store's test files.

use mss_core::{EmailAddress, MailboxKind, MailboxState, NationalId};
use mss_store::{NewMailbox, S3Config};
use mss_testkit::S3Bucket;

pub fn address(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

pub fn person(addr: &str, rpps: &str) -> NewMailbox {
    NewMailbox {
        address: address(addr),
        kind: MailboxKind::Personal,
        state: MailboxState::Active,
        national_id: Some(format!("8{rpps}").parse::<NationalId>().unwrap()),
        finess: None,
        first_name: Some("Élodie".into()),
        last_name: Some("Dupont".into()),
        display_name: "Élodie Dupont".into(),
        service: None,
        liste_rouge: false,
        certificate_dn: None,
    }
}

/// The configuration that opens `bucket` (`s3.rs` and `postgres.rs`; not
/// `embedded.rs`, hence the allowance).
#[allow(dead_code)]
pub fn s3_config(bucket: &S3Bucket, prefix: &str) -> S3Config {
    S3Config {
        endpoint: Some(bucket.endpoint.clone()),
        region: bucket.region.clone(),
        bucket: bucket.name.clone(),
        access_key_id: bucket.access_key_id.clone(),
        secret_access_key: bucket.secret_access_key.clone(),
        prefix: prefix.into(),
        allow_http: true,
    }
}
