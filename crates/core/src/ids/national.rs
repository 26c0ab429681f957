//! The national person identifier of Pro Santé Connect and the CPS
//! (`SubjectNameID`, OID 1.2.250.1.71.4.2.1): the id type digit followed by the id.
//!
//! - `8` + RPPS (12 characters), e.g. `810000013994`;
//! - `0` + ADELI (10 characters), e.g. `0349102665`.

use std::fmt;
use std::str::FromStr;

use super::{Adeli, IdError, Rpps};

/// A professional's national id: an RPPS or an ADELI number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NationalId {
    Rpps(Rpps),
    Adeli(Adeli),
}

impl NationalId {
    /// Prefix of an RPPS-based national id.
    pub const RPPS_PREFIX: char = '8';
    /// Prefix of an ADELI-based national id.
    pub const ADELI_PREFIX: char = '0';

    /// The prefixed form, as PSC and the CPS write it.
    pub fn as_string(&self) -> String {
        self.to_string()
    }
}

impl FromStr for NationalId {
    type Err = IdError;

    /// Parses the prefixed form. Errors from the inner id keep its kind
    /// (e.g. "rpps: check key is wrong").
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut chars = input.chars();
        match chars.next() {
            Some(Self::RPPS_PREFIX) => chars.as_str().parse().map(NationalId::Rpps),
            Some(Self::ADELI_PREFIX) => chars.as_str().parse().map(NationalId::Adeli),
            found => Err(IdError::Prefix { found }),
        }
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NationalId::Rpps(rpps) => write!(f, "{}{rpps}", Self::RPPS_PREFIX),
            NationalId::Adeli(adeli) => write!(f, "{}{adeli}", Self::ADELI_PREFIX),
        }
    }
}

impl From<Rpps> for NationalId {
    fn from(rpps: Rpps) -> Self {
        NationalId::Rpps(rpps)
    }
}

impl From<Adeli> for NationalId {
    fn from(adeli: Adeli) -> Self {
        NationalId::Adeli(adeli)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_kinds() {
        let rpps: NationalId = "810000013994".parse().unwrap();
        assert!(matches!(&rpps, NationalId::Rpps(r) if r.as_str() == "10000013994"));
        assert_eq!(rpps.as_string(), "810000013994");

        let adeli: NationalId = "0349102665".parse().unwrap();
        assert!(matches!(&adeli, NationalId::Adeli(a) if a.as_str() == "349102665"));
        assert_eq!(adeli.to_string(), "0349102665");
    }

    #[test]
    fn errors() {
        assert_eq!(
            "910000013994".parse::<NationalId>().unwrap_err().to_string(),
            "national id: expected prefix '8' (RPPS) or '0' (ADELI), got '9'"
        );
        assert_eq!("".parse::<NationalId>().unwrap_err(), IdError::Prefix { found: None });
        assert_eq!("810000013995".parse::<NationalId>().unwrap_err().to_string(), "rpps: check key is wrong");
        // An ADELI with the RPPS prefix is an RPPS of the wrong length.
        assert_eq!("8349102665".parse::<NationalId>().unwrap_err().to_string(), "rpps: expected 11 digits, got 9");
    }
}
