//! The words of the full-text index, one rule for every backend: what a
//! message's searchable text gives the index ([`IndexedText`]) and what a
//! search looks up ([`query_words`]). A word is a run of letters and digits,
//! folded: lower case, without diacritics (`é` → `e`, `Ç` → `c`, `œ` → `oe`,
//! as [`mss_core::fold_label`] folds Latin letters), letters of other
//! scripts lowered.
//!
//! The index keeps each distinct word of a message once: searches ask for
//! messages holding every word (the last as a prefix), never for a phrase,
//! so positions and repeats would be work for nothing (a 200 KB report of
//! 27,000 words holds a few hundred distinct ones).

use std::borrow::Cow;
use std::ops::ControlFlow;

/// The most words a search looks up.
const QUERY_WORDS_MAX: usize = 16;

/// The most bytes of folded words indexed per message (a PostgreSQL
/// `tsvector` holds at most 1 MiB of distinct words).
const INDEXED_MAX: usize = 512 * 1024;

/// A word as [`for_each_word`] hands it over: a slice of the text, which
/// already holds it folded, or of the buffer it was folded into.
enum Word<'t, 'b> {
    InText(&'t str),
    Folded(&'b str),
}

impl<'t> Word<'t, '_> {
    fn as_str(&self) -> &str {
        match self {
            Word::InText(word) | Word::Folded(word) => word,
        }
    }

    /// The word beyond the call: borrowed from the text, or copied.
    fn into_cow(self) -> Cow<'t, str> {
        match self {
            Word::InText(word) => Cow::Borrowed(word),
            Word::Folded(word) => Cow::Owned(word.to_string()),
        }
    }
}

/// Calls `each` with every word of `text`, folded, in order, until it
/// breaks. A message's text is up to 256 KB and read on a delivery's path:
/// a word of ASCII lower case letters and digits, the common one, is handed
/// over as it is; only others are folded into a buffer.
fn for_each_word<'t>(text: &'t str, mut each: impl FnMut(Word<'t, '_>) -> ControlFlow<()>) {
    let bytes = text.as_bytes();
    let mut folded = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let mut plain = true;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_lowercase() || b.is_ascii_digit() {
                i += 1;
            } else if b.is_ascii_uppercase() {
                plain = false;
                i += 1;
            } else if b.is_ascii() {
                break;
            } else {
                let c = text[i..].chars().next().unwrap_or_default();
                // A Latin letter is known without Unicode's tables.
                if mss_core::fold_latin(c).is_none() && !c.is_alphanumeric() {
                    break;
                }
                plain = false;
                i += c.len_utf8();
            }
        }
        if i == start {
            // Not a letter nor a digit: skip that character.
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let word = if plain {
            Word::InText(&text[start..i])
        } else {
            fold_into(&text[start..i], &mut folded);
            if folded.is_empty() {
                continue;
            }
            Word::Folded(&folded)
        };
        if each(word).is_break() {
            return;
        }
    }
}

/// `word` (letters and digits) folded into `out`, cleared first. Lowered
/// before it is folded: a sign whose lower case is a Latin letter (Å, the
/// ångström sign) folds as that letter does, so folding a folded word gives
/// it back.
fn fold_into(word: &str, out: &mut String) {
    out.clear();
    for c in word.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        // A Latin letter of either case folds as its lower case does.
        if let Some(latin) = mss_core::fold_latin(c) {
            out.push_str(latin);
            continue;
        }
        for lower in c.to_lowercase().filter(|c| c.is_alphanumeric()) {
            match mss_core::fold_latin(lower) {
                Some(latin) => out.push_str(latin),
                None => out.push(lower),
            }
        }
    }
}

