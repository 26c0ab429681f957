//! Writing IMAP response syntax (RFC 9051 §9): strings as quoted or
//! literal, NIL, parenthesised lists. Commands are parsed by imap-codec;
//! responses are written here so that every byte sent is under our control
//! (extensions imap-types does not model: ESEARCH, VANISHED, ACL, LIST-STATUS).

/// Appends `value` as an IMAP string: quoted when it is short printable
/// text, a literal otherwise (8-bit, CR/LF, quotes or backslashes are all
/// safe in a literal).
pub fn string(out: &mut Vec<u8>, value: &[u8]) {
    let quotable = value.len() <= 1024 && value.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if quotable {
        out.push(b'"');
        out.extend_from_slice(value);
        out.push(b'"');
    } else {
        literal(out, value);
    }
}

/// Appends `value` as a literal: `{n}` CRLF and the bytes.
pub fn literal(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", value.len()).as_bytes());
    out.extend_from_slice(value);
}

/// Appends an nstring: NIL or a string.
pub fn nstring(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => string(out, v),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends a mailbox name or other astring: an atom when it can be one
/// (nothing to quote), else a string.
pub fn astring(out: &mut Vec<u8>, value: &str) {
    let atom = !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic() && !b"(){ %*\"\\]".contains(&b));
    if atom {
        out.extend_from_slice(value.as_bytes());
    } else {
        string(out, value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_quoted_or_literal() {
        assert_eq!(render(|o| string(o, b"Hello")), "\"Hello\"");
        assert_eq!(render(|o| string(o, b"say \"hi\"")), "{8}\r\nsay \"hi\"");
        assert_eq!(render(|o| string(o, "é".as_bytes())), "{2}\r\né");
        assert_eq!(render(|o| nstring(o, None)), "NIL");
        assert_eq!(render(|o| astring(o, "INBOX")), "INBOX");
        assert_eq!(render(|o| astring(o, "Mes dossiers")), "\"Mes dossiers\"");
        assert_eq!(render(|o| astring(o, "")), "\"\"");
    }
}
