//! The real ANS CDA samples in `fixtures/cda` (copies of `shared/fixtures/cda`): every patient address they
//! carry is `<INS>@patient.mssante.fr` with an INS whose key is right.

use std::path::PathBuf;

use mss_core::{EmailAddress, Ins, PATIENT_DOMAIN};

fn cda_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cda")
}

#[test]
fn patient_addresses_in_the_ans_cda_samples_are_built_from_valid_ins() {
    let dir = cda_dir();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{} should hold the CDA fixtures: {e}", dir.display()));
    let suffix = format!("@{PATIENT_DOMAIN}");
    let mut seen = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (start, _) in text.match_indices("mailto:") {
            let rest = &text[start + "mailto:".len()..];
            let address = &rest[..rest.find('"').unwrap()];
            let Some(ins) = address.strip_suffix(&suffix) else {
                continue;
            };
            let ins: Ins = ins.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(ins.patient_address(), address.parse::<EmailAddress>().unwrap());
            seen += 1;
        }
    }
    assert!(seen > 0, "no patient address found in {}", dir.display());
}

#[test]
fn the_ans_test_patient_ins_has_key_89() {
    let ins: Ins = "279035121518989".parse().unwrap();
    assert_eq!(&ins.as_str()[13..], "89");
}
