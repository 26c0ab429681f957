//! A package mss builds, read by an independent reader: Python's standard
//! library (`check_xdm.py`: layout, METADATA.XML as ebRIM, every document's
//! hash and size). In CI, python3 must be there (scripts/test installs it).

use std::path::Path;
use std::process::Command;

use mss_documents::build::{Author, NewDocument, Patient, TYPES};

/// `check_xdm.py` run on the package at `path`; None when python3 is
/// missing outside CI (in CI, python3 must be there).
fn check_xdm(path: &Path) -> Option<std::process::Output> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_xdm.py");
    match Command::new("python3").arg(&script).arg(path).output() {
        Ok(output) => Some(output),
        Err(e) if std::env::var("CI").is_err() => {
            eprintln!("skipped: no python3 ({e})");
            None
        }
        Err(e) => panic!("python3 is needed in CI: {e}"),
    }
}

#[test]
fn python_reads_the_package_mss_builds() {
    let pdf =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml"))
            .map(|cda| match mss_documents::cda::read(&cda).unwrap().body {
                mss_documents::cda::Body::File { bytes, .. } => bytes,
                other => panic!("{other:?}"),
            })
            .unwrap();
    let doc = NewDocument {
        patient: Patient {
            ins: "279035121518989".parse().unwrap(),
            given: "Jeanne".into(),
            family: "Martin".into(),
            birth_date: Some("19790328".into()),
        },
        author: Author {
            national_id: Some("810003621892".into()),
            given: Some("Élodie".into()),
            family: "Dupont".into(),
            organisation: Some("Pharmacie de la Gare".into()),
        },
        kind: TYPES[1],
        title: "Compte rendu d'examens biologiques".into(),
        created: 1_796_200_000,
        pdf,
        ids: [7, 8],
        software: "mss tests".into(),
    };
    let package = doc.package(&doc.cda().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("IHE_XDM.ZIP");
    std::fs::write(&path, &package).unwrap();
    let Some(output) = check_xdm(&path) else { return };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.starts_with("OK DOC0001.XML ") && stdout.contains("279035121518989^^^&1.2.250.1.213.1.4.8&ISO text/xml"),
        "{stdout}"
    );

    // The same package with one byte of the document changed: the reader
    // says so (the check can fail).
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for mut entry in mss_documents::package::unpack(&package).unwrap() {
        if entry.path.ends_with("DOC0001.XML") {
            entry.bytes[200] ^= 1;
        }
        writer.start_file(entry.path.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut writer, &entry.bytes).unwrap();
    }
    std::fs::write(&path, writer.finish().unwrap().into_inner()).unwrap();
    let output = check_xdm(&path).unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("FAIL: DOC0001.XML: hash"));
}

/// A CDA R2 the sender made, packaged by mss as it is: the Python reader
/// finds its patient (the CDA's own INS root) and checks its hash and size;
/// mss reads it back valid, with the CDA's id as the entry's unique id.
#[test]
fn python_reads_a_senders_cda_that_mss_packaged() {
    let cda =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml"))
            .unwrap();
    let packaged = mss_documents::build::package_cda(&cda, "LGO tests", [11, 12]).unwrap();
    assert_eq!(packaged.code, "11502-2");
    assert_eq!(packaged.ins, "279035121518989");
    assert!(packaged.subject.starts_with("XDM/1.0/DDM+CR d'examens biologiques "), "{}", packaged.subject);
    let read = mss_documents::xdm::read(&packaged.package);
    assert!(read.is_valid(), "{:?}", read.problems);
    let entry = read.documents().next().unwrap();
    assert_eq!(entry.unique_id.as_deref(), Some("1.3.6.1.4.1.19376.1.2.20.12345.1.1"));
    assert_eq!(entry.bytes, cda, "the sender's CDA, byte for byte");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("IHE_XDM.ZIP");
    std::fs::write(&path, &packaged.package).unwrap();
    let Some(output) = check_xdm(&path) else { return };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("279035121518989^^^&1.2.250.1.213.1.4.10&ISO"), "{stdout}");

    // A CDA naming no patient by INS is not packaged.
    let anonymous = String::from_utf8(cda).unwrap().replace("1.2.250.1.213.1.4.10", "1.2.3.4");
    let refused = mss_documents::build::package_cda(anonymous.as_bytes(), "LGO tests", [1, 2]);
    assert_eq!(refused.unwrap_err(), mss_documents::build::PackageCdaError::NoIns);
}
