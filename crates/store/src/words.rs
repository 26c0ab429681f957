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

use std::hash::BuildHasher;
use std::ops::ControlFlow;

/// The most words a search looks up.
const QUERY_WORDS_MAX: usize = 16;

/// The most bytes of folded words indexed per message (a PostgreSQL
/// `tsvector` holds at most 1 MiB of distinct words).
const INDEXED_MAX: usize = 512 * 1024;

/// What a byte is to [`for_each_word`], by value: an ASCII lower case
/// letter or digit, in a word as it is ...
const PLAIN: u8 = 0;
/// ... an ASCII upper case letter, in a word, lowered ...
const UPPER: u8 = 1;
/// ... any other ASCII, between words ...
const BETWEEN: u8 = 2;
/// ... or a byte of a character outside ASCII.
const WIDE: u8 = 3;

/// What each byte value is (see [`PLAIN`]), looked up once a byte.
static BYTES: [u8; 256] = {
    let mut table = [WIDE; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = match b as u8 {
            b'a'..=b'z' | b'0'..=b'9' => PLAIN,
            b'A'..=b'Z' => UPPER,
            _ => BETWEEN,
        };
        b += 1;
    }
    table
};

/// Calls `each` with every word of `text`, folded, in order, until it
/// breaks. A message's text is up to 256 KB and read on a delivery's path:
/// a byte is looked up once ([`BYTES`]) in a loop without other branches
/// than its end, and a word of ASCII lower case letters and digits, the
/// common one, is handed over as it is; only others are folded into a
/// buffer.
fn for_each_word(text: &str, mut each: impl FnMut(&str) -> ControlFlow<()>) {
    let bytes = text.as_bytes();
    let class = |i: usize| BYTES[usize::from(bytes[i])];
    let mut folded = String::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && class(i) == BETWEEN {
            i += 1;
        }
        if i == bytes.len() {
            return;
        }
        let start = i;
        // Lower case as it is; ASCII, to be lowered only.
        let (mut plain, mut ascii) = (true, true);
        loop {
            while i < bytes.len() && class(i) <= UPPER {
                plain &= class(i) == PLAIN;
                i += 1;
            }
            if i == bytes.len() || class(i) == BETWEEN {
                break;
            }
            // `i` is where a character outside ASCII starts: the loops step
            // over whole characters only.
            let c = text[i..].chars().next().unwrap_or_default();
            // A Latin letter is known without Unicode's tables.
            if mss_core::fold_latin(c).is_none() && !c.is_alphanumeric() {
                break;
            }
            (plain, ascii) = (false, false);
            i += c.len_utf8();
        }
        if i == start {
            // A character outside ASCII that is no letter nor digit.
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let word = if plain {
            &text[start..i]
        } else if ascii {
            folded.clear();
            folded.push_str(&text[start..i]);
            folded.make_ascii_lowercase();
            &folded
        } else {
            fold_into(&text[start..i], &mut folded);
            if folded.is_empty() {
                continue;
            }
            &folded
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
        words.push(word.to_string());
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
    let hasher = foldhash::fast::RandomState::default();
    // Each distinct word, as where it is in `out`, found by its hash.
    let mut seen: hashbrown::HashTable<(u32, u32)> = hashbrown::HashTable::new();
    let mut out = String::new();
    for_each_word(text, |word| {
        let hash = hasher.hash_one(word);
        if seen
            .find(hash, |&(start, end)| same(&out.as_bytes()[start as usize..end as usize], word.as_bytes()))
            .is_some()
        {
            return ControlFlow::Continue(());
        }
        if out.len() + word.len() + 1 > INDEXED_MAX {
            return ControlFlow::Break(());
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let start = out.len();
        out.push_str(word);
        // Within INDEXED_MAX: u32 holds it.
        let at = (start as u32, out.len() as u32);
        seen.insert_unique(hash, at, |&(start, end)| hasher.hash_one(&out[start as usize..end as usize]));
        ControlFlow::Continue(())
    });
    out
}

/// `a == b`, compared eight bytes at a time in the loop itself: words are
/// short, and most words of a long text are found again, each found one
/// compared. A call to `memcmp` for each was 13 % of the cut; without it,
/// 200 KB of a report's repeated lines are cut in 17-24 % less time, 200 KB
/// of the fixtures' documents in 4-7 % less (two rounds, medians of 4
/// alternating runs each).
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let eight = |chunk: &[u8]| u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (a_rest, b_rest) = (a8.remainder(), b8.remainder());
    a8.zip(b8).all(|(x, y)| eight(x) == eight(y)) && a_rest.iter().zip(b_rest).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::{fold_into, indexed_text, query_words, same};

    /// The rule of the index as plainly as it reads: split at every
    /// character that is no letter nor digit, fold each word, keep the
    /// first of each.
    fn cut_plainly(text: &str) -> String {
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::new();
        for word in text.split(|c: char| !c.is_alphanumeric() && mss_core::fold_latin(c).is_none()) {
            let mut folded = String::new();
            fold_into(word, &mut folded);
            if !folded.is_empty() && seen.insert(folded.clone()) {
                words.push(folded);
            }
        }
        words.join(" ")
    }

    /// The fast cut (a table a byte, words of plain ASCII as they are,
    /// ASCII ones lowered, the others folded) gives what the rule says, on
    /// texts drawn from pieces of every kind of character side by side.
    #[test]
    fn the_cut_gives_what_the_rule_says() {
        let pieces = [
            "ordonnance",
            "ORDONNANCE",
            "Ordonnance",
            "é",
            "É",
            "œ",
            "Œ",
            "ß",
            "ﬁ",
            "Å",
            "Ωμέγα",
            "日本",
            "42",
            "ml",
            " ",
            "'",
            "-",
            "—",
            "\u{a0}",
            "\u{300}",
            "+",
            "/",
            "==",
            "\r\n",
            "x",
            "Z",
            "ǅ",
            "İ",
            "😀",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            assert_eq!(indexed_text(&text), cut_plainly(&text), "{text:?}");
        }
    }

    /// Words compared eight bytes at a time and then byte by byte: a
    /// difference anywhere, or in length alone, tells them apart.
    #[test]
    fn words_are_the_same_only_byte_for_byte() {
        let word = b"hyperkaliemie";
        assert!(same(word, word));
        assert!(same(b"", b""));
        assert!(!same(word, b"hyperkaliemi"));
        assert!(!same(word, b"hyperkaliemiE"));
        assert!(!same(word, b"Hyperkaliemie"));
        assert!(!same(b"12345678", b"12345679"));
        assert!(same(b"12345678", b"12345678"));
    }

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
