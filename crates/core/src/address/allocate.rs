//! Picking a free address for a new mailbox.
//!
//! Rule, deterministic so that a retried creation gives the same answer: try the
//! base, then `base-2`, `base-3`, ... up to `base-999`. When the base with its suffix
//! would pass 64 octets for the local part, or 254 for the whole address, the base
//! is cut (on a character boundary, without a trailing `-` or `.`) so that the suffix
//! always fits: the number is what tells two mailboxes apart, it is never cut.

use super::email::check_dot_atom;
use super::naming::truncate;
use super::{ADDRESS_MAX, AddressError, Domain, EmailAddress, LOCAL_PART_MAX};

/// How many candidates [`allocate_address`] tries: the base and `-2` to `-999`.
pub const MAX_ALLOCATION_ATTEMPTS: u32 = 999;

/// The first address of `base_local`, `base_local-2`, `base_local-3`, ... at `domain`
/// for which `is_taken` answers false.
///
/// `base_local` must be a dot-atom (any length: a long one is shortened); it is
/// lower-cased. Fails when every candidate is taken, or when the domain leaves no
/// room for a local part.
pub fn allocate_address(
    base_local: &str,
    domain: &Domain,
    mut is_taken: impl FnMut(&EmailAddress) -> bool,
) -> Result<EmailAddress, AddressError> {
    check_dot_atom(base_local)?;
    let base = base_local.to_ascii_lowercase();
    let domain_octets = domain.as_str().len();
    let room = ADDRESS_MAX.saturating_sub(domain_octets + 1).min(LOCAL_PART_MAX);

    for n in 1..=MAX_ALLOCATION_ATTEMPTS {
        let candidate = if n == 1 {
            truncate(&base, room).to_owned()
        } else {
            let suffix = format!("-{n}");
            let stem = truncate(&base, room.saturating_sub(suffix.len()));
            if stem.is_empty() {
                return Err(AddressError::NoRoomForLocalPart { octets: domain_octets });
            }
            format!("{stem}{suffix}")
        };
        if candidate.is_empty() {
            return Err(AddressError::NoRoomForLocalPart { octets: domain_octets });
        }
        let address = EmailAddress::new(&candidate, domain.clone())?;
        if !is_taken(&address) {
            return Ok(address);
        }
    }
    Err(AddressError::NoFreeAddress { base: crate::excerpt(&base), attempts: MAX_ALLOCATION_ATTEMPTS })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn domain() -> Domain {
        "pharmacie.mssante.fr".parse().unwrap()
    }

    fn taken(addresses: &[&str]) -> HashSet<String> {
        addresses.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn free_base_is_used_as_is() {
        let address = allocate_address("Jean.Dupont", &domain(), |_| false).unwrap();
        assert_eq!(address.to_string(), "jean.dupont@pharmacie.mssante.fr");
    }

    #[test]
    fn collisions_take_the_next_number() {
        let taken = taken(&["jean.dupont@pharmacie.mssante.fr", "jean.dupont-2@pharmacie.mssante.fr"]);
        let address = allocate_address("jean.dupont", &domain(), |a| taken.contains(&a.to_string())).unwrap();
        assert_eq!(address.local(), "jean.dupont-3");
    }

    #[test]
    fn same_inputs_same_answer() {
        let taken = taken(&["jean.dupont@pharmacie.mssante.fr"]);
        let first = allocate_address("jean.dupont", &domain(), |a| taken.contains(&a.to_string()));
        let second = allocate_address("jean.dupont", &domain(), |a| taken.contains(&a.to_string()));
        assert_eq!(first, second);
    }

    #[test]
    fn asks_in_order_and_stops_at_the_first_free() {
        let mut asked = Vec::new();
        let address = allocate_address("x", &domain(), |a| {
            asked.push(a.local().to_owned());
            asked.len() < 4
        })
        .unwrap();
        assert_eq!(asked, ["x", "x-2", "x-3", "x-4"]);
        assert_eq!(address.local(), "x-4");
    }

    #[test]
    fn a_long_base_is_cut_so_the_suffix_fits() {
        let base = format!("{}.dupont", "a".repeat(70));
        let first = allocate_address(&base, &domain(), |_| false).unwrap();
        assert_eq!(first.local().len(), 64);
        let mut count = 0;
        let later = allocate_address(&base, &domain(), |_| {
            count += 1;
            count < 12
        })
        .unwrap();
        assert!(later.local().ends_with("-12"), "{later}");
        assert_eq!(later.local().len(), 64);
    }

    #[test]
    fn the_cut_drops_a_trailing_separator() {
        // 61 chars then '-': with "-2" the stem is cut to 62 octets, ending in '-'.
        let base = format!("{}-bcdef", "a".repeat(61));
        let mut first = true;
        let address = allocate_address(&base, &domain(), |_| std::mem::replace(&mut first, false)).unwrap();
        assert_eq!(address.local(), format!("{}-2", "a".repeat(61)));
    }

    #[test]
    fn the_whole_address_limit_applies_too() {
        // 250-octet domain: room for 3 octets of local part.
        let long: Domain =
            format!("{}.{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(58)).parse().unwrap();
        assert_eq!(long.as_str().len(), 250);
        let address = allocate_address("jean.dupont", &long, |_| false).unwrap();
        assert_eq!(address.local(), "jea");
        let mut first = true;
        let address = allocate_address("jean.dupont", &long, |_| std::mem::replace(&mut first, false)).unwrap();
        assert_eq!(address.local(), "j-2");
        assert_eq!(address.to_string().len(), 254);
    }

    #[test]
    fn errors() {
        assert_eq!(
            allocate_address("x", &domain(), |_| true).unwrap_err().to_string(),
            "address: no free address for \"x\" after 999 attempts"
        );
        assert_eq!(allocate_address("a..b", &domain(), |_| false).unwrap_err(), AddressError::LocalDot);
        assert_eq!(allocate_address("", &domain(), |_| false).unwrap_err(), AddressError::LocalEmpty);
    }
}
