//! A mail domain: a validated, lower-cased DNS host name.
//!
//! Rules (RFC 1035 §2.3.1 and §2.3.4, RFC 1123 §2.1, RFC 3696 §2):
//! - labels of letters, digits and `-`, 1 to 63 octets, not starting or ending with `-`;
//! - at most 253 octets in all, no final dot;
//! - at least two labels, and the last one not all digits (so no bare IPv4 address).

use std::fmt;
use std::str::FromStr;

use super::{AddressError, DOMAIN_MAX, LABEL_MAX, PATIENT_DOMAIN};

/// A valid mail domain, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The patients' domain of Mon espace santé, [`PATIENT_DOMAIN`].
    pub fn patient() -> Domain {
        Domain(PATIENT_DOMAIN.to_owned())
    }

    /// Whether this is the patients' domain.
    pub fn is_patient(&self) -> bool {
        self.0 == PATIENT_DOMAIN
    }
}

impl FromStr for Domain {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.is_empty() {
            return Err(AddressError::DomainEmpty);
        }
        if let Some(found) = input.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')) {
            return Err(AddressError::DomainCharacter { found });
        }
        // ASCII from here on: octets = characters.
        if input.len() > DOMAIN_MAX {
            return Err(AddressError::DomainTooLong { octets: input.len() });
        }
        let labels: Vec<&str> = input.split('.').collect();
        for label in &labels {
            if label.is_empty() || label.len() > LABEL_MAX {
                return Err(AddressError::DomainLabelLength { octets: label.len() });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(AddressError::DomainHyphen);
            }
        }
        match labels.last() {
            _ if labels.len() < 2 => Err(AddressError::DomainSingleLabel),
            Some(tld) if tld.bytes().all(|b| b.is_ascii_digit()) => Err(AddressError::DomainNumericTld),
            _ => Ok(Domain(input.to_ascii_lowercase())),
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> AddressError {
        input.parse::<Domain>().unwrap_err()
    }

    #[test]
    fn lower_cases_valid_domains() {
        let domain: Domain = "Pharmacie-Centre.MSSante.fr".parse().unwrap();
        assert_eq!(domain.as_str(), "pharmacie-centre.mssante.fr");
        assert_eq!(domain.to_string(), "pharmacie-centre.mssante.fr");
        assert!("xn--pharmacie-rsum-bkb.fr".parse::<Domain>().is_ok());
        assert!("a1.b2".parse::<Domain>().is_ok());
    }

    #[test]
    fn the_patient_domain_is_valid() {
        assert_eq!(PATIENT_DOMAIN.parse::<Domain>().unwrap(), Domain::patient());
        assert!(Domain::patient().is_patient());
        assert!(!"mssante.fr".parse::<Domain>().unwrap().is_patient());
    }

    #[test]
    fn rejects_bad_domains() {
        assert_eq!(err(""), AddressError::DomainEmpty);
        assert_eq!(err("localhost"), AddressError::DomainSingleLabel);
        assert_eq!(err("192.168.0.1"), AddressError::DomainNumericTld);
        assert_eq!(err("example.com."), AddressError::DomainLabelLength { octets: 0 });
        assert_eq!(err("a..b"), AddressError::DomainLabelLength { octets: 0 });
        assert_eq!(err("-a.fr"), AddressError::DomainHyphen);
        assert_eq!(err("a-.fr"), AddressError::DomainHyphen);
        assert_eq!(err("pharmacie_x.fr"), AddressError::DomainCharacter { found: '_' });
        assert_eq!(err("hôpital.fr"), AddressError::DomainCharacter { found: 'ô' });
        assert_eq!(err(" a.fr"), AddressError::DomainCharacter { found: ' ' });
    }

    #[test]
    fn enforces_length_limits() {
        let label63 = "a".repeat(63);
        assert!(format!("{label63}.fr").parse::<Domain>().is_ok());
        assert_eq!(err(&format!("{}.fr", "a".repeat(64))), AddressError::DomainLabelLength { octets: 64 });
        // 3 * 63 + 61 + 3 dots = 253 octets: the longest allowed.
        let longest = format!("{label63}.{label63}.{label63}.{}", "b".repeat(61));
        assert_eq!(longest.len(), 253);
        assert!(longest.parse::<Domain>().is_ok());
        let too_long = format!("a.{longest}");
        assert_eq!(err(&too_long), AddressError::DomainTooLong { octets: 255 });
        assert_eq!("domain: 254 octets, at most 253 allowed", AddressError::DomainTooLong { octets: 254 }.to_string());
    }
}
