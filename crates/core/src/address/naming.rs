//! How new mailboxes are named. Each builder folds its inputs with [`fold_label`]
//! and returns a base local part of at most 64 octets; [`super::allocate_address`]
//! then picks the first free variant of it.
//!
//! | kind | builder | shape |
//! |---|---|---|
//! | PER | [`personal_local_part`] | `prenom.nom` |
//! | ORG, pharmacy | [`pharmacy_local_part`] | `pharmacie-<nom>-<codepostal>-<ville>` |
//! | ORG, other | [`service_local_part`] | `<nom>` |
//! | APP | [`application_local_part`] | `app-<nom>` |
//! | CAB | [`cabinet_local_part`] | `cabinet-<nom>-<ville>` |
//!
//! Rules:
//! - a prefix word (`pharmacie`, `app`, `cabinet`) is never doubled: a name that
//!   already starts with that word (after folding) keeps it once;
//! - every input must fold to something, or the builder fails naming the field;
//! - when the result would pass 64 octets, the leading part (first name, structure
//!   name) is shortened first, then the trailing part, each cut at a `-` boundary
//!   or not, but never left ending in `-` or `.`.

use super::{AddressError, LOCAL_PART_MAX, fold_label};

/// `prenom.nom`, e.g. ("Élodie", "Dupont-Lefèvre") -> `elodie.dupont-lefevre`.
pub fn personal_local_part(first: &str, last: &str) -> Result<String, AddressError> {
    let first = folded("first name", first)?;
    let last = folded("last name", last)?;
    Ok(fit(&first, &format!(".{last}")))
}

/// `pharmacie-<nom>-<codepostal>-<ville>`, e.g. ("Pharmacie du Centre", "75001",
/// "Paris") -> `pharmacie-du-centre-75001-paris`.
///
/// The postal code must be 5 digits from 01000 to 98999 (metropolitan France,
/// Corsica `20xxx`, overseas `97xxx`/`98xxx`).
pub fn pharmacy_local_part(name: &str, postal_code: &str, city: &str) -> Result<String, AddressError> {
    let name = with_prefix("pharmacie", &folded("pharmacy name", name)?);
    check_postal_code(postal_code)?;
    let city = folded("city", city)?;
    Ok(fit(&name, &format!("-{postal_code}-{city}")))
}

/// An organisational mailbox that is not a pharmacy: the folded name,
/// e.g. "Service de Cardiologie" -> `service-de-cardiologie`.
pub fn service_local_part(name: &str) -> Result<String, AddressError> {
    Ok(fit(&folded("service name", name)?, ""))
}

/// An applicative mailbox: `app-<nom>`, e.g. "LGO Officine" -> `app-lgo-officine`;
/// "App Officine" stays `app-officine`.
pub fn application_local_part(name: &str) -> Result<String, AddressError> {
    Ok(fit(&with_prefix("app", &folded("application name", name)?), ""))
}

/// A cabinet mailbox: `cabinet-<nom>-<ville>`, e.g. ("Cabinet des Lilas", "Lyon")
/// -> `cabinet-des-lilas-lyon`.
pub fn cabinet_local_part(name: &str, city: &str) -> Result<String, AddressError> {
    let name = with_prefix("cabinet", &folded("cabinet name", name)?);
    let city = folded("city", city)?;
    Ok(fit(&name, &format!("-{city}")))
}

/// Folds `input`, failing with the field's name when nothing is left.
fn folded(field: &'static str, input: &str) -> Result<String, AddressError> {
    let label = fold_label(input);
    if label.is_empty() { Err(AddressError::EmptyName { field, input: crate::excerpt(input) }) } else { Ok(label) }
}

/// `word-label`, unless `label` already is `word` or starts with the word `word-`.
fn with_prefix(word: &str, label: &str) -> String {
    let has_word = label.strip_prefix(word).is_some_and(|rest| rest.is_empty() || rest.starts_with('-'));
    if has_word { label.to_owned() } else { format!("{word}-{label}") }
}

/// 5 ASCII digits, 01000..=98999.
fn check_postal_code(postal_code: &str) -> Result<(), AddressError> {
    let valid = postal_code.len() == 5
        && postal_code.bytes().all(|b| b.is_ascii_digit())
        && !postal_code.starts_with("00")
        && !postal_code.starts_with("99");
    if valid { Ok(()) } else { Err(AddressError::PostalCode { got: crate::excerpt(postal_code) }) }
}

/// Joins `head` and `tail` within [`LOCAL_PART_MAX`] octets, shortening `head` first
/// (keeping at least one character of it), then `tail`. Both are folded ASCII.
fn fit(head: &str, tail: &str) -> String {
    if head.len() + tail.len() <= LOCAL_PART_MAX {
        return format!("{head}{tail}");
    }
    let tail = truncate(tail, LOCAL_PART_MAX - 1);
    let head = truncate(head, LOCAL_PART_MAX - tail.len());
    format!("{head}{tail}")
}

