//! FINESS: the *Fichier national des établissements sanitaires et sociaux* number of
//! a structure (a legal entity, EJ, or one of its sites, ET). Pharmacies have one.
//!
//! Format, 9 characters: a 2-character department (two digits, or `2A`/`2B` for
//! Corsica), 6 digits, and a Luhn check digit over the 9.
//!
//! Corsica: the Luhn key of a `2A`/`2B` number is computed with the letter read as a
//! digit, `A` = 1 and `B` = 2 (`2A0000012` is checked as `210000012`). No ANS text
//! states it; it is the rule of the FINESS validator published by the GIP de
//! l'inclusion (`gip-inclusion/pilotage`, `pilotage/itoutils/validators.py`:
//! `check_luhn(finess.replace("2A", "21").replace("2B", "22"))`). A consequence:
//! typing `21` for `2A` (or `22` for `2B`) keeps the key valid and is not detected.

use std::fmt;
use std::str::FromStr;

use super::{IdError, IdKind, expect_department, expect_digits_from, expect_len, luhn_check_digit, luhn_is_valid};

const KIND: IdKind = IdKind::Finess;

const CORSICAN_DEPARTMENTS: [&str; 2] = ["2A", "2B"];

/// A valid FINESS number (9 characters, Luhn key, Corsican letters mapped A=1 B=2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Finess(String);

impl Finess {
    /// Number of characters, check digit included.
    pub const LEN: usize = 9;

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The check digit for the first 8 characters of a FINESS number (`2A`/`2B`
    /// allowed in front). `None` when `payload` is not 8 such characters.
    pub fn check_digit(payload: &str) -> Option<u8> {
        if payload.chars().count() != Self::LEN - 1 {
            return None;
        }
        expect_department(KIND, payload, &CORSICAN_DEPARTMENTS).ok()?;
        luhn_check_digit(&luhn_digits(payload))
    }
}

/// The digits the Luhn key is computed on: `2A` -> `21`, `2B` -> `22`.
fn luhn_digits(finess: &str) -> String {
    let mut digits = String::with_capacity(finess.len());
    for (i, c) in finess.chars().enumerate() {
        digits.push(match (i, c) {
            (1, 'A') => '1',
            (1, 'B') => '2',
            _ => c,
        });
    }
    digits
}

impl FromStr for Finess {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        expect_len(KIND, input, Self::LEN, "9 characters")?;
        expect_department(KIND, input, &CORSICAN_DEPARTMENTS)?;
        expect_digits_from(KIND, input, 2)?;
        if !luhn_is_valid(&luhn_digits(input)) {
            return Err(IdError::CheckKey { kind: KIND });
        }
        Ok(Finess(input.to_owned()))
    }
}

impl fmt::Display for Finess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_numbers() {
        // Entries of the public FINESS extraction (Ain, EJ and ET).
        for finess in ["010003812", "010003820"] {
            assert_eq!(finess.parse::<Finess>().unwrap().as_str(), finess);
        }
    }

    #[test]
    fn corsican_numbers_read_a_as_1_and_b_as_2() {
        let digit = Finess::check_digit("2A000001").unwrap();
        assert_eq!(Some(digit), luhn_check_digit("21000001"));
        let corse_du_sud = format!("2A000001{digit}");
        assert!(corse_du_sud.parse::<Finess>().is_ok());

        let digit = Finess::check_digit("2B000001").unwrap();
        assert_eq!(Some(digit), luhn_check_digit("22000001"));
        assert!(format!("2B000001{digit}").parse::<Finess>().is_ok());

        // The same key with the other Corsican letter is wrong.
        let other = format!("2B000001{}", Finess::check_digit("2A000001").unwrap());
        assert_eq!(other.parse::<Finess>().unwrap_err().to_string(), "finess: check key is wrong");
    }

    #[test]
    fn rejects_other_letters_and_lengths() {
        assert_eq!(
            "2C0000012".parse::<Finess>().unwrap_err().to_string(),
            "finess: unexpected character 'C' at position 2"
        );
        assert_eq!(
            "9A0000012".parse::<Finess>().unwrap_err().to_string(),
            "finess: unexpected character 'A' at position 2"
        );
        assert_eq!("01000381".parse::<Finess>().unwrap_err().to_string(), "finess: expected 9 characters, got 8");
        assert_eq!(Finess::check_digit("0100038"), None);
        assert_eq!(Finess::check_digit("2C000001"), None);
    }
}
