//! How a listener's socket is opened: [`listen`], for every listener of the
//! process (mail, HTTP, metrics).
//!
//! The kernel completes a client's TCP handshake on its own and keeps the
//! connection in the listener's queue until `accept` takes it; when that
//! queue is full it drops the client's SYN, and the client sends it again
//! after a second (then three, then seven). Tokio's `TcpListener::bind`
//! asks for a queue of 128: a burst of a few hundred connections at once
//! (a peer operator flushing its queue, the pharmacies' software all
//! reconnecting after a restart) overflowed it, and each connection left
//! out waited a second: `mss-bench smtp --connections 200 --reuse`, whose
//! connections all open at once, had 45 SYNs dropped and a p99 of 1.0 s in
//! some runs (the kernel's `ListenOverflows`), 0.15 s in the others.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Connections the kernel holds for a listener before `accept` takes them;
/// the kernel caps it at `net.core.somaxconn` (4096 by default since Linux
/// 5.4). Each waiting connection costs the kernel a socket, nothing of mss.
pub const BACKLOG: u32 = 4096;

/// A listener on `addr` with a queue of [`BACKLOG`] connections, its address
/// reusable at once after a restart (`SO_REUSEADDR`, as Tokio's own bind).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A burst of 300 connections while nobody accepts: every one of them
    /// is queued by the kernel at once (past a queue of 128, the rest would
    /// wait a second for their SYN to be sent again), then accepted.
    #[tokio::test]
    async fn a_burst_of_connections_is_queued_whole_while_nobody_accepts() {
        const BURST: usize = 300;
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connects = (0..BURST).map(|_| tokio::spawn(tokio::net::TcpStream::connect(addr)));
        let all = established(connects.collect());
        let clients = tokio::time::timeout(Duration::from_millis(900), all)
            .await
            .expect("every connection established before a SYN is sent again");
        assert_eq!(clients.len(), BURST);
        for _ in 0..BURST {
            listener.accept().await.unwrap();
        }
    }

    /// Waits for each task in turn; their connections stay open.
    async fn established(
        tasks: Vec<tokio::task::JoinHandle<std::io::Result<tokio::net::TcpStream>>>,
    ) -> Vec<tokio::net::TcpStream> {
        let mut clients = Vec::with_capacity(tasks.len());
        for task in tasks {
            clients.push(task.await.unwrap().unwrap());
        }
        clients
    }

    /// The address of a listener on port 0 is the one the kernel chose, and
    /// an address already taken is refused with the system's error.
    #[tokio::test]
    async fn a_taken_address_is_refused() {
        let first = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let err = listen(addr).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    }
}
