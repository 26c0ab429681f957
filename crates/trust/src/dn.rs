//! Distinguished names as the liste blanche writes them and as certificates
//! carry them.
//!
//! The ANS file writes the operator certificate subject in the RFC 4514 string
//! form, most specific attribute first: `CN=host,OU=siret,O=org,ST=dept,C=FR`.
//! A certificate stores the same name as a sequence of RDNs, least specific
//! first; [`DistinguishedName::from_x509`] reverses it so both read alike.
//!
//! Equality ([`DistinguishedName::matches`]) follows X.520 caseIgnoreMatch:
//! attribute types compared by their canonical short name, values compared
//! after trimming, collapsing inner white space and lower-casing. Order matters
//! and every RDN must match: there is no prefix or substring matching.

use std::fmt;

use x509_parser::x509::X509Name;

/// One attribute of a name: `CN=mss.example.fr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Canonical short type (`CN`, `OU`, `O`, `ST`, `C`, ...) or a dotted OID.
    pub kind: String,
    /// The value, unescaped.
    pub value: String,
}

/// A distinguished name, most specific RDN first (RFC 4514 order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName {
    /// Each RDN is usually one attribute; multi-valued RDNs (`A=1+B=2`) keep
    /// their attributes sorted by type so that their order does not matter.
    rdns: Vec<Vec<Attribute>>,
}

/// Why a DN string or a certificate name could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    #[error("dn: empty distinguished name")]
    Empty,
    #[error("dn: `{0}` is not TYPE=value")]
    MissingEquals(String),
    #[error("dn: unknown attribute type `{0}`")]
    UnknownType(String),
    #[error("dn: empty value for `{0}`")]
    EmptyValue(String),
    #[error("dn: bad escape in `{0}`")]
    BadEscape(String),
    #[error("dn: certificate name attribute {0} is not a readable string")]
    UnreadableValue(String),
    #[error("dn: value too long ({0} characters, at most {MAX_VALUE_CHARS})")]
    TooLong(usize),
    #[error("dn: value of `{0}` holds a control character")]
    ControlCharacter(String),
}

/// X.520 upper bounds are 64 for most types; be generous but finite.
const MAX_VALUE_CHARS: usize = 256;

/// Short names we accept in strings, with their OIDs (RFC 4514 §3 and the
/// usual extras seen in IGC-Santé certificates).
const KNOWN_TYPES: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("SURNAME", "2.5.4.4"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("TITLE", "2.5.4.12"),
    ("GIVENNAME", "2.5.4.42"),
    ("ORGANIZATIONIDENTIFIER", "2.5.4.97"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1"),
];

/// Aliases seen in the wild, mapped to the canonical short name.
const ALIASES: &[(&str, &str)] = &[("S", "ST"), ("E", "EMAILADDRESS"), ("SN", "SURNAME"), ("G", "GIVENNAME")];

fn canonical_type(raw: &str) -> Result<String, DnError> {
    let upper = raw.trim().to_ascii_uppercase();
    let upper = upper.strip_prefix("OID.").unwrap_or(&upper).to_string();
    if let Some((_, canon)) = ALIASES.iter().find(|(alias, _)| *alias == upper) {
        return Ok((*canon).to_string());
    }
    if let Some((short, _)) = KNOWN_TYPES.iter().find(|(short, oid)| *short == upper || *oid == upper) {
        return Ok((*short).to_string());
    }
    let is_oid = !upper.is_empty()
        && upper.split('.').count() >= 2
        && upper.split('.').all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    if is_oid { Ok(upper) } else { Err(DnError::UnknownType(raw.trim().to_string())) }
}

fn type_for_oid(oid: &str) -> String {
    KNOWN_TYPES
        .iter()
        .find(|(_, known)| *known == oid)
        .map(|(short, _)| (*short).to_string())
        .unwrap_or_else(|| oid.to_string())
}

impl DistinguishedName {
    /// Builds a name from attributes given most specific first.
    pub fn from_attributes(attrs: impl IntoIterator<Item = (String, String)>) -> Result<Self, DnError> {
        let mut rdns = Vec::new();
        for (kind, value) in attrs {
            let kind = canonical_type(&kind)?;
            check_value(&kind, &value)?;
            rdns.push(vec![Attribute { kind, value }]);
        }
        if rdns.is_empty() {
            return Err(DnError::Empty);
        }
        Ok(Self { rdns })
    }

    /// Reads a certificate subject or issuer name.
    pub fn from_x509(name: &X509Name<'_>) -> Result<Self, DnError> {
        let mut rdns = Vec::new();
        for rdn in name.iter() {
            let mut attrs = Vec::new();
            for atv in rdn.iter() {
                let kind = type_for_oid(&atv.attr_type().to_id_string());
                let value = atv.as_str().map_err(|_| DnError::UnreadableValue(kind.clone()))?.to_string();
                check_value(&kind, &value)?;
                attrs.push(Attribute { kind, value });
            }
            attrs.sort_by(|a, b| a.kind.cmp(&b.kind));
            rdns.push(attrs);
        }
        if rdns.is_empty() {
            return Err(DnError::Empty);
        }
        // DER order is least specific first; RFC 4514 strings are the reverse.
        rdns.reverse();
        Ok(Self { rdns })
    }

    /// The RDNs, most specific first.
    pub fn rdns(&self) -> &[Vec<Attribute>] {
        &self.rdns
    }

    /// The value of the first attribute of this type (`"CN"`, `"O"`...).
    pub fn get(&self, kind: &str) -> Option<&str> {
        self.rdns.iter().flatten().find(|a| a.kind.eq_ignore_ascii_case(kind)).map(|a| a.value.as_str())
    }

    /// X.520 caseIgnoreMatch of the whole name: same RDNs in the same order,
    /// values equal after space folding and lower-casing.
    pub fn matches(&self, other: &DistinguishedName) -> bool {
        self.rdns.len() == other.rdns.len()
            && self.rdns.iter().zip(&other.rdns).all(|(a, b)| {
                a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| x.kind == y.kind && fold_value(&x.value) == fold_value(&y.value))
            })
    }
}

