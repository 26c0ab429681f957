//! A health document the sender attached as a bare CDA R2 (the pharmacy
//! software through SMTP), packaged by mss as the ANS rules want it to
//! travel (ECO.2.1.*): the message gains `IHE_XDM.ZIP` holding the CDA as it
//! is (`mss_documents::build::package_cda`), the subject convention
//! `XDM/1.0/DDM+<libellé> <NOM> <prénom> <date de naissance>`, the CDA's type
//! in `X-MSS-CODECDA`, and `X-MSS-INS: N` when the sender did not say
//! whether the INS was qualified. The CDA attachment stays.
//!
//! Only a message that needs it and can take it is changed: one CDA read
//! sound, no package already, a `multipart/mixed` body whose closing
//! delimiter is found, not signed nor encrypted (a change would break the
//! signature). Anything else is left as it is ([`Packaging::Unchanged`]).

use base64::Engine;
use mail_parser::MimeHeaders;
use mss_documents::build::{PackageCdaError, package_cda};

use crate::documents::{Content, attached};
use crate::parsed;

/// What packaging did to a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Packaging {
    /// Nothing to package, or a message that cannot take it.
    Unchanged,
    /// The message with its package, and what it now says.
    Packaged { message: Vec<u8>, code: String, ins: String },
    /// The CDA cannot be packaged (no INS, no type…): the sender is told.
    Refused(PackageCdaError),
}

/// Packages the bare CDA of `raw`, if it has one (see the module's doc);
/// `software` names the sender in the package's `README.TXT`, `ids` are
/// random numbers for the submission set.
pub fn package_bare_cda(raw: &[u8], software: &str, ids: [u128; 2]) -> Packaging {
    let Some(message) = parsed::parse(raw) else { return Packaging::Unchanged };
    let Some(content_type) = message.content_type() else { return Packaging::Unchanged };
    let mixed = content_type.ctype().eq_ignore_ascii_case("multipart")
        && content_type.subtype().is_some_and(|s| s.eq_ignore_ascii_case("mixed"));
    let Some(boundary) = content_type.attribute("boundary").filter(|_| mixed) else {
        return Packaging::Unchanged;
    };
    let found = attached(&message);
    if found.iter().any(|a| matches!(a.content, Content::Package(_))) {
        return Packaging::Unchanged;
    }
    let mut bare = found.iter().filter(|a| matches!(a.content, Content::Cda(Ok(_))));
    let (Some(cda), None) = (bare.next(), bare.next()) else { return Packaging::Unchanged };
    let Some(part) = message.attachments().nth(cda.attachment) else { return Packaging::Unchanged };
    let packaged = match package_cda(part.contents(), software, ids) {
        Ok(packaged) => packaged,
        Err(e) => return Packaging::Refused(e),
    };
    let qualified_said = message.header_raw("X-MSS-INS").is_some();
    let closing = format!("\r\n--{boundary}--");
    let Some(at) = find_last(raw, closing.as_bytes()) else { return Packaging::Unchanged };
    let Some(header_end) = find_first(raw, b"\r\n\r\n") else { return Packaging::Unchanged };

    let mut out = Vec::with_capacity(raw.len() + packaged.package.len() * 4 / 3 + 512);
    for field in fields(&raw[..header_end + 2]) {
        let name = field.split(|&b| b == b':').next().unwrap_or_default();
        let dropped = [&b"Subject"[..], b"X-MSS-CODECDA"].iter().any(|d| name.eq_ignore_ascii_case(d));
        if !dropped {
            out.extend_from_slice(field);
        }
    }
    out.extend_from_slice(format!("Subject: {}\r\n", encoded_word(&packaged.subject)).as_bytes());
    out.extend_from_slice(format!("X-MSS-CODECDA: {}\r\n", one_token(&packaged.code)).as_bytes());
    if !qualified_said {
        out.extend_from_slice(b"X-MSS-INS: N\r\n");
    }
    out.extend_from_slice(&raw[header_end + 2..at]);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&packaged.package);
    out.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: application/zip; name=\"IHE_XDM.ZIP\"\r\n\
             Content-Disposition: attachment; filename=\"IHE_XDM.ZIP\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )
        .as_bytes(),
    );
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    // The closing delimiter and whatever followed it, as they were (minus
    // the line break already written).
    out.extend_from_slice(&raw[at + 2..]);
    Packaging::Packaged { message: out, code: packaged.code, ins: packaged.ins }
}

/// The header fields of a header section, each with its folded lines and
/// final CRLF.
fn fields(header: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < header.len() {
        let end = find_first(&header[i..], b"\r\n").map_or(header.len(), |p| i + p + 2);
        let continues = header.get(end).is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continues {
            out.push(&header[start..end]);
            start = end;
        }
        i = end;
    }
    out
}

fn find_first(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// A header value's text, as RFC 2047 encoded words when it is not plain
/// printable ASCII.
fn encoded_word(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text;
    }
    mss_documents::acks::encoded_words(&text)
}

