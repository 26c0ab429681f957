//! Submission agrees with the access rule (issue 14) on the whole matrix the
//! front ends share (`mss-core`'s `tests/support/access_matrix.rs`): every
//! kind × state × relation (holder, member with each role, none).
//!
//! A person logged in on their own active personal mailbox gets 250 to
//! `MAIL FROM:<address>` of each mailbox of the matrix iff
//! `mss_core::rights` gives them `SendAs` there, 550 otherwise. The holder
//! relation is a login: authenticating as a personal mailbox of theirs
//! succeeds iff the rule grants something in its state, and the session may
//! then send as it.

mod support;

#[path = "../../core/tests/support/access_matrix.rs"]
mod access_matrix;

use std::net::SocketAddr;
use std::sync::Arc;

use access_matrix::{Case, OWN, cases};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mss_core::{MailboxKind, Right};
use mss_smtp::Limits;
use mss_store::{NewMailbox, now_unix};
use mss_trust::pki::CertificateAuthority;
use support::{Client, Site, anonymous_config, starttls};
use tokio::net::TcpStream;
use tokio::sync::Notify;

const DOMAIN: &str = "ours.test";
/// The person, and the holder of the other personal mailboxes.
const ALICE_ID: &str = "810003621892";
const BOB_ID: &str = "810000013994";

type TlsClient = Client<tokio_rustls::client::TlsStream<TcpStream>>;

/// Creates the case's mailbox: Alice's when she holds it, Bob's for the
/// other personal ones; Alice given the case's role.
async fn create(site: &Site, case: Case) {
    let holder = match case.kind {
        MailboxKind::Personal => Some(if case.held() { ALICE_ID } else { BOB_ID }),
        _ => None,
    };
    let new = NewMailbox {
        address: case.address(DOMAIN).parse().unwrap(),
        kind: case.kind,
        state: case.state,
        national_id: holder.map(|n| n.parse().unwrap()),
        finess: None,
        first_name: None,
        last_name: None,
        display_name: case.local_part(),
        service: None,
        liste_rouge: false,
        certificate_dn: None,
    };
    let mailbox = site.store.meta.create_mailbox(&new).await.unwrap();
    if let Some(role) = case.role() {
        site.store.meta.grant_role(mailbox.id, &ALICE_ID.parse().unwrap(), role).await.unwrap();
    }
}

/// A site with every mailbox of the matrix, serving submission.
async fn matrix_site(ca: &CertificateAuthority) -> (Site, SocketAddr) {
    let site = Site::new(ca, DOMAIN).await;
    for case in cases() {
        create(&site, case).await;
    }
    let submission = site.start_submission(Arc::new(Notify::new())).await;
    (site, submission)
}

/// Authenticates as `address` with a token: the reply code.
async fn authenticate(
    site: &Site,
    ca: &CertificateAuthority,
    submission: SocketAddr,
    address: &str,
) -> (TlsClient, u16) {
    let mut client = starttls(submission, anonymous_config(ca.cert_pem())).await;
    let token = site.token_key().issue(address, now_unix(), 300).unwrap();
    let response = STANDARD.encode(format!("user={address}\u{1}auth=Bearer {token}\u{1}\u{1}"));
    let (code, _) = client.cmd(&format!("AUTH XOAUTH2 {response}")).await;
    (client, code)
}

#[tokio::test]
async fn a_person_sends_as_a_mailbox_of_the_matrix_iff_the_rule_gives_send_as() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let (site, submission) = matrix_site(&ca).await;
    let own = OWN.address(DOMAIN);
    let (mut alice, code) = authenticate(&site, &ca, submission, &own).await;
    assert_eq!(code, 235);
    // A session is closed at its tenth refusal: a new one before that.
    let mut refusals = 0;
    let mut disagreements = Vec::new();
    for case in cases() {
        let address = case.address(DOMAIN);
        let (code, text) = alice.cmd(&format!("MAIL FROM:<{address}>")).await;
        let wanted = if case.rights().has(Right::SendAs) { 250 } else { 550 };
        if code != wanted {
            disagreements.push(format!("{address}: {code} {}, rule wants {wanted}", text.trim_end()));
        }
        assert_eq!(alice.cmd("RSET").await.0, 250, "{address}");
        refusals += usize::from(code >= 400);
        if refusals + 1 == Limits::default().max_errors {
            (alice, refusals) = (authenticate(&site, &ca, submission, &own).await.0, 0);
        }
    }
    assert!(disagreements.is_empty(), "submission disagrees with the rule:\n{}", disagreements.join("\n"));
}

#[tokio::test]
async fn logging_in_as_a_held_mailbox_succeeds_iff_the_rule_grants_something() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let (site, submission) = matrix_site(&ca).await;
    let held: Vec<Case> = cases().into_iter().filter(|c| c.held()).collect();
    assert_eq!(held.len(), 4, "one personal mailbox of Alice's in each state");
    for case in held {
        let address = case.address(DOMAIN);
        let (mut client, code) = authenticate(&site, &ca, submission, &address).await;
        let granted = !case.rights().is_empty();
        assert_eq!(code, if granted { 235 } else { 535 }, "{address}");
        if granted {
            assert_eq!(client.cmd(&format!("MAIL FROM:<{address}>")).await.0, 250, "{address}");
        }
    }
}
