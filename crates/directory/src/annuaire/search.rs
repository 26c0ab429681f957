//! Running a [`Query`] on a snapshot: FTS5 for words, indexes for the exact
//! fields, ranked and paged.
//!
//! Ranking, in tiers: entries whose name (nom d'exercice or raison sociale)
//! holds every word first, then those whose other names (prénom, enseigne,
//! service, the structure a person works in) complete the match, then
//! those matching anywhere (profession, city, street). Within a tier, the
//! alphabetical order of the directory, which is the row id (the import
//! sorts the rows). Every step reads rows in row-id order and stops at the
//! page's end, so a query costs about the same on a few entries or a
//! million, however common its words; the total is counted up to
//! [`COUNT_CAP`] only.

use rusqlite::{Connection, ToSql};

use super::query::Query;

/// The total of a search is exact up to this number.
pub const COUNT_CAP: u64 = 200;

/// One directory entry as a search returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hit {
    /// `PER`, `ORG`, `APP` or `CAB`.
    #[serde(rename = "type")]
    pub kind: String,
    pub address: String,
    /// What to show: "Dr Élodie Dupont", or the structure's name.
    pub name: String,
    pub civility: String,
    pub last_name: String,
    pub first_name: String,
    pub profession_code: String,
    pub profession: String,
    /// Raison sociale (or enseigne) of the structure.
    pub structure: String,
    pub service: String,
    /// `8` (RPPS) or `0` (ADELI), and the number.
    pub person_id_type: String,
    pub person_id: String,
    pub finess: String,
    pub street: String,
    pub postal_code: String,
    /// Ligne d'acheminement: postal code and city.
    pub city: String,
    pub department: String,
    /// `annuaire` (the national extraction) or `operateur` (our own mailboxes).
    pub source: &'static str,
}

const HIT_COLUMNS: &str = "e.kind, e.address, e.civility, e.last_name, e.first_name, e.profession_code, \
     e.profession_label, e.company, e.trade_name, e.service, e.pp_type, e.pp_id, e.finess, e.l4_number, \
     e.l4_way_type, e.l4_way_label, e.postal_code, e.l6_distribution, e.department";