/// A code as one header token (a CDA's code is `[0-9A-Za-z.-]`).
fn one_token(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric() || ".-_".contains(*c)).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cda() -> Vec<u8> {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml"))
            .unwrap()
    }

    fn message(extra_header: &str, files: &[(&str, &str, &[u8])]) -> Vec<u8> {
        let mut raw = format!(
            "From: <app-lgo@ours.test>\r\nTo: <dr@hopital.test>\r\nSubject: CR\r\n{extra_header}MIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed;\r\n boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\n\
             Ci-joint.\r\n"
        );
        for (name, kind, bytes) in files {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            raw.push_str(&format!(
                "--b1\r\nContent-Type: {kind}\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n"
            ));
        }
        raw.push_str("--b1--\r\nepilogue\r\n");
        raw.into_bytes()
    }

    #[test]
    fn a_bare_cda_gets_its_package_subject_and_fields() {
        let raw = message("X-MSS-CODECDA: forged\r\n", &[("CR.XML", "text/xml", &cda())]);
        let Packaging::Packaged { message: out, code, ins } = package_bare_cda(&raw, "LGO", [1, 2]) else {
            panic!("not packaged")
        };
        assert_eq!((code.as_str(), ins.as_str()), ("11502-2", "279035121518989"));
        let parsed = mail_parser::MessageParser::default().parse(&out).unwrap();
        assert!(
            parsed.subject().unwrap().starts_with("XDM/1.0/DDM+CR d'examens biologiques "),
            "{:?}",
            parsed.subject()
        );
        assert_eq!(parsed.header_raw("X-MSS-CODECDA").map(str::trim), Some("11502-2"), "the sender's value replaced");
        assert_eq!(parsed.header_raw("X-MSS-INS").map(str::trim), Some("N"));
        let names: Vec<&str> = parsed.attachments().filter_map(|a| a.attachment_name()).collect();
        assert_eq!(names, ["CR.XML", "IHE_XDM.ZIP"]);
        let package = mss_documents::xdm::read(parsed.attachments().nth(1).unwrap().contents());
        assert!(package.is_valid(), "{:?}", package.problems);
        assert!(String::from_utf8_lossy(&out).ends_with("--b1--\r\nepilogue\r\n"));
        // The facts find the package, hence the patient.
        assert!(crate::Facts::of(&out).xdm);
    }

    #[test]
    fn what_cannot_or_need_not_be_packaged_is_left_or_refused() {
        let cda = cda();
        let package = mss_documents::build::package_cda(&cda, "x", [1, 2]).unwrap().package;
        // Already packaged, two CDAs, no CDA, a signed message, no closing delimiter.
        let packaged = message("", &[("CR.XML", "text/xml", &cda), ("IHE_XDM.ZIP", "application/zip", &package)]);
        let two = message("", &[("A.XML", "text/xml", &cda), ("B.XML", "text/xml", &cda)]);
        let none = message("", &[("photo.jpg", "image/jpeg", b"\xff\xd8\xff")]);
        let signed = String::from_utf8(message("", &[("CR.XML", "text/xml", &cda)]))
            .unwrap()
            .replace("multipart/mixed", "multipart/signed")
            .into_bytes();
        let open = String::from_utf8(message("", &[("CR.XML", "text/xml", &cda)])).unwrap().replace("--b1--", "");
        for raw in [packaged, two, none, signed, open.into_bytes()] {
            assert_eq!(package_bare_cda(&raw, "LGO", [1, 2]), Packaging::Unchanged);
        }
        // The sender said whether the INS is qualified: kept.
        let said = message("X-MSS-INS: O\r\n", &[("CR.XML", "text/xml", &cda)]);
        let Packaging::Packaged { message: out, .. } = package_bare_cda(&said, "LGO", [1, 2]) else { panic!() };
        assert_eq!(String::from_utf8_lossy(&out).matches("X-MSS-INS").count(), 1);
        // A CDA naming no patient by INS: refused, said.
        let anonymous = String::from_utf8(cda).unwrap().replace("1.2.250.1.213.1.4.10", "1.2.3.4");
        let raw = message("", &[("CR.XML", "text/xml", anonymous.as_bytes())]);
        assert_eq!(package_bare_cda(&raw, "LGO", [1, 2]), Packaging::Refused(PackageCdaError::NoIns));
    }

    #[test]
    fn non_ascii_subjects_are_encoded_words() {
        assert_eq!(encoded_word("CR MARTIN"), "CR MARTIN");
        let encoded = encoded_word("XDM/1.0/DDM+Synthèse d'épisode de soins MARTIN Jeanne 19790328");
        assert!(encoded.starts_with("=?utf-8?b?") && encoded.lines().all(|l| l.len() < 78), "{encoded}");
        let header = format!("Subject: {encoded}\r\n\r\n");
        let parsed = mail_parser::MessageParser::default().parse(header.as_bytes()).unwrap();
        assert_eq!(parsed.subject(), Some("XDM/1.0/DDM+Synthèse d'épisode de soins MARTIN Jeanne 19790328"));
    }
}
