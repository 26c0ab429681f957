//! What a directory search asks for, read from a query string such as
//! `dupont cp:75011 type:PER` or from separate fields (CLI options, API
//! parameters), and validated before anything is searched.
//!
//! In the query string: bare words are searched in names (the last one as a
//! prefix for autocomplete, unless the string ends with a space), 11 digits
//! are an RPPS, 9 characters that pass the FINESS or ADELI key an id, 5
//! digits a postal code; `key:value` sets a field: `nom`, `profession`,
//! `ville`, `cp`, `dep`, `id` (or `rpps`, `adeli`, `finess`), `type`,
//! `adresse`. Messages are French: they reach people through the API.

use mss_core::{Adeli, Finess, MailboxKind, Rpps};

/// A validated search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Words searched in names (then elsewhere), as typed: the search folds
    /// them ([`super::index::words`]).
    pub words: Vec<String>,
    /// The last word is a prefix (the person is still typing).
    pub prefix: bool,
    /// A TRE_G15 code (digits) or words of the profession's label.
    pub profession: Option<String>,
    /// Words of the city (ligne d'acheminement).
    pub city: Vec<String>,
    pub postal_code: Option<String>,
    pub department: Option<String>,
    /// RPPS, ADELI, FINESS or another structure id.
    pub identifier: Option<String>,
    pub kind: Option<MailboxKind>,
    /// Words of the street address.
    pub street: Vec<String>,
}

/// A search that cannot be run; the message is for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Longest query string accepted.
pub const MAX_QUERY_CHARS: usize = 200;
/// Words used at most from a query (the rest are ignored).
pub const MAX_WORDS: usize = 8;

/// Splits text into words the way the search index does (letters and
/// digits; anything else separates).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(MAX_WORDS).map(str::to_string).collect()
}

/// French articles and prepositions: in names they add nothing a search can
/// use ("Pharmacie du Centre", "Le Gall"), and each costs a pass over one of
/// the longest lists of the index.
const STOP_WORDS: &[&str] = &["au", "aux", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les", "sur"];

/// The words without the stop words, unless nothing else is left; the last
/// word stays a prefix only if it was kept.
fn without_stop_words(words: Vec<String>, prefix: bool) -> (Vec<String>, bool) {
    let is_stop = |w: &String| STOP_WORDS.contains(&w.to_lowercase().as_str());
    if words.iter().all(is_stop) {
        return (words, prefix);
    }
    let last_kept = words.last().is_some_and(|w| !is_stop(w));
    (words.into_iter().filter(|w| !is_stop(w)).collect(), prefix && last_kept)
}

impl Query {
    /// Reads a query string.
    pub fn parse(q: &str) -> Result<Self, QueryError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError(format!("Recherche trop longue (au plus {MAX_QUERY_CHARS} caractères).")));
        }
        let mut query = Query::default();
        let mut text = Vec::new();
        for token in q.split_whitespace() {
            match token.split_once(':') {
                Some((key, value)) if !value.is_empty() => query.set(key, value)?,
                _ if is_identifier(token) => query.identifier = Some(token.to_string()),
                _ if token.len() == 5 && token.bytes().all(|b| b.is_ascii_digit()) => {
                    query.postal_code = Some(token.to_string());
                }
                _ => text.push(token),
            }
        }
        let typing = !q.ends_with(char::is_whitespace);
        (query.words, query.prefix) = without_stop_words(words(&text.join(" ")), typing);
        Ok(query)
    }

    /// Sets one field (`key` in French, as in the query string).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), QueryError> {
        let value = value.trim();
        match key.to_lowercase().as_str() {
            "nom" | "name" => self.words.extend(words(value)),
            "profession" => self.profession = Some(value.to_string()),
            "ville" | "city" => self.city = words(value),
            "adresse" | "address" => self.street = words(value),
            "cp" | "postal_code" => {
                if value.len() != 5 || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(QueryError(format!("Code postal « {value} » invalide : 5 chiffres attendus.")));
                }
                self.postal_code = Some(value.to_string());
            }
            "dep" | "department" => {
                let code = value.to_uppercase();
                let digits = code.bytes().all(|b| b.is_ascii_digit());
                let valid = matches!(code.as_str(), "2A" | "2B")
                    || (digits && (code.len() == 2 || (code.len() == 3 && code.starts_with('9'))));
                if !valid {
                    return Err(QueryError(format!("Département « {value} » invalide (75, 2A, 974…).")));
                }
                self.department = Some(code);
            }
            "type" => {
                let kind = value
                    .parse()
                    .map_err(|_| QueryError(format!("Type de BAL « {value} » inconnu : PER, ORG, APP ou CAB.")))?;
                self.kind = Some(kind);
            }
            "id" | "rpps" | "adeli" | "finess" => {
                if value.len() > 20 || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(QueryError(format!("Identifiant « {value} » invalide.")));
                }
                self.identifier = Some(value.to_uppercase());
            }
            _ => {
                return Err(QueryError(format!(
                    "Critère « {key} » inconnu (nom, profession, ville, cp, dep, id, type, adresse)."
                )));
            }
        }
        Ok(())
    }

    /// True when nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
            && self.profession.is_none()
            && self.city.is_empty()
            && self.postal_code.is_none()
            && self.department.is_none()
            && self.identifier.is_none()
            && self.kind.is_none()
            && self.street.is_empty()
    }
}

