//! ADELI: the *Automatisation des listes* number, the registry of professions not
//! (yet) in the RPPS (psychologists, speech therapists, dietitians, ...). ADELI is
//! being wound down in favour of RPPS, but existing numbers still identify people.
//!
//! Format, 9 characters:
//! - 1-2: department: two digits, `2A`/`2B` for Corsica, `9A`..`9F` overseas
//!   (`9A` Guadeloupe, `9B` Martinique, `9C` Guyane, `9D` La Réunion, `9F` Mayotte;
//!   `9E` is accepted too);
//! - 3-4: profession code (e.g. `91` speech therapist, `93` psychologist);
//! - 5-8: order number;
//! - 9: check digit.
//!
//! Check digit: no ANS text describing it was found. Every real ADELI number we could
//! find passes the Luhn check over its 9 digits: `349102665` and `879101558` (quoted
//! in the ANS Annuaire Santé FHIR issues #174 and #164), `149308736`, `219502440`,
//! `829302942` (public pages and a beta.gouv test fixture); five of five by chance is
//! one in 100 000. So an all-digit ADELI must pass Luhn. For a lettered department
//! (`2A`, `9B`, ...) how the letter enters the key is not known: only the format is
//! validated for those.

use std::fmt;
use std::str::FromStr;

use super::{IdError, IdKind, expect_department, expect_digits_from, expect_len, luhn_is_valid};

const KIND: IdKind = IdKind::Adeli;

/// Departments written with a letter, whose key cannot be checked.
const LETTERED_DEPARTMENTS: [&str; 8] = ["2A", "2B", "9A", "9B", "9C", "9D", "9E", "9F"];

/// A valid ADELI number (9 characters; Luhn key checked when all digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Adeli(String);

impl Adeli {
    /// Number of characters, check digit included.
    pub const LEN: usize = 9;

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The department code, e.g. `"34"` or `"2A"`.
    pub fn department(&self) -> &str {
        self.0.get(0..2).unwrap_or_default()
    }

    /// The profession code, e.g. `"93"` for a psychologist.
    pub fn profession_code(&self) -> &str {
        self.0.get(2..4).unwrap_or_default()
    }

    /// Whether the check digit was verified (false for lettered departments).
    pub fn key_checked(&self) -> bool {
        self.0.bytes().all(|b| b.is_ascii_digit())
    }
}

impl FromStr for Adeli {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        expect_len(KIND, input, Self::LEN, "9 characters")?;
        expect_department(KIND, input, &LETTERED_DEPARTMENTS)?;
        expect_digits_from(KIND, input, 2)?;
        let adeli = Adeli(input.to_owned());
        if adeli.key_checked() && !luhn_is_valid(input) {
            return Err(IdError::CheckKey { kind: KIND });
        }
        Ok(adeli)
    }
}

impl fmt::Display for Adeli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_real_numbers_the_key_rule_was_inferred_from() {
        for adeli in ["349102665", "879101558", "149308736", "219502440", "829302942"] {
            let parsed: Adeli = adeli.parse().unwrap();
            assert_eq!(parsed.to_string(), adeli);
            assert!(parsed.key_checked());
        }
        let speech_therapist: Adeli = "349102665".parse().unwrap();
        assert_eq!(speech_therapist.department(), "34");
        assert_eq!(speech_therapist.profession_code(), "91");
    }

    #[test]
    fn wrong_key_is_rejected() {
        assert_eq!("349102666".parse::<Adeli>().unwrap_err().to_string(), "adeli: check key is wrong");
    }

    #[test]
    fn lettered_departments_are_checked_for_format_only() {
        for adeli in ["2A9312345", "2B9312340", "9A9312345", "9F6012345"] {
            let parsed: Adeli = adeli.parse().unwrap();
            assert!(!parsed.key_checked());
        }
        assert_eq!(parsed_err("2C9312345"), "adeli: unexpected character 'C' at position 2");
        assert_eq!(parsed_err("9G9312345"), "adeli: unexpected character 'G' at position 2");
        assert_eq!(parsed_err("2a9312345"), "adeli: unexpected character 'a' at position 2");
        assert_eq!(parsed_err("2A93123X5"), "adeli: unexpected character 'X' at position 8");
    }

    #[test]
    fn wrong_length_names_the_field() {
        assert_eq!(parsed_err("34910266"), "adeli: expected 9 characters, got 8");
        assert_eq!(parsed_err("3491026655"), "adeli: expected 9 characters, got 10");
        assert_eq!(parsed_err("éééééééé"), "adeli: expected 9 characters, got 8");
    }

    fn parsed_err(input: &str) -> String {
        input.parse::<Adeli>().unwrap_err().to_string()
    }
}
