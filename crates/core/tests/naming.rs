//! Naming new mailboxes, as the creation flow does it: build a base local part
//! from the holder's data, then allocate the first free address at the operator's
//! domain.

use std::collections::HashSet;

use mss_core::{
    AddressError, Domain, EmailAddress, allocate_address, application_local_part, cabinet_local_part,
    personal_local_part, pharmacy_local_part,
};
use proptest::prelude::*;

fn operator_domain() -> Domain {
    "pharmacie.mssante.fr".parse().unwrap()
}

/// An in-memory stand-in for the store's "is this address taken?".
struct Taken(HashSet<EmailAddress>);

impl Taken {
    fn new() -> Self {
        Taken(HashSet::new())
    }

    fn allocate(&mut self, base: &str) -> Result<EmailAddress, AddressError> {
        let address = allocate_address(base, &operator_domain(), |a| self.0.contains(a))?;
        self.0.insert(address.clone());
        Ok(address)
    }
}

#[test]
fn pharmacist_with_accented_names_gets_a_plain_address() {
    let base = personal_local_part("Élodie", "Dupont-Lefèvre").unwrap();
    let address = Taken::new().allocate(&base).unwrap();
    assert_eq!(address.to_string(), "elodie.dupont-lefevre@pharmacie.mssante.fr");
}

#[test]
fn namesakes_get_numbered_addresses_in_order() {
    let mut taken = Taken::new();
    let base = personal_local_part("Jean Pierre", "D'Arc").unwrap();
    assert_eq!(base, "jean-pierre.d-arc");
    let locals: Vec<String> = (0..3).map(|_| taken.allocate(&base).unwrap().local().to_owned()).collect();
    assert_eq!(locals, ["jean-pierre.d-arc", "jean-pierre.d-arc-2", "jean-pierre.d-arc-3"]);
}

#[test]
fn when_the_second_is_taken_the_third_is_given() {
    let domain = operator_domain();
    let taken: HashSet<String> = ["oedipe.roi", "oedipe.roi-2"].iter().map(|l| format!("{l}@{domain}")).collect();
    let base = personal_local_part("Œdipe", "Roi").unwrap();
    let address = allocate_address(&base, &domain, |a| taken.contains(&a.to_string())).unwrap();
    assert_eq!(address.local(), "oedipe.roi-3");
}

#[test]
fn pharmacy_names_with_accents_and_apostrophes() {
    let cases = [
        ("Pharmacie du Centre", "75001", "Paris", "pharmacie-du-centre-75001-paris"),
        ("Pharmacie de l'Église", "20000", "Ajaccio", "pharmacie-de-l-eglise-20000-ajaccio"),
        ("Grande Pharmacie Saint-Côme", "13001", "Marseille", "pharmacie-grande-pharmacie-saint-come-13001-marseille"),
        ("PHARMACIE DES ÎLES D’OR", "83400", "Hyères", "pharmacie-des-iles-d-or-83400-hyeres"),
        ("Pharmacie Lœuvre & Fils", "97200", "Fort-de-France", "pharmacie-loeuvre-fils-97200-fort-de-france"),
    ];
    for (name, postal_code, city, expected) in cases {
        assert_eq!(pharmacy_local_part(name, postal_code, city).unwrap(), expected);
    }
}

#[test]
fn software_and_cabinet_mailboxes_never_double_their_prefix() {
    assert_eq!(application_local_part("app LGO").unwrap(), "app-lgo");
    assert_eq!(application_local_part("LGO").unwrap(), "app-lgo");
    assert_eq!(cabinet_local_part("Cabinet Infirmier", "Nîmes").unwrap(), "cabinet-infirmier-nimes");
    assert_eq!(cabinet_local_part("Infirmier", "Nîmes").unwrap(), "cabinet-infirmier-nimes");
}

#[test]
fn a_hundred_character_name_still_gives_a_valid_address_and_its_suffix_fits() {
    let first = "Marie-Thérèse ".repeat(7); // 98 characters
    let last = "de La Tour d'Auvergne-Lauraguais-Montmorency-Saint-Phalle-Beauharnais";
    let base = personal_local_part(&first, last).unwrap();
    assert!(base.len() <= 64, "{base}");

    let mut taken = Taken::new();
    let first_address = taken.allocate(&base).unwrap();
    assert!(first_address.local().len() <= 64);
    for n in 2..=12 {
        let address = taken.allocate(&base).unwrap();
        assert!(address.local().len() <= 64, "{address}");
        assert!(address.local().ends_with(&format!("-{n}")), "{address}");
        // Re-parsing the printed address gives the same address.
        assert_eq!(address.to_string().parse::<EmailAddress>().unwrap(), address);
    }
}

proptest! {
    #[test]
    fn allocation_is_deterministic_and_skips_exactly_the_taken(
        first in "\\PC{1,40}", last in "\\PC{1,40}", already in 0usize..20,
    ) {
        let Ok(base) = personal_local_part(&first, &last) else {
            return Ok(());
        };
        let mut taken = Taken::new();
        let earlier: Vec<EmailAddress> =
            (0..already).map(|_| taken.allocate(&base).unwrap()).collect();
        let next = allocate_address(&base, &operator_domain(), |a| taken.0.contains(a)).unwrap();
        let again = allocate_address(&base, &operator_domain(), |a| taken.0.contains(a)).unwrap();
        prop_assert_eq!(&next, &again);
        prop_assert!(!earlier.contains(&next));
        prop_assert!(next.local().len() <= 64);
        if already > 0 {
            let suffix = format!("-{}", already + 1);
            prop_assert!(next.local().ends_with(&suffix), "{}", next);
        } else {
            prop_assert_eq!(next.local(), base.as_str());
        }
    }
}