/// The words a search looks up, folded, at most [`QUERY_WORDS_MAX`]; only
/// letters and digits, so no operator of any query syntax.
pub(crate) fn query_words(search: &str) -> Vec<String> {
    let mut words = Vec::new();
    for_each_word(search, |word| {
        words.push(word.as_str().to_string());
        if words.len() == QUERY_WORDS_MAX { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    words
}

/// A message's searchable text as the index keeps it: its distinct words,
/// folded, space-separated, in their first order, at most [`INDEXED_MAX`]
/// bytes. Made only by cutting a text down ([`IndexedText::of`]), where the
/// facts are made: a delivery holds a few KB instead of up to 256 KB while it
/// waits for its commit, and no backend cuts it again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexedText(String);

impl IndexedText {
    /// What the index keeps of `text`.
    pub fn of(text: &str) -> Self {
        Self(indexed_text(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What the index keeps of `text`: see [`IndexedText`].
fn indexed_text(text: &str) -> String {
    // The words seen: borrowed from `text` when it holds them as they are
    // indexed (most words), copied only when folded.
    let mut seen: foldhash::HashSet<Cow<'_, str>> = foldhash::HashSet::default();
    let mut out = String::new();
    for_each_word(text, |word| {
        if seen.contains(word.as_str()) {
            return ControlFlow::Continue(());
        }
        if out.len() + word.as_str().len() + 1 > INDEXED_MAX {
            return ControlFlow::Break(());
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word.as_str());
        seen.insert(word.into_cow());
        ControlFlow::Continue(())
    });
    out
}

#[cfg(test)]
mod tests {
    use super::{indexed_text, query_words};

    #[test]
    fn words_are_folded_and_indexed_once() {
        assert_eq!(query_words("ÉlodieŒuvre GARÇON2 Ωμέγα"), ["elodieoeuvre", "garcon2", "ωμέγα"]);
        assert_eq!(indexed_text("Votre Ordonnance: prête, l'ordonnance PRETE!"), "votre ordonnance prete l");
        assert_eq!(indexed_text(" ?! "), "");
    }

    #[test]
    fn words_end_at_any_character_that_is_no_letter_nor_digit() {
        assert_eq!(query_words("Œdème—«cœur»\u{a0}42ml;Ωμέγα."), ["oedeme", "coeur", "42ml", "ωμέγα"]);
        assert_eq!(query_words("\u{2014}\u{2014}"), Vec::<String>::new());
    }

    #[test]
    fn a_latin_letter_folds_as_its_lower_case_does() {
        for c in ('\u{c0}'..='\u{17f}').filter(|c| c.is_alphanumeric()) {
            let lowered: String = c.to_lowercase().collect();
            assert_eq!(query_words(&c.to_string()), query_words(&lowered), "{c}");
        }
    }

    /// The fast paths (a word of ASCII lower case as it is, a Latin letter
    /// folded at once) give what the rule says for every letter and digit
    /// of Unicode: lowered, then each letter folded as a label folds it.
    #[test]
    fn every_letter_folds_as_lowering_then_folding_a_label_would() {
        let mut buf = [0; 4];
        for c in (0..=0x3_ffffu32).filter_map(char::from_u32).filter(|c| c.is_alphanumeric()) {
            let expected: String = c
                .to_lowercase()
                .filter(|l| l.is_alphanumeric())
                .map(|l| match mss_core::fold_label(l.encode_utf8(&mut buf)) {
                    folded if folded.is_empty() => l.to_string(),
                    folded => folded,
                })
                .collect();
            let expected: Vec<String> = Some(expected).filter(|w| !w.is_empty()).into_iter().collect();
            assert_eq!(query_words(&format!(" {c} ")), expected, "{c:?}");
        }
    }

    /// A hostile message whose text is one endless word: kept whole within
    /// the bound; past it, neither it nor what follows is indexed, and no
    /// part of it is (a cut word would be a word the message does not hold).
    #[test]
    fn one_endless_word_is_kept_whole_or_not_at_all() {
        assert_eq!(indexed_text(&"é".repeat(200_000)), "e".repeat(200_000));
        assert_eq!(indexed_text(&"Œ".repeat(300_000)), "");
        let text = format!("ordonnance {} prête", "œ".repeat(300_000));
        assert_eq!(indexed_text(&text), "ordonnance");
    }

    #[test]
    fn a_search_is_words_only_and_bounded() {
        // Query operators of FTS5 and tsquery are separators or words.
        assert_eq!(query_words("\" OR * NEAR( a:* & !b"), ["or", "near", "a", "b"]);
        let many = "mot ".repeat(40);
        assert_eq!(query_words(&many).len(), 16);
    }

    proptest::proptest! {
        /// A delivery cuts its text down before the backend does it again
        /// (`MessageFacts::with_indexed_text`): the words must come back
        /// unchanged, whatever the letters (folded, lowered, other scripts).
        #[test]
        fn indexing_what_the_index_keeps_gives_it_back(text in "(\\PC|[ \\n.,'’-]){0,400}") {
            let kept = indexed_text(&text);
            proptest::prop_assert_eq!(indexed_text(&kept), kept);
        }
    }

    #[test]
    fn indexing_twice_keeps_the_same_words_within_the_bound() {
        let text: String = (0..200_000).map(|n| format!("Été{n} ")).collect();
        let kept = indexed_text(&text);
        assert_eq!(indexed_text(&kept), kept);
        assert_eq!(
            indexed_text("ÉlodieŒuvre GARÇON2 Ωμέγα İstanbul ǅ ß K"),
            "elodieoeuvre garcon2 ωμέγα istanbul ǆ ss k"
        );
        // The ångström sign (U+212B) lowers to å, which folds to a.
        assert_eq!(query_words("\u{212B}ngstr\u{F6}m"), ["angstrom"]);
    }

    #[test]
    fn the_index_keeps_at_most_half_a_mebibyte() {
        let text: String = (0..200_000).map(|n| format!("w{n} ")).collect();
        let kept = indexed_text(&text);
        assert!(kept.len() <= 512 * 1024 && kept.len() > 500 * 1024, "{}", kept.len());
        assert!(kept.starts_with("w0 w1 w2 "));
    }
}
