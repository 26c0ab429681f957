//! The UID lists kept between sessions (`uid_cache`): a SELECT after
//! deliveries, expunges, moves and flag changes made elsewhere shows exactly
//! the folder's messages, whether its list was kept, brought up to date or
//! evicted. The test server keeps every folder's list, at most 64 UIDs.

mod support;

use mss_core::MailboxKind;
use mss_imap::Limits;
use support::*;

const ALICE: &str = "alice.martin@ours.test";

/// The folder's UIDs as a new session sees them after SELECT, and its
/// EXISTS.
async fn selected_uids(site: &Site, addr: std::net::SocketAddr, folder: &str) -> (usize, Vec<u32>) {
    let mut c = logged_in(site, addr, ALICE).await;
    let selected = c.cmd(&format!("SELECT {folder}")).await;
    assert!(selected.ok(), "{selected:?}");
    let exists = selected.lines("EXISTS")[0].split(' ').nth(1).unwrap().parse().unwrap();
    let fetched = c.cmd("FETCH 1:* (UID)").await;
    let uids = fetched
        .lines("FETCH")
        .iter()
        .map(|l| l.rsplit_once("UID ").unwrap().1.trim_end_matches(')').parse().unwrap())
        .collect();
    (exists, uids)
}

#[tokio::test]
async fn a_folder_selected_again_shows_what_changed_elsewhere() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    for i in 1..=6 {
        site.deliver(alice, &message(&format!("m{i}"), "corps")).await;
    }
    assert_eq!(selected_uids(&site, addr, "INBOX").await, (6, vec![1, 2, 3, 4, 5, 6]));

    // Another session expunges two, moves one away, flags one; two arrive.
    let mut other = logged_in(&site, addr, ALICE).await;
    assert!(other.cmd("SELECT INBOX").await.ok());
    assert!(other.cmd("UID STORE 2,4 +FLAGS (\\Deleted)").await.ok());
    assert!(other.cmd("EXPUNGE").await.ok());
    assert!(other.cmd("UID MOVE 5 Archive").await.ok());
    assert!(other.cmd("UID STORE 1 +FLAGS (\\Seen)").await.ok());
    site.deliver(alice, &message("m7", "corps")).await;
    site.deliver(alice, &message("m8", "corps")).await;
    assert_eq!(selected_uids(&site, addr, "INBOX").await, (5, vec![1, 3, 6, 7, 8]));
    // Nothing changed since: the same again.
    assert_eq!(selected_uids(&site, addr, "INBOX").await, (5, vec![1, 3, 6, 7, 8]));
    assert_eq!(selected_uids(&site, addr, "Archive").await, (1, vec![1]));

    // A folder as large as every list kept together pushes the others out;
    // each is read again, right, when selected.
    let mut large = logged_in(&site, addr, ALICE).await;
    assert!(large.cmd("CREATE Ordonnances").await.ok());
    for i in 1..=64 {
        let body = message(&format!("o{i}"), "corps");
        let appended = large.cmd(&format!("APPEND Ordonnances {{{}+}}\r\n{body}", body.len())).await;
        assert!(appended.ok(), "{appended:?}");
    }
    let (exists, uids) = selected_uids(&site, addr, "Ordonnances").await;
    assert_eq!((exists, uids), (64, (1..=64).collect::<Vec<u32>>()));
    assert_eq!(selected_uids(&site, addr, "INBOX").await, (5, vec![1, 3, 6, 7, 8]));
    assert!(other.cmd("UID STORE 1 +FLAGS (\\Deleted)").await.ok());
    assert!(other.cmd("UID EXPUNGE 1").await.ok());
    assert_eq!(selected_uids(&site, addr, "INBOX").await, (4, vec![3, 6, 7, 8]));
    // A folder deleted and made again under the same name starts empty.
    assert!(large.cmd("DELETE Ordonnances").await.ok());
    assert!(large.cmd("CREATE Ordonnances").await.ok());
    assert_eq!(selected_uids(&site, addr, "Ordonnances").await, (0, vec![]));
}
