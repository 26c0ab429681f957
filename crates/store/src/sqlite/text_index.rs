//! The searchable text of new messages, indexed behind their
//! acknowledgement: a delivery waits for its rows, not for its FTS5 pages.
//!
//! A delivery or an APPEND hands its message's words (its text cut down,
//! [`IndexedText`], where its facts were made) to this module's
//! thread before the rows are linked ([`TextIndex::hand`]); the thread
//! gathers them, then, told the row of each one's facts
//! ([`Ticket::linked`]), writes them in a job for later of the writer (no
//! sync of its own, and it yields to deliveries: see [`super::writer`]).
//! Until then the facts are named in `text_pending`, written in the link's
//! transaction; the job removes them from there. A search first waits for
//! the texts handed before it ([`TextIndex::caught_up`]). A text lost in a
//! crash leaves its row in `text_pending`: the next backfill requeues it
//! (`requeue_unindexed_texts` writes its facts again, and their text, from
//! the message's bytes).
//!
//! Memory: words only (a few KB a message, at most 512 KB), and at most
//! [`WAITING_KIB`] of them wait for the thread or gathered by it (a sender
//! of messages made of distinct words cannot make the queue grow); a
//! delivery that finds no room waits for it. The whole text is cut down
//! where it is read, while the body is written: held until the link
//! instead, fifty deliveries of 200 KB at once held 10 MiB more (measured).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Transaction, params};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};

use super::writer::LaterJobs;
use crate::{BlobHash, IndexedText, StoreError};

/// KiB of words waiting for the thread or gathered by it at most: a
/// bound reached only if the thread stalls or texts of hundreds of KB of
/// distinct words arrive together (sixteen of the largest).
const WAITING_KIB: u32 = 8 * 1024;

/// Texts written together at most: FTS5 writes each transaction's words as
/// a segment of its own (each job of the writer is a savepoint, which
/// flushes them), so texts written together share their pages.
const BATCH: usize = 64;

/// The longest a text waits for others to be written with (unless a search
/// waits for it): about twenty deliveries of one connection.
const GATHER: Duration = Duration::from_millis(20);

/// The longest a search waits for the texts handed before it: past that,
/// it runs without the last ones (a disk that stalls the writer).
const CATCH_UP_MAX: Duration = Duration::from_secs(5);

/// What the thread receives.
enum Message {
    /// A message's words, handed before its rows are linked.
    Text(Handed),
    /// A search waits: write what is gathered now.
    Flush,
}

/// A message's words and what the thread must know of it.
struct Handed {
    blob: BlobHash,
    words: IndexedText,
    /// The row of its facts once linked; None (or the ticket dropped) when
    /// the link wrote no facts of its own or failed: nothing to index.
    linked: oneshot::Receiver<Option<i64>>,
    /// Its room among the [`WAITING_KIB`], given back once written.
    room: OwnedSemaphorePermit,
}

/// What a delivery keeps of its handed text: tells the indexer how the
/// link ended.
pub(super) struct Ticket(oneshot::Sender<Option<i64>>);

impl Ticket {
    /// The link committed, writing facts in row `facts` (None: facts of
    /// this version were there already, with their text).
    pub(super) fn linked(self, facts: Option<i64>) {
        let _ = self.0.send(facts);
    }
}

/// The indexer: its thread, and how far it got.
pub(super) struct TextIndex {
    messages: Option<mpsc::Sender<Message>>,
    room: Arc<Semaphore>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Texts handed so far.
    handed: AtomicU64,
    /// Texts done so far (indexed, or nothing to index).
    done: watch::Receiver<u64>,
}

impl TextIndex {
    /// Starts the thread; it sends its writes through `later`, which it
    /// drops when this is dropped.
    pub(super) fn start(later: LaterJobs) -> std::io::Result<Self> {
        let (messages, queue) = mpsc::channel();
        let (progress, done) = watch::channel(0);
        let thread = std::thread::Builder::new()
            .name("sqlite-text-index".into())
            .spawn(move || run(&queue, &later, &progress))?;
        Ok(Self {
            messages: Some(messages),
            room: Arc::new(Semaphore::new(WAITING_KIB as usize)),
            thread: Some(thread),
            handed: AtomicU64::new(0),
            done,
        })
    }

