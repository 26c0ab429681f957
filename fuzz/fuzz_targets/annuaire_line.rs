//! The ANS extraction reader and line parser (`mss_directory::annuaire::
//! extraction`) on arbitrary input: never panics, and what is accepted
//! keeps the parser's promises. A data line: 31 trimmed columns within
//! their size limit, a known type of mailbox, a valid address, a valid
//! FINESS when one is named, a PER with a last name, an empty or 5-digit
//! postal code; joining the columns back parses to the same entry. A
//! header: 31 columns. The reader: lines without their ending, UTF-8,
//! within the line limit, never empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_core::{EmailAddress, Finess, MailboxKind};
use mss_directory::annuaire::extraction::{
    COLUMNS, Lines, MAX_FIELD_CHARS, MAX_LINE_BYTES, check_header, col, parse_line,
};

fn check_line(line: &str) {
    let Ok(entry) = parse_line(line) else { return };
    assert_eq!(entry.fields.len(), COLUMNS);
    for field in &entry.fields {
        assert_eq!(field, field.trim(), "columns are trimmed");
        assert!(field.chars().count() <= MAX_FIELD_CHARS);
        assert!(!field.contains('|'));
    }
    assert_eq!(entry.field(col::KIND).parse::<MailboxKind>().ok(), Some(entry.kind));
    assert!(entry.field(col::ADDRESS).parse::<EmailAddress>().is_ok(), "an accepted address parses");
    assert!(!entry.domain().is_empty());
    if let Some(finess) = &entry.finess {
        assert!(finess.parse::<Finess>().is_ok(), "FINESS {finess:?}");
    }
    if entry.kind == MailboxKind::Personal {
        assert!(!entry.field(col::LAST_NAME).is_empty());
    }
    let postal = entry.field(col::POSTAL_CODE);
    assert!(postal.is_empty() || (postal.len() == 5 && postal.bytes().all(|b| b.is_ascii_digit())));
    assert!(entry.department.len() <= 3);
    let again = parse_line(&entry.fields.join("|")).expect("the trimmed columns parse again");
    assert_eq!(again, entry);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_line(text);
        if check_header(text).is_ok() {
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            assert_eq!(text.split('|').count(), COLUMNS);
        }
    }
    // The reader on the same bytes as a whole file.
    if let Ok(mut lines) = Lines::open(data) {
        while let Ok(Some((number, line))) = lines.next_line() {
            assert!(number >= 2 && line.len() <= MAX_LINE_BYTES);
            assert!(!line.ends_with('\n') && !line.trim().is_empty());
            check_line(&line);
        }
    }
});
