//! The readers on the real packages and CDA documents of
//! `fixtures/` (each with its quirks, see its README), and on
//! hostile ones: every package is read or flagged with the precise reason,
//! nothing is refused as a whole, nothing panics.

use std::io::Write;
use std::path::{Path, PathBuf};

use mss_documents::cda::{self, Body};
use mss_documents::package::PackageError;
use mss_documents::xdm::{self, Problem};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The files under `dir`, as a ZIP made in memory (paths relative to `dir`).
fn zip_of(dir: &Path) -> Vec<u8> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { stack.push(path) } else { files.push(path) }
        }
    }
    files.sort();
    let entries: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"), std::fs::read(f).unwrap()))
        .collect();
    zip(&entries)
}

fn zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn the_mie_package_reads_as_shipped_with_its_uppercase_hash() {
    let package = xdm::read(&std::fs::read(fixtures().join("xdm/nist-iheos-toolkit2/MIE.zip")).unwrap());
    assert!(package.is_valid(), "{:?}", package.problems);
    let documents: Vec<_> = package.documents().collect();
    assert_eq!(documents.len(), 1);
    let doc = documents[0];
    assert_eq!(doc.path.as_deref(), Some("IHE_XDM/SUBSET01/DOC00001.XML"));
    assert_eq!((doc.size, doc.bytes.len()), (Some(4103), 4103));
    assert_eq!(doc.mime_type.as_deref(), Some("text/x-cda-r2+xml"));
    assert!(doc.type_code.is_some() && doc.patient_id.is_some(), "{doc:?}");
}

#[test]
fn every_unpacked_fixture_package_validates() {
    let xdm = fixtures().join("xdm");
    for (folder, subsets, documents) in [
        ("nist-iheos-toolkit2/MIE", vec!["IHE_XDM/SUBSET01"], 1),
        ("nist-iheos-toolkit2/Epic", vec!["IHE_XDM/LUCY_0"], 1),
        ("nist-iheos-toolkit2/Sage", vec!["IHE_XDM/CCD1", "IHE_XDM/CCD2"], 2),
        // No URI nor size slot: the document is found by its hash.
        ("directproject-nhin-d-samplexdm", vec!["IHE_XDM/SUBSET01"], 1),
    ] {
        let package = xdm::read(&zip_of(&xdm.join(folder)));
        assert!(package.is_valid(), "{folder}: {:?}", package.problems);
        let found: Vec<&str> = package.subsets.iter().map(|s| s.folder.as_str()).collect();
        assert_eq!(found, subsets, "{folder}");
        assert_eq!(package.documents().count(), documents, "{folder}");
        assert!(package.documents().all(|d| !d.bytes.is_empty() && d.hash.is_some()), "{folder}");
    }
    // Sage: two files of the same name, each checked in its own set.
    let sage = xdm::read(&zip_of(&xdm.join("nist-iheos-toolkit2/Sage")));
    let paths: Vec<_> = sage.documents().map(|d| d.path.clone().unwrap()).collect();
    assert_eq!(paths, ["IHE_XDM/CCD1/CCD_FARN.xml", "IHE_XDM/CCD2/CCD_FARN.xml"]);
    // Epic: a patient id escaped twice still reads.
    let epic = xdm::read(&zip_of(&xdm.join("nist-iheos-toolkit2/Epic")));
    assert!(epic.documents().next().unwrap().patient_id.is_some());
}

#[test]
fn a_wrong_hash_a_wrong_size_and_a_missing_file_are_said_precisely() {
    let dir = fixtures().join("xdm/nist-iheos-toolkit2/MIE");
    let metadata = std::fs::read(dir.join("IHE_XDM/SUBSET01/METADATA.XML")).unwrap();
    let mut document = std::fs::read(dir.join("IHE_XDM/SUBSET01/DOC00001.XML")).unwrap();
    document[100] ^= 1;
    let tampered = zip(&[
        ("IHE_XDM/SUBSET01/METADATA.XML".into(), metadata.clone()),
        ("IHE_XDM/SUBSET01/DOC00001.XML".into(), document.clone()),
    ]);
    let package = xdm::read(&tampered);
    assert!(matches!(&package.problems[..], [Problem::Hash { path, .. }] if path == "IHE_XDM/SUBSET01/DOC00001.XML"));
    document.push(b'\n');
    let longer = xdm::read(&zip(&[
        ("IHE_XDM/SUBSET01/METADATA.XML".into(), metadata.clone()),
        ("IHE_XDM/SUBSET01/DOC00001.XML".into(), document),
    ]));
    assert!(longer.problems.iter().any(|p| matches!(p, Problem::Size { expected: 4103, actual: 4104, .. })));
    let missing = xdm::read(&zip(&[("IHE_XDM/SUBSET01/METADATA.XML".into(), metadata)]));
    assert!(matches!(&missing.problems[..], [Problem::Missing { uri: Some(uri), .. }] if uri == "DOC00001.XML"));
    assert!(!missing.is_valid());
}

