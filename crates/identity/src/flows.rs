//! Logins half done (OpenID Connect flows, CPS challenges) wait in the
//! store ([`LoginFlowStore`]); this is how many may, and how a client is
//! counted. One client (an address group, see [`mss_net::Group`]: an
//! IPv6 host owns its /64) keeps at most [`LIMITS`]`.per_client` of a kind,
//! its oldest making room for its newest: a client looping on the login
//! page fills its own share, not the place of the pharmacist starting a
//! login beside it. In all, past [`LIMITS`]`.total` pending of a kind, new
//! logins are refused until some finish or expire.
//!
//! [`LoginFlowStore`]: mss_store::LoginFlowStore

use std::net::IpAddr;

use mss_store::FlowLimits;

/// A hundred per client covers the staff of a hospital behind one address
/// starting their logins within the same ten minutes.
pub const LIMITS: FlowLimits = FlowLimits { per_client: 100, total: 100_000 };

/// How a client is named in the store: its address group.
pub fn client_group(address: IpAddr) -> String {
    mss_net::Group::of(address).to_string()
}
