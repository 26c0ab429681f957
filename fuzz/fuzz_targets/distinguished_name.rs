//! DN strings: never panic; an accepted DN prints to a string that parses
//! back to a matching DN.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_trust::DistinguishedName;

fuzz_target!(|data: &str| {
    if let Ok(dn) = data.parse::<DistinguishedName>() {
        let again: DistinguishedName = dn.to_string().parse().expect("printed DN re-parses");
        assert!(dn.matches(&again), "{dn} vs {again}");
    }
});
