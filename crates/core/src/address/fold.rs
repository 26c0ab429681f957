//! The naming fold: turns a person's, a structure's or a town's name into a label
//! usable in a local part, e.g. `"Élodie"` -> `"elodie"`, `"D'Arc"` -> `"d-arc"`.
//!
//! Rules, applied character by character:
//! - ASCII letters are lower-cased; digits are kept;
//! - Latin letters with diacritics (Latin-1 Supplement and Latin Extended-A, which
//!   covers French and the common European names) lose them: `é` -> `e`, `ç` -> `c`,
//!   `ñ` -> `n`, `ł` -> `l`; ligatures and special letters are spelt out: `œ` -> `oe`,
//!   `æ` -> `ae`, `ß` -> `ss`, `ĳ` -> `ij`, `þ` -> `th`;
//! - whitespace (including non-breaking spaces), apostrophes (`'`, `’`, `‘`, `ʼ`),
//!   underscores, dots and dashes (`-`, `‐`, `‑`, `–`, `—`, `−`) become `-`;
//! - anything else is dropped: punctuation, symbols, other scripts, and combining
//!   marks, so decomposed input (`e` + U+0301) folds like composed input;
//! - runs of `-` collapse to one, and `-` is trimmed at both ends.
//!
//! The result is empty or matches `[a-z0-9]+(-[a-z0-9]+)*`, which is always a valid
//! dot-atom.