    /// Hands the words of the message `blob` (its text cut down) to the
    /// indexer, before its rows are linked. None when the indexer is gone
    /// (the text then stays pending until the next backfill).
    pub(super) async fn hand(&self, blob: BlobHash, words: IndexedText) -> Option<Ticket> {
        // Its size in KiB, rounded up; at most 512 (`words::INDEXED_MAX`).
        let kib = u32::try_from(words.as_str().len().div_ceil(1024)).unwrap_or(u32::MAX).clamp(1, WAITING_KIB);
        let room = self.room.clone().acquire_many_owned(kib).await.ok()?;
        let (ticket, linked) = oneshot::channel();
        self.messages.as_ref()?.send(Message::Text(Handed { blob, words, linked, room })).ok()?;
        self.handed.fetch_add(1, Ordering::SeqCst);
        Some(Ticket(ticket))
    }

    /// Returns once every text handed before the call is indexed (or at
    /// most [`CATCH_UP_MAX`] later).
    pub(super) async fn caught_up(&self) {
        let handed = self.handed.load(Ordering::SeqCst);
        if *self.done.borrow() >= handed {
            return;
        }
        if let Some(messages) = &self.messages {
            let _ = messages.send(Message::Flush);
        }
        let mut done = self.done.clone();
        if tokio::time::timeout(CATCH_UP_MAX, done.wait_for(|&done| done >= handed)).await.is_err() {
            tracing::warn!("search text index behind: a search runs without the last messages' text");
        }
    }
}

