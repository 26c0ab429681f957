//! The in-memory search index of a snapshot: what [`super::search`] ranks
//! and filters with, so that a search never scans SQLite (it only reads
//! the rows of the page, by row id).
//!
//! - A sorted dictionary of tokens: the folded words of the entries' text
//!   (see [`words`]) and, behind a control character that no word holds,
//!   the exact values of the filter fields (postal code, department, type,
//!   profession code, RPPS/ADELI/FINESS, mail domain). A prefix is a range
//!   of token ids.
//! - For each row, its tokens (`token << 5 | columns`, the columns being
//!   the bits of [`NAME`], [`OTHER_NAMES`]... where the word occurs): a
//!   candidate row is checked against every condition of a query at once.
//! - For each token, the rows holding it, in row order, in three lists by
//!   the best place the word takes in that row ([`Level`]): the name, the
//!   other names, anywhere else. The ranking tiers walk only the lists
//!   they need.
//!
//! Row `r` of the index is the entry of SQLite row id `r + 1` (the import
//! numbers the sorted rows from 1 without gaps). The import saves the
//! dictionary and the rows' tokens in the snapshot ([`Builder::save`]);
//! opening a snapshot reads them back and derives the lists
//! ([`Index::load`]), in about 0.6 s for a million entries on 2 cores, so a
//! one-shot CLI search stays quick. A snapshot without a saved index
//! (written by an older release) is indexed from its entries instead.
//! Once built, an index is immutable: searches share it without locks.

use std::collections::HashMap;
use std::ops::Range;

use mss_core::fold_latin;
use rusqlite::{Connection, OptionalExtension};

/// Column bits of a row's token: the word is in the name (nom d'exercice,
/// or raison sociale of a structure)...
pub const NAME: u32 = 1;
/// ...in the other names (prénom, enseigne, service, the structure a
/// person works in)...
pub const OTHER_NAMES: u32 = 2;
/// ...in the profession (label, category, skill)...
pub const PROFESSION: u32 = 4;
/// ...in the place (ligne d'acheminement, postal code)...
pub const PLACE: u32 = 8;
/// ...in the street address.
pub const STREET: u32 = 16;
const COLUMN_BITS: u32 = 5;
const COLUMN_MASK: u32 = (1 << COLUMN_BITS) - 1;

/// Where a token's best occurrence in a row is, which orders the ranking
/// tiers: the name, the other names, or elsewhere (field values included).
pub type Level = usize;
pub const LEVELS: usize = 3;

/// The level of one of a row's tokens.
pub fn level(entry: u32) -> Level {
    if entry & NAME != 0 {
        0
    } else if entry & OTHER_NAMES != 0 {
        1
    } else {
        2
    }
}

/// The token id of one of a row's tokens.
pub fn token(entry: u32) -> u32 {
    entry >> COLUMN_BITS
}

/// The `entries` columns an entry is indexed from, as
/// [`Builder::add_entry`] takes them.
pub const ENTRY_COLUMNS: [&str; 23] = [
    "kind",
    "pp_id",
    "finess",
    "last_name",
    "first_name",
    "company",
    "trade_name",
    "service",
    "profession_label",
    "profession_category_label",
    "skill_label",
    "l6_distribution",
    "postal_code",
    "l2_location",
    "l3_distribution",
    "l4_number",
    "l4_number_complement",
    "l4_way_type",
    "l4_way_label",
    "l5_place",
    "department",
    "profession_code",
    "domain",
];

/// What a value of an entry is, for [`Builder::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Text, split into words, in the column groups of these bits.
    Text(u32),
    /// An exact value a search filters on.
    Field(Field),
}

/// The exactly matched fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    PostalCode,
    Department,
    Kind,
    ProfessionCode,
    /// RPPS, ADELI or FINESS: one token for the person's and the
    /// structure's id, as a search asks for either.
    Identifier,
    Domain,
}

impl Field {
    /// The token of `value` in this field: a control character no word
    /// holds, then the value as it is.
    pub fn token(self, value: &str) -> String {
        let mut token = String::with_capacity(value.len() + 1);
        self.write_token(value, &mut token);
        token
    }

