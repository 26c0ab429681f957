//! Identity: who a client of mss is.
//!
//! Today this is the development bearer token of `mss token ADDRESS`: a JWT
//! (RFC 7519) signed ES256 with the operator's own key, naming the mailbox
//! address it may act as, and the organisation certificate an applicative
//! mailbox is bound to. The same token is what SASL XOAUTH2 carries on
//! submission and IMAP; [`login`] is the one path from credentials to a
//! [`Principal`] both use. Pro Santé Connect and CPS logins (issue 5) will
//! issue the operator's session tokens through the same verification path.
//!
//! Rules kept here:
//! - a token is accepted only with a valid signature by our key, our issuer,
//!   and an expiry in the future; nothing in an unverified token is trusted;
//! - tokens are never stored: verification needs only the key;
//! - parsing is bounded (token length, SASL response length) and never panics;
//! - failed logins are throttled per client and per account ([`Throttle`]);
//! - logins half done are bounded per client and in all ([`flows`]).

pub mod account;
pub mod app_password;
pub mod cps;
pub mod flows;
pub mod login;
pub mod oidc;
pub mod psc;
pub mod sasl;
pub mod session;
pub mod throttle;
pub mod token;

pub use login::{LoginError, Principal};
pub use sasl::{BearerCredentials, BearerMechanism};
pub use session::{Authenticated, IssuedTokens, Method, Person, SessionAuthority, SessionError};
pub use throttle::Throttle;
pub use token::{Claims, TokenError, TokenKey};
