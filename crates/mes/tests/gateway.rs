//! The simulated gateway facing a hostile or careless operator, over real
//! TLS on loopback: nothing before STARTTLS, nothing from a certificate
//! outside the trust anchors, Mon espace santé's reply to each bad
//! recipient, a message over 25 MB refused and not kept, an endless line
//! ending the connection.

use std::sync::Arc;

use mss_mes::MonEspaceSante;
use mss_trust::pki::{CertificateAuthority, OperatorIdentity};
use mss_trust::tls::TlsMaterial;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// An operator's TLS material: its certificate issued by `issuer`, trusting `anchors`.
fn operator(issuer: &CertificateAuthority, anchors: &CertificateAuthority) -> TlsMaterial {
    let who = OperatorIdentity {
        host: "mss.ours.test".into(),
        organisation: "OURS".into(),
        unit: "12345678900012".into(),
        state: "Paris (75)".into(),
    };
    let cert = issuer.issue_operator(&who).unwrap();
    TlsMaterial::from_pem(&cert.chain_pem, &cert.key_pem, anchors.cert_pem()).unwrap()
}

/// A gateway knowing the development patients, and its address.
async fn gateway(ca: &CertificateAuthority) -> (Arc<MonEspaceSante>, std::net::SocketAddr) {
    let cert = ca.issue_operator(&mss_mes::gateway_identity()).unwrap();
    let tls = TlsMaterial::from_pem(&cert.chain_pem, &cert.key_pem, ca.cert_pem()).unwrap();
    // Nothing is delivered to professionals here.
    let nowhere = "127.0.0.1:9".parse().unwrap();
    let mes = MonEspaceSante::new(&tls, nowhere, mss_mes::development_patients(&[])).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mss_mes::serve(mes.clone(), listener));
    (mes, addr)
}

struct Client<S>(BufReader<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.0.read_line(&mut line).await.unwrap_or(0) == 0 {
                return all + "(closed)";
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    async fn cmd(&mut self, line: &str) -> String {
        if self.0.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.is_err() {
            return "(closed)".into();
        }
        self.reply().await
    }
}

/// Connected and past STARTTLS, presenting `tls`'s certificate.
async fn connected(
    addr: std::net::SocketAddr,
    tls: &TlsMaterial,
) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut plain = Client(BufReader::new(TcpStream::connect(addr).await.unwrap()));
    assert!(plain.reply().await.starts_with("220"));
    assert!(plain.cmd("EHLO mss.ours.test").await.contains("STARTTLS"));
    assert!(plain.cmd("MAIL FROM:<a@ours.test>").await.starts_with("530 5.7.0"), "nothing before STARTTLS");
    assert!(plain.cmd("STARTTLS").await.starts_with("220"));
    let name = ServerName::try_from("patient.mssante.fr").unwrap();
    let config = tls.trust_space_client().unwrap();
    let stream = TlsConnector::from(config).connect(name, plain.0.into_inner()).await.unwrap();
    let mut c = Client(BufReader::new(stream));
    assert!(c.cmd("EHLO mss.ours.test").await.starts_with("250"));
    c
}

#[tokio::test]
async fn an_operator_outside_the_anchors_is_refused() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let (_, addr) = gateway(&ca).await;
    let other = CertificateAuthority::generate("Autre racine", "AUTRE").unwrap();
    let mut c = connected(addr, &operator(&other, &ca)).await;
    assert!(c.cmd("MAIL FROM:<a@evil.test>").await.starts_with("550 5.7.1"));
}

#[tokio::test]
async fn each_bad_recipient_gets_mon_espace_santes_reply_and_a_message_over_25_mb_is_not_kept() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let (mes, addr) = gateway(&ca).await;
    let mut c = connected(addr, &operator(&ca, &ca)).await;
    assert!(c.cmd("RCPT TO:<279035121518989@patient.mssante.fr>").await.starts_with("503"), "MAIL first");
    assert!(c.cmd("MAIL FROM:<pharmacie@ours.test>").await.starts_with("250"));
    for (to, expected) in [
        ("279035121518988@patient.mssante.fr", "553 5.1.3"),
        ("not an address", "553 5.1.3"),
        ("180017512345660@patient.mssante.fr", "550 5.1.1"),
    ] {
        let reply = c.cmd(&format!("RCPT TO:<{to}>")).await;
        assert!(reply.starts_with(expected), "{to}: {reply}");
    }
    assert!(c.cmd("RCPT TO:<279035121518989@patient.mssante.fr>").await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));
    let header = "From: <pharmacie@ours.test>\r\nTo: <279035121518989@patient.mssante.fr>\r\nSubject: Radio\r\n\r\n";
    c.0.get_mut().write_all(header.as_bytes()).await.unwrap();
    let chunk = format!("{}\r\n", "A".repeat(998)).repeat(1024);
    for _ in 0..27 {
        c.0.get_mut().write_all(chunk.as_bytes()).await.unwrap();
    }
    let reply = c.cmd(".").await;
    assert!(reply.starts_with("552 5.3.4"), "{reply}");
    assert!(mes.mailbox("279035121518989").unwrap().messages.is_empty(), "nothing kept");
    // The session goes on; an endless line ends it.
    assert!(c.cmd("NOOP").await.starts_with("250"));
    assert_eq!(c.cmd(&"X".repeat(5000)).await, "(closed)");
}
