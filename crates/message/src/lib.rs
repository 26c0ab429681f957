//! Where a message is parsed once, for every part of mss that needs to know
//! what it says: SMTP policy, IMAP ENVELOPE, the webmail. Two readers of the
//! same header that disagree (policy checking the last `From:`, display
//! showing the first) are how a sender gets spoofed, so there is one reader
//! per fact, here.
//!
//! - [`fields`]: a header's fields as written (the one splitter of header
//!   lines, folding included), and [`header`], the originator fields
//!   (`From:`, `Sender:`, `Reply-To:`) read from them, with the RFC 5322
//!   §3.6 counts enforced.
//! - [`facts`]: what a message says, read once when it is stored (envelope,
//!   MIME part tree with offsets, MSSanté facts), and [`stored`], the form
//!   the store keeps it in.
//! - [`documents`]: the health documents attached (IHE XDM packages, CDA),
//!   read with `mss_documents`, and the document subject convention.
//! - [`packaging`]: a bare CDA the sender attached, packaged as IHE XDM.
//! - [`sort_keys`]: what IMAP SORT compares (base subject, casemapped
//!   keys), kept with the facts.
//! - [`parsed`]: mail-parser called safely (no panic, no recursive drop),
//!   the one way mss parses with it.
//!
//! This crate does no I/O and decides no access: it says what a message
//! claims; `smtp` (and `core`) decide whether that claim is allowed.

pub mod documents;
pub mod facts;
pub mod fields;
pub mod header;
pub mod packaging;
pub mod parsed;
pub mod search;
pub mod sort_keys;
pub mod stored;

pub use facts::Facts;
pub use header::{HeaderError, Mailbox, Originators, originators};
pub use stored::stored;
