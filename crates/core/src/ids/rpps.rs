//! RPPS: the *Répertoire partagé des professionnels intervenant dans le système de
//! santé* number of a health professional.
//!
//! Format: 11 ASCII digits; the last is a Luhn check digit computed over the first 10,
//! so the whole 11 digits pass the Luhn check. In PSC and on the CPS it appears
//! prefixed with `8` (see [`super::NationalId`]).

use std::fmt;
use std::str::FromStr;

use super::{IdError, IdKind, expect_digits, expect_len, luhn_is_valid};

const KIND: IdKind = IdKind::Rpps;

/// A valid RPPS number (11 digits, Luhn key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rpps(String);

impl Rpps {
    /// Number of digits, check digit included.
    pub const LEN: usize = 11;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Rpps {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        expect_len(KIND, input, Self::LEN, "11 digits")?;
        expect_digits(KIND, input)?;
        if !luhn_is_valid(input) {
            return Err(IdError::CheckKey { kind: KIND });
        }
        Ok(Rpps(input.to_owned()))
    }
}

impl fmt::Display for Rpps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_shaped_numbers() {
        // Both appear in the public RPPS extraction.
        for rpps in ["10000013994", "10009189654"] {
            let parsed: Rpps = rpps.parse().unwrap();
            assert_eq!(parsed.as_str(), rpps);
            assert_eq!(parsed.to_string(), rpps);
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!("1000001399".parse::<Rpps>().unwrap_err().to_string(), "rpps: expected 11 digits, got 10");
        assert_eq!("10000013995".parse::<Rpps>().unwrap_err().to_string(), "rpps: check key is wrong");
        assert_eq!(
            "1000001399x".parse::<Rpps>().unwrap_err().to_string(),
            "rpps: unexpected character 'x' at position 11"
        );
    }

    #[test]
    fn trims_nothing() {
        assert!(" 10000013994".parse::<Rpps>().is_err());
        assert!("10000013994 ".parse::<Rpps>().is_err());
        assert!(" 1000013994".parse::<Rpps>().is_err());
    }
}
