//! IMAP agrees with the access rule (issue 14) on the whole matrix the
//! front ends share (`mss-core`'s `tests/support/access_matrix.rs`): every
//! kind × state × relation (holder, member with each role, none).
//!
//! A person logged in on their own active personal mailbox, over real TLS,
//! sees each other mailbox of the matrix as the rule says: `MYRIGHTS
//! Partage/<address>/INBOX` answers exactly the RFC 4314 letters of
//! `mss_core::rights` (written here from the rights, not by the crate), or
//! `NO` when the rule grants nothing, and `LIST "" "Partage/*"` shows the
//! mailbox iff the rule grants something. The holder relation is a login:
//! logging in to a personal mailbox succeeds iff the rule grants something
//! in its state, and then `MYRIGHTS INBOX` is every letter.

mod support;

#[path = "../../core/tests/support/access_matrix.rs"]
mod access_matrix;

use access_matrix::{Case, OWN, cases};
use mss_core::{MailboxKind, Right, Rights};
use mss_imap::Limits;
use mss_store::NewMailbox;
use support::{ALICE_ID, BOB_ID, DOMAIN, Site, logged_in, starttls};

/// The RFC 4314 letters of `rights`, in the order of "lrswipkxtea".
fn letters(rights: Rights) -> String {
    let table = [
        (Right::Read, "lr"),
        (Right::MarkSeen, "s"),
        (Right::SetFlags, "w"),
        (Right::Write, "i"),
        (Right::SendAs, "p"),
        (Right::CreateFolders, "kx"),
        (Right::Delete, "te"),
        (Right::Administer, "a"),
    ];
    table.iter().filter(|(right, _)| rights.has(*right)).map(|(_, letters)| *letters).collect()
}

/// Creates the case's mailbox: the person's (Alice's) when she holds it,
/// another person's (Bob's) for the other personal ones; Alice given the
/// case's role.
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
    let id = site.store.meta.create_mailbox(&new).await.unwrap().id;
    if let Some(role) = case.role() {
        site.grant(id, ALICE_ID, role).await;
    }
}

#[tokio::test]
async fn every_mailbox_of_the_matrix_is_shared_with_the_letters_of_the_rule() {
    assert_eq!(letters(Rights::ALL), "lrswipkxtea");
    let site = Site::new().await;
    let matrix = cases();
    for case in &matrix {
        create(&site, *case).await;
    }
    let addr = site.start(Limits::default()).await;
    let mut alice = logged_in(&site, addr, &OWN.address(DOMAIN)).await;
    let own = alice.cmd("MYRIGHTS INBOX").await;
    assert!(own.untagged.contains(&format!("* MYRIGHTS INBOX {}\r\n", letters(OWN.rights()))), "{own:?}");

    let list = alice.cmd("LIST \"\" \"Partage/*\"").await;
    assert!(list.ok(), "{list:?}");
    let mut disagreements = Vec::new();
    for case in matrix.iter().filter(|c| !c.held()) {
        let address = case.address(DOMAIN);
        let expected = case.rights();
        let listed = list.untagged.contains(&format!("Partage/{address}/"));
        if listed == expected.is_empty() {
            disagreements.push(format!("{address}: LIST shows it {listed}, rule grants {expected:?}"));
        }
        let reply = alice.cmd(&format!("MYRIGHTS Partage/{address}/INBOX")).await;
        let answered = match reply.status() {
            "OK" => reply.lines("MYRIGHTS").first().and_then(|l| l.rsplit(' ').next()).unwrap_or("?").to_string(),
            status => status.to_string(),
        };
        let wanted = if expected.is_empty() { "NO".to_string() } else { letters(expected) };
        if answered != wanted {
            disagreements.push(format!("{address}: MYRIGHTS {answered:?}, rule {wanted:?}"));
        }
    }
    // The person's own personal mailboxes are logins, never shared folders.
    for case in matrix.iter().filter(|c| c.held()) {
        assert!(!list.untagged.contains(&case.address(DOMAIN)), "{list:?}");
    }
    assert!(disagreements.is_empty(), "IMAP disagrees with the rule:\n{}", disagreements.join("\n"));
}

#[tokio::test]
async fn logging_in_to_a_held_mailbox_succeeds_iff_the_rule_grants_something() {
    let site = Site::new().await;
    let held: Vec<Case> = cases().into_iter().filter(|c| c.held()).collect();
    assert_eq!(held.len(), 4, "one personal mailbox of Alice's in each state");
    for case in &held {
        create(&site, *case).await;
    }
    let addr = site.start(Limits::default()).await;
    for case in held {
        let address = case.address(DOMAIN);
        let mut client = starttls(addr, site.anonymous()).await;
        let login = client.xoauth2(&address, &site.token(&address)).await;
        assert_eq!(login.ok(), !case.rights().is_empty(), "{address}: {login:?}");
        if login.ok() {
            let rights = client.cmd("MYRIGHTS INBOX").await;
            assert!(rights.untagged.contains(&format!(" INBOX {}\r\n", letters(case.rights()))), "{rights:?}");
            assert_eq!(letters(case.rights()), "lrswipkxtea");
        }
    }
}
