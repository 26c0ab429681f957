//! Identity: who a client of mss is.
//!
//! Today this is the development bearer token of `mss token ADDRESS`: a JWT
//! (RFC 7519) signed ES256 with the operator's own key, naming the mailbox
//! address it may act as. The same token is what SASL XOAUTH2 carries on
//! submission (and IMAP). Pro Santé Connect and CPS logins (issue 5) will
//! issue the operator's session tokens through the same verification path.
//!
//! Rules kept here:
//! - a token is accepted only with a valid signature by our key, our issuer,
//!   and an expiry in the future; nothing in an unverified token is trusted;
//! - tokens are never stored: verification needs only the key;
//! - parsing is bounded (token length) and never panics.

pub mod token;

pub use token::{Claims, TokenError, TokenKey};
