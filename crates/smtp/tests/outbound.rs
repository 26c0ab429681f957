//! The outbound queue worker against a real inbound peer on loopback:
//! delivery over mutual TLS, retries while the peer is down, reports to the
//! sender on refusal and on expiry, and no delivery to an unlisted peer.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mss_core::EmailAddress;
use mss_smtp::outbound::Routes;
use mss_smtp::{Limits, Outbound, RetryPolicy};
use mss_store::{RecipientStatus, now_unix};
use mss_trust::pki::CertificateAuthority;
use support::Site;

const MESSAGE: &[u8] = b"From: <alice@ours.test>\r\nTo: <bob@peer.test>\r\nSubject: Compte rendu\r\n\r\n.Bonjour\r\n";

struct Pair {
    ours: Site,
    peer: Site,
}

/// Two operators that trust each other.
async fn pair() -> Pair {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let ours = Site::new(&ca, "ours.test").await;
    let peer = Site::new(&ca, "peer.test").await;
    ours.trust("peer.test", &peer.cert.subject.to_string()).await;
    peer.trust("ours.test", &ours.cert.subject.to_string()).await;
    Pair { ours, peer }
}

fn worker(site: &Site, routes: &[(&str, SocketAddr)]) -> Outbound {
    Outbound {
        store: site.store.clone(),
        domain: site.domain.parse().unwrap(),
        hostname: site.host.clone(),
        tls: site.tls.trust_space_client().unwrap(),
        routes: Routes { fixed: routes.iter().map(|(d, a)| (d.to_string(), *a)).collect::<HashMap<_, _>>(), dns: None },
        peers: site.peers.clone(),
        retry: RetryPolicy { first_delay: Duration::from_secs(30), ..RetryPolicy::default() },
        wake: Arc::default(),
    }
}

fn addresses(list: &[&str]) -> Vec<EmailAddress> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

async fn enqueue(site: &Site, to: &[&str], expires_in: i64) {
    site.store.enqueue(MESSAGE, "alice@ours.test", &addresses(to), now_unix() + expires_in).await.unwrap();
}

#[tokio::test]
async fn a_queued_message_reaches_the_peer_over_mutual_tls() {
    let p = pair().await;
    let bob = p.peer.mailbox("bob@peer.test").await;
    let carol = p.peer.mailbox("carol@peer.test").await;
    let addr = p.peer.start_inbound(Limits::default()).await;
    enqueue(&p.ours, &["bob@peer.test", "carol@peer.test"], 3600).await;

    assert_eq!(worker(&p.ours, &[("peer.test", addr)]).run_once().await.unwrap(), 2);
    for mailbox in [bob, carol] {
        let inbox = p.peer.inbox(mailbox).await;
        assert_eq!(inbox.len(), 1);
        assert!(inbox[0].ends_with(MESSAGE), "the message arrives whole, dots and all");
    }
    assert!(p.ours.store.meta.queue().await.unwrap().is_empty(), "delivered messages leave the queue");
}