    fn write_token(self, value: &str, token: &mut String) {
        let tag = match self {
            Field::PostalCode => '\u{1}',
            Field::Department => '\u{2}',
            Field::Kind => '\u{3}',
            Field::ProfessionCode => '\u{4}',
            Field::Identifier => '\u{5}',
            Field::Domain => '\u{6}',
        };
        token.clear();
        token.push(tag);
        token.push_str(value);
    }
}

/// Calls `f` with each folded word of `text`, as entries and queries are
/// both read: split at anything but letters and digits (as
/// [`super::query::words`] does), lower-cased, Latin letters without their
/// diacritics (`Élodie` -> `elodie`, `Œuvre` -> `oeuvre`, see
/// [`fold_latin`]), other letters kept.
pub fn words(text: &str, mut f: impl FnMut(&str)) {
    let mut folded = String::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        folded.clear();
        if word.is_ascii() {
            folded.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        } else {
            for c in word.chars() {
                if c.is_ascii() {
                    folded.push(c.to_ascii_lowercase());
                    continue;
                }
                match fold_latin(c) {
                    Some(latin) => folded.push_str(latin),
                    None => folded.extend(c.to_lowercase()),
                }
            }
        }
        f(&folded);
    }
}

/// The sorted dictionary: token `i` is `bytes[ends[i - 1]..ends[i]]`.
#[derive(Debug, Default)]
struct Tokens {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Tokens {
    fn len(&self) -> u32 {
        self.ends.len() as u32
    }

