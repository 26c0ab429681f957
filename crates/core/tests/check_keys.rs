//! Property tests of every check-key algorithm: a computed key always validates,
//! every single-digit error is caught, and so is every adjacent swap the algorithm
//! guarantees to catch (Luhn: all but `09` <-> `90`; mod 97: all).

use mss_core::{Adeli, Finess, IdError, Ins, Rpps, luhn_check_digit, luhn_is_valid, nir_check_key};
use proptest::prelude::*;

/// `s` with the ASCII digit at `index` replaced by `(d + delta) % 10`, delta 1..=9.
fn change_digit(s: &str, index: usize, delta: u8) -> String {
    let mut bytes = s.as_bytes().to_vec();
    let d = bytes[index] - b'0';
    bytes[index] = b'0' + (d + delta) % 10;
    String::from_utf8(bytes).unwrap()
}

/// `s` with the characters at `index` and `index + 1` swapped (ASCII input).
fn swap(s: &str, index: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes.swap(index, index + 1);
    String::from_utf8(bytes).unwrap()
}

/// Whether swapping two adjacent digits is one Luhn is guaranteed to catch.
fn luhn_catches_swap(a: u8, b: u8) -> bool {
    a != b && !matches!((a, b), (b'0', b'9') | (b'9', b'0'))
}

fn with_luhn(payload: &str) -> String {
    format!("{payload}{}", luhn_check_digit(payload).unwrap())
}

proptest! {
    #[test]
    fn luhn_key_validates(payload in "[0-9]{1,30}") {
        prop_assert!(luhn_is_valid(&with_luhn(&payload)));
    }

    #[test]
    fn luhn_catches_every_single_digit_error(
        payload in "[0-9]{1,30}", index in any::<prop::sample::Index>(), delta in 1u8..=9,
    ) {
        let valid = with_luhn(&payload);
        let index = index.index(valid.len());
        prop_assert!(!luhn_is_valid(&change_digit(&valid, index, delta)));
    }

    #[test]
    fn luhn_catches_adjacent_swaps_except_09(
        payload in "[0-9]{1,30}", index in any::<prop::sample::Index>(),
    ) {
        let valid = with_luhn(&payload);
        let index = index.index(valid.len() - 1);
        let bytes = valid.as_bytes();
        let swapped = swap(&valid, index);
        if luhn_catches_swap(bytes[index], bytes[index + 1]) {
            prop_assert!(!luhn_is_valid(&swapped));
        } else {
            // Same digits, or the 09/90 blind spot: still valid.
            prop_assert!(luhn_is_valid(&swapped));
        }
    }

    #[test]
    fn rpps_key_validates_and_catches_errors(
        payload in "[0-9]{10}", index in 0usize..11, delta in 1u8..=9, swap_at in 0usize..10,
    ) {
        let rpps = with_luhn(&payload);
        let parsed: Rpps = rpps.parse().unwrap();
        prop_assert_eq!(parsed.as_str(), rpps.as_str());
        prop_assert_eq!(
            change_digit(&rpps, index, delta).parse::<Rpps>(),
            Err(IdError::CheckKey { kind: mss_core::IdKind::Rpps })
        );
        let bytes = rpps.as_bytes();
        if luhn_catches_swap(bytes[swap_at], bytes[swap_at + 1]) {
            prop_assert!(swap(&rpps, swap_at).parse::<Rpps>().is_err());
        }
    }

    #[test]
    fn adeli_key_validates_and_catches_errors(
        payload in "[0-9]{8}", index in 0usize..9, delta in 1u8..=9, swap_at in 0usize..8,
    ) {
        let adeli = with_luhn(&payload);
        let parsed: Adeli = adeli.parse().unwrap();
        prop_assert!(parsed.key_checked());
        prop_assert!(change_digit(&adeli, index, delta).parse::<Adeli>().is_err());
        let bytes = adeli.as_bytes();
        if luhn_catches_swap(bytes[swap_at], bytes[swap_at + 1]) {
            prop_assert!(swap(&adeli, swap_at).parse::<Adeli>().is_err());
        }
    }

    #[test]
    fn adeli_with_a_lettered_department_is_checked_for_format_only(
        adeli in "(2A|2B|9[A-F])[0-9]{7}",
    ) {
        let parsed: Adeli = adeli.parse().unwrap();
        prop_assert!(!parsed.key_checked());
    }

    #[test]
    fn finess_key_validates_and_catches_errors(
        payload in "([0-9]{2}|2A|2B)[0-9]{6}", index in 0usize..9, delta in 1u8..=9,
        swap_at in 0usize..8,
    ) {
        let finess = format!("{payload}{}", Finess::check_digit(&payload).unwrap());
        let parsed: Finess = finess.parse().unwrap();
        prop_assert_eq!(parsed.as_str(), finess.as_str());

        let bytes = finess.as_bytes();
        if bytes[index].is_ascii_digit() {
            prop_assert!(change_digit(&finess, index, delta).parse::<Finess>().is_err());
        }
        let (a, b) = (bytes[swap_at], bytes[swap_at + 1]);
        if a.is_ascii_digit() && b.is_ascii_digit() && luhn_catches_swap(a, b) {
            prop_assert!(swap(&finess, swap_at).parse::<Finess>().is_err());
        }
    }

    #[test]
    fn ins_key_validates(payload in "[123478][0-9]{4}([0-9]{2}|2A|2B)[0-9]{6}") {
        let key = nir_check_key(&payload).unwrap();
        prop_assert!((1..=97).contains(&key));
        let ins = format!("{payload}{key:02}");
        let parsed: Ins = ins.parse().unwrap();
        prop_assert_eq!(parsed.as_str(), ins.as_str());
        let address = parsed.patient_address();
        prop_assert_eq!(address.local(), ins.to_ascii_lowercase());
        prop_assert!(address.domain().is_patient());
    }

    #[test]
    fn mod97_catches_every_single_digit_error(
        payload in "[0-9]{13}", index in 0usize..13, delta in 1u8..=9,
    ) {
        let changed = change_digit(&payload, index, delta);
        prop_assert_ne!(nir_check_key(&payload), nir_check_key(&changed));
    }

    #[test]
    fn mod97_catches_every_adjacent_swap(payload in "[0-9]{13}", index in 0usize..12) {
        let bytes = payload.as_bytes();
        prop_assume!(bytes[index] != bytes[index + 1]);
        prop_assert_ne!(nir_check_key(&payload), nir_check_key(&swap(&payload, index)));
    }

    #[test]
    fn ins_rejects_any_single_digit_error(
        payload in "[123478][0-9]{4}([0-9]{2}|2A|2B)[0-9]{6}", index in 0usize..15,
        delta in 1u8..=9,
    ) {
        let ins = format!("{payload}{:02}", nir_check_key(&payload).unwrap());
        prop_assume!(ins.as_bytes()[index].is_ascii_digit());
        prop_assert!(change_digit(&ins, index, delta).parse::<Ins>().is_err());
    }

    #[test]
    fn ins_rejects_adjacent_swaps_in_the_number(
        payload in "[123478][0-9]{4}([0-9]{2}|2A|2B)[0-9]{6}", index in 0usize..12,
    ) {
        let ins = format!("{payload}{:02}", nir_check_key(&payload).unwrap());
        let bytes = ins.as_bytes();
        let (a, b) = (bytes[index], bytes[index + 1]);
        prop_assume!(a != b && a.is_ascii_digit() && b.is_ascii_digit());
        prop_assert!(swap(&ins, index).parse::<Ins>().is_err());
    }
}
