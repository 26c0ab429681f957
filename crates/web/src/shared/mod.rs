//! What the API and the portal both use, owned by neither (neither imports
//! the other): who is calling, the use cases of `mss_ops` with this
//! site's state (store, domain, CGU, directory) and their refusals as
//! [`Problem`](crate::Problem)s in French, and what sending from this site
//! takes (the message built, a health document packaged, the routes).

mod caller;
mod creation;
pub mod document;
mod mailboxes;
pub mod outgoing;
pub mod sending;

pub use caller::Caller;
pub use creation::{CreateRequest, PENDING_MESSAGE, preview_address, request_mailbox};
pub use mailboxes::{access, change_role, managed, search_directory, trail, visible_mailboxes};