/// The longest prefix of `s` of at most `max` octets that ends on a character
/// boundary, without trailing `-` or `.`.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().trim_end_matches(['-', '.'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_names() {
        assert_eq!(personal_local_part("Élodie", "Dupont-Lefèvre").unwrap(), "elodie.dupont-lefevre");
        assert_eq!(personal_local_part("Jean Pierre", "D'Arc").unwrap(), "jean-pierre.d-arc");
        assert_eq!(personal_local_part("Œdipe", "Roi").unwrap(), "oedipe.roi");
        assert_eq!(
            personal_local_part("", "Dupont").unwrap_err().to_string(),
            "first name: nothing left after folding \"\""
        );
        assert_eq!(
            personal_local_part("Jean", "!!").unwrap_err().to_string(),
            "last name: nothing left after folding \"!!\""
        );
    }

    #[test]
    fn pharmacy_names() {
        assert_eq!(
            pharmacy_local_part("Pharmacie du Centre", "75001", "Paris").unwrap(),
            "pharmacie-du-centre-75001-paris"
        );
        assert_eq!(
            pharmacy_local_part("Grande Pharmacie de l’Hôtel de Ville", "20000", "Ajaccio").unwrap(),
            "pharmacie-grande-pharmacie-de-l-hotel-de-ville-20000-ajaccio"
        );
        assert_eq!(pharmacy_local_part("PHARMACIE", "97400", "Saint-Denis").unwrap(), "pharmacie-97400-saint-denis");
        assert_eq!(
            pharmacy_local_part("Pharmacies Réunies", "69003", "Lyon").unwrap(),
            "pharmacie-pharmacies-reunies-69003-lyon"
        );
        assert_eq!(
            pharmacy_local_part("Pharmacie d'Épinal", "88000", "Épinal").unwrap(),
            "pharmacie-d-epinal-88000-epinal"
        );
    }

    #[test]
    fn postal_codes() {
        for good in ["01000", "20000", "20200", "75001", "97400", "98000"] {
            assert!(pharmacy_local_part("X", good, "Y").is_ok(), "{good}");
        }
        for bad in ["7500", "750011", "00100", "99000", "2A000", " 75001", "７５００１"] {
            assert!(matches!(pharmacy_local_part("X", bad, "Y"), Err(AddressError::PostalCode { .. })), "{bad}");
        }
        assert_eq!(
            pharmacy_local_part("X", "7500", "Y").unwrap_err().to_string(),
            "postal code: expected 5 digits (01000 to 98999), got \"7500\""
        );
    }

    #[test]
    fn other_kinds() {
        assert_eq!(service_local_part("Service de Cardiologie").unwrap(), "service-de-cardiologie");
        assert_eq!(application_local_part("LGO Officine").unwrap(), "app-lgo-officine");
        assert_eq!(application_local_part("App Officine").unwrap(), "app-officine");
        assert_eq!(application_local_part("Apple").unwrap(), "app-apple");
        assert_eq!(cabinet_local_part("Cabinet des Lilas", "Lyon").unwrap(), "cabinet-des-lilas-lyon");
        assert_eq!(cabinet_local_part("Dr Martin", "Saint-Étienne").unwrap(), "cabinet-dr-martin-saint-etienne");
        assert!(matches!(cabinet_local_part("Cabinet", "???"), Err(AddressError::EmptyName { field: "city", .. })));
    }

    #[test]
    fn long_names_are_shortened_leading_part_first() {
        let long_first = "Marie-Françoise-Bernadette-Geneviève-Anne-Sophie-Élisabeth-Thérèse";
        let local = personal_local_part(long_first, "Dupont").unwrap();
        assert!(local.len() <= LOCAL_PART_MAX);
        assert!(local.ends_with(".dupont"), "{local}");
        assert!(local.starts_with("marie-francoise"), "{local}");

        let local = personal_local_part("Jean", &"x".repeat(100)).unwrap();
        assert_eq!(local.len(), LOCAL_PART_MAX);
        assert!(local.starts_with("j."), "{local}");

        let long_name = "Pharmacie de la Grande Avenue du Général de Gaulle et des Quatre Chemins";
        let local = pharmacy_local_part(long_name, "75001", "Paris").unwrap();
        assert!(local.len() <= LOCAL_PART_MAX, "{local}");
        assert!(local.ends_with("-75001-paris"), "{local}");
        assert!(!local.contains("--"), "{local}");
    }

    #[test]
    fn truncation_never_leaves_a_separator_at_the_end() {
        assert_eq!(truncate("jean-pierre", 5), "jean");
        assert_eq!(truncate("jean.pierre", 5), "jean");
        assert_eq!(truncate("jean", 10), "jean");
        assert_eq!(truncate("éa", 1), "");
    }
}