#[tokio::test]
async fn a_peer_that_is_down_is_retried_and_delivered_when_it_comes_back() {
    let p = pair().await;
    let bob = p.peer.mailbox("bob@peer.test").await;
    // A port nobody listens on, for now.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    enqueue(&p.ours, &["bob@peer.test"], 3600).await;
    let outbound = worker(&p.ours, &[("peer.test", addr)]);

    assert_eq!(outbound.run_once().await.unwrap(), 1);
    let queued = p.ours.store.meta.queue().await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].status, queued[0].attempts), (RecipientStatus::Pending, 1));
    assert!(queued[0].last_reply.starts_with("451 cannot connect"), "{}", queued[0].last_reply);
    let delay = queued[0].next_attempt_at - now_unix();
    assert!((20..=40).contains(&delay), "backoff with jitter around 30 s: {delay}");
    assert_eq!(outbound.run_once().await.unwrap(), 0, "not due yet");

    // The peer comes back on its address; an administrator asks for a retry.
    p.peer.serve_inbound(tokio::net::TcpListener::bind(addr).await.unwrap(), Limits::default());
    assert!(p.ours.store.meta.retry_now(queued[0].message).await.unwrap());
    assert_eq!(outbound.run_once().await.unwrap(), 1);
    assert_eq!(p.peer.inbox(bob).await.len(), 1);
    assert!(p.ours.store.meta.queue().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_permanent_refusal_is_reported_to_the_sender_in_french_and_english() {
    let p = pair().await;
    let alice = p.ours.mailbox("alice@ours.test").await;
    let bob = p.peer.mailbox("bob@peer.test").await;
    let addr = p.peer.start_inbound(Limits::default()).await;
    enqueue(&p.ours, &["bob@peer.test", "nobody@peer.test"], 3600).await;

    worker(&p.ours, &[("peer.test", addr)]).run_once().await.unwrap();
    assert_eq!(p.peer.inbox(bob).await.len(), 1, "the valid recipient still gets it");
    let reports = p.ours.inbox(alice).await;
    assert_eq!(reports.len(), 1, "one report");
    let report = String::from_utf8(reports[0].clone()).unwrap();
    assert!(report.contains("report-type=delivery-status"), "{report}");
    assert!(report.contains("Final-Recipient: rfc822; nobody@peer.test"), "{report}");
    assert!(report.contains("Status: 5.1.1"), "{report}");
    assert!(!report.contains("rfc822; bob@peer.test"), "only the failed recipient: {report}");
    assert!(report.contains("n'a pas pu être remis") && report.contains("could not be delivered"));
    assert!(p.ours.store.meta.queue().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_expired_message_is_given_up_and_reported() {
    let p = pair().await;
    let alice = p.ours.mailbox("alice@ours.test").await;
    enqueue(&p.ours, &["bob@peer.test"], -1).await;
    worker(&p.ours, &[]).run_once().await.unwrap();
    let report = String::from_utf8(p.ours.inbox(alice).await.remove(0)).unwrap();
    assert!(report.contains("Status: 5.4.7"), "{report}");
    assert!(p.ours.store.meta.queue().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_peer_whose_certificate_is_not_listed_for_the_domain_gets_nothing() {
    let p = pair().await;
    let bob = p.peer.mailbox("bob@peer.test").await;
    let addr = p.peer.start_inbound(Limits::default()).await;
    // Another operator of the same trust space claims other.test, whose
    // listed operator is someone else.
    p.ours.trust("other.test", "CN=mss.other.test,OU=1,O=OTHER,ST=Paris (75),C=FR").await;
    enqueue(&p.ours, &["dan@other.test"], 3600).await;
    worker(&p.ours, &[("other.test", addr)]).run_once().await.unwrap();
    let queued = p.ours.store.meta.queue().await.unwrap();
    assert_eq!(queued[0].status, RecipientStatus::Pending);
    assert!(queued[0].last_reply.contains("is not listed for other.test"), "{}", queued[0].last_reply);
    assert!(p.peer.inbox(bob).await.is_empty());
}

/// A DNS server on loopback (UDP) that knows two zones: `peer.test`, whose
/// MX is `mx.peer.test` at 127.0.0.1 (preceded by an unreachable
/// `down.peer.test` of better preference), and `nomail.test`, a null MX.
async fn dns_server() -> SocketAddr {
    use hickory_resolver::proto::op::{Message, MessageType};
    use hickory_resolver::proto::rr::rdata::{A, MX};
    use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else { return };
            let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
            let mut response = Message::response(query.metadata.id, query.metadata.op_code);
            response.metadata.recursion_desired = query.metadata.recursion_desired;
            response.metadata.recursion_available = true;
            debug_assert_eq!(response.metadata.message_type, MessageType::Response);
            for q in &query.queries {
                response.add_query(q.clone());
                let name = q.name().clone();
                let host = name.to_ascii();
                let answer = |rdata: RData| Record::from_rdata(name.clone(), 60, rdata);
                match (q.query_type(), host.as_str()) {
                    (RecordType::MX, "peer.test.") => {
                        response
                            .add_answer(answer(RData::MX(MX::new(5, Name::from_ascii("down.peer.test.").unwrap()))));
                        response.add_answer(answer(RData::MX(MX::new(10, Name::from_ascii("mx.peer.test.").unwrap()))));
                    }
                    (RecordType::MX, "nomail.test.") => {
                        response.add_answer(answer(RData::MX(MX::new(0, Name::root()))));
                    }
                    (RecordType::A, "mx.peer.test.") => {
                        response.add_answer(answer(RData::A(A::new(127, 0, 0, 1))));
                    }
                    (RecordType::A, "down.peer.test.") => {
                        response.add_answer(answer(RData::A(A::new(127, 0, 0, 2))));
                    }
                    _ => {}
                }
            }
            let _ = socket.send_to(&response.to_vec().unwrap(), from).await;
        }
    });
    addr
}

#[tokio::test]
async fn without_a_static_route_the_mx_records_are_followed() {
    let p = pair().await;
    let alice = p.ours.mailbox("alice@ours.test").await;
    let bob = p.peer.mailbox("bob@peer.test").await;
    let peer_addr = p.peer.start_inbound(Limits::default()).await;
    let dns = mss_smtp::outbound::Dns::with_servers(&[dns_server().await], peer_addr.port()).unwrap();
    let outbound = Outbound { routes: Routes { fixed: HashMap::new(), dns: Some(dns) }, ..worker(&p.ours, &[]) };

    enqueue(&p.ours, &["bob@peer.test"], 3600).await;
    outbound.run_once().await.unwrap();
    assert_eq!(p.peer.inbox(bob).await.len(), 1, "delivered to mx.peer.test after down.peer.test failed");

    // A null MX (RFC 7505): the domain takes no mail, the sender is told at once.
    enqueue(&p.ours, &["x@nomail.test"], 3600).await;
    outbound.run_once().await.unwrap();
    let report = String::from_utf8(p.ours.inbox(alice).await.remove(0)).unwrap();
    assert!(report.contains("Status: 5.1.10"), "{report}");
    assert!(p.ours.store.meta.queue().await.unwrap().is_empty());
}

/// RFC 3461 both ways: NOTIFY=SUCCESS, ORCPT and ENVID go to a peer that
/// offers DSN; the peer delivers, and its success report comes back to the
/// sender over the same trust; NOTIFY=NEVER silences a failure report.
#[tokio::test]
async fn delivery_notifications_asked_are_passed_on_and_honoured() {
    use mss_store::{Dsn, RecipientDsn};
    let p = pair().await;
    let alice = p.ours.mailbox("alice@ours.test").await;
    let bob = p.peer.mailbox("bob@peer.test").await;
    let peer_addr = p.peer.start_inbound(Limits::default()).await;
    let ours_addr = p.ours.start_inbound(Limits::default()).await;
    let asked = RecipientDsn { notify: Some("SUCCESS,FAILURE".into()), orcpt: Some("rfc822;bob@peer.test".into()) };
    let never = RecipientDsn { notify: Some("NEVER".into()), orcpt: None };
    let to = |a: &str| a.parse::<EmailAddress>().unwrap();
    let dsn = Dsn { ret: Some("HDRS".into()), envid: Some("ENV-42".into()) };
    p.ours
        .store
        .enqueue_with_dsn(
            MESSAGE.into(),
            "alice@ours.test",
            &[to("bob@peer.test"), to("nobody@peer.test")],
            now_unix() + 3600,
            dsn,
            vec![asked, never],
        )
        .await
        .unwrap();
    worker(&p.ours, &[("peer.test", peer_addr)]).run_once().await.unwrap();
    assert_eq!(p.peer.inbox(bob).await.len(), 1);
    assert!(p.ours.inbox(alice).await.is_empty(), "NOTIFY=NEVER: no failure report; success is the peer's to say");

    // The peer reports the delivery it was asked about, back to us.
    let back = p.peer.store.meta.queue().await.unwrap();
    assert_eq!((back.len(), back[0].sender.as_str(), back[0].recipient.as_str()), (1, "", "alice@ours.test"));
    worker(&p.peer, &[("ours.test", ours_addr)]).run_once().await.unwrap();
    let reports = p.ours.inbox(alice).await;
    assert_eq!(reports.len(), 1);
    let report = String::from_utf8_lossy(&reports[0]);
    for expected in [
        "Original-Envelope-Id: ENV-42\r\n",
        "Original-Recipient: rfc822;bob@peer.test\r\nFinal-Recipient: rfc822; bob@peer.test\r\nAction: delivered\r\nStatus: 2.0.0",
    ] {
        assert!(report.contains(expected), "{expected:?} in {report}");
    }
}

/// A TCP relay to `to` that counts the peer's turns: how many times the
/// peer's bytes followed ours, the round trips of the session.
async fn turn_counter(to: SocketAddr) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let turns = Arc::new(AtomicUsize::new(0));
    let counted = turns.clone();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = tokio::net::TcpStream::connect(to).await.unwrap();
        let (mut client_in, mut client_out) = client.into_split();
        let (mut server_in, mut server_out) = server.into_split();
        // Whether the client spoke last: the server's next bytes are a turn.
        let client_spoke = Arc::new(AtomicBool::new(true));
        let spoke = client_spoke.clone();
        let upstream = tokio::spawn(async move {
            let mut buf = vec![0; 64 * 1024];
            while let Ok(n @ 1..) = client_in.read(&mut buf).await {
                spoke.store(true, Ordering::SeqCst);
                if server_out.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = server_out.shutdown().await;
        });
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n @ 1..) = server_in.read(&mut buf).await {
            if client_spoke.swap(false, Ordering::SeqCst) {
                counted.fetch_add(1, Ordering::SeqCst);
            }
            if client_out.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_out.shutdown().await;
        let _ = upstream.await;
    });
    (addr, turns)
}

