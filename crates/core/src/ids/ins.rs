//! INS: the *Identité nationale de santé* matricule of a patient, which is the NIR
//! (social security number) or, while one is pending, a temporary NIA.
//!
//! Format, 15 characters (positions from 1):
//! - 1: sex / kind: `1` man, `2` woman; `3`, `4` (older special registrations) and
//!   `7`, `8` (temporary NIA numbers) are accepted too, since an INS may be a NIA;
//! - 2-3 year, 4-5 month of birth (digits; months such as 20 or 99 exist for
//!   unknown dates, so the value is not checked);
//! - 6-7 department of birth: two digits, or `2A`/`2B` for Corsica;
//! - 8-10 commune, 11-13 order number (digits);
//! - 14-15 key: `97 - (n mod 97)` where `n` is the 13-character number, written on
//!   two digits (01..=97).
//!
//! Corsica: for the key, `2A` counts as `19` and `2B` as `18` (INSEE rule, as in
//! python-stdnum `stdnum/fr/nir.py`). Letters must be upper case.
//!
//! The mod-97 key detects every single-digit error and every swap of two adjacent
//! digits within the 13-character number (10 and 9 are invertible mod 97).

use std::fmt;
use std::str::FromStr;

use super::{IdError, IdKind, expect_len};
use crate::address::{Domain, EmailAddress};

const KIND: IdKind = IdKind::Ins;

/// Digits allowed first: the sex, or the kind of temporary number.
const FIRST_DIGITS: [char; 6] = ['1', '2', '3', '4', '7', '8'];

/// A valid INS matricule (NIR or NIA, 15 characters, mod-97 key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ins(String);

impl Ins {
    /// Number of characters, key included.
    pub const LEN: usize = 15;

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The patient's MSSanté address, `<ins>@patient.mssante.fr` (Mon espace santé).
    ///
    /// The local part is lower-cased like every local part here (`2A` -> `2a`);
    /// the operator compares addresses case-insensitively.
    pub fn patient_address(&self) -> EmailAddress {
        EmailAddress::from_trusted(self.0.to_ascii_lowercase(), Domain::patient())
    }
}

/// The two-digit key of a 13-character NIR payload, `97 - (n mod 97)`, with `2A`
/// read as `19` and `2B` as `18` in positions 6-7. `None` when `payload` is not 13
/// digits (Corsican letters allowed there only).
pub fn nir_check_key(payload: &str) -> Option<u8> {
    if payload.len() != 13 || !payload.is_ascii() {
        return None;
    }
    let bytes = payload.as_bytes();
    let corsican = bytes.get(5) == Some(&b'2') && matches!(bytes.get(6), Some(b'A' | b'B'));
    let mut n: u64 = 0;
    for (i, c) in payload.chars().enumerate() {
        let digit = match (corsican, i, c) {
            // INSEE: 2A counts as 19 and 2B as 18.
            (true, 5, _) => 1,
            (true, 6, 'A') => 9,
            (true, 6, 'B') => 8,
            _ => c.to_digit(10)?,
        };
        n = n * 10 + u64::from(digit);
    }
    u8::try_from(97 - n % 97).ok()
}

impl FromStr for Ins {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        expect_len(KIND, input, Self::LEN, "15 characters")?;
        let chars: Vec<char> = input.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let corsican = i == 6 && matches!(c, 'A' | 'B') && chars.get(5) == Some(&'2');
            if !c.is_ascii_digit() && !corsican {
                return Err(IdError::Character { kind: KIND, position: i + 1, found: c });
            }
        }
        if !chars.first().is_some_and(|c| FIRST_DIGITS.contains(c)) {
            return Err(IdError::Part {
                kind: KIND,
                part: "first digit",
                reason: "must be 1 or 2 (sex), 3, 4, 7 or 8",
            });
        }
        // All ASCII from here: byte slicing is character slicing.
        let (payload, key) = input.split_at(13);
        let expected = nir_check_key(payload).ok_or(IdError::CheckKey { kind: KIND })?;
        if key.parse::<u8>().ok() != Some(expected) {
            return Err(IdError::CheckKey { kind: KIND });
        }
        Ok(Ins(input.to_owned()))
    }
}

impl fmt::Display for Ins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ans_test_patient_from_the_cda_fixtures() {
        // The INS-NIR of the ANS test patient in the CDA samples: key 89 is right.
        assert_eq!(nir_check_key("2790351215189"), Some(89));
        let ins: Ins = "279035121518989".parse().unwrap();
        assert_eq!(ins.patient_address().to_string(), "279035121518989@patient.mssante.fr");
    }

    #[test]
    fn published_examples() {
        // python-stdnum's doctests (Corsica included) and textbook examples.
        for ins in ["295109912611193", "253072B07300470", "253072A07300443", "137047624348415", "262087503203977"] {
            assert!(ins.parse::<Ins>().is_ok(), "{ins}");
        }
    }

    #[test]
    fn corsican_letters_count_as_19_and_18() {
        assert_eq!(nir_check_key("253072A073004"), nir_check_key("2530719073004"));
        assert_eq!(nir_check_key("253072B073004"), nir_check_key("2530718073004"));
        assert_eq!(nir_check_key("253073A073004"), None);
        assert_eq!(nir_check_key("25307A2073004"), None);
        let ins: Ins = "253072A07300443".parse().unwrap();
        assert_eq!(ins.patient_address().to_string(), "253072a07300443@patient.mssante.fr");
    }

    #[test]
    fn key_97_when_the_number_is_a_multiple_of_97() {
        // 97 * 12_886_597_938 = 1_249_999_999_986, thirteen digits.
        let payload = format!("{:013}", 97u64 * 12_886_597_938);
        assert_eq!(nir_check_key(&payload), Some(97));
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(err("27903512151898"), "ins: expected 15 characters, got 14");
        assert_eq!(err("279035121518988"), "ins: check key is wrong");
        assert_eq!(err("579035121518989"), "ins: first digit must be 1 or 2 (sex), 3, 4, 7 or 8");
        assert_eq!(err("2790351215189A9"), "ins: unexpected character 'A' at position 14");
        assert_eq!(err("253072a07300443"), "ins: unexpected character 'a' at position 7");
        assert_eq!(err("253073A07300443"), "ins: unexpected character 'A' at position 7");
        assert_eq!(err(" 79035121518989"), "ins: unexpected character ' ' at position 1");
    }

    #[test]
    fn temporary_numbers_are_accepted() {
        let payload = "7790351215189";
        let key = nir_check_key(payload).unwrap();
        assert!(format!("{payload}{key:02}").parse::<Ins>().is_ok());
    }

    fn err(input: &str) -> String {
        input.parse::<Ins>().unwrap_err().to_string()
    }
}
