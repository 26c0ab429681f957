//! A FETCH of a whole mailbox of big messages to a client that does not
//! read: the server must not buffer the mailbox. Measured with a counting
//! allocator: this test binary runs the server in its own process (nextest
//! runs each test alone), so the heap it reports is the server's, and the
//! peak during the FETCH is exact (RSS would blur it with the allocator's
//! caching and the kernel's socket buffers, which are not ours).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mss_core::MailboxKind;
use mss_imap::Limits;
use support::*;
use tokio::io::AsyncReadExt;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// The one unsafe item of the test suite, allowed here only: a global
// allocator must implement an unsafe trait. SAFETY: every call is forwarded
// to the system allocator unchanged; the counters only observe sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ALICE: &str = "alice.martin@ours.test";
const MESSAGES: usize = 40;
const MESSAGE_BYTES: usize = 1024 * 1024;

/// A message of about `MESSAGE_BYTES`, in 76-character lines.
fn big_message(n: usize) -> String {
    let line = format!("{}\r\n", "y".repeat(76));
    message(&format!("big-{n}"), &line.repeat(MESSAGE_BYTES / line.len()))
}

#[tokio::test]
async fn fetching_a_mailbox_of_big_messages_to_a_client_that_does_not_read_holds_little() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    for n in 0..MESSAGES {
        site.deliver(alice, &big_message(n)).await;
    }
    let addr = site.start(Limits::default()).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    assert!(c.cmd("SELECT INBOX").await.ok());

    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    c.send(b"f1 FETCH 1:* BODY.PEEK[]\r\n").await;
    // The client reads nothing while the server fills the socket.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    eprintln!("peak heap growth during FETCH of {MESSAGES} x 1 MiB to a client that does not read: {held} bytes");
    assert!(held < 8 * MESSAGE_BYTES, "the server held {held} bytes for a client that does not read");

    // The responses are all there once the client reads.
    let fetched = c.until("f1").await;
    assert!(fetched.ok(), "{}", fetched.tagged);
    assert_eq!(fetched.lines("FETCH").len(), MESSAGES);
    assert!(fetched.untagged.contains("Subject: big-39"));
}

#[tokio::test]
async fn a_client_that_stops_reading_is_given_up_after_the_write_timeout() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    for n in 0..MESSAGES {
        site.deliver(alice, &big_message(n)).await;
    }
    let addr = site.start(Limits { write_timeout: Duration::from_millis(500), ..Limits::default() }).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    assert!(c.cmd("SELECT INBOX").await.ok());
    c.send(b"f1 FETCH 1:* BODY.PEEK[]\r\n").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // What the kernel held is delivered, then the connection is closed
    // before the FETCH could complete.
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), c.io.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the connection was closed");
    assert!(received.len() < MESSAGES * MESSAGE_BYTES, "{} bytes arrived", received.len());
    assert!(!received.windows(6).any(|w| w == b"\nf1 OK"), "the server gave up before completing");
}