/// An RPPS, or a FINESS or ADELI whose check key holds.
fn is_identifier(token: &str) -> bool {
    token.parse::<Rpps>().is_ok() || token.parse::<Finess>().is_ok() || token.parse::<Adeli>().is_ok()
}

/// A page of results: 1-based number and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

/// Largest page size.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Results reachable by paging (deeper pages are refused: refine instead).
pub const MAX_DEPTH: u64 = 10_000;

impl Page {
    pub fn new(number: u32, size: u32) -> Result<Self, QueryError> {
        if number == 0 || size == 0 || size > MAX_PAGE_SIZE {
            return Err(QueryError(format!("Page à partir de 1, de 1 à {MAX_PAGE_SIZE} résultats.")));
        }
        let page = Self { number, size };
        if page.offset() + u64::from(size) > MAX_DEPTH {
            return Err(QueryError(format!("Au-delà des {MAX_DEPTH} premiers résultats : affinez la recherche.")));
        }
        Ok(page)
    }

    pub fn offset(self) -> u64 {
        u64::from(self.number.saturating_sub(1)) * u64::from(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        let q = Query::parse("Élodie dup cp:75011 type:per 10003621892").unwrap();
        assert_eq!(q.words, ["Élodie", "dup"]);
        assert!(q.prefix);
        assert_eq!(q.postal_code.as_deref(), Some("75011"));
        assert_eq!(q.kind, Some(MailboxKind::Personal));
        assert_eq!(q.identifier.as_deref(), Some("10003621892"));
        assert!(!Query::parse("dupont ").unwrap().prefix);
        assert_eq!(Query::parse("750000002").unwrap().identifier.as_deref(), Some("750000002"));
        assert_eq!(Query::parse("13001").unwrap().postal_code.as_deref(), Some("13001"));
        assert!(Query::parse("cp:7501").is_err());
        assert!(Query::parse("type:XYZ").is_err());
        assert!(Query::parse("couleur:bleu").is_err());
        assert!(Page::new(0, 20).is_err());
        assert!(Page::new(1000, 20).is_err());
    }

    #[test]
    fn stop_words_are_left_out_unless_nothing_else_is_left() {
        let q = Query::parse("Pharmacie du Centre").unwrap();
        assert_eq!((q.words.as_slice(), q.prefix), (&["Pharmacie".to_string(), "Centre".to_string()][..], true));
        let typing = Query::parse("pharmacie de").unwrap();
        assert_eq!((typing.words.as_slice(), typing.prefix), (&["pharmacie".to_string()][..], false));
        let only = Query::parse("le la").unwrap();
        assert_eq!((only.words.len(), only.prefix), (2, true));
    }
}
