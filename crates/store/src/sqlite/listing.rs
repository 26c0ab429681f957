//! A page of a folder's list on SQLite ([`crate::FactsStore::folder_page`]):
//! no message is read.
//!
//! Without a search, the page's rows are picked from the folder's own
//! indexes (by UID, or by the sort keys copied on its rows), then LEFT
//! JOINed to their facts (a message without facts is listed all the same):
//! the rows before the page are never joined. With a search, the FTS5 index
//! leads: its matches are joined to their messages and kept in the folder,
//! then counted, sorted and paged.

use rusqlite::{Connection, ToSql};

use super::facts::{LISTED_COLUMNS, LISTED_COUNT, columns_row};
use super::folders::{folder_counts, meta_row};
use crate::sort_index::marked_rows;
use crate::words::query_words;
use crate::{FolderId, FolderPage, ListOrder, ListedMessage, PageQuery, StoreError};

/// The page; sorted by a key, from the folder's sort index when `indexed`
/// (see [`crate::sort_index`]).
pub(super) fn folder_page(
    conn: &Connection,
    folder: FolderId,
    query: &PageQuery,
    indexed: bool,
) -> Result<FolderPage, StoreError> {
    let fts = query.search.as_deref().map(fts_query).unwrap_or_default();
    let direction = if query.descending { "DESC" } else { "ASC" };
    // Of the columns of folder_messages named with `prefix`; the keys are
    // those copied on the folder's rows, which an index per folder orders.
    let order = |prefix: &str| match query.order {
        ListOrder::Arrival => format!("{prefix}uid {direction}"),
        ListOrder::Sender => format!("{prefix}sender_key {direction}, {prefix}uid DESC"),
        ListOrder::Subject => format!("{prefix}subject_key {direction}, {prefix}uid DESC"),
    };
    let (limit, offset) = (i64::from(query.limit), i64::try_from(query.offset).unwrap_or(i64::MAX));
    let mut bound: Vec<(&str, &dyn ToSql)> = vec![(":folder", &folder), (":limit", &limit), (":offset", &offset)];
    // The page's UIDs first, from narrow rows; then only they are joined to
    // their messages and facts. Each join in this order (CROSS JOIN),
    // whatever the folder's size.
    let page = if fts.is_empty() {
        // From the folder's own indexes: the rows before the page are never
        // joined, and the count is the folder's.
        format!(
            "SELECT uid AS page_uid, NULL AS matches FROM folder_messages WHERE folder_id = :folder{}
             ORDER BY {} LIMIT :limit OFFSET :offset",
            marked_rows(indexed),
            order("")
        )
    } else {
        // The full-text matches kept in the folder, counted in the same pass.
        bound.push((":fts", &fts));
        format!(
            "SELECT fm.uid AS page_uid, COUNT(*) OVER () AS matches {MATCHES} ORDER BY {} LIMIT :limit OFFSET :offset",
            order("fm.")
        )
    };
    let sql = format!(
        "SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at, mf.id IS NOT NULL, {LISTED_COLUMNS},
                page.matches
         FROM ({page}) page
         CROSS JOIN folder_messages fm ON fm.folder_id = :folder AND fm.uid = page.page_uid
         CROSS JOIN messages m ON m.id = fm.message_id
         LEFT JOIN message_facts mf ON mf.id = m.facts_id
         ORDER BY {}",
        order("fm.")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut matches: Option<i64> = None;
    let rows = stmt.query_map(&bound[..], |r| {
        let indexed: bool = r.get(6)?;
        let listed =
            ListedMessage { meta: meta_row(r)?, columns: if indexed { Some(columns_row(r, 7)?) } else { None } };
        Ok((listed, r.get::<_, Option<i64>>(7 + LISTED_COUNT)?))
    })?;
    let mut messages = Vec::new();
    for row in rows {
        let (listed, counted) = row?;
        matches = matches.or(counted);
        messages.push(listed);
    }
    let total = match matches {
        Some(total) => total,
        // No search: the folder's count, kept on its row.
        None if fts.is_empty() => i64::from(folder_counts(conn, folder)?.messages),
        // A page past the matches: counted apart.
        None => conn
            .prepare_cached(&format!("SELECT COUNT(*) {MATCHES}"))?
            .query_row(&[(":folder", &folder as &dyn ToSql), (":fts", &fts)][..], |r| r.get(0))?,
    };
    Ok(FolderPage { total: total.max(0) as u64, messages })
}

/// The folder's rows whose facts' text matches `:fts`: the full-text
/// matches first (rowids of their facts), then their messages, kept in
/// `:folder`, each through an index alone (`messages_facts_id`, and
/// `folder_messages_message`, whose entries hold the folder and UID): a
/// frequent word's thousands of matches read no facts' or messages' rows.
const MATCHES: &str = "FROM message_text t CROSS JOIN messages m ON m.facts_id = t.rowid
                       CROSS JOIN folder_messages fm ON fm.message_id = m.id
                       WHERE message_text MATCH :fts AND fm.folder_id = :folder";

/// An FTS5 query: every word, quoted (they hold letters and digits only),
/// the last as a prefix; empty when there is no word.
fn fts_query(search: &str) -> String {
    let words = query_words(search);
    let last = words.len().saturating_sub(1);
    let quoted: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, word)| if i == last { format!("\"{word}\"*") } else { format!("\"{word}\"") })
        .collect();
    quoted.join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_word_is_quoted_and_the_last_is_a_prefix() {
        assert_eq!(super::fts_query("Ordonnance  d'Élodie"), "\"ordonnance\" \"d\" \"elodie\"*");
        // FTS5 operators are words like any other, quoted.
        assert_eq!(super::fts_query("\" OR * NEAR("), "\"or\" \"near\"*");
        assert_eq!(super::fts_query(" ?! "), "");
    }
}
