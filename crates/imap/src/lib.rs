//! IMAP4rev2 (RFC 9051, also serving IMAP4rev1 clients) for mss: where
//! professionals' mail programs and pharmacy software read and file their
//! mail.
//!
//! - `server`: listeners, connection limits, STARTTLS and implicit TLS;
//! - `conn`: framing of commands and literals, with limits applied before
//!   bytes are read;
//! - `session`: the state machine and the commands; commands are parsed by
//!   imap-codec, responses written by `wire`;
//! - `message`: what FETCH, SEARCH and SORT read from a message (ENVELOPE,
//!   BODYSTRUCTURE, sections, text search, sort fields);
//! - `described`: ENVELOPE and BODYSTRUCTURE from the facts stored with a
//!   message, byte for byte what `message` writes from its bytes;
//! - `threading`: the pure half of SORT and THREAD (RFC 5256): base
//!   subjects, message identifiers, the threading algorithms;
//! - `uid_cache`: the UIDs of large folders, kept between sessions and
//!   brought up to date at each SELECT.
//!
//! This crate decides nothing about who may do what: logins go through
//! `mss-identity`, rights come from the roles of `mss-core`, and every
//! change goes through `mss-store`, which commits before we answer.
//!
//! Rules kept here:
//! - nothing is read past a limit known before the bytes arrive: a command
//!   is bounded as a whole (to credentials' size before login), a literal
//!   over a limit is refused before it is sent;
//! - nothing is buffered for a client that does not read: responses are
//!   written as they are made, and a client that accepts nothing for the
//!   write timeout is given up;
//! - what proved a login is checked again before each command and during
//!   IDLE, the rights on a shared mailbox before anything of it is shown.

mod conn;
mod described;
pub mod message;
mod server;
mod session;
mod threading;
mod uid_cache;
pub mod wire;

pub use conn::{Conn, Stream};
pub use server::{ImapServer, Limits, TlsPeer};
pub use uid_cache::UidCache;