impl Drop for TextIndex {
    /// The texts handed are indexed first: the thread ends once the
    /// channel is empty, dropping its way to the writer.
    fn drop(&mut self) {
        drop(self.messages.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: texts gathered for up to [`GATHER`] or [`BATCH`] texts,
/// then written in one job for later.
fn run(queue: &mpsc::Receiver<Message>, later: &LaterJobs, progress: &watch::Sender<u64>) {
    let mut open = true;
    while open {
        let mut gathered: Vec<Handed> = Vec::new();
        let mut deadline: Option<Instant> = None;
        while gathered.len() < BATCH {
            let message = match deadline {
                None => queue.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(deadline) => queue.recv_timeout(deadline.saturating_duration_since(Instant::now())),
            };
            match message {
                Ok(Message::Text(handed)) => {
                    gathered.push(handed);
                    deadline.get_or_insert_with(|| Instant::now() + GATHER);
                }
                Ok(Message::Flush) if gathered.is_empty() => {}
                Ok(Message::Flush) | Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if !gathered.is_empty() && !write(gathered, later, progress) {
            return;
        }
    }
}

/// Sends the gathered texts whose links wrote facts to the writer; false
/// when it is gone.
fn write(gathered: Vec<Handed>, later: &LaterJobs, progress: &watch::Sender<u64>) -> bool {
    let count = gathered.len() as u64;
    // Every text keeps its room until the job is done, written or not.
    let mut rooms = Vec::with_capacity(gathered.len());
    let mut texts: Vec<(i64, BlobHash, IndexedText)> = Vec::with_capacity(gathered.len());
    for Handed { blob, words, linked, room } in gathered {
        rooms.push(room);
        if let Ok(Some(facts)) = linked.blocking_recv() {
            texts.push((facts, blob, words));
        }
    }
    if texts.is_empty() {
        progress.send_modify(|done| *done += count);
        return true;
    }
    let progress = progress.clone();
    later.send(
        move |tx| insert_texts(tx, &texts),
        move |outcome| {
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "search text not indexed; the next start requeues it");
            }
            // The words are let go with the job: their room with them.
            drop(rooms);
            progress.send_modify(|done| *done += count);
        },
    )
}

/// Indexes each text whose facts still wait for it (neither deleted nor
/// written again meanwhile, their row not reused by other facts).
fn insert_texts(tx: &Transaction<'_>, texts: &[(i64, BlobHash, IndexedText)]) -> Result<(), StoreError> {
    let mut pending = tx.prepare_cached(
        "DELETE FROM text_pending WHERE facts_id = ?1
            AND EXISTS (SELECT 1 FROM message_facts WHERE id = ?1 AND blob_hash = ?2)",
    )?;
    let mut insert = tx.prepare_cached("INSERT INTO message_text (rowid, text) VALUES (?1, ?2)")?;
    for (facts, blob, words) in texts {
        if pending.execute(params![facts, blob.to_hex()])? == 1 {
            insert.execute(params![facts, words.as_str()])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::super::tests::{message, store_with_inbox, temporary_store};
    use super::insert_texts;
    use crate::*;

    async fn found(store: &SqliteStore, folder: FolderId, search: &str) -> Vec<u32> {
        let query = PageQuery {
            order: ListOrder::Arrival,
            descending: false,
            offset: 0,
            limit: 100,
            search: Some(search.into()),
        };
        store.folder_page(folder, &query).await.unwrap().messages.iter().map(|m| m.meta.uid).collect()
    }

    async fn pending(store: &SqliteStore) -> Vec<i64> {
        store
            .read(|conn| {
                let mut stmt = conn.prepare("SELECT facts_id FROM text_pending ORDER BY 1")?;
                Ok(stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap()
    }

    async fn facts_id(store: &SqliteStore, raw: &'static [u8]) -> i64 {
        let blob = BlobHash::of(raw).to_hex();
        store
            .read(move |conn| {
                Ok(conn.query_row("SELECT id FROM message_facts WHERE blob_hash = ?1", [blob], |r| r.get(0))?)
            })
            .await
            .unwrap()
    }

    /// Messages delivered one after the other are each found by a search
    /// that follows at once: the search waits for the texts handed before
    /// it, indexed behind their acknowledgement; nothing stays pending.
    #[tokio::test]
    async fn a_search_finds_every_message_delivered_before_it() {
        let (_dir, store, mailbox, inbox) = store_with_inbox().await;
        for n in 1..=40 {
            let raw = format!("Subject: {n}\r\n\r\nordonnance {n}\r\n");
            let text = format!("Ordonnance renouvelée numéro{n}");
            store.link_message(message(raw.as_bytes(), &text), &[Placement::inbox(mailbox.id)]).await.unwrap();
            assert_eq!(found(&store, inbox.id, &format!("numero{n}")).await, [n], "message {n}");
        }
        assert_eq!(found(&store, inbox.id, "renouvelee").await, (1..=40).collect::<Vec<u32>>());
        assert_eq!(pending(&store).await, Vec::<i64>::new());
    }

    /// The words waiting for the indexer are bounded in bytes: texts of
    /// distinct words (up to 512 KB each) arriving faster than they are
    /// written make their deliveries wait, not the queue grow.
    #[tokio::test]
    async fn the_words_waiting_to_be_written_are_bounded_in_bytes() {
        let (_dir, store) = temporary_store().await;
        // The most words a text can give (`words::INDEXED_MAX`): 512 KiB counted.
        let distinct: Vec<String> = (0..70_000).map(|n| format!("w{n:06}")).collect();
        let largest = IndexedText::of(&distinct.join(" "));
        assert_eq!(largest.as_str().len().div_ceil(1024), 512);
        let hand = |n: u8| store.pool.texts.hand(BlobHash::of(&[n]), largest.clone());
        let mut tickets = Vec::new();
        // Links not committed yet: their words stay gathered, holding their room.
        for n in 0..16 {
            let ticket = tokio::time::timeout(std::time::Duration::from_secs(5), hand(n)).await;
            tickets.push(ticket.expect("room for sixteen of the largest").unwrap());
        }
        let seventeenth = hand(16);
        tokio::pin!(seventeenth);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(300), &mut seventeenth).await;
        assert!(waited.is_err(), "past 8 MiB of words a delivery waits");
        for ticket in tickets {
            ticket.linked(None);
        }
        let handed = tokio::time::timeout(std::time::Duration::from_secs(5), seventeenth).await;
        assert!(handed.expect("room once the others are done").is_some());
    }

    /// A text a stopped run never indexed (its facts left in
    /// `text_pending`) is requeued: its facts count as missing, and
    /// written again by the backfill they bring their text.
    #[tokio::test]
    async fn a_text_left_unindexed_by_a_stopped_run_is_requeued() {
        let (_dir, store, mailbox, inbox) = store_with_inbox().await;
        const RAW: &[u8] = b"Subject: Bilan\r\n\r\nbilan sanguin\r\n";
        let delivered = message(RAW, "Bilan sanguin");
        let facts = delivered.facts.clone().unwrap();
        store.link_message(delivered, &[Placement::inbox(mailbox.id)]).await.unwrap();
        assert_eq!(found(&store, inbox.id, "sanguin").await, [1]);
        // What a run stopped between the link and the indexing leaves.
        let id = facts_id(&store, RAW).await;
        store
            .write(move |tx| {
                tx.execute("DELETE FROM message_text WHERE rowid = ?1", [id])?;
                Ok(tx.execute("INSERT INTO text_pending (facts_id) VALUES (?1)", [id])?)
            })
            .await
            .unwrap();
        assert_eq!(found(&store, inbox.id, "sanguin").await, Vec::<u32>::new());
        assert_eq!(store.facts_backlog(1).await.unwrap(), FactsBacklog::default());

        assert_eq!(store.requeue_unindexed_texts().await.unwrap(), 1);
        assert_eq!(pending(&store).await, Vec::<i64>::new());
        assert_eq!(store.facts_backlog(1).await.unwrap(), FactsBacklog { messages: 1, blobs: 1 });
        assert_eq!(store.put_facts(&[facts]).await.unwrap(), 1);
        assert_eq!(found(&store, inbox.id, "sanguin").await, [1]);
        assert_eq!(store.facts_backlog(1).await.unwrap(), FactsBacklog::default());
        assert_eq!(store.requeue_unindexed_texts().await.unwrap(), 0, "nothing left to requeue");
    }

    /// A text arriving late goes only to the facts still waiting for it:
    /// not to facts that took over their row, not twice.
    #[tokio::test]
    async fn a_late_text_goes_only_to_the_facts_waiting_for_it() {
        let (_dir, store, mailbox, inbox) = store_with_inbox().await;
        const RAW: &[u8] = b"Subject: Nouveau\r\n\r\nnouveau\r\n";
        store.link_message(message(RAW, "Compte-rendu"), &[Placement::inbox(mailbox.id)]).await.unwrap();
        assert_eq!(found(&store, inbox.id, "compte").await, [1]);
        let id = facts_id(&store, RAW).await;
        // The row waits again; a text for another blob (an expunged
        // message whose row was reused) arrives first.
        let other = BlobHash::of(b"expunged");
        let blob = BlobHash::of(RAW);
        store
            .write(move |tx| {
                tx.execute("DELETE FROM message_text WHERE rowid = ?1", [id])?;
                tx.execute("INSERT INTO text_pending (facts_id) VALUES (?1)", [id])?;
                insert_texts(tx, &[(id, other, IndexedText::of("ancien"))])
            })
            .await
            .unwrap();
        assert_eq!(found(&store, inbox.id, "ancien").await, Vec::<u32>::new());
        assert_eq!(pending(&store).await, [id], "still waiting for its own text");
        let twice = [(id, blob, IndexedText::of("ordonnance")), (id, blob, IndexedText::of("doublon"))];
        store.write(move |tx| insert_texts(tx, &twice)).await.unwrap();
        assert_eq!(found(&store, inbox.id, "ordonnance").await, [1]);
        assert_eq!(found(&store, inbox.id, "doublon").await, Vec::<u32>::new(), "indexed once");
        assert_eq!(pending(&store).await, Vec::<i64>::new());
    }
}
