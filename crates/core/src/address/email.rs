//! A mailbox address, `local@domain`.
//!
//! Rules:
//! - the local part is a dot-atom (RFC 5321 §4.1.2 / RFC 5322 §3.2.3): atext runs
//!   joined by single dots, no leading or trailing dot; ASCII only, no quoted
//!   strings, no comments;
//! - local part at most 64 octets (RFC 5321 §4.5.3.1.1), whole address at most 254;
//! - the local part is stored lower-cased: this operator's mailboxes are
//!   case-insensitive, and one canonical spelling keeps them unique in the store.

use std::fmt;
use std::str::FromStr;

use super::{ADDRESS_MAX, AddressError, Domain, LOCAL_PART_MAX};

/// A valid mailbox address with a lower-cased local part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    local: String,
    domain: Domain,
}

/// RFC 5322 §3.2.3 atext: letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
pub(crate) fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Checks the dot-atom shape of a local part, whatever its length.
pub(crate) fn check_dot_atom(local: &str) -> Result<(), AddressError> {
    if local.is_empty() {
        return Err(AddressError::LocalEmpty);
    }
    if let Some(found) = local.chars().find(|&c| !(is_atext(c) || c == '.')) {
        return Err(AddressError::LocalCharacter { found });
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(AddressError::LocalDot);
    }
    Ok(())
}

/// Checks a dot-atom local part of at most 64 octets and returns it lower-cased.
pub(crate) fn validate_local(local: &str) -> Result<String, AddressError> {
    check_dot_atom(local)?;
    // ASCII from here on: octets = characters.
    if local.len() > LOCAL_PART_MAX {
        return Err(AddressError::LocalTooLong { octets: local.len() });
    }
    Ok(local.to_ascii_lowercase())
}

impl EmailAddress {
    /// Builds an address from a local part (checked, then lower-cased) and a domain.
    pub fn new(local: &str, domain: Domain) -> Result<Self, AddressError> {
        let local = validate_local(local)?;
        let octets = local.len() + 1 + domain.as_str().len();
        if octets > ADDRESS_MAX {
            return Err(AddressError::AddressTooLong { octets });
        }
        Ok(EmailAddress { local, domain })
    }

    /// For parts this crate built itself and knows to be valid (e.g. an INS at the
    /// patient domain). Checked again in debug builds.
    pub(crate) fn from_trusted(local: String, domain: Domain) -> Self {
        debug_assert_eq!(validate_local(&local).as_deref(), Ok(local.as_str()));
        EmailAddress { local, domain }
    }

    /// The local part, lower-case.
    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

impl FromStr for EmailAddress {
    type Err = AddressError;

    /// Parses `local@domain`. The domain is lower-cased too.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (local, domain) = input.rsplit_once('@').ok_or(AddressError::MissingAt)?;
        // Check the local part before the domain: its errors are the likelier ones.
        validate_local(local)?;
        EmailAddress::new(local, domain.parse()?)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> AddressError {
        input.parse::<EmailAddress>().unwrap_err()
    }

    #[test]
    fn parses_and_lower_cases() {
        let address: EmailAddress = "Jean.Dupont@Pharma.MSSante.fr".parse().unwrap();
        assert_eq!(address.local(), "jean.dupont");
        assert_eq!(address.domain().as_str(), "pharma.mssante.fr");
        assert_eq!(address.to_string(), "jean.dupont@pharma.mssante.fr");
        assert!("o'brien+tag@a.fr".parse::<EmailAddress>().is_ok());
    }

    #[test]
    fn rejects_bad_local_parts() {
        assert_eq!(err("jean.dupont"), AddressError::MissingAt);
        assert_eq!(err("@a.fr"), AddressError::LocalEmpty);
        assert_eq!(err(".jean@a.fr"), AddressError::LocalDot);
        assert_eq!(err("jean.@a.fr"), AddressError::LocalDot);
        assert_eq!(err("jean..dupont@a.fr"), AddressError::LocalDot);
        assert_eq!(err("jean dupont@a.fr"), AddressError::LocalCharacter { found: ' ' });
        assert_eq!(err("\"jean\"@a.fr"), AddressError::LocalCharacter { found: '"' });
        assert_eq!(err("a@b@a.fr"), AddressError::LocalCharacter { found: '@' });
        assert_eq!(err("élodie@a.fr"), AddressError::LocalCharacter { found: 'é' });
        assert_eq!(err("jean@"), AddressError::DomainEmpty);
    }

    #[test]
    fn enforces_length_limits() {
        let domain: Domain = "a.fr".parse().unwrap();
        assert!(EmailAddress::new(&"a".repeat(64), domain.clone()).is_ok());
        assert_eq!(EmailAddress::new(&"a".repeat(65), domain).unwrap_err(), AddressError::LocalTooLong { octets: 65 });
        // 64 + 1 + 190 = 255 octets.
        let long_domain: Domain = format!("{}.{}.{}", "b".repeat(63), "c".repeat(63), "d".repeat(62)).parse().unwrap();
        assert_eq!(long_domain.as_str().len(), 190);
        assert_eq!(
            EmailAddress::new(&"a".repeat(64), long_domain.clone()).unwrap_err(),
            AddressError::AddressTooLong { octets: 255 }
        );
        assert!(EmailAddress::new(&"a".repeat(63), long_domain).is_ok());
    }
}
