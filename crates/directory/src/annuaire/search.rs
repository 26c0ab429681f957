//! Running a [`Query`] on a snapshot's [`Index`]: ranked, filtered and
//! paged in memory; only the page's rows are read from SQLite.
//!
//! Ranking, in tiers: entries whose name (nom d'exercice or raison sociale)
//! holds every word first, then those whose other names (prénom, enseigne,
//! service, the structure a person works in) complete the match, then
//! those matching anywhere (profession, city, street). Within a tier, the
//! alphabetical order of the directory, which is the row id (the import
//! sorts the rows). A row's tier is the worst of its words' best
//! [`Level`]s.
//!
//! Each tier walks, in row order, the shortest list of rows that holds
//! every answer: one word's rows at the levels the tier allows, or a
//! field value's rows; each candidate is then checked against every
//! condition with its own tokens. The walk stops at the page's end, and
//! the total is counted up to [`COUNT_CAP`] only, so a query costs about
//! the same on a few entries or a million, however common its words.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;
use std::ops::Range;

use rusqlite::Connection;

use super::index::{self, Field, Index, LEVELS, Level, PLACE, PROFESSION, STREET};
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

/// The hits of `rows` (index rows), in that order.
pub fn hits(conn: &Connection, rows: &[u32]) -> rusqlite::Result<Vec<Hit>> {
    let mut statement = conn.prepare_cached(&format!("SELECT {HIT_COLUMNS} FROM entries e WHERE e.id = ?1"))?;
    rows.iter().map(|&row| statement.query_row([i64::from(row) + 1], hit)).collect()
}

/// A word of the query as the index knows it: one token, or the tokens of
/// a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term(Range<u32>);

/// The entries of a row (sorted) whose token is in `tokens`.
fn term<'a>(entries: &'a [u32], tokens: &Range<u32>) -> &'a [u32] {
    let start = entries.partition_point(|&e| index::token(e) < tokens.start);
    let rest = &entries[start..];
    &rest[..rest.partition_point(|&e| index::token(e) < tokens.end)]
}

/// A query resolved against an index.
#[derive(Debug)]
struct Plan {
    /// The words, each in any column; they rank.
    words: Vec<Term>,
    /// Words required in one column group (city, street, profession
    /// label), with its bit.
    in_column: Vec<(Term, u32)>,
    /// Field values required ([`Field::token`]).
    fields: Vec<u32>,
    /// Our domain's token: its entries are left out.
    excluded: Option<u32>,
}

impl Plan {
    /// `None` when nothing can match (a word no entry holds).
    fn of(index: &Index, query: &Query, exclude_domain: Option<&str>) -> Option<Self> {
        let exact = |text: &str| -> Option<Vec<Term>> {
            let mut terms = Vec::new();
            let mut missing = false;
            index::words(text, |word| match index.find(word) {
                Some(id) => terms.push(Term(id..id + 1)),
                None => missing = true,
            });
            (!missing).then_some(terms)
        };
        let mut plan = Plan { words: Vec::new(), in_column: Vec::new(), fields: Vec::new(), excluded: None };
        let last = query.words.len().saturating_sub(1);
        for (i, word) in query.words.iter().enumerate() {
            // The last word is a prefix while the person types, from two
            // characters: shorter prefixes match too much to be useful.
            if query.prefix && i == last && word.chars().count() >= 2 {
                let mut prefixes = Vec::new();
                index::words(word, |w| prefixes.push(w.to_string()));
                let (whole, part) = prefixes.split_at(prefixes.len().saturating_sub(1));
                for w in whole {
                    plan.words.extend(exact(w)?);
                }
                for p in part {
                    let tokens = index.prefixed(p);
                    if tokens.is_empty() {
                        return None;
                    }
                    plan.words.push(Term(tokens));
                }
            } else {
                plan.words.extend(exact(word)?);
            }
        }
        let mut in_column = |words: &[String], bit: u32| -> Option<()> {
            for word in words {
                plan.in_column.extend(exact(word)?.into_iter().map(|t| (t, bit)));
            }
            Some(())
        };
        in_column(&query.city, PLACE)?;
        in_column(&query.street, STREET)?;
        let mut fields = vec![];
        match &query.profession {
            Some(code) if code.bytes().all(|b| b.is_ascii_digit()) => fields.push(Field::ProfessionCode.token(code)),
            Some(label) => in_column(&super::query::words(label), PROFESSION)?,
            None => {}
        }
        fields.extend(query.identifier.iter().map(|id| Field::Identifier.token(id)));
        fields.extend(query.postal_code.iter().map(|code| Field::PostalCode.token(code)));
        fields.extend(query.department.iter().map(|d| Field::Department.token(d)));
        fields.extend(query.kind.iter().map(|k| Field::Kind.token(k.code())));
        for field in fields {
            plan.fields.push(index.find(&field)?);
        }
        plan.excluded = exclude_domain.and_then(|d| index.find(&Field::Domain.token(d)));
        Some(plan)
    }