/// RFC 2920: the peer offers PIPELINING, so MAIL, every RCPT and DATA go
/// together; a message to three recipients takes as many round trips as
/// one to a single recipient (between operators, each is tens of ms).
#[tokio::test]
async fn commands_are_pipelined_so_recipients_cost_no_round_trip() {
    let p = pair().await;
    let (bob, carol, dan) = (
        p.peer.mailbox("bob@peer.test").await,
        p.peer.mailbox("carol@peer.test").await,
        p.peer.mailbox("dan@peer.test").await,
    );
    let addr = p.peer.start_inbound(Limits::default()).await;
    let mut turns = Vec::new();
    for to in [&["bob@peer.test"][..], &["bob@peer.test", "carol@peer.test", "dan@peer.test"]] {
        let (relay, counted) = turn_counter(addr).await;
        enqueue(&p.ours, to, 3600).await;
        assert_eq!(worker(&p.ours, &[("peer.test", relay)]).run_once().await.unwrap(), to.len());
        turns.push(counted.load(std::sync::atomic::Ordering::SeqCst));
    }
    assert_eq!(turns[0], turns[1], "round trips with one recipient, then three");
    assert!(turns[0] > 4, "the relay saw the session: {turns:?}");
    assert_eq!(p.peer.inbox(bob).await.len(), 2);
    for mailbox in [carol, dan] {
        assert_eq!(p.peer.inbox(mailbox).await.len(), 1);
    }
    assert!(p.ours.store.meta.queue().await.unwrap().is_empty());
}

