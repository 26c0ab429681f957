//! Every listening socket of `mss serve`, bound before anything is served,
//! and the addresses they got (`ports.json`; port 0 picks one).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::Listen;
use crate::error::{CliError, failed};

/// The bound listeners; the optional ones when configured.
pub struct Listeners {
    pub mail: MailListeners,
    pub web: WebListeners,
}

/// Mail transport and access.
pub struct MailListeners {
    pub smtp: TcpListener,
    pub submission: TcpListener,
    pub imap: TcpListener,
    pub submissions: Option<TcpListener>,
    pub smtps: Option<TcpListener>,
    pub imaps: Option<TcpListener>,
}

/// The portal, the API and the rest of HTTP.
pub struct WebListeners {
    pub http: TcpListener,
    pub https: Option<TcpListener>,
    /// `/metrics` alone.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds every configured address (within the runtime, which the
    /// listeners register with); the first that fails stops the start.
    pub fn bind(listen: &Listen) -> Result<Self, CliError> {
        let (smtp, submission) = (bind("smtp", listen.smtp)?, bind("submission", listen.submission)?);
        let web = WebListeners {
            http: bind("http", listen.http)?,
            https: bind_some("https", listen.https)?,
            metrics: bind_some("metrics", listen.metrics)?,
        };
        let mail = MailListeners {
            smtp,
            submission,
            submissions: bind_some("submissions", listen.submissions)?,
            smtps: bind_some("smtps", listen.smtps)?,
            imap: bind("imap", listen.imap)?,
            imaps: bind_some("imaps", listen.imaps)?,
        };
        Ok(Self { mail, web })
    }

    /// The address each listener got, by name.
    pub fn ports(&self) -> Result<BTreeMap<&'static str, SocketAddr>, CliError> {
        let (mail, web) = (&self.mail, &self.web);
        let listeners = [
            ("smtp", Some(&mail.smtp)),
            ("submission", Some(&mail.submission)),
            ("imap", Some(&mail.imap)),
            ("http", Some(&web.http)),
            ("https", web.https.as_ref()),
            ("submissions", mail.submissions.as_ref()),
            ("smtps", mail.smtps.as_ref()),
            ("imaps", mail.imaps.as_ref()),
            ("metrics", web.metrics.as_ref()),
        ];
        let mut ports = BTreeMap::new();
        for (name, listener) in listeners {
            if let Some(listener) = listener {
                ports.insert(name, listener.local_addr().map_err(|e| failed(name, e))?);
            }
        }
        Ok(ports)
    }
}

fn bind(name: &str, addr: SocketAddr) -> Result<TcpListener, CliError> {
    mss_net::listen(addr).map_err(|e| failed(format!("{name}: cannot listen on {addr}"), e))
}

fn bind_some(name: &str, addr: Option<SocketAddr>) -> Result<Option<TcpListener>, CliError> {
    match addr {
        Some(addr) => Ok(Some(bind(name, addr)?)),
        None => Ok(None),
    }
}
