//! The webmail agrees with the access rule (issue 14) on the whole matrix the
//! front ends share (`mss-core`'s `tests/support/access_matrix.rs`): every
//! kind × state × relation (holder, member with each role, none).
//!
//! A person signed in to the portal, for each mailbox of the matrix (one
//! message delivered to each): its folder page answers 200 iff
//! `mss_core::rights` gives them `Read`; flagging the message for follow-up
//! is done (303, `\Flagged` set) iff the rule gives `SetFlags`, and is
//! otherwise refused with the flag unchanged: 403 where they may read, the
//! mailbox's refusal page (404, or 409 when it is closed) elsewhere.

mod support;

#[path = "../../core/tests/support/access_matrix.rs"]
mod access_matrix;

use access_matrix::{Case, cases};
use mss_core::{MailboxKind, Right};
use mss_store::{Mailbox, NewMailbox};
use support::webmail::{Webmail, site};

const DOMAIN: &str = "ours.test";
/// The person, and the holder of the other personal mailboxes.
const ALICE_ID: &str = "810003621892";
const BOB_ID: &str = "810000013994";

/// Creates the case's mailbox with one message: Alice's when she holds it,
/// Bob's for the other personal ones; Alice given the case's role.
async fn create(s: &Webmail, case: Case) -> Mailbox {
    let holder = match case.kind {
        MailboxKind::Personal => Some(if case.held() { ALICE_ID } else { BOB_ID }),
        _ => None,
    };
    let address = case.address(DOMAIN);
    let new = NewMailbox {
        address: address.parse().unwrap(),
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
    let mailbox = s.store.meta.create_mailbox(&new).await.unwrap();
    if let Some(role) = case.role() {
        s.store.meta.grant_role(mailbox.id, &ALICE_ID.parse().unwrap(), role).await.unwrap();
    }
    let message = format!("From: Labo <labo@autre.test>\r\nTo: {address}\r\nSubject: Analyses\r\n\r\nTexte\r\n");
    s.store.deliver(message.as_bytes(), &[mailbox.id]).await.unwrap();
    mailbox
}

#[tokio::test]
async fn each_mailbox_of_the_matrix_is_read_and_flagged_iff_the_rule_allows() {
    let s = site().await;
    let mut mailboxes = Vec::new();
    for case in cases() {
        mailboxes.push((case, create(&s, case).await));
    }
    let alice = s.signed_in(ALICE_ID, "Alice", "Martin").await;
    let csrf = s.csrf(&alice).await;

    let mut disagreements = Vec::new();
    for (case, mailbox) in &mailboxes {
        let address = case.address(DOMAIN);
        let rights = case.rights();
        let page = s.get(&format!("/portail/boites/{address}/courrier"), &alice).await;
        if (page.status == 200) != rights.has(Right::Read) {
            disagreements.push(format!("{address}: folder page {}, rule grants {rights:?}", page.status));
        }

        let action = format!("/portail/boites/{address}/courrier/INBOX/1/action");
        let flag = s.post_form(&action, &alice, &format!("csrf={csrf}&action=suivi")).await;
        let flagged = s.folder(mailbox, "INBOX").await[0].0.has_flag("\\Flagged");
        let done = flag.status == 303 && flagged;
        let refused = (400..500).contains(&flag.status) && !flagged;
        let (wanted, why) = match (rights.has(Right::SetFlags), rights.has(Right::Read)) {
            (true, _) => (done, "done"),
            // Readable but not flaggable: the role's refusal.
            (false, true) => (refused && flag.status == 403, "refused with 403"),
            (false, false) => (refused, "refused"),
        };
        if !wanted {
            disagreements
                .push(format!("{address}: flag answered {} (flagged: {flagged}), rule wants it {why}", flag.status));
        }
    }
    assert!(disagreements.is_empty(), "the webmail disagrees with the rule:\n{}", disagreements.join("\n"));
}
