//! Helpers shared by the store's test files.

use mss_core::{EmailAddress, MailboxKind, MailboxState, NationalId};
use mss_store::NewMailbox;

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
