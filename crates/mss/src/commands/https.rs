//! The HTTP and HTTPS listeners, for `axum::serve`.
//!
//! Both admit connections as the mail listeners do ([`mss_net`]): bounded in
//! all and per client address, the oldest evicted when a newcomer needs the
//! room, each closed after [`HTTP_IDLE`] without a byte either way or after
//! [`HTTP_LIFETIME`] (a slow client trickling headers holds one slot for a
//! while, never the listener). HTTPS serves the same routes over TLS with
//! the operator certificate.
//!
//! Handshakes run in their own tasks, each bounded in time, so a client that
//! stalls its handshake holds one task and nothing else; at most
//! [`HANDSHAKES`] run at once, the accept loop waits beyond that. A client
//! may present a CPS card's certificate ([`ConnectedClient`]); the portal's card
//! login reads it, and the logins started count against the client's
//! address ([`ClientAddress`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::middleware::Next;
use axum::response::Response;
use axum::serve::IncomingStream;
use mss_net::{Admission, AdmissionLimits, Guarded};
use mss_web::{ClientAddress, PresentedCertificate};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::server::TlsStream;

/// Handshakes in progress at most.
const HANDSHAKES: usize = 512;

/// Time a connection may go without a byte in either direction.
const HTTP_IDLE: Duration = Duration::from_secs(60);
/// Time a connection may live (a large download on a slow line included).
const HTTP_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The bounds of one HTTP listener. No HTTP connection is ever proven (a
/// session is a cookie, not a connection): they all share one pool.
const HTTP_ADMISSION: AdmissionLimits = AdmissionLimits {
    max_connections: 0,
    max_per_address: 0,
    max_unproven: 2048,
    // Browsers open six connections each; a pharmacy's NAT hides a dozen.
    max_unproven_per_address: 128,
    unproven_lifetime: HTTP_LIFETIME,
};

/// TCP connections admitted by [`mss_net`], each a [`Guarded`] stream.
pub struct AdmittedTcp {
    tcp: TcpListener,
    admission: Arc<Admission>,
    name: &'static str,
}

impl AdmittedTcp {
    pub fn new(tcp: TcpListener, name: &'static str) -> Self {
        let admission = Admission::new(HTTP_ADMISSION);
        if let Ok(address) = tcp.local_addr() {
            mss_net::listeners::register(name, address, &admission);
        }
        Self { tcp, admission, name }
    }

    /// The next admitted connection; refused ones are closed at once.
    async fn next(&self) -> (Guarded<TcpStream>, SocketAddr) {
        loop {
            let (stream, peer) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait, do not spin.
                    tracing::warn!(listener = self.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            match self.admission.admit(peer.ip()) {
                Ok(ticket) => return (Guarded::new(stream, ticket, HTTP_IDLE), peer),
                Err(refusal) => tracing::warn!(listener = self.name, %peer, ?refusal, "connection refused"),
            }
        }
    }
}

impl axum::serve::Listener for AdmittedTcp {
    type Io = Guarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        self.next().await
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Connections whose TLS handshake succeeded, in the order they did.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<Guarded<TcpStream>>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`; handshakes with `config`.
    pub fn start(tcp: AdmittedTcp, config: Arc<tokio_rustls::rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.tcp.local_addr()?;
        let (send, ready) = mpsc::channel(64);
        let permits = Arc::new(Semaphore::new(HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else { return };
                let (stream, peer) = tcp.next().await;
                if send.is_closed() {
                    return;
                }
                let (config, ready) = (config.clone(), send.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Some(handshake) = mss_net::tls_handshake(config, stream, "https", peer).await {
                        let _ = ready.send((handshake.stream, peer)).await;
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<Guarded<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accept task only ends with the runtime.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// What a connection showed of its client: its address and, over HTTPS,
/// the certificate chain it presented in the handshake, if any (checked by
/// it).
#[derive(Debug, Clone)]
pub struct ConnectedClient {
    address: std::net::IpAddr,
    chain: Option<Vec<Vec<u8>>>,
}

impl Connected<IncomingStream<'_, TlsListener>> for ConnectedClient {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        let address = stream.remote_addr().ip();
        let (_, connection) = stream.io().get_ref();
        let chain = connection.peer_certificates().map(|certs| certs.iter().map(|c| c.to_vec()).collect());
        Self { address, chain }
    }
}

impl Connected<IncomingStream<'_, AdmittedTcp>> for ConnectedClient {
    fn connect_info(stream: IncomingStream<'_, AdmittedTcp>) -> Self {
        Self { address: stream.remote_addr().ip(), chain: None }
    }
}

/// Hands what the connection showed to the routes: [`ClientAddress`], and
/// the presented chain as [`PresentedCertificate`].
pub async fn client_facts(
    ConnectInfo(client): ConnectInfo<ConnectedClient>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(ClientAddress(client.address));
    if let Some(chain) = client.chain {
        request.extensions_mut().insert(PresentedCertificate(chain));
    }
    next.run(request).await
}