    /// The tier of a row holding `entries`, `None` when it does not match.
    fn tier(&self, entries: &[u32]) -> Option<Level> {
        let holds = |id: u32| !term(entries, &(id..id + 1)).is_empty();
        if !self.fields.iter().all(|&id| holds(id)) || self.excluded.is_some_and(holds) {
            return None;
        }
        if !self.in_column.iter().all(|(t, bit)| term(entries, &t.0).iter().any(|&e| e & bit != 0)) {
            return None;
        }
        let mut tier = 0;
        for t in &self.words {
            let best = term(entries, &t.0).iter().map(|&e| index::level(e)).min()?;
            tier = tier.max(best);
        }
        Some(tier)
    }

    /// The rows that may be of `tier` (of any tier when `None`), in
    /// order: those holding every word at the levels the tier allows, and
    /// every field value.
    fn candidates<'a>(&self, index: &'a Index, tier: Option<Level>) -> Candidates<'a> {
        let any = 0..=LEVELS - 1;
        // A row of tier k holds each word at level k or better, and its
        // only word exactly at level k.
        let levels = match tier {
            Some(k) if self.words.len() == 1 => k..=k,
            Some(k) => 0..=k,
            None => any.clone(),
        };
        let mut unions: Vec<Union<'a>> = self
            .words
            .iter()
            .map(|t| (t.0.clone(), levels.clone()))
            .chain(self.in_column.iter().map(|(t, _)| (t.0.clone(), any.clone())))
            .chain(self.fields.iter().map(|&id| (id..id + 1, any.clone())))
            .map(|(tokens, levels)| {
                Union::new(
                    tokens
                        .flat_map(|t| levels.clone().map(move |l| index.postings(t, l)))
                        .filter(|l| !l.is_empty())
                        .collect(),
                )
            })
            .collect();
        if unions.is_empty() {
            return Candidates::All(0..index.rows());
        }
        // The shortest leads; unions of many lists (short prefixes) are
        // slow to skip in, so the other conditions check them instead.
        unions.sort_by_key(|u| u.len);
        let mut unions = unions.into_iter();
        let leader = unions.next().into_iter();
        Candidates::Join(Join::new(leader.chain(unions.filter(|u| u.lists.len() <= JOINED_LISTS)).collect()))
    }
}

/// Most lists in a union that a join skips in.
const JOINED_LISTS: usize = 32;

/// Candidate rows, in order, without repeats.
enum Candidates<'a> {
    All(Range<u32>),
    Join(Join<'a>),
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self {
            Candidates::All(rows) => rows.next(),
            Candidates::Join(join) => join.next(),
        }
    }
}

/// The first position of `rows` at or after `target`, galloping: cheap
/// when it is near, `O(log n)` when far.
fn gallop(rows: &[u32], target: u32) -> usize {
    let mut high = 1;
    while high < rows.len() && rows[high] < target {
        high *= 2;
    }
    let low = high / 2;
    let high = high.min(rows.len());
    low + rows[low..high].partition_point(|&r| r < target)
}

/// The union of sorted lists of rows, read in order, each row once, and
/// able to skip ahead.
struct Union<'a> {
    lists: Vec<&'a [u32]>,
    /// The first row of each list not yet passed, and the list.
    heads: BinaryHeap<Reverse<(u32, usize)>>,
    /// Rows in the lists, repeats counted: the cost of reading it all.
    len: usize,
}

impl<'a> Union<'a> {
    fn new(lists: Vec<&'a [u32]>) -> Self {
        let heads = lists.iter().enumerate().filter_map(|(i, l)| l.first().map(|&row| Reverse((row, i)))).collect();
        let len = lists.iter().map(|l| l.len()).sum();
        Self { lists, heads, len }
    }

    fn current(&self) -> Option<u32> {
        self.heads.peek().map(|Reverse((row, _))| *row)
    }