fn check_value(kind: &str, value: &str) -> Result<(), DnError> {
    if value.trim().is_empty() {
        return Err(DnError::EmptyValue(kind.to_string()));
    }
    let chars = value.chars().count();
    if chars > MAX_VALUE_CHARS {
        return Err(DnError::TooLong(chars));
    }
    // A name is logged and shown: a line break or escape sequence in it
    // could forge log lines or terminal output, and no real name has one.
    if value.chars().any(char::is_control) {
        return Err(DnError::ControlCharacter(kind.to_string()));
    }
    Ok(())
}

fn fold_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

impl std::str::FromStr for DistinguishedName {
    type Err = DnError;

    /// Parses the RFC 4514 string form (also accepting `"quoted"` values and
    /// spaces around separators, as RFC 2253 producers write them).
    fn from_str(s: &str) -> Result<Self, DnError> {
        if s.trim().is_empty() {
            return Err(DnError::Empty);
        }
        let mut rdns = Vec::new();
        for rdn_text in split_unescaped(s, ',')? {
            let mut attrs = Vec::new();
            for ava in split_unescaped(&rdn_text, '+')? {
                let (kind, raw_value) =
                    ava.split_once('=').ok_or_else(|| DnError::MissingEquals(ava.trim().to_string()))?;
                let kind = canonical_type(kind)?;
                let value = unescape_value(trim_unescaped_spaces(raw_value))?;
                check_value(&kind, &value)?;
                attrs.push(Attribute { kind, value });
            }
            attrs.sort_by(|a, b| a.kind.cmp(&b.kind));
            rdns.push(attrs);
        }
        Ok(Self { rdns })
    }
}

/// Splits on `sep` where it is neither escaped by `\` nor inside quotes. The
/// pieces keep their escapes for [`unescape_value`].
fn split_unescaped(s: &str, sep: char) -> Result<Vec<String>, DnError> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                current.push(chars.next().ok_or_else(|| DnError::BadEscape(s.to_string()))?);
            }
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c == sep && !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    if quoted {
        return Err(DnError::BadEscape(s.to_string()));
    }
    parts.push(current);
    Ok(parts)
}

/// Drops the spaces around a value that RFC 4514 §3 says are not part of it;
/// an escaped trailing space (`\ `) stays.
fn trim_unescaped_spaces(raw: &str) -> &str {
    let mut s = raw.trim_start_matches(' ');
    while let Some(rest) = s.strip_suffix(' ') {
        let backslashes = rest.bytes().rev().take_while(|&b| b == b'\\').count();
        if backslashes % 2 == 1 {
            break;
        }
        s = rest;
    }
    s
}

