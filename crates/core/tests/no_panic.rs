//! Every parser and builder takes arbitrary input without panicking, and whatever
//! it accepts is valid (its own output parses back the same).

use mss_core::{
    Adeli, Domain, EmailAddress, Finess, Ins, MailboxKind, MailboxState, NationalId, Role, Rpps, allocate_address,
    application_local_part, cabinet_local_part, fold_label, luhn_check_digit, luhn_is_valid, nir_check_key,
    personal_local_part, pharmacy_local_part, service_local_part,
};
use proptest::prelude::*;

/// Arbitrary strings, plus shapes close to the real ones so the deep paths run too.
fn input() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9A-Z]{8,16}",
        "[0-9]{8,16}",
        "[0-9a-zA-Z.@_+-]{0,80}",
        "[a-z0-9.-]{1,70}@[a-zA-Z0-9.-]{1,260}",
        "\\PC{0,300}",
    ]
}

/// Parses `input` as `T`; when accepted, its `Display` must parse back equal.
fn round_trips<T>(input: &str) -> Result<(), TestCaseError>
where
    T: std::str::FromStr + std::fmt::Display + PartialEq + std::fmt::Debug,
{
    if let Ok(value) = input.parse::<T>() {
        let again = value.to_string().parse::<T>().ok();
        prop_assert!(again.as_ref() == Some(&value), "{input:?} -> {value}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ids_never_panic(s in input()) {
        round_trips::<Rpps>(&s)?;
        round_trips::<Adeli>(&s)?;
        round_trips::<Finess>(&s)?;
        round_trips::<Ins>(&s)?;
        round_trips::<NationalId>(&s)?;
        let _ = luhn_is_valid(&s);
        let _ = luhn_check_digit(&s);
        let _ = nir_check_key(&s);
        let _ = Finess::check_digit(&s);
        if let Ok(ins) = s.parse::<Ins>() {
            let address = ins.patient_address();
            prop_assert_eq!(address.to_string().parse::<EmailAddress>(), Ok(address));
        }
    }

    #[test]
    fn addresses_never_panic(s in input()) {
        round_trips::<Domain>(&s)?;
        round_trips::<EmailAddress>(&s)?;
        if let Ok(address) = s.parse::<EmailAddress>() {
            prop_assert!(address.local().len() <= 64);
            prop_assert!(address.to_string().len() <= 254);
        }
    }

    #[test]
    fn vocabulary_never_panics(s in input()) {
        round_trips::<MailboxKind>(&s)?;
        round_trips::<MailboxState>(&s)?;
        round_trips::<Role>(&s)?;
    }

    #[test]
    fn naming_never_panics_and_gives_valid_local_parts(
        a in input(), b in input(), postal_code in prop_oneof!["[0-9]{5}".boxed(), input().boxed()],
    ) {
        let domain: Domain = "pharmacie.mssante.fr".parse().unwrap();
        let folded = fold_label(&a);
        prop_assert!(is_folded_label(&folded), "{a:?} -> {folded:?}");
        for local in [
            personal_local_part(&a, &b),
            pharmacy_local_part(&a, &postal_code, &b),
            service_local_part(&a),
            application_local_part(&a),
            cabinet_local_part(&a, &b),
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(local.len() <= 64, "{local}");
            prop_assert!(EmailAddress::new(&local, domain.clone()).is_ok(), "{local}");
        }
        let _ = allocate_address(&a, &domain, |_| false);
    }
}

/// Empty, or `[a-z0-9]+(-[a-z0-9]+)*`.
fn is_folded_label(label: &str) -> bool {
    label.is_empty()
        || label
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}
