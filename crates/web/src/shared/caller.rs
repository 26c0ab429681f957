//! An authenticated caller: the API reads it from a bearer token, the
//! portal from its session cookie.

use mss_core::NationalId;
use mss_identity::Authenticated;

/// A person with a live session.
pub struct Caller(pub Authenticated);

impl Caller {
    /// Who they are: their national id.
    pub fn national_id(&self) -> &NationalId {
        &self.0.person.national_id
    }

    /// Their name in the audit trail.
    pub fn actor(&self) -> String {
        self.national_id().to_string()
    }
}