    fn get(&self, i: u32) -> &[u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// The first token id for which `after` is false (`after` must be
    /// false then true along the dictionary).
    fn first(&self, after: impl Fn(&[u8]) -> bool) -> u32 {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if after(self.get(middle)) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    fn find(&self, token: &str) -> Option<u32> {
        let i = self.first(|t| t < token.as_bytes());
        (i < self.len() && self.get(i) == token.as_bytes()).then_some(i)
    }

    fn prefixed(&self, prefix: &str) -> Range<u32> {
        let prefix = prefix.as_bytes();
        let start = self.first(|t| t < prefix);
        let end = self.first(|t| t < prefix || t.starts_with(prefix));
        start..end
    }
}

/// Each row's tokens: row `r` holds `entries[ends[r - 1]..ends[r]]`, sorted.
#[derive(Debug, Default)]
struct Rows {
    ends: Vec<u32>,
    entries: Vec<u32>,
}

/// The search index of one snapshot; see the module documentation.
#[derive(Debug, Default)]
pub struct Index {
    tokens: Tokens,
    rows: Rows,
    /// List `token * LEVELS + level` is `postings[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    postings: Vec<u32>,
}

impl Index {
    fn new(tokens: Tokens, rows: Rows) -> Self {
        // Counting sort of the rows' tokens into lists: `starts[i + 1]`
        // first counts list `i`, then becomes its write cursor, and ends as
        // its end, which is where list `i + 1` starts.
        let lists = tokens.len() as usize * LEVELS;
        let mut starts = vec![0u32; lists + 1];
        for &entry in &rows.entries {
            starts[token(entry) as usize * LEVELS + level(entry) + 1] += 1;
        }
        let mut sum = 0;
        for start in &mut starts[1..] {
            let count = *start;
            *start = sum;
            sum += count;
        }
        let mut postings = vec![0u32; rows.entries.len()];
        for row in 0..rows.ends.len() {
            for &entry in rows_of(&rows, row as u32) {
                let cursor = &mut starts[token(entry) as usize * LEVELS + level(entry) + 1];
                postings[*cursor as usize] = row as u32;
                *cursor += 1;
            }
        }
        Self { tokens, rows, starts, postings }
    }

    /// Rows indexed.
    pub fn rows(&self) -> u32 {
        self.rows.ends.len() as u32
    }

    /// The tokens of `row`, sorted, each `token << 5 | columns`.
    pub fn entries(&self, row: u32) -> &[u32] {
        rows_of(&self.rows, row)
    }

    /// The id of a token (a folded word, or [`Field::token`]).
    pub fn find(&self, token: &str) -> Option<u32> {
        self.tokens.find(token)
    }

    /// The ids of the words starting with `prefix`.
    pub fn prefixed(&self, prefix: &str) -> Range<u32> {
        self.tokens.prefixed(prefix)
    }

    /// The rows whose best occurrence of `token` is at `level`, in order.
    pub fn postings(&self, token: u32, level: Level) -> &[u32] {
        let i = token as usize * LEVELS + level;
        &self.postings[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// The index saved in a snapshot, or built from its entries when the
    /// snapshot has none (or an older format).
    pub fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let format: Option<String> =
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [FORMAT_KEY], |r| r.get(0)).optional()?;
        if format.as_deref() != Some(FORMAT) {
            tracing::info!("directory snapshot without a saved search index: indexing its entries");
            return Ok(Builder::from_entries(conn)?.finish());
        }
        let tokens =
            Tokens { bytes: load_part(conn, "token_bytes", 1, byte)?, ends: load_part(conn, "token_ends", 4, le_u32)? };
        let rows = Rows { ends: load_part(conn, "row_ends", 4, le_u32)?, entries: load_part(conn, "rows", 4, le_u32)? };
        Ok(Self::new(tokens, rows))
    }
}

fn rows_of(rows: &Rows, row: u32) -> &[u32] {
    let r = row as usize;
    let start = if r == 0 { 0 } else { rows.ends[r - 1] as usize };
    &rows.entries[start..rows.ends[r] as usize]
}

/// Collects the entries' tokens, row after row, into an [`Index`].
#[derive(Debug, Default)]
pub struct Builder {
    /// Provisional id of each token (order of first sight).
    ids: HashMap<Box<str>, u32>,
    rows: Rows,
    row: Vec<u32>,
    field: String,
}

impl Builder {
    /// Adds the next row: its values, each in its [`Column`].
    pub fn add(&mut self, values: &[(Column, &str)]) {
        self.row.clear();
        for &(column, value) in values {
            match column {
                Column::Text(bits) => words(value, |word| {
                    let id = self.id(word);
                    self.row.push(id << COLUMN_BITS | bits);
                }),
                Column::Field(field) if !value.is_empty() => {
                    let mut token = std::mem::take(&mut self.field);
                    field.write_token(value, &mut token);
                    let id = self.id(&token);
                    self.field = token;
                    self.row.push(id << COLUMN_BITS);
                }
                Column::Field(_) => {}
            }
        }
        // One entry per token, with every column it occurs in.
        self.row.sort_unstable();
        let mut merged: Option<u32> = None;
        for &entry in &self.row {
            match merged {
                Some(m) if token(m) == token(entry) => merged = Some(m | entry),
                _ => {
                    self.rows.entries.extend(merged);
                    merged = Some(entry);
                }
            }
        }
        self.rows.entries.extend(merged);
        self.rows.ends.push(self.rows.entries.len() as u32);
    }

    fn id(&mut self, token: &str) -> u32 {
        if let Some(&id) = self.ids.get(token) {
            return id;
        }
        let id = self.ids.len() as u32;
        self.ids.insert(token.into(), id);
        id
    }

    /// The index of the rows added.
    pub fn finish(self) -> Index {
        let (tokens, rows) = self.sorted();
        Index::new(tokens, rows)
    }

    /// The dictionary sorted, and the rows' tokens renumbered to match.
    fn sorted(self) -> (Tokens, Rows) {
        let Builder { ids, mut rows, .. } = self;
        let mut names: Vec<Box<str>> = vec![Box::from(""); ids.len()];
        for (token, id) in ids {
            names[id as usize] = token;
        }
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        let mut renumber = vec![0u32; names.len()];
        let mut tokens = Tokens { bytes: Vec::new(), ends: Vec::with_capacity(names.len()) };
        for (sorted, &id) in order.iter().enumerate() {
            renumber[id as usize] = sorted as u32;
            tokens.bytes.extend_from_slice(names[id as usize].as_bytes());
            tokens.ends.push(tokens.bytes.len() as u32);
        }
        drop(names);
        let mut start = 0;
        for &end in &rows.ends {
            let row = &mut rows.entries[start..end as usize];
            for entry in row.iter_mut() {
                *entry = renumber[token(*entry) as usize] << COLUMN_BITS | (*entry & COLUMN_MASK);
            }
            row.sort_unstable();
            start = end as usize;
        }
        (tokens, rows)
    }

    /// Adds the next entry: `values` are its [`ENTRY_COLUMNS`], in order.
    pub fn add_entry(&mut self, values: &[&str; ENTRY_COLUMNS.len()]) {
        let [
            kind,
            pp_id,
            finess,
            last_name,
            first_name,
            company,
            trade_name,
            service,
            profession,
            category,
            skill,
            l6,
            postal_code,
            l2,
            l3,
            l4_number,
            l4_complement,
            l4_way_type,
            l4_way_label,
            l5,
            department,
            profession_code,
            domain,
        ] = *values;
        // A person's name is the nom d'exercice, and the structure is among
        // the other names; a structure's name is its raison sociale.
        let (name, company_column) = if last_name.is_empty() { (company, NAME) } else { (last_name, OTHER_NAMES) };
        let (other, profession_text, place, street) =
            (Column::Text(OTHER_NAMES), Column::Text(PROFESSION), Column::Text(PLACE), Column::Text(STREET));
        self.add(&[
            (Column::Text(NAME), name),
            (Column::Text(company_column), company),
            (other, first_name),
            (other, trade_name),
            (other, service),
            (profession_text, profession),
            (profession_text, category),
            (profession_text, skill),
            (place, l6),
            (place, postal_code),
            (street, l2),
            (street, l3),
            (street, l4_number),
            (street, l4_complement),
            (street, l4_way_type),
            (street, l4_way_label),
            (street, l5),
            (Column::Field(Field::Kind), kind),
            (Column::Field(Field::Identifier), pp_id),
            (Column::Field(Field::Identifier), finess),
            (Column::Field(Field::PostalCode), postal_code),
            (Column::Field(Field::Department), department),
            (Column::Field(Field::ProfessionCode), profession_code),
            (Column::Field(Field::Domain), domain),
        ]);
    }

    /// A builder holding every entry of a snapshot, in row id order.
    pub fn from_entries(conn: &Connection) -> rusqlite::Result<Self> {
        let mut builder = Builder::default();
        let mut statement =
            conn.prepare(&format!("SELECT id, {} FROM entries ORDER BY id", ENTRY_COLUMNS.join(", ")))?;
        let mut rows = statement.query([])?;
        let mut expected = 1;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            if id != expected {
                // Row `r` of the index must be row id `r + 1`.
                return Err(rusqlite::Error::IntegralValueOutOfRange(0, id));
            }
            expected += 1;
            let mut values = [""; ENTRY_COLUMNS.len()];
            for (i, value) in values.iter_mut().enumerate() {
                *value = r.get_ref(i + 1)?.as_str()?;
            }
            builder.add_entry(&values);
        }
        Ok(builder)
    }

    /// Saves the index in the snapshot being built (its `meta` table
    /// exists), for [`Index::load`].
    pub fn save(self, conn: &Connection) -> rusqlite::Result<()> {
        let (tokens, rows) = self.sorted();
        conn.execute_batch(
            "CREATE TABLE search_index (part TEXT NOT NULL, chunk INTEGER NOT NULL, data BLOB NOT NULL,
                                        PRIMARY KEY (part, chunk)) WITHOUT ROWID",
        )?;
        save_part(conn, "token_bytes", &tokens.bytes)?;
        save_part(conn, "token_ends", &le_bytes(&tokens.ends))?;
        save_part(conn, "row_ends", &le_bytes(&rows.ends))?;
        save_part(conn, "rows", &le_bytes(&rows.entries))?;
        conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [FORMAT_KEY, FORMAT])?;
        Ok(())
    }
}

