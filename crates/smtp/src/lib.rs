//! SMTP for mss: the inbound MTA of the trust space, where peer operators
//! deliver mail to our mailboxes over mutual TLS, and the outbound queue
//! worker that delivers to them, and submission: what our users send, over
//! SMTP or from the webmail ([`submit`]).
//!
//! The grammar is smtp-proto's; this crate is the behaviour: the session state
//! machine, the trust decisions it asks `mss-trust` and `mss-store` for, the
//! limits, and the replies.
//!
//! Implementation notes, the rules that keep mail from being lost or leaked:
//! - **No mail without trust.** MAIL FROM is refused before STARTTLS (RFC 3207
//!   §4), without a client certificate chaining to a trust anchor, and when the
//!   certificate DN is not the one the liste blanche names for the sender's
//!   domain. The reply says which.
//! - **250 means durable.** The reply to the final dot is sent only after the
//!   store has fsynced the blob and committed the rows; a store failure is a
//!   4xx, so the peer keeps the message.
//! - **No relaying.** On the MTA port RCPT TO accepts only active mailboxes of our
//!   domain.
//! - **Bytes pipelined before STARTTLS are discarded** (RFC 3207 §4.2, the
//!   command-injection attack), and the session starts over after it.
//! - **A queued message leaves the queue only when every recipient is
//!   final** (delivered, or failed and reported to the sender); outbound
//!   peers are held to the same trust rules as inbound ones.
//! - **Only `<CR><LF>.<CR><LF>` ends a message** ([`data`]), and a bare CR
//!   or LF in it refuses it: no command can be smuggled inside message data.
//! - **A message says who it is from once**: one `From:`, judged by the
//!   header policy against the user or the peer's liste blanche domains.
//! - **Every wait is bounded**: command and data timeouts, replies left
//!   unread, line length, message size, recipients per message, errors per
//!   session, connections.

pub mod data;
pub mod notify;
pub mod outbound;
mod packaging;
pub mod peers;
mod policy;
mod reply;
pub mod server;
pub mod submit;

pub use outbound::{Outbound, RetryPolicy};
pub use peers::PeerTrust;
pub use reply::Reply;
pub use server::{Limits, Mode, SmtpServer, Submission};
pub use submit::Submitter;