    /// Passes every row before `target`.
    fn seek(&mut self, target: u32) {
        while let Some(mut head) = self.heads.peek_mut() {
            let Reverse((row, i)) = *head;
            if row >= target {
                return;
            }
            let rest = &self.lists[i][gallop(self.lists[i], target)..];
            self.lists[i] = rest;
            match rest.first() {
                Some(&next) => *head = Reverse((next, i)),
                None => {
                    PeekMut::pop(head);
                }
            }
        }
    }
}

/// The rows in every union, in order (a leapfrog join: each union skips
/// to the row the others are at, so runs of rows only some hold are
/// passed in a few steps).
struct Join<'a> {
    unions: Vec<Union<'a>>,
    /// Past the last row given.
    from: u32,
}

impl<'a> Join<'a> {
    fn new(unions: Vec<Union<'a>>) -> Self {
        Self { unions, from: 0 }
    }
}

impl Iterator for Join<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let n = self.unions.len();
        let mut target = self.from;
        let (mut agreeing, mut i) = (0, 0);
        while agreeing < n {
            let union = &mut self.unions[i];
            union.seek(target);
            let row = union.current()?;
            if row == target {
                agreeing += 1;
            } else {
                (target, agreeing) = (row, 1);
            }
            i = (i + 1) % n;
        }
        self.from = target + 1;
        Some(target)
    }
}

