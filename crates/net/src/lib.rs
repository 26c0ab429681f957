//! Admission of connections on the mail listeners (SMTP, submission, IMAP).
//!
//! Two bounds protect a listener: the connections in all, and those from one
//! client address. The second is what keeps a single host (a slowloris
//! attacker, a client leaking connections) from taking every slot while
//! other hosts wait: past its share, that host's new connections are
//! answered at once with the protocol's "busy" reply and closed.
//!
//! [`accept_loop`] is the loop both protocols run: accept, admit or refuse,
//! then hand the connection to the protocol with its [`Ticket`] held for
//! the life of the session. This crate knows nothing of SMTP or IMAP.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// The bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Simultaneous connections in all.
    pub max_connections: usize,
    /// Simultaneous connections from one client address.
    pub max_per_address: usize,
}

/// Who is connected to one listener.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken.
    Full,
    /// This address holds its share already.
    AddressFull,
}

/// A slot, held for the life of a connection and given back on drop.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    address: IpAddr,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Self { limits, open: Mutex::new(Open::default()) })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        // The counts stay right even if a holder panicked: every change is
        // one statement.
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for a connection from `address`, if there is one.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Ticket, Refusal> {
        let mut open = self.open();
        if open.total >= self.limits.max_connections {
            return Err(Refusal::Full);
        }
        let held = open.per_address.entry(address).or_insert(0);
        if *held >= self.limits.max_per_address {
            return Err(Refusal::AddressFull);
        }
        *held += 1;
        open.total += 1;
        Ok(Ticket { admission: self.clone(), address })
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open().total
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.admission.open();
        open.total = open.total.saturating_sub(1);
        if let Some(held) = open.per_address.get_mut(&self.address) {
            *held -= 1;
            if *held == 0 {
                open.per_address.remove(&self.address);
            }
        }
    }
}

/// Accepts connections until the task is dropped. Each admitted one runs
/// `session` in its own task; a refused one gets `busy` and is closed.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    admission: Arc<Admission>,
    protocol: &'static str,
    busy: &'static [u8],
    session: F,
) where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to close.
                tracing::warn!(protocol, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Replies are written whole: send them at once rather than wait for
        // the client's delayed ACK (Nagle).
        let _ = tcp.set_nodelay(true);
        match admission.admit(peer.ip()) {
            Ok(ticket) => {
                let running = session(tcp, peer);
                tokio::spawn(async move {
                    running.await;
                    drop(ticket);
                });
            }
            Err(refusal) => {
                tracing::warn!(protocol, %peer, ?refusal, "connection refused");
                tokio::spawn(refuse(tcp, busy));
            }
        }
    }
}

async fn refuse(mut tcp: TcpStream, busy: &'static [u8]) {
    // A peer that does not read gets no more than this of our time.
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.write_all(busy)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: AdmissionLimits = AdmissionLimits { max_connections: 3, max_per_address: 2 };

    #[test]
    fn an_address_gets_its_share_and_the_listener_its_total() {
        let admission = Admission::new(LIMITS);
        let (a, b, c): (IpAddr, IpAddr, IpAddr) =
            ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
        let first = admission.admit(a).unwrap();
        let _second = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).unwrap_err(), Refusal::AddressFull);
        let _third = admission.admit(b).unwrap();
        assert_eq!(admission.admit(c).unwrap_err(), Refusal::Full);
        assert_eq!(admission.open_connections(), 3);
        drop(first);
        assert_eq!(admission.open_connections(), 2);
        let _again = admission.admit(a).expect("a slot given back is free again");
    }

    #[tokio::test]
    async fn the_loop_runs_admitted_sessions_and_answers_the_others_busy() {
        use tokio::io::AsyncReadExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admission = Admission::new(AdmissionLimits { max_connections: 10, max_per_address: 1 });
        let server =
            tokio::spawn(accept_loop(listener, admission.clone(), "test", b"busy\r\n", |mut tcp, _| async move {
                let _ = tcp.write_all(b"hello\r\n").await;
                let mut rest = Vec::new();
                let _ = tcp.read_to_end(&mut rest).await;
            }));
        let read_line = |mut tcp: TcpStream| async move {
            let mut buf = [0u8; 7];
            tcp.read_exact(&mut buf[..6]).await.unwrap();
            (tcp, buf)
        };
        let (held, greeting) = read_line(TcpStream::connect(addr).await.unwrap()).await;
        assert_eq!(&greeting[..6], b"hello\r");
        let (_, refusal) = read_line(TcpStream::connect(addr).await.unwrap()).await;
        assert_eq!(&refusal[..6], b"busy\r\n");
        drop(held);
        // The session ends when its peer closes; its slot then frees.
        for _ in 0..100 {
            if admission.open_connections() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (_, greeting) = read_line(TcpStream::connect(addr).await.unwrap()).await;
        assert_eq!(&greeting[..6], b"hello\r");
        server.abort();
    }
}