/// Pipelined, every recipient refused: the peer refuses DATA too, nothing
/// is delivered, the sender gets the report and the queue is empty.
#[tokio::test]
async fn a_pipelined_transaction_whose_recipients_are_all_refused_ends_cleanly() {
    let p = pair().await;
    let alice = p.ours.mailbox("alice@ours.test").await;
    let bob = p.peer.mailbox("bob@peer.test").await;
    let addr = p.peer.start_inbound(Limits::default()).await;
    enqueue(&p.ours, &["nobody@peer.test", "ghost@peer.test"], 3600).await;
    worker(&p.ours, &[("peer.test", addr)]).run_once().await.unwrap();
    let report = String::from_utf8(p.ours.inbox(alice).await.remove(0)).unwrap();
    for expected in ["Final-Recipient: rfc822; nobody@peer.test", "Final-Recipient: rfc822; ghost@peer.test"] {
        assert!(report.contains(expected), "{expected} in {report}");
    }
    assert!(report.contains("Status: 5.1.1"), "{report}");
    assert!(p.peer.inbox(bob).await.is_empty());
    assert!(p.ours.store.meta.queue().await.unwrap().is_empty());
    // The peer's session stayed in step: the next message goes through.
    enqueue(&p.ours, &["bob@peer.test"], 3600).await;
    assert_eq!(worker(&p.ours, &[("peer.test", addr)]).run_once().await.unwrap(), 1);
    assert_eq!(p.peer.inbox(bob).await.len(), 1);
}
