//! Every identifier and address parser of mss-core on arbitrary strings:
//! never panics, and what is accepted prints back to a string that parses to
//! the same value.
#![no_main]

use std::fmt::Display;
use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use mss_core::{Adeli, Domain, EmailAddress, Finess, Ins, NationalId, Rpps};

fn round_trip<T: FromStr + Display + PartialEq + std::fmt::Debug>(input: &str) {
    if let Ok(value) = input.parse::<T>() {
        let again: T = value.to_string().parse().ok().expect("printed value re-parses");
        assert_eq!(value, again);
    }
}

fuzz_target!(|data: &str| {
    round_trip::<Rpps>(data);
    round_trip::<Adeli>(data);
    round_trip::<Finess>(data);
    round_trip::<Ins>(data);
    round_trip::<NationalId>(data);
    round_trip::<Domain>(data);
    round_trip::<EmailAddress>(data);
    let _ = mss_core::personal_local_part(data, data);
    let _ = mss_core::pharmacy_local_part(data, "75001", data);
});
