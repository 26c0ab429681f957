//! One CREATE made 2,000 nested folders: folder names are bounded in depth
//! and length, and a mailbox in its number of folders, for CREATE and
//! RENAME alike, with `NO [LIMIT]` (RFC 5530) and nothing changed.

mod support;

use mss_core::MailboxKind;
use mss_imap::Limits;
use support::*;

const ALICE: &str = "alice.martin@ours.test";

async fn alice() -> (Site, mss_store::MailboxId, TlsClient) {
    let site = Site::new().await;
    let id = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let client = logged_in(&site, addr, ALICE).await;
    (site, id, client)
}

fn nested(levels: usize) -> String {
    vec!["d"; levels].join("/")
}

#[tokio::test]
async fn one_create_cannot_make_thousands_of_nested_folders() {
    let (site, id, mut c) = alice().await;
    let before = site.store.meta.folders(id).await.unwrap().len();
    let create = c.cmd(&format!("CREATE {}", nested(2000))).await;
    assert!(create.status() == "NO" && create.tagged.contains("[LIMIT]"), "{create:?}");
    assert_eq!(site.store.meta.folders(id).await.unwrap().len(), before, "nothing was made");
    let too_deep = c.cmd(&format!("CREATE {}", nested(17))).await;
    assert!(too_deep.tagged.contains("[LIMIT]"), "{too_deep:?}");
    assert!(c.cmd(&format!("CREATE {}", nested(16))).await.ok(), "16 levels are allowed");
}

#[tokio::test]
async fn folder_names_are_bounded_in_length() {
    let (_site, _, mut c) = alice().await;
    let level = c.cmd(&format!("CREATE {}", "n".repeat(256))).await;
    assert!(level.tagged.contains("[LIMIT]"), "{level:?}");
    assert!(c.cmd(&format!("CREATE {}", "n".repeat(255))).await.ok());
    let whole = c.cmd(&format!("CREATE {}", vec!["n".repeat(250); 5].join("/"))).await;
    assert!(whole.tagged.contains("[LIMIT]"), "1,254 bytes in all: {whole:?}");
}

#[tokio::test]
async fn a_mailbox_holds_at_most_a_thousand_folders() {
    let (site, id, mut c) = alice().await;
    let existing = site.store.meta.folders(id).await.unwrap().len();
    for n in existing..999 {
        site.store.meta.create_folder(id, &format!("F{n}")).await.unwrap();
    }
    assert!(c.cmd("CREATE Last").await.ok(), "the 1,000th folder");
    let over = c.cmd("CREATE OneTooMany").await;
    assert!(over.status() == "NO" && over.tagged.contains("[LIMIT]"), "{over:?}");
    let parents = c.cmd("RENAME Last New/Parent/Last").await;
    assert!(parents.tagged.contains("[LIMIT]"), "a rename making parents counts them: {parents:?}");
    assert!(c.cmd("RENAME Last Renamed").await.ok(), "a plain rename adds nothing");
}

#[tokio::test]
async fn a_rename_cannot_push_subfolders_past_the_limits() {
    let (site, id, mut c) = alice().await;
    assert!(c.cmd("CREATE Projet/a/b/c").await.ok());
    let before: Vec<String> = site.store.meta.folders(id).await.unwrap().into_iter().map(|f| f.name).collect();
    // Projet/a/b/c is 4 levels; under 14 more it would be 17.
    let deep = c.cmd(&format!("RENAME Projet {}", nested(14))).await;
    assert!(deep.status() == "NO" && deep.tagged.contains("[LIMIT]"), "{deep:?}");
    let long = c.cmd(&format!("RENAME Projet/a {}", "n".repeat(256))).await;
    assert!(long.tagged.contains("[LIMIT]"), "{long:?}");
    let after: Vec<String> = site.store.meta.folders(id).await.unwrap().into_iter().map(|f| f.name).collect();
    assert_eq!(before, after, "nothing was renamed");
    assert!(c.cmd(&format!("RENAME Projet {}", nested(13))).await.ok(), "16 levels in all are allowed");
}