/// Folds a name into a local-part label; see the module documentation.
pub fn fold_label(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match fold_char(c) {
            Folded::Text(text) => out.push_str(text),
            Folded::Letter(letter) => out.push(letter),
            Folded::Separator => {
                // Collapse runs, and never start with '-'.
                if !out.is_empty() && !out.ends_with('-') {
                    out.push('-');
                }
            }
            Folded::Drop => {}
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

enum Folded {
    Letter(char),
    Text(&'static str),
    Separator,
    Drop,
}

fn fold_char(c: char) -> Folded {
    use Folded::{Drop, Letter, Separator, Text};
    match c {
        'a'..='z' | '0'..='9' => Letter(c),
        'A'..='Z' => Letter(c.to_ascii_lowercase()),
        '\'' | '\u{2018}' | '\u{2019}' | '\u{02BC}' => Separator,
        '_' | '.' | '-' | '\u{2010}' | '\u{2011}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => Separator,
        _ if c.is_whitespace() => Separator,
        _ => fold_latin(c).map_or(Drop, Text),
    }
}

/// Latin-1 Supplement (U+00C0..U+00FF) and Latin Extended-A (U+0100..U+017F)
/// letters, both cases, to ASCII. `None` for anything else (× and ÷ included).
/// One letter as [`fold_label`] folds it, without building a string: what
/// the word indexes (message search, the directory) fold a word's letters
/// with.
pub fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        // Latin-1 Supplement.
        'À'..='Å' | 'à'..='å' => "a",
        'Æ' | 'æ' => "ae",
        'Ç' | 'ç' => "c",
        'È'..='Ë' | 'è'..='ë' => "e",
        'Ì'..='Ï' | 'ì'..='ï' => "i",
        'Ð' | 'ð' => "d",
        'Ñ' | 'ñ' => "n",
        'Ò'..='Ö' | 'Ø' | 'ò'..='ö' | 'ø' => "o",
        'Ù'..='Ü' | 'ù'..='ü' => "u",
        'Ý' | 'ý' | 'ÿ' => "y",
        'Þ' | 'þ' => "th",
        'ß' => "ss",
        // Latin Extended-A, in code point order.
        '\u{0100}'..='\u{0105}' => "a",  // Ā ā Ă ă Ą ą
        '\u{0106}'..='\u{010D}' => "c",  // Ć ć Ĉ ĉ Ċ ċ Č č
        '\u{010E}'..='\u{0111}' => "d",  // Ď ď Đ đ
        '\u{0112}'..='\u{011B}' => "e",  // Ē ē Ĕ ĕ Ė ė Ę ę Ě ě
        '\u{011C}'..='\u{0123}' => "g",  // Ĝ ĝ Ğ ğ Ġ ġ Ģ ģ
        '\u{0124}'..='\u{0127}' => "h",  // Ĥ ĥ Ħ ħ
        '\u{0128}'..='\u{0131}' => "i",  // Ĩ ĩ Ī ī Ĭ ĭ Į į İ ı
        '\u{0132}' | '\u{0133}' => "ij", // Ĳ ĳ
        '\u{0134}' | '\u{0135}' => "j",  // Ĵ ĵ
        '\u{0136}'..='\u{0138}' => "k",  // Ķ ķ ĸ
        '\u{0139}'..='\u{0142}' => "l",  // Ĺ ĺ Ļ ļ Ľ ľ Ŀ ŀ Ł ł
        '\u{0143}'..='\u{014B}' => "n",  // Ń ń Ņ ņ Ň ň ŉ Ŋ ŋ
        '\u{014C}'..='\u{0151}' => "o",  // Ō ō Ŏ ŏ Ő ő
        '\u{0152}' | '\u{0153}' => "oe", // Œ œ
        '\u{0154}'..='\u{0159}' => "r",  // Ŕ ŕ Ŗ ŗ Ř ř
        '\u{015A}'..='\u{0161}' => "s",  // Ś ś Ŝ ŝ Ş ş Š š
        '\u{0162}'..='\u{0167}' => "t",  // Ţ ţ Ť ť Ŧ ŧ
        '\u{0168}'..='\u{0173}' => "u",  // Ũ ũ Ū ū Ŭ ŭ Ů ů Ű ű Ų ų
        '\u{0174}' | '\u{0175}' => "w",  // Ŵ ŵ
        '\u{0176}'..='\u{0178}' => "y",  // Ŷ ŷ Ÿ
        '\u{0179}'..='\u{017E}' => "z",  // Ź ź Ż ż Ž ž
        '\u{017F}' => "s",               // ſ
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_french_names() {
        assert_eq!(fold_label("Élodie"), "elodie");
        assert_eq!(fold_label("Dupont-Lefèvre"), "dupont-lefevre");
        assert_eq!(fold_label("Jean Pierre"), "jean-pierre");
        assert_eq!(fold_label("D'Arc"), "d-arc");
        assert_eq!(fold_label("D’Arc"), "d-arc");
        assert_eq!(fold_label("DʼArc"), "d-arc");
        assert_eq!(fold_label("Œdipe"), "oedipe");
        assert_eq!(fold_label("Lætitia"), "laetitia");
        assert_eq!(fold_label("François"), "francois");
        assert_eq!(fold_label("Gößmann"), "gossmann");
        assert_eq!(fold_label("Ÿvette Noël"), "yvette-noel");
        assert_eq!(fold_label("Saint-Étienne-du-Rouvray"), "saint-etienne-du-rouvray");
    }

    #[test]
    fn folds_every_french_letter() {
        let upper = "ÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸÆŒ";
        let lower = "àâäçéèêëîïôöùûüÿæœ";
        let expected = "aaaceeeeiioouuuyaeoe";
        assert_eq!(fold_label(upper), expected);
        assert_eq!(fold_label(lower), expected);
    }

    #[test]
    fn folds_latin_extended_a() {
        assert_eq!(fold_label("Łukasz Wałęsa"), "lukasz-walesa");
        assert_eq!(fold_label("Dvořák"), "dvorak");
        assert_eq!(fold_label("Ĳsselmeer"), "ijsselmeer");
        assert_eq!(fold_label("Şahin Çelik"), "sahin-celik");
        assert_eq!(fold_label("Ørsted Þór"), "orsted-thor");
    }

    #[test]
    fn separators_collapse_and_trim() {
        assert_eq!(fold_label("  _Jean__Pierre.  "), "jean-pierre");
        assert_eq!(fold_label("Jean\u{00A0}–\u{202F}Pierre"), "jean-pierre");
        assert_eq!(fold_label("l'Île--d'Yeu"), "l-ile-d-yeu");
    }

    #[test]
    fn drops_everything_else() {
        assert_eq!(fold_label("Pharmacie (Centre) & Co!"), "pharmacie-centre-co");
        assert_eq!(fold_label("Ζωή"), "");
        assert_eq!(fold_label("🙂"), "");
        assert_eq!(fold_label("2 × 3 ÷ 4"), "2-3-4");
        // Decomposed é: 'e' + COMBINING ACUTE ACCENT.
        assert_eq!(fold_label("E\u{0301}lodie"), "elodie");
        assert_eq!(fold_label(""), "");
    }
}
