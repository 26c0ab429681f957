//! IHE XDM packages and CDA documents from arbitrary bytes
//! (`mss_documents`): never a panic. The input is read as a ZIP file, as a
//! METADATA.XML packaged with a document (the input split at its first NUL),
//! and as a CDA document; a document found has the bytes its path names.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use mss_documents::{cda, xdm};

fn packaged(metadata: &[u8], document: &[u8]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in [("IHE_XDM/SUBSET01/METADATA.XML", metadata), ("IHE_XDM/SUBSET01/DOC0001.XML", document)] {
        writer.start_file(name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fuzz_target!(|raw: &[u8]| {
    let _ = xdm::read(raw);
    let (metadata, document) = raw.split_at(raw.iter().position(|&b| b == 0).unwrap_or(raw.len()));
    let package = xdm::read(&packaged(metadata, document));
    for doc in package.documents() {
        match &doc.path {
            Some(_) => assert_eq!(doc.bytes, document, "the file found is the document packaged"),
            None => assert!(doc.bytes.is_empty()),
        }
    }
    let _ = cda::read(raw);
});