/// The rows (of the index) of one page, `limit` rows from `offset` in rank
/// order, and the total (exact when under [`COUNT_CAP`]).
pub fn find(index: &Index, query: &Query, offset: u64, limit: u64, exclude_domain: Option<&str>) -> (Vec<u32>, u64) {
    let Some(plan) = Plan::of(index, query, exclude_domain) else {
        return (Vec::new(), 0);
    };
    let tiers: Vec<Option<Level>> = if plan.words.is_empty() { vec![None] } else { (0..LEVELS).map(Some).collect() };
    let mut rows = Vec::new();
    let mut skip = offset;
    'tiers: for tier in tiers {
        if rows.len() as u64 == limit {
            break;
        }
        for row in plan.candidates(index, tier) {
            let Some(found) = plan.tier(index.entries(row)) else {
                continue;
            };
            if tier.is_some_and(|t| t != found) {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            rows.push(row);
            if rows.len() as u64 == limit {
                break 'tiers;
            }
        }
    }
    let total = plan
        .candidates(index, None)
        .filter(|&row| plan.tier(index.entries(row)).is_some())
        .take(COUNT_CAP as usize)
        .count();
    (rows, total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annuaire::index::{Builder, Column, NAME, OTHER_NAMES};

    /// A person: nom d'exercice, prénom, city; the row is its position.
    fn people(rows: &[(&str, &str, &str)]) -> Index {
        let mut builder = Builder::default();
        for (last, first, city) in rows {
            builder.add(&[
                (Column::Text(NAME), last),
                (Column::Text(OTHER_NAMES), first),
                (Column::Text(PLACE), city),
                (Column::Field(Field::Kind), "PER"),
                (Column::Field(Field::Domain), if city == &"Lyon" { "lyon.test" } else { "paris.test" }),
            ]);
        }
        builder.finish()
    }

    fn rows(index: &Index, q: &str, offset: u64, limit: u64) -> Vec<u32> {
        find(index, &Query::parse(q).unwrap(), offset, limit, None).0
    }

    #[test]
    fn words_rank_by_name_then_other_names_then_anywhere() {
        let index = people(&[
            ("Abadie", "Martine", "Martinvast"),
            ("Bernard", "Martin", "Paris"),
            ("Martin", "Jean", "Lyon"),
            ("Martin", "Paul", "Paris"),
            ("Roux", "Paul", "Martin"),
        ]);
        assert_eq!(rows(&index, "martin ", 0, 20), [2, 3, 1, 4], "name, other names, anywhere; row order within");
        assert_eq!(rows(&index, "paul martin ", 0, 20), [3, 4], "the worst word places the row");
        assert_eq!(rows(&index, "martin lyon ", 0, 20), [2]);
        assert_eq!(rows(&index, "martin ville:paris", 0, 20), [3, 1], "a city must be in the place");
        assert_eq!(rows(&index, "martin ville:martin", 0, 20), [4]);
        assert!(rows(&index, "martin inconnu", 0, 20).is_empty(), "an unknown word matches nothing");
    }

    #[test]
    fn the_last_word_is_a_prefix_while_typing() {
        let index = people(&[("Abadie", "Martine", "Paris"), ("Martin", "Jean", "Lyon"), ("Marchand", "Léa", "Paris")]);
        assert_eq!(rows(&index, "mar", 0, 20), [1, 2, 0], "martin and marchand are names, martine another name");
        assert_eq!(rows(&index, "martin", 0, 20), [1, 0]);
        assert_eq!(rows(&index, "martin ", 0, 20), [1], "a finished word is whole");
        assert_eq!(rows(&index, "mar jean", 0, 20), Vec::<u32>::new(), "only the last word is a prefix");
        assert_eq!(rows(&index, "jean mar", 0, 20), [1]);
        assert_eq!(rows(&index, "m", 0, 20), Vec::<u32>::new(), "one letter is no prefix");
    }

    #[test]
    fn pages_walk_the_tiers_in_order_and_the_total_stops_at_the_cap() {
        let mut list = Vec::new();
        for i in 0..300 {
            list.push(if i % 3 == 0 { ("Durand", "Zoé", "Paris") } else { ("Blanc", "Durand", "Paris") });
        }
        let index = people(&list);
        let all = rows(&index, "durand", 0, 1000);
        assert_eq!(all.len(), 300);
        assert!(all[..100].iter().all(|r| r % 3 == 0) && all[100..].iter().all(|r| r % 3 != 0), "names first");
        let paged: Vec<u32> = (0..43).flat_map(|p| rows(&index, "durand", p * 7, 7)).collect();
        assert_eq!(paged, all, "pages of 7 across both tiers");
        let (_, total) = find(&index, &Query::parse("durand").unwrap(), 0, 20, None);
        assert_eq!(total, COUNT_CAP);
        let (page, total) = find(&index, &Query::parse("zoé durand").unwrap(), 95, 20, None);
        assert_eq!((page.len(), total), (5, 100), "an exact total under the cap");
        assert_eq!(find(&index, &Query::parse("durand").unwrap(), 0, 0, None), (vec![], COUNT_CAP), "nothing wanted");
    }

    #[test]
    fn lists_are_joined_skipping_what_only_some_hold() {
        // Word `a` in rows divisible by 2, `b` by 3, `c` by 5 (other names):
        // the join must find exactly the multiples of 30, among long runs.
        let mut builder = Builder::default();
        for i in 0..3000 {
            let words: Vec<&str> =
                [(2, "a"), (3, "b"), (5, "c")].iter().filter(|(n, _)| i % n == 0).map(|(_, w)| *w).collect();
            builder.add(&[(Column::Text(OTHER_NAMES), &words.join(" ")), (Column::Field(Field::Kind), "PER")]);
        }
        let index = builder.finish();
        let expected: Vec<u32> = (0..3000).filter(|i| i % 30 == 0).collect();
        assert_eq!(rows(&index, "a b c ", 0, 1000), expected);
        assert_eq!(rows(&index, "c b a type:PER", 0, 1000), expected);
        let a = index.postings(index.find("a").unwrap(), 1);
        let b = index.postings(index.find("b").unwrap(), 1);
        let mut union = Union::new(vec![a, b]);
        union.seek(7);
        assert_eq!(union.current(), Some(8));
        union.seek(2999);
        assert_eq!(union.current(), None);
        let joined: Vec<u32> = Join::new(vec![Union::new(vec![a]), Union::new(vec![b])]).collect();
        assert_eq!(joined, (0..3000).filter(|i| i % 6 == 0).collect::<Vec<_>>());
    }

    #[test]
    fn gallop_finds_the_first_row_at_or_after_the_target() {
        let rows: Vec<u32> = (0..100).map(|i| i * 2).collect();
        assert_eq!(gallop(&rows, 0), 0);
        assert_eq!(gallop(&rows, 3), 2);
        assert_eq!(gallop(&rows, 4), 2);
        assert_eq!(gallop(&rows, 197), 99);
        assert_eq!(gallop(&rows, 199), 100);
        assert_eq!(gallop(&[], 5), 0);
    }

    #[test]
    fn fields_filter_and_our_domain_is_left_out() {
        let index = people(&[("Martin", "Jean", "Lyon"), ("Martin", "Paul", "Paris"), ("Roux", "Léa", "Lyon")]);
        assert_eq!(rows(&index, "type:PER", 0, 20), [0, 1, 2], "no words: row order");
        assert!(rows(&index, "type:ORG", 0, 20).is_empty());
        let ours = |q: &str| find(&index, &Query::parse(q).unwrap(), 0, 20, Some("lyon.test"));
        assert_eq!(ours("martin"), (vec![1], 1));
        assert_eq!(ours("type:PER"), (vec![1], 1));
        assert_eq!(find(&index, &Query::parse("martin").unwrap(), 0, 20, Some("other.test")).1, 2);
    }
}
