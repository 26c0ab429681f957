//! The fields of a message's header as written, without parsing their
//! values: what IMAP's `BODY[HEADER.FIELDS (...)]` returns, the lines of the
//! named fields byte for byte. A client listing a folder asks for a few
//! fields of every message; parsing each header with mail-parser (its
//! addresses, dates, encoded words) to then copy lines out of it was most
//! of what that FETCH cost.
//!
//! A field starts on a line that does not start with a space or a tab and
//! runs through the lines that do (folding, RFC 5322 §2.2.3); the header
//! ends at the first empty line. A line that names no field (no colon, no
//! name before it, a folded line first) is skipped with its folded lines by
//! [`raw_fields`]; [`header_items`] says where it is, for the readers that
//! refuse such a header ([`crate::header::originators`]).

/// One field: its name (before the colon, trailing blanks left out), its
/// bytes from the name to the end of its last line, line ends included, and
/// of those its value (what follows the colon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawField<'a> {
    pub name: &'a [u8],
    pub bytes: &'a [u8],
    pub value: &'a [u8],
}

/// What a header holds, line after line: fields, and lines that open none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderItem<'a> {
    Field(RawField<'a>),
    /// A line (numbered from 1) that opens no field, skipped with its
    /// folded lines.
    Malformed {
        line: usize,
        why: &'static str,
    },
}

/// The items of the header at the start of `raw`, in order.
pub fn header_items(raw: &[u8]) -> impl Iterator<Item = HeaderItem<'_>> {
    let (mut rest, mut line) = (raw, 1);
    std::iter::from_fn(move || {
        // The empty line, or what is left of one at the end of `raw`.
        if matches!(rest, [] | [b'\r']) || rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return None;
        }
        let (item, lines, after) = item(rest, line);
        (rest, line) = (after, line + lines);
        Some(item)
    })
}

/// The fields of the header at the start of `raw`, in order; the lines
/// that open none are left out.
pub fn raw_fields(raw: &[u8]) -> impl Iterator<Item = RawField<'_>> {
    header_items(raw).filter_map(|item| match item {
        HeaderItem::Field(field) => Some(field),
        HeaderItem::Malformed { .. } => None,
    })
}

/// The item starting `raw` (not empty, not an empty line) on line `number`,
/// how many lines it spans, and what follows it.
fn item(raw: &[u8], number: usize) -> (HeaderItem<'_>, usize, &[u8]) {
    let first = line_end(raw, 0);
    let (mut end, mut lines) = (first, 1);
    // RFC 5322 §2.2.3: a line starting with a blank continues the field.
    while end < raw.len() && matches!(raw[end], b' ' | b'\t') {
        (end, lines) = (line_end(raw, end), lines + 1);
    }
    let (bytes, after) = raw.split_at(end);
    let malformed = |why| (HeaderItem::Malformed { line: number, why }, lines, after);
    if matches!(raw[0], b' ' | b'\t') {
        return malformed("a continuation line opens the header");
    }
    let Some(colon) = raw[..first].iter().position(|&b| b == b':') else {
        return malformed("no colon");
    };
    // RFC 5322 §4.5.3 (obs-optional): white space may precede the colon.
    let name = raw[..colon].trim_ascii_end();
    // RFC 5322 §2.2: field-name = 1*ftext, printable US-ASCII but ":".
    if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
        return malformed("not a field name before the colon");
    }
    (HeaderItem::Field(RawField { name, bytes, value: &bytes[colon + 1..] }), lines, after)
}

/// The index after the line feed of the line starting at `start`, or the
/// end of `raw`.
fn line_end(raw: &[u8], start: usize) -> usize {
    raw[start..].iter().position(|&b| b == b'\n').map_or(raw.len(), |i| start + i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(raw: &str) -> Vec<(String, String)> {
        raw_fields(raw.as_bytes())
            .map(|f| (String::from_utf8_lossy(f.name).into_owned(), String::from_utf8_lossy(f.bytes).into_owned()))
            .collect()
    }

    #[test]
    fn fields_keep_their_folded_lines_and_stop_at_the_blank_line() {
        let raw = "From: a@x\r\nSubject: Bilan\r\n  sanguin\r\n\tsuite\r\nTo: b@y\r\n\r\nX-Not: body\r\n";
        assert_eq!(
            fields(raw),
            [
                ("From".into(), "From: a@x\r\n".into()),
                ("Subject".into(), "Subject: Bilan\r\n  sanguin\r\n\tsuite\r\n".into()),
                ("To".into(), "To: b@y\r\n".into()),
            ]
        );
    }

    /// Bare line feeds, a name with blanks before its colon, a last line
    /// without its end, a header with no body after it.
    #[test]
    fn loose_line_ends_and_names_are_read_as_written() {
        let raw = "From: a@x\nSubject : Bilan\n\tsuite\nDate: today";
        assert_eq!(
            fields(raw),
            [
                ("From".into(), "From: a@x\n".into()),
                ("Subject".into(), "Subject : Bilan\n\tsuite\n".into()),
                ("Date".into(), "Date: today".into()),
            ]
        );
    }

    /// What a hostile or broken header can hold: a line without a colon,
    /// folded lines first, an empty name, nothing at all; none of it is a
    /// field but the named ones, and nothing panics.
    #[test]
    fn lines_that_name_no_field_are_skipped() {
        let raw = "  folded first\r\nno colon here\r\n\tits fold: too\r\n: empty name\r\nTo: b@y\r\n";
        assert_eq!(fields(raw), [("To".into(), "To: b@y\r\n".into())]);
        let malformed: Vec<_> = header_items(raw.as_bytes())
            .filter_map(|item| match item {
                HeaderItem::Malformed { line, why } => Some((line, why)),
                HeaderItem::Field(_) => None,
            })
            .collect();
        assert_eq!(
            malformed,
            [(1, "a continuation line opens the header"), (2, "no colon"), (4, "not a field name before the colon")]
        );
        assert!(fields("").is_empty());
        assert!(fields("\r\nFrom: a@x\r\n").is_empty(), "an empty header");
        assert!(fields("\n").is_empty());
        assert_eq!(header_items(b"To: b@y\r\n\r").count(), 1, "a header cut inside its empty line");
    }
}