/// The `meta` key saying which index format the snapshot holds.
const FORMAT_KEY: &str = "search_index";
const FORMAT: &str = "1";
/// Bytes per saved chunk: loading never holds more than one chunk besides
/// the index itself.
const CHUNK: usize = 1 << 20;

fn le_bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn save_part(conn: &Connection, part: &str, bytes: &[u8]) -> rusqlite::Result<()> {
    let mut insert = conn.prepare("INSERT INTO search_index (part, chunk, data) VALUES (?1, ?2, ?3)")?;
    for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
        insert.execute(rusqlite::params![part, i as i64, chunk])?;
    }
    Ok(())
}

/// A saved part, read chunk by chunk into a vector of its exact size
/// (values of `unit` bytes, each made by `value`).
fn load_part<T>(conn: &Connection, part: &str, unit: usize, value: impl Fn(&[u8]) -> T) -> rusqlite::Result<Vec<T>> {
    let size: i64 =
        conn.query_row("SELECT coalesce(sum(length(data)), 0) FROM search_index WHERE part = ?1", [part], |r| {
            r.get(0)
        })?;
    let size = usize::try_from(size).unwrap_or(0);
    if size % unit != 0 {
        return Err(rusqlite::Error::InvalidColumnType(0, part.to_string(), rusqlite::types::Type::Blob));
    }
    let mut values = Vec::with_capacity(size / unit);
    let mut statement = conn.prepare("SELECT data FROM search_index WHERE part = ?1 ORDER BY chunk")?;
    let mut chunks = statement.query([part])?;
    while let Some(chunk) = chunks.next()? {
        // Chunks are whole values: CHUNK is a multiple of every unit.
        values.extend(chunk.get_ref(0)?.as_blob()?.chunks_exact(unit).map(&value));
    }
    Ok(values)
}

