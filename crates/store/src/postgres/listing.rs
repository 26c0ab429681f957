//! A page of a folder's list on PostgreSQL ([`crate::FactsStore::folder_page`]):
//! no message is read.
//!
//! Without a search, the page's rows are picked from the folder's own
//! indexes (by UID, or by the sort keys copied on its rows), then LEFT
//! JOINed to their facts (a message without facts is listed all the same):
//! the rows before the page are never joined. With a search, the full-text
//! matches (`message_text`, GIN index) are joined to their messages and kept
//! in the folder, then counted, sorted and paged.

use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;

use super::facts::{LISTED_COLUMNS, LISTED_COUNT, columns_row};
use super::folders::{folder_counts, meta_row};
use crate::sort_index::marked_rows;
use crate::words::query_words;
use crate::{FolderId, FolderPage, ListOrder, ListedMessage, PageQuery, StoreError};

/// The page; sorted by a key, from the folder's sort index when `indexed`
/// (see [`crate::sort_index`]).
pub(super) async fn folder_page(
    client: &Object,
    folder: FolderId,
    query: &PageQuery,
    indexed: bool,
) -> Result<FolderPage, StoreError> {
    let words = query.search.as_deref().map(ts_query).unwrap_or_default();
    let direction = if query.descending { "DESC" } else { "ASC" };
    // Of the columns of folder_messages named with `prefix`; the keys are
    // those copied on the folder's rows, which an index per folder orders.
    let order = |prefix: &str| match query.order {
        ListOrder::Arrival => format!("{prefix}uid {direction}"),
        ListOrder::Sender => format!("{prefix}sender_key {direction}, {prefix}uid DESC"),
        ListOrder::Subject => format!("{prefix}subject_key {direction}, {prefix}uid DESC"),
    };
    let (limit, offset) = (i64::from(query.limit), i64::try_from(query.offset).unwrap_or(i64::MAX));
    let mut bound: Vec<&(dyn ToSql + Sync)> = vec![&folder, &limit, &offset];
    // The page's UIDs first, from narrow rows; then only they are joined to
    // their messages and facts.
    let page = if words.is_empty() {
        // From the folder's own indexes: the rows before the page are never
        // joined, and the count is the folder's.
        format!(
            "SELECT uid AS page_uid, NULL::BIGINT AS matches FROM folder_messages WHERE folder_id = $1{}
             ORDER BY {} LIMIT $2 OFFSET $3",
            marked_rows(indexed),
            order("")
        )
    } else {
        // The full-text matches kept in the folder, counted in the same pass.
        bound.push(&words);
        format!(
            "SELECT fm.uid AS page_uid, COUNT(*) OVER () AS matches {} ORDER BY {} LIMIT $2 OFFSET $3",
            matches("$4"),
            order("fm.")
        )
    };
    let sql = format!(
        "SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at, mf.id IS NOT NULL, {LISTED_COLUMNS},
                page.matches
         FROM ({page}) page
         JOIN folder_messages fm ON fm.folder_id = $1 AND fm.uid = page.page_uid
         JOIN messages m ON m.id = fm.message_id
         LEFT JOIN message_facts mf ON mf.id = m.facts_id
         ORDER BY {}",
        order("fm.")
    );
    let stmt = client.prepare_cached(&sql).await?;
    let mut counted: Option<i64> = None;
    let mut messages = Vec::new();
    for r in client.query(&stmt, &bound).await? {
        let indexed: bool = r.try_get(6)?;
        let columns = if indexed { Some(columns_row(&r, 7)?) } else { None };
        messages.push(ListedMessage { meta: meta_row(&r)?, columns });
        counted = counted.or(r.try_get(7 + LISTED_COUNT)?);
    }
    let total: i64 = match counted {
        Some(total) => total,
        // No search: the folder's count, kept on its row.
        None if words.is_empty() => i64::from(folder_counts(client, folder).await?.messages),
        // A page past the matches: counted apart.
        None => {
            let stmt = client.prepare_cached(&format!("SELECT COUNT(*) {}", matches("$2"))).await?;
            client.query_one(&stmt, &[&folder, &words]).await?.try_get(0)?
        }
    };
    Ok(FolderPage { total: total.max(0) as u64, messages })
}

/// The folder's rows (`$1`) whose facts' text matches the tsquery text
/// `param` ([`ts_query`]): the full-text matches first, then their
/// messages, kept in the folder.
fn matches(param: &str) -> String {
    format!(
        "FROM message_text t JOIN message_facts mf ON mf.id = t.facts_id
         JOIN messages m ON m.blob_hash = mf.blob_hash
         JOIN folder_messages fm ON fm.message_id = m.id
         WHERE t.words @@ to_tsquery('simple', {param}::TEXT) AND fm.folder_id = $1"
    )
}

/// A tsquery: every word, folded as the index keeps it ([`query_words`]: only
/// letters and digits, so no operator of the tsquery syntax), quoted, the
/// last as a prefix; empty when there is no word.
fn ts_query(search: &str) -> String {
    let words = query_words(search);
    let last = words.len().saturating_sub(1);
    let quoted: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, word)| if i == last { format!("'{word}':*") } else { format!("'{word}'") })
        .collect();
    quoted.join(" & ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_word_is_folded_quoted_and_the_last_is_a_prefix() {
        assert_eq!(super::ts_query("Ordonnance  d'Élodie"), "'ordonnance' & 'd' & 'elodie':*");
        // Operators of the tsquery syntax separate words, and are never kept.
        assert_eq!(super::ts_query("' & | ! ( ) : * <-> OR"), "'or':*");
        assert_eq!(super::ts_query("a'b\\c:*"), "'a' & 'b' & 'c':*");
        assert_eq!(super::ts_query(" ?! "), "");
    }
}