/// RFC 4514 §3: `\` followed by a special character or by two hex digits
/// (one UTF-8 byte). A value wholly in double quotes is taken literally.
fn unescape_value(raw: &str) -> Result<String, DnError> {
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return unescape_value(inner);
    }
    if raw.starts_with('#') {
        // BER-encoded values are legal in RFC 4514 but never used by the ANS.
        return Err(DnError::BadEscape(raw.to_string()));
    }
    let bad = || DnError::BadEscape(raw.to_string());
    let mut bytes = Vec::with_capacity(raw.len());
    let mut iter = raw.bytes().peekable();
    while let Some(b) = iter.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        let first = iter.next().ok_or_else(bad)?;
        if first.is_ascii_hexdigit() && iter.peek().is_some_and(u8::is_ascii_hexdigit) {
            let second = iter.next().ok_or_else(bad)?;
            let hex = [first, second];
            let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
            bytes.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
        } else if b" \"#+,;<=>\\".contains(&first) {
            bytes.push(first);
        } else {
            return Err(bad());
        }
    }
    String::from_utf8(bytes).map_err(|_| bad())
}

fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i == last);
        if matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\') || edge_space || (i == 0 && c == '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for DistinguishedName {
    /// The RFC 4514 string, as the ANS writes it: `CN=...,OU=...,C=FR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, attr) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}={}", attr.kind, escape_value(&attr.value))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIPIH: &str = "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR";

    #[test]
    fn parses_the_ans_form_most_specific_first() {
        let dn: DistinguishedName = MIPIH.parse().unwrap();
        assert_eq!(dn.get("CN"), Some("medimail-asip.mipih.fr"));
        assert_eq!(dn.get("ST"), Some("Haute-Garonne (31)"));
        assert_eq!(dn.rdns()[0][0].kind, "CN");
        assert_eq!(dn.rdns()[4][0].value, "FR");
        assert_eq!(dn.to_string(), MIPIH);
    }

    #[test]
    fn matching_ignores_case_and_spacing_but_not_order_or_content() {
        let dn: DistinguishedName = MIPIH.parse().unwrap();
        let spaced: DistinguishedName =
            "cn=MEDIMAIL-asip.mipih.fr, OU=318310021300028, O=GIP  MIPIH, S=haute-garonne (31), C=fr".parse().unwrap();
        assert!(dn.matches(&spaced));
        let reordered: DistinguishedName =
            "OU=318310021300028,CN=medimail-asip.mipih.fr,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR".parse().unwrap();
        assert!(!dn.matches(&reordered));
        let shorter: DistinguishedName = "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH".parse().unwrap();
        assert!(!dn.matches(&shorter));
        let other_host: DistinguishedName =
            "CN=medimail-asip.mipih.fr.evil,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR".parse().unwrap();
        assert!(!dn.matches(&other_host));
    }

    #[test]
    fn escapes_round_trip() {
        let dn: DistinguishedName = r"CN=a\,b,O=GCS NORMAND'E-SANTE,OU=x\2By,C=FR".parse().unwrap();
        assert_eq!(dn.get("CN"), Some("a,b"));
        assert_eq!(dn.get("OU"), Some("x+y"));
        let again: DistinguishedName = dn.to_string().parse().unwrap();
        assert_eq!(dn, again);
    }

    #[test]
    fn utf8_hex_escapes_decode() {
        let dn: DistinguishedName = r"ST=Puy-de-D\C3\B4me (63),C=FR".parse().unwrap();
        assert_eq!(dn.get("ST"), Some("Puy-de-Dôme (63)"));
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "",
            "   ",
            "CN",
            "CN=",
            "XX=1,C=FR",
            r"CN=a\",
            r"CN=a\q",
            "CN=\"open",
            "CN=#0403",
            "CN=a,,C=FR",
            "CN=a\r\nCN=b,C=FR",
            r"CN=a\0Ab,C=FR",
            "CN=a\u{1b}[2J,C=FR",
            "O=tab\there",
        ] {
            assert!(bad.parse::<DistinguishedName>().is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn dotted_oids_are_types_and_known_oids_take_their_short_name() {
        let dn: DistinguishedName = "2.5.4.3=host,1.2.3.4=x".parse().unwrap();
        assert_eq!(dn.get("CN"), Some("host"));
        assert_eq!(dn.get("1.2.3.4"), Some("x"));
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,200}") {
            let _ = s.parse::<DistinguishedName>();
        }

        #[test]
        fn display_then_parse_is_identity(values in proptest::collection::vec("[^\\x00]{1,30}", 1..5)) {
            let attrs = values.iter().filter(|v| !v.trim().is_empty()).map(|v| ("O".to_string(), v.clone()));
            if let Ok(dn) = DistinguishedName::from_attributes(attrs) {
                let again: DistinguishedName = dn.to_string().parse().unwrap();
                proptest::prop_assert!(dn.matches(&again), "{} vs {}", dn, again);
            }
        }
    }
}