fn byte(b: &[u8]) -> u8 {
    b[0]
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        words(text, |w| out.push(w.to_string()));
        out
    }

    #[test]
    fn words_are_folded_and_split_as_queries_are() {
        assert_eq!(folded("Élodie DUPONT-Lefèvre"), ["elodie", "dupont", "lefevre"]);
        assert_eq!(folded("D'Arc, 12 bis  Œuvre"), ["d", "arc", "12", "bis", "oeuvre"]);
        assert_eq!(folded("Ωmega Straße"), ["ωmega", "strasse"], "other letters are kept, lower-cased");
        assert!(folded(" - ' ").is_empty());
    }

    fn sample() -> Builder {
        let mut builder = Builder::default();
        builder.add(&[
            (Column::Text(NAME), "Martin"),
            (Column::Text(OTHER_NAMES), "Marie"),
            (Column::Text(PLACE), "75011 Paris"),
            (Column::Field(Field::PostalCode), "75011"),
        ]);
        // "martin" twice in one row: one entry, with both columns.
        builder.add(&[
            (Column::Text(NAME), "Aubert"),
            (Column::Text(OTHER_NAMES), "Martin"),
            (Column::Text(STREET), "rue Martin"),
        ]);
        builder.add(&[(Column::Text(STREET), "rue Martin"), (Column::Field(Field::Identifier), "")]);
        builder
    }

    #[test]
    fn each_row_is_listed_once_per_word_at_its_best_level() {
        let index = sample().finish();
        let martin = index.find("martin").unwrap();
        assert_eq!(
            (index.postings(martin, 0), index.postings(martin, 1), index.postings(martin, 2)),
            (&[0][..], &[1][..], &[2][..])
        );
        let in_row_1: Vec<u32> = index.entries(1).iter().filter(|&&e| token(e) == martin).copied().collect();
        assert_eq!(in_row_1, [martin << COLUMN_BITS | OTHER_NAMES | STREET]);
        let code = index.find(&Field::PostalCode.token("75011")).unwrap();
        assert_eq!(index.postings(code, 2), [0], "a field value is found by its own token only");
        assert_eq!(index.postings(index.find("75011").unwrap(), 2), [0], "and its text is a word of the place");
        assert_eq!(index.find(&Field::Identifier.token("")), None, "empty values are not indexed");
        assert_eq!(index.rows(), 3);
    }

    #[test]
    fn a_prefix_is_the_range_of_the_words_it_starts() {
        let index = sample().finish();
        let range = index.prefixed("mar");
        let names: Vec<&[u8]> = range.clone().map(|t| index.tokens.get(t)).collect();
        assert_eq!(names, [&b"marie"[..], b"martin"]);
        assert!(index.prefixed("marz").is_empty());
        assert_eq!(index.prefixed("rue").len(), 1);
        assert_eq!(index.find("mar"), None, "a prefix is no word");
    }

    #[test]
    fn a_saved_index_loads_back_the_same() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)").unwrap();
        sample().save(&conn).unwrap();
        let (built, loaded) = (sample().finish(), Index::load(&conn).unwrap());
        assert_eq!((loaded.tokens.bytes, loaded.tokens.ends), (built.tokens.bytes, built.tokens.ends));
        assert_eq!((loaded.rows.ends, loaded.rows.entries), (built.rows.ends, built.rows.entries));
        assert_eq!((loaded.starts, loaded.postings), (built.starts, built.postings));
    }
}
