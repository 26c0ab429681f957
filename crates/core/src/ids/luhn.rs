//! The Luhn (mod 10, "double-add-double") check digit, ISO/IEC 7812-1 annex B.
//!
//! Used by RPPS (on all 11 digits), FINESS and ADELI (on all 9).
//! What it guarantees, and what the property tests check:
//! - every single-digit substitution is detected;
//! - every swap of two adjacent different digits is detected, except `09` <-> `90`
//!   (doubling maps 0 -> 0 and 9 -> 9, so both orders sum alike).

/// The Luhn weight of `digit` at `index_from_right` (0 = the check digit itself).
fn weighted(digit: u32, index_from_right: usize) -> u32 {
    if index_from_right % 2 == 1 {
        let doubled = digit * 2;
        if doubled > 9 { doubled - 9 } else { doubled }
    } else {
        digit
    }
}

/// Luhn sum of `digits` read right to left, the rightmost at `first_index`.
/// `None` when a character is not an ASCII digit.
fn luhn_sum(digits: &str, first_index: usize) -> Option<u32> {
    digits.chars().rev().enumerate().try_fold(0u32, |sum, (i, c)| {
        // `to_digit(10)` accepts ASCII '0'..='9' only.
        let digit = c.to_digit(10)?;
        Some((sum + weighted(digit, i + first_index)) % 10)
    })
}

/// True when `digits` (ASCII digits only, check digit last) passes the Luhn check.
/// Empty input or any non-digit character gives `false`.
pub fn luhn_is_valid(digits: &str) -> bool {
    !digits.is_empty() && luhn_sum(digits, 0) == Some(0)
}

/// The check digit to append to `payload` so that the whole passes [`luhn_is_valid`].
/// `None` when `payload` is empty or holds anything but ASCII digits.
pub fn luhn_check_digit(payload: &str) -> Option<u8> {
    if payload.is_empty() {
        return None;
    }
    // The payload's rightmost digit sits at index 1 once the check digit is appended.
    let sum = luhn_sum(payload, 1)?;
    u8::try_from((10 - sum) % 10).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_examples() {
        // The classic example from the Luhn literature: 7992739871 -> 3.
        assert_eq!(luhn_check_digit("7992739871"), Some(3));
        assert!(luhn_is_valid("79927398713"));
        assert!(!luhn_is_valid("79927398710"));
    }

    #[test]
    fn rejects_empty_and_non_digits() {
        assert!(!luhn_is_valid(""));
        assert!(!luhn_is_valid("12a4"));
        assert!(!luhn_is_valid("١٢٣")); // Arabic-Indic digits are not ASCII digits.
        assert_eq!(luhn_check_digit(""), None);
        assert_eq!(luhn_check_digit("12 4"), None);
    }

    #[test]
    fn the_09_90_swap_is_the_known_blind_spot() {
        let digit = luhn_check_digit("1090").unwrap();
        let valid = format!("1090{digit}");
        let swapped = format!("1900{digit}");
        assert!(luhn_is_valid(&valid));
        assert!(luhn_is_valid(&swapped));
    }
}
