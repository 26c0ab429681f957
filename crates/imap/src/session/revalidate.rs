//! What proved a session, checked again while it is open: a logout, a
//! revoked login session, a suspended mailbox or an unbound certificate
//! ends the session (`* BYE`, RFC 9051 §7.1.5) before its next command and,
//! during IDLE, within `Limits::revalidate_every`; a role withdrawn on the
//! selected shared mailbox closes that mailbox before anything more of it is
//! reported (`* OK [CLOSED]`, RFC 9051 §7.1).

use mss_identity::login;
use mss_store::now_unix;

use super::{Reply, Session, State};

impl Session<'_> {
    /// The `* BYE` to end the session with when its login no longer holds
    /// (a store failure ends it too: nothing is served unchecked). Audited.
    pub(super) async fn login_revoked(&mut self) -> Option<Vec<u8>> {
        let principal = self.principal.as_ref()?;
        let reason = match login::revoked(self.server.store.meta.as_ref(), principal, now_unix()).await {
            Ok(None) => return None,
            Ok(Some(revoked)) => revoked.to_string(),
            Err(e) => {
                tracing::error!(error = %e, "imap: cannot check the login");
                "Temporary server failure, try again".to_string()
            }
        };
        tracing::info!(peer = %self.peer, user = %principal.address(), %reason, "imap: login no longer holds");
        let address = principal.address().to_string();
        self.record("imap.revoked", &address, "", &Reply::no(reason.clone()).with_code("UNAVAILABLE")).await;
        Some(format!("* BYE [UNAVAILABLE] {reason}\r\n").into_bytes())
    }

    /// Reads the rights on the selected mailbox again when it is another
    /// than the principal's own; when they no longer allow reading, the
    /// mailbox is closed and the refusal returned.
    pub(super) async fn selected_still_allowed(&mut self) -> Result<(), Reply> {
        let own = self.principal.as_ref().map(|p| p.mailbox.id);
        let Some(selected) = self.selected().filter(|s| Some(s.mailbox) != own) else {
            return Ok(());
        };
        let name = selected.name.clone();
        match self.resolve_with(&name, 'r').await {
            Ok(target) => {
                if let Some(selected) = self.selected() {
                    selected.rights = target.rights;
                }
                Ok(())
            }
            Err(_) => {
                self.state = State::Authenticated;
                self.out.extend_from_slice(b"* OK [CLOSED] Access to the mailbox was withdrawn\r\n");
                Err(Reply::no("Access to this mailbox was withdrawn").with_code("NOPERM"))
            }
        }
    }
}
