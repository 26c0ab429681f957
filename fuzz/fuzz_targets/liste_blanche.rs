//! The liste blanche parser on arbitrary bytes: never panics, and whatever it
//! accepts has at least one domain, each with a DN that prints and re-parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_trust::{DistinguishedName, ListeBlanche};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = ListeBlanche::parse(data) {
        assert!(!list.entries().is_empty());
        for entry in list.entries() {
            let again: DistinguishedName = entry.operator_dn.to_string().parse().expect("printed DN re-parses");
            assert!(entry.operator_dn.matches(&again));
            assert!(list.dn_allowed_for(entry.domain.as_str(), &entry.operator_dn));
        }
    }
});