fn hit(r: &rusqlite::Row<'_>) -> rusqlite::Result<Hit> {
    let text = |i: usize| r.get::<_, String>(i);
    let (civility, last_name, first_name) = (text(2)?, text(3)?, text(4)?);
    let (company, trade_name) = (text(7)?, text(8)?);
    let structure = if company.is_empty() { trade_name } else { company };
    let name = if last_name.is_empty() {
        structure.clone()
    } else {
        [civility.as_str(), first_name.as_str(), last_name.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let street = [text(13)?, text(14)?, text(15)?].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
    Ok(Hit {
        kind: text(0)?,
        address: text(1)?,
        name,
        civility,
        last_name,
        first_name,
        profession_code: text(5)?,
        profession: text(6)?,
        structure,
        service: text(9)?,
        person_id_type: text(10)?,
        person_id: text(11)?,
        finess: text(12)?,
        street,
        postal_code: text(16)?,
        city: text(17)?,
        department: text(18)?,
        source: "annuaire",
    })
}

/// An FTS5 expression for words: each quoted, all required, the last one
/// a prefix when asked (from two characters: shorter prefixes match too
/// much to be useful).
fn all_words(words: &[String], prefix: bool) -> String {
    let last = words.len().saturating_sub(1);
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let quoted = format!("\"{}\"", w.replace('"', ""));
            if prefix && i == last && w.chars().count() >= 2 { format!("{quoted}*") } else { quoted }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The column sets of the ranking tiers (`None`: every column).
const TIERS: [Option<&str>; 3] = [Some("{name}"), Some("{name other_names}"), None];

fn scoped(columns: Option<&str>, expression: &str) -> String {
    match columns {
        Some(columns) => format!("({columns} : ({expression}))"),
        None => format!("({expression})"),
    }
}

/// The SQL conditions on `entries e` and their parameters.
struct Filters {
    conditions: Vec<String>,
    params: Vec<Box<dyn ToSql>>,
}

impl Filters {
    fn of(query: &Query, exclude_domain: Option<&str>) -> Self {
        let mut f = Filters { conditions: Vec::new(), params: Vec::new() };
        let mut add = |condition: &str, value: String| {
            f.params.push(Box::new(value));
            let n = f.params.len();
            f.conditions.push(condition.replace('?', &format!("?{n}")));
        };
        if let Some(id) = &query.identifier {
            add("(e.pp_id = ? OR e.finess = ?)", id.clone());
        }
        if let Some(code) = &query.postal_code {
            add("e.postal_code = ?", code.clone());
        }
        if let Some(department) = &query.department {
            add("e.department = ?", department.clone());
        }
        if let Some(kind) = query.kind {
            // The index of the type, which a quarter of the directory or more
            // shares, only when nothing else narrows the search (`+` keeps
            // SQLite off it).
            let narrower = query.identifier.is_some()
                || query.postal_code.is_some()
                || query.department.is_some()
                || query.profession.is_some()
                || !query.words.is_empty()
                || !query.city.is_empty()
                || !query.street.is_empty();
            add(if narrower { "+e.kind = ?" } else { "e.kind = ?" }, kind.code().to_string());
        }
        if let Some(profession) = query.profession.as_ref().filter(|p| p.bytes().all(|b| b.is_ascii_digit())) {
            add("e.profession_code = ?", profession.clone());
        }
        if let Some(domain) = exclude_domain {
            add("e.domain <> ?", domain.to_string());
        }
        f
    }

    fn sql(&self) -> String {
        self.conditions.iter().map(|c| format!(" AND {c}")).collect()
    }
}

/// The FTS5 conditions other than the words: city, street, profession label.
fn field_expressions(query: &Query) -> Vec<String> {
    let mut out = Vec::new();
    if !query.city.is_empty() {
        out.push(scoped(Some("{place}"), &all_words(&query.city, false)));
    }
    if !query.street.is_empty() {
        out.push(scoped(Some("{street}"), &all_words(&query.street, false)));
    }
    if let Some(profession) = query.profession.as_ref().filter(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        let words = super::query::words(profession);
        if !words.is_empty() {
            out.push(scoped(Some("{profession}"), &all_words(&words, false)));
        }
    }
    out
}

/// The match expressions of the tiers, in rank order (one when the query
/// has no words, none when it needs no FTS at all).
fn tier_expressions(query: &Query) -> Vec<String> {
    let fields = field_expressions(query);
    let with_fields = |e: String| std::iter::once(e).chain(fields.iter().cloned()).collect::<Vec<_>>().join(" AND ");
    if query.words.is_empty() {
        return if fields.is_empty() { Vec::new() } else { vec![fields.join(" AND ")] };
    }
    let words = all_words(&query.words, query.prefix);
    let mut tiers = Vec::new();
    let mut previous: Option<String> = None;
    for columns in TIERS {
        let this = scoped(columns, &words);
        let expression = match &previous {
            Some(before) => format!("({this} NOT {before})"),
            None => this.clone(),
        };
        tiers.push(with_fields(expression));
        previous = Some(this);
    }
    tiers
}

/// One page of a search, and the total (exact when `total < COUNT_CAP`).
pub fn run(
    conn: &Connection,
    query: &Query,
    offset: u64,
    limit: u64,
    exclude_domain: Option<&str>,
) -> rusqlite::Result<(Vec<Hit>, u64)> {
    let filters = Filters::of(query, exclude_domain);
    let tiers = tier_expressions(query);
    if tiers.is_empty() {
        let from = format!("FROM entries e WHERE 1{}", filters.sql());
        let hits = fetch(conn, &format!("SELECT {HIT_COLUMNS} {from} ORDER BY e.id"), &filters, None, offset, limit)?;
        let total = count(conn, &format!("SELECT 1 {from}"), &filters, None, COUNT_CAP)?;
        return Ok((hits, total));
    }
    let from =
        format!("FROM entries_fts f JOIN entries e ON e.id = f.rowid WHERE entries_fts MATCH ?{{m}}{}", filters.sql());
    let mut hits = Vec::new();
    let mut skip = offset;
    for expression in &tiers {
        let want = limit - hits.len() as u64;
        if want == 0 {
            break;
        }
        let sql = format!("SELECT {HIT_COLUMNS} {from} ORDER BY f.rowid");
        let found = fetch(conn, &sql, &filters, Some(expression), skip, want)?;
        if found.is_empty() && skip > 0 {
            // This whole tier is before the page: skip past it.
            let tier_size = count(conn, &format!("SELECT 1 {from}"), &filters, Some(expression), skip)?;
            skip -= tier_size.min(skip);
            continue;
        }
        skip = 0;
        hits.extend(found);
    }
    // Every tier together is the last tier's words in any column.
    let all = if query.words.is_empty() {
        tiers[0].clone()
    } else {
        let fields = field_expressions(query);
        std::iter::once(scoped(None, &all_words(&query.words, query.prefix)))
            .chain(fields)
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let total = count(conn, &format!("SELECT 1 {from}"), &filters, Some(&all), COUNT_CAP)?;
    Ok((hits, total))
}

/// Binds the filters then, for FTS queries, the match expression as the
/// last parameter (`?{m}` in the SQL).
fn bind<'a>(filters: &'a Filters, expression: Option<&'a String>, sql: &str) -> (String, Vec<&'a dyn ToSql>) {
    let mut params: Vec<&dyn ToSql> = filters.params.iter().map(|p| p.as_ref() as &dyn ToSql).collect();
    let sql = match expression {
        Some(e) => {
            params.push(e as &dyn ToSql);
            sql.replace("?{m}", &format!("?{}", params.len()))
        }
        None => sql.to_string(),
    };
    (sql, params)
}

fn fetch(
    conn: &Connection,
    sql: &str,
    filters: &Filters,
    expression: Option<&String>,
    offset: u64,
    limit: u64,
) -> rusqlite::Result<Vec<Hit>> {
    let (sql, params) = bind(filters, expression, sql);
    let sql = format!("{sql} LIMIT {limit} OFFSET {offset}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params.as_slice(), hit)?;
    rows.collect()
}

/// Rows of `select` (a `SELECT 1 FROM ...`), counted up to `cap`.
fn count(
    conn: &Connection,
    select: &str,
    filters: &Filters,
    expression: Option<&String>,
    cap: u64,
) -> rusqlite::Result<u64> {
    let (sql, params) = bind(filters, expression, select);
    let sql = format!("SELECT count(*) FROM ({sql} LIMIT {cap})");
    let n: i64 = conn.prepare_cached(&sql)?.query_row(params.as_slice(), |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
