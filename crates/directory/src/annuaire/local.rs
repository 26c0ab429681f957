//! Our own mailboxes in directory searches: an active mailbox is found as
//! soon as it is active, before any extraction lists it; a liste rouge one
//! never is. We are authoritative for our domain, so the snapshot's entries
//! of our domain are left out of searches (a suspended or deleted mailbox
//! disappears at once too).

use mss_core::{MailboxState, NationalId, fold_label};
use mss_store::Mailbox;

use super::query::Query;
use super::search::Hit;

/// Folded words of a text (`"Élodie D'Arc"` -> `elodie`, `d`, `arc`).
fn folded_words(text: &str) -> Vec<String> {
    fold_label(text).split('-').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// The searchable mailboxes: active and not on the liste rouge.
pub fn is_public(mailbox: &Mailbox) -> bool {
    mailbox.state == MailboxState::Active && !mailbox.liste_rouge
}

/// Whether `mailbox` answers `query`. Fields our store does not hold
/// (profession, city, postal code, department, street) never match.
pub fn matches(mailbox: &Mailbox, query: &Query) -> bool {
    if !is_public(mailbox) {
        return false;
    }
    let unknown_fields = query.profession.is_some()
        || !query.city.is_empty()
        || !query.street.is_empty()
        || query.postal_code.is_some()
        || query.department.is_some();
    if unknown_fields || query.is_empty() || query.kind.is_some_and(|k| k != mailbox.kind) {
        return false;
    }
    if let Some(id) = &query.identifier {
        let person = mailbox.national_id.as_ref().is_some_and(|n| person_number(n) == id.as_str());
        let finess = mailbox.finess.as_ref().is_some_and(|f| f.as_str() == id.as_str());
        if !person && !finess {
            return false;
        }
    }
    let names = [
        Some(mailbox.display_name.as_str()),
        mailbox.first_name.as_deref(),
        mailbox.last_name.as_deref(),
        mailbox.service.as_deref(),
    ];
    let tokens: Vec<String> = names.into_iter().flatten().flat_map(folded_words).collect();
    let wanted: Vec<String> = query.words.iter().flat_map(|w| folded_words(w)).collect();
    let last = wanted.len().saturating_sub(1);
    wanted.iter().enumerate().all(|(i, word)| {
        tokens
            .iter()
            .any(|t| t == word || (query.prefix && i == last && word.len() >= 2 && t.starts_with(word.as_str())))
    })
}

/// The RPPS or ADELI number, without the national id's prefix digit.
fn person_number(id: &NationalId) -> &str {
    match id {
        NationalId::Rpps(rpps) => rpps.as_str(),
        NationalId::Adeli(adeli) => adeli.as_str(),
    }
}

/// A mailbox of ours as a search result.
pub fn hit(mailbox: &Mailbox) -> Hit {
    let (person_id_type, person_id) = match &mailbox.national_id {
        Some(NationalId::Rpps(rpps)) => ("8", rpps.as_str().to_string()),
        Some(NationalId::Adeli(adeli)) => ("0", adeli.as_str().to_string()),
        None => ("", String::new()),
    };
    Hit {
        kind: mailbox.kind.code().to_string(),
        address: mailbox.address.to_string(),
        name: mailbox.display_name.clone(),
        civility: String::new(),
        last_name: mailbox.last_name.clone().unwrap_or_default(),
        first_name: mailbox.first_name.clone().unwrap_or_default(),
        profession_code: String::new(),
        profession: String::new(),
        structure: String::new(),
        service: mailbox.service.clone().unwrap_or_default(),
        person_id_type: person_id_type.to_string(),
        person_id,
        finess: mailbox.finess.as_ref().map(|f| f.as_str().to_string()).unwrap_or_default(),
        street: String::new(),
        postal_code: String::new(),
        city: String::new(),
        department: String::new(),
        source: "operateur",
    }
}
