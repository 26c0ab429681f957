//! The MIME path on arbitrary messages: what IMAP FETCH and SEARCH compute
//! from a stored message (ENVELOPE, BODY and BODYSTRUCTURE, sections, BINARY,
//! header and body searches, the sent date). Never panics, and the IMAP
//! syntax it writes is balanced: as many closing parentheses as opening
//! ones outside strings and literals.
//!
//! The first byte picks a part path (up to three levels) for the section
//! and BINARY calls; the rest is the message.
#![no_main]

#[path = "../common/panics.rs"]
mod panics;

use libfuzzer_sys::fuzz_target;
use mss_imap::message::{self, Section, SectionKind};

fuzz_target!(|data: &[u8]| {
    panics::let_mail_parser_assertions_unwind();
    let Some((&selector, raw)) = data.split_first() else { return };
    let part: Vec<u32> = [selector & 3, (selector >> 2) & 3, (selector >> 4) & 3]
        .into_iter()
        .take_while(|&n| n > 0)
        .map(u32::from)
        .collect();

    for write in [
        message::envelope as fn(&mut Vec<u8>, &[u8]),
        |out: &mut Vec<u8>, raw: &[u8]| message::body_structure(out, raw, true),
        |out: &mut Vec<u8>, raw: &[u8]| message::body_structure(out, raw, false),
    ] {
        let mut out = Vec::new();
        write(&mut out, raw);
        assert!(balanced(&out), "unbalanced: {}", String::from_utf8_lossy(&out));
    }
    let kinds = [
        SectionKind::Full,
        SectionKind::Header,
        SectionKind::Text,
        SectionKind::Mime,
        SectionKind::HeaderFields { names: vec!["Subject".into(), "From".into()], not: selector & 0x40 != 0 },
    ];
    for kind in kinds {
        let _ = message::section(raw, &Section { part: part.clone(), kind });
    }
    let _ = message::binary(raw, &part);
    let _ = message::header_contains(raw, "subject", "ordonnance");
    let _ = message::body_contains(raw, "paracétamol");
    let _ = message::text_contains(raw, "");
    let _ = message::sent_date(raw);
});

/// Parentheses balance outside quoted strings and `{n}` literals.
fn balanced(out: &[u8]) -> bool {
    let (mut depth, mut i) = (0i64, 0);
    while i < out.len() {
        match out[i] {
            b'"' => {
                i += 1;
                while i < out.len() && out[i] != b'"' {
                    i += if out[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                let Some(close) = out[i..].iter().position(|&b| b == b'}') else { return false };
                let digits = std::str::from_utf8(&out[i + 1..i + close]).ok().map(|d| d.trim_end_matches('+'));
                let Some(length) = digits.and_then(|d| d.parse::<usize>().ok()) else { return false };
                // "}" CRLF then the literal's bytes.
                i += close + 2 + length;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0
}