#[test]
fn hostile_packages_are_flagged_and_nothing_is_extracted() {
    // A ZIP bomb: 60 MB of zeros.
    let bomb = zip(&[("IHE_XDM/SUBSET01/DOC0001.XML".into(), vec![0u8; 60 * 1024 * 1024])]);
    assert!(bomb.len() < 200 * 1024, "it compresses");
    assert!(matches!(&xdm::read(&bomb).problems[..], [Problem::Package(PackageError::Bomb(_))]));
    // Path traversal, absolute paths.
    for name in ["../../etc/cron.d/x", "/etc/passwd", "IHE_XDM/../../x"] {
        let evil = zip(&[(name.into(), b"x".to_vec())]);
        assert!(matches!(&xdm::read(&evil).problems[..], [Problem::Package(PackageError::UnsafeName(n))] if n == name));
    }
    // Not a ZIP at all; no metadata; metadata that is not XML, or too large,
    // or with external entities.
    assert!(matches!(&xdm::read(b"PK\x03\x04 not really").problems[..], [Problem::Package(PackageError::NotAZip(_))]));
    assert_eq!(xdm::read(&zip(&[("README.TXT".into(), b"hi".to_vec())])).problems, [Problem::NoMetadata]);
    let entity = b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>".to_vec();
    // Over METADATA.XML's 4 MiB, and not compressible (no bomb).
    let mut seed = 7u64;
    let noise: String = (0..5 * 1024 * 1024)
        .map(|_| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            char::from(b'a' + (seed >> 59) as u8 % 26)
        })
        .collect();
    let huge = format!("<a>{noise}</a>").into_bytes();
    for (metadata, reason) in [(b"not xml <".to_vec(), "outside the root"), (entity, "DOCTYPE"), (huge, "larger than")]
    {
        let package = xdm::read(&zip(&[("IHE_XDM/SUBSET01/METADATA.XML".into(), metadata)]));
        match &package.problems[..] {
            [Problem::Metadata { reason: found, .. }] => assert!(found.contains(reason), "{found}"),
            other => panic!("{reason}: {other:?}"),
        }
    }
}

#[test]
fn the_ans_cda_examples_give_their_patient_type_and_body() {
    let cda_dir = fixtures().join("cda");
    let unstructured = cda::read(&std::fs::read(cda_dir.join("DOC_NON_STRUCTURE_CDA-R2-N1.xml")).unwrap()).unwrap();
    assert_eq!(unstructured.code.as_ref().map(|c| c.code.as_str()), Some("11502-2"));
    assert_eq!(unstructured.patient.ins.as_deref(), Some("279035121518989"));
    match &unstructured.body {
        Body::File { media_type, bytes } => {
            assert_eq!((media_type.as_str(), bytes.len()), ("application/pdf", 326_650));
            assert!(bytes.starts_with(b"%PDF-1.5"));
        }
        other => panic!("{other:?}"),
    }
    let trod = cda::read(&std::fs::read(cda_dir.join("BIO-TROD_2024.01_COVID-19.xml")).unwrap()).unwrap();
    assert_eq!(trod.code.as_ref().map(|c| c.code.as_str()), Some("96173-0"));
    assert_eq!(trod.patient.ins.as_deref(), Some("279035121518989"));
    let Body::Sections(sections) = &trod.body else { panic!("{:?}", trod.body) };
    assert!(sections.iter().any(|s| !s.text.is_empty()), "{sections:?}");
    assert!(sections.iter().all(|s| !s.text.contains('<')), "no markup in the narrative");
    // A BOM and CRLF line endings, as upstream.
    let prescription = cda::read(&std::fs::read(cda_dir.join("eP-MED-DM_2022.01_PosoStruct.xml")).unwrap()).unwrap();
    assert_eq!(prescription.code.as_ref().map(|c| c.code.as_str()), Some("57833-6"));
    assert!(prescription.title.is_some() && prescription.author.is_some(), "{prescription:?}");
    assert!(prescription.patient.family.is_some() && prescription.patient.birth_time.is_some());
}

#[test]
fn a_cda_with_an_external_entity_or_another_root_is_refused() {
    let external = b"<!DOCTYPE ClinicalDocument [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><ClinicalDocument>&e;</ClinicalDocument>";
    assert!(matches!(cda::read(external), Err(cda::CdaError::Xml(mss_documents::xml::XmlError::Doctype))));
    assert!(matches!(cda::read(b"<html/>"), Err(cda::CdaError::NotCda(root)) if root == "html"));
}
