//! Crash safety: a writer killed with SIGKILL at an arbitrary moment leaves
//! the store in the state before or after each delivery, never in between:
//! no torn blob, no row naming a missing blob, no delivery half-applied
//! across its recipients, nothing acknowledged lost.
//!
//! The writer is this test binary re-run as a child (`crash_writer`, ignored
//! unless asked for by name), so the test needs no other program.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use mss_core::MailboxState;
use mss_store::{INBOX, Store, StoreConfig};

mod support;

const CHILD_DIR_ENV: &str = "MSS_STORE_CRASH_DIR";
const RECIPIENTS: [&str; 3] = ["a.a@pharma.test", "b.b@pharma.test", "c.c@pharma.test"];

/// A message whose content says its own length, so a short read shows.
fn message(seq: u64) -> Vec<u8> {
    let body_len = 4096 + (seq * 7919 % 600_000) as usize;
    let mut m = format!("X-Seq: {seq}\r\nX-Body-Length: {body_len}\r\n\r\n").into_bytes();
    m.extend(std::iter::repeat_n(b'a' + (seq % 26) as u8, body_len));
    m
}

#[tokio::test]
#[ignore = "the writer half of a_killed_writer_leaves_the_old_or_the_new_state; run by that test"]
async fn crash_writer() {
    let dir = std::env::var(CHILD_DIR_ENV).expect("run by the crash test only");
    let store = Store::open(&StoreConfig::Embedded { dir: dir.into() }).await.unwrap();
    let mut ids = Vec::new();
    for addr in RECIPIENTS {
        let existing = store.meta.mailbox(&support::address(addr)).await.unwrap();
        let mailbox = match existing {
            Some(m) => m,
            None => store.meta.create_mailbox(&support::person(addr, "10003621892")).await.unwrap(),
        };
        ids.push(mailbox.id);
    }
    let start = store.meta.folder_messages(ids[0], INBOX).await.unwrap().len() as u64;
    println!("ready {start}");
    for seq in start.. {
        store.deliver(&message(seq), &ids).await.unwrap();
        // Acknowledged: the parent may count on it from now on.
        println!("acked {seq}");
    }
}

#[tokio::test]
async fn a_killed_writer_leaves_the_old_or_the_new_state() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::Embedded { dir: dir.path().to_path_buf() };
    let mut acknowledged = 0u64;
    for round in 0..6u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_writer", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // libtest writes "test crash_writer ... " before our first line: match
        // on the markers anywhere in a line.
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel::<(bool, u64)>();
        let reader = std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                for (marker, is_ready) in [("ready ", true), ("acked ", false)] {
                    if let Some(n) = line.split(marker).nth(1).and_then(|n| n.trim().parse().ok()) {
                        let _ = tx.send((is_ready, n));
                    }
                }
            }
        });
        let ready = rx.recv_timeout(Duration::from_secs(60));
        // Let the writer run a little while, then kill it mid-flight.
        if ready.is_ok() {
            std::thread::sleep(Duration::from_millis(150 + round * 97 % 400));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        let (is_ready, start) = ready.expect("the writer started within a minute");
        assert!(is_ready, "round {round}: first line is ready");
        assert_eq!(start, acknowledged, "round {round}: the writer found every acknowledged delivery");
        if let Some(last) = rx.try_iter().filter(|(r, _)| !r).map(|(_, n)| n).last() {
            acknowledged = last + 1;
        }

        let store = Store::open(&config).await.unwrap();
        let mut counts = Vec::new();
        for addr in RECIPIENTS {
            let mailbox = store.meta.mailbox(&support::address(addr)).await.unwrap().unwrap();
            assert_eq!(mailbox.state, MailboxState::Active);
            let inbox = store.meta.folder_messages(mailbox.id, INBOX).await.unwrap();
            let uids: Vec<u32> = inbox.iter().map(|m| m.uid).collect();
            assert_eq!(uids, (1..=inbox.len() as u32).collect::<Vec<_>>(), "round {round}: UIDs without gaps");
            for (seq, m) in inbox.iter().enumerate() {
                let body = store.blobs.get(&m.blob).await.unwrap().expect("a row never names a missing blob");
                assert_eq!(body, message(seq as u64), "round {round}: message {seq} is whole");
                assert_eq!(m.size, body.len() as u64);
            }
            counts.push(inbox.len() as u64);
        }
        assert!(counts.iter().all(|&c| c == counts[0]), "round {round}: a delivery is all or nothing: {counts:?}");
        assert!(counts[0] >= acknowledged, "round {round}: {} stored < {acknowledged} acknowledged", counts[0]);
        acknowledged = counts[0];
        // Every blob on disk is whole (get() checks the hash), referenced or not.
        for hash in store.blobs.list().await.unwrap() {
            store.blobs.get(&hash).await.unwrap().unwrap();
        }
        // Debris cleared: what is left is the files this store made ahead.
        let spare = format!("spare.{}.", std::process::id());
        for entry in std::fs::read_dir(dir.path().join("blobs/tmp")).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(name.starts_with(&spare) && entry.metadata().unwrap().len() == 0, "debris left: {name}");
        }
    }
    assert!(acknowledged > 0, "the writer got to write");
}
