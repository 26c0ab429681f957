//! A page of a folder's list on SQLite ([`crate::FactsStore::folder_page`]):
//! the folder's rows, LEFT JOINed to their facts (a message without facts is
//! listed all the same), narrowed by the FTS5 index when searching, then
//! counted, sorted and paged by SQLite: no message is read.

use rusqlite::{Connection, ToSql};

use super::facts::{LISTED_COLUMNS, columns_row};
use super::folders::meta_row;
use crate::{FolderId, FolderPage, ListOrder, ListedMessage, PageQuery, StoreError, search_words};

pub(super) fn folder_page(conn: &Connection, folder: FolderId, query: &PageQuery) -> Result<FolderPage, StoreError> {
    let fts = query.search.as_deref().map(fts_query).unwrap_or_default();
    let mut bound: Vec<(&str, &dyn ToSql)> = vec![(":folder", &folder)];
    let mut from = "FROM folder_messages fm JOIN messages m ON m.id = fm.message_id
                    LEFT JOIN message_facts mf ON mf.blob_hash = m.blob_hash
                    WHERE fm.folder_id = :folder"
        .to_string();
    let total: i64 = if fts.is_empty() {
        conn.prepare_cached("SELECT COUNT(*) FROM folder_messages WHERE folder_id = :folder")?
            .query_row(&bound[..], |r| r.get(0))?
    } else {
        from.push_str(" AND mf.id IN (SELECT rowid FROM message_text WHERE message_text MATCH :fts)");
        bound.push((":fts", &fts));
        conn.prepare_cached(&format!("SELECT COUNT(*) {from}"))?.query_row(&bound[..], |r| r.get(0))?
    };
    let direction = if query.descending { "DESC" } else { "ASC" };
    let order = match query.order {
        ListOrder::Arrival => format!("fm.uid {direction}"),
        ListOrder::Sender => format!("COALESCE(mf.sender_key, '') {direction}, fm.uid DESC"),
        ListOrder::Subject => format!("COALESCE(mf.subject_key, '') {direction}, fm.uid DESC"),
    };
    let (limit, offset) = (i64::from(query.limit), i64::try_from(query.offset).unwrap_or(i64::MAX));
    bound.push((":limit", &limit));
    bound.push((":offset", &offset));
    let sql = format!(
        "SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at, mf.id IS NOT NULL, {LISTED_COLUMNS}
         {from} ORDER BY {order} LIMIT :limit OFFSET :offset"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(&bound[..], |r| {
        let indexed: bool = r.get(6)?;
        Ok(ListedMessage { meta: meta_row(r)?, columns: if indexed { Some(columns_row(r, 7)?) } else { None } })
    })?;
    let messages = rows.collect::<Result<_, _>>()?;
    Ok(FolderPage { total: total.max(0) as u64, messages })
}

/// An FTS5 query: every word, quoted (they hold letters and digits only),
/// the last as a prefix; empty when there is no word.
fn fts_query(search: &str) -> String {
    let words = search_words(search);
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
        assert_eq!(super::fts_query("Ordonnance  d'Élodie"), "\"Ordonnance\" \"d\" \"Élodie\"*");
        // FTS5 operators are words like any other, quoted.
        assert_eq!(super::fts_query("\" OR * NEAR("), "\"OR\" \"NEAR\"*");
        assert_eq!(super::fts_query(" ?! "), "");
    }
}
