//! Messages leaving Mon espace santé: a patient's message or read receipt,
//! built here and delivered over SMTP with STARTTLS to the professional's
//! operator, presenting the gateway's certificate (mutual TLS, as between
//! operators of the trust space).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mss_core::{EmailAddress, patients};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// How long one exchange with the operator may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The longest reply line read.
const MAX_REPLY_LINE: usize = 4096;

/// Why a message did not leave: the operator's reply, or what failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
}

/// What a patient writes.
pub struct PatientMessage<'a> {
    pub from: (&'a str, &'a EmailAddress),
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub closes: bool,
    /// (name, content type, bytes)
    pub attachment: Option<(&'a str, &'a str, &'a [u8])>,
    pub message_id: &'a str,
}

/// The message, ready to send.
pub fn build(message: &PatientMessage<'_>) -> std::io::Result<Vec<u8>> {
    let (name, address) = message.from;
    let mut builder = MessageBuilder::new()
        .from((name.to_string(), address.to_string()))
        .to(Address::new_address(None::<String>, message.to.to_string()))
        .subject(message.subject.to_string())
        .message_id(message.message_id.to_string())
        .date(now())
        .text_body(message.text.replace('\n', "\r\n"));
    if let Some(id) = message.in_reply_to {
        builder = builder.in_reply_to(id.to_string()).references(id.to_string());
    }
    if message.closes {
        builder = builder.header(patients::CLOSING_FIELD, Raw::new(patients::CLOSING_VALUE));
    }
    if let Some((name, kind, bytes)) = message.attachment {
        builder = builder.attachment(kind.to_string(), name.to_string(), bytes.to_vec());
    }
    builder.write_to_vec()
}

/// A read receipt (RFC 8098) for the message `original_id` the patient
/// `from` read, to `to`.
pub fn read_receipt(from: &EmailAddress, to: &EmailAddress, original_id: &str, subject: &str) -> Vec<u8> {
    let id = format!("mdn.{}.{original_id}", now()).replace('@', ".") + "@" + mss_core::PATIENT_DOMAIN;
    let date = mail_builder::headers::date::Date::new(now()).to_rfc822();
    mss_documents::acks::Mdn {
        from: &from.to_string(),
        to: &to.to_string(),
        original_id,
        original_subject: subject,
        disposition: mss_documents::acks::DISPLAYED,
        reporting_ua: "Mon espace santé (simulateur mss)",
        id: &id,
        date: &date,
    }
    .build()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Delivers `message` from `sender` to `recipient` at the operator at
/// `operator`.
pub async fn deliver(
    tls: Arc<rustls::ClientConfig>,
    operator: SocketAddr,
    sender: &str,
    recipient: &str,
    message: &[u8],
) -> Result<(), SendError> {
    tokio::time::timeout(TIMEOUT, exchange(tls, operator, sender, recipient, message))
        .await
        .map_err(|_| SendError::Timeout)?
}

async fn exchange(
    tls: Arc<rustls::ClientConfig>,
    operator: SocketAddr,
    sender: &str,
    recipient: &str,
    message: &[u8],
) -> Result<(), SendError> {
    let mut plain = BufReader::new(TcpStream::connect(operator).await?);
    expect(&mut plain, 220).await?;
    command(&mut plain, "EHLO smtps1.ens.atos-infogerance.fr", 250).await?;
    command(&mut plain, "STARTTLS", 220).await?;
    let name = ServerName::try_from("operator.invalid").map_err(|e| std::io::Error::other(e.to_string()))?;
    let stream = TlsConnector::from(tls).connect(name, plain.into_inner()).await?;
    let mut c = BufReader::new(stream);
    command(&mut c, "EHLO smtps1.ens.atos-infogerance.fr", 250).await?;
    command(&mut c, &format!("MAIL FROM:<{sender}>"), 250).await?;
    command(&mut c, &format!("RCPT TO:<{recipient}>"), 250).await?;
    command(&mut c, "DATA", 354).await?;
    let mut data = Vec::with_capacity(message.len() + 64);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    if !data.ends_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    c.get_mut().write_all(&data).await?;
    expect(&mut c, 250).await?;
    let _ = command(&mut c, "QUIT", 221).await;
    Ok(())
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut BufReader<S>,
    line: &str,
    code: u16,
) -> Result<String, SendError> {
    c.get_mut().write_all(format!("{line}\r\n").as_bytes()).await?;
    expect(c, code).await
}

/// Reads a whole reply; an error unless its code is `code`.
async fn expect<S: AsyncRead + Unpin>(c: &mut BufReader<S>, code: u16) -> Result<String, SendError> {
    let mut reply = String::new();
    loop {
        let mut line = Vec::new();
        let read = (&mut *c).take(MAX_REPLY_LINE as u64).read_until(b'\n', &mut line).await?;
        if read == 0 {
            return Err(SendError::Refused(format!("connection closed after {reply:?}")));
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        let last = line.as_bytes().get(3) != Some(&b'-');
        reply.push_str(&line);
        reply.push(' ');
        if last {
            break;
        }
    }
    let reply = reply.trim_end().to_string();
    match reply.get(..3).and_then(|c| c.parse::<u16>().ok()) {
        Some(got) if got == code => Ok(reply),
        _ => Err(SendError::Refused(reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_message_closes_with_the_header_and_answers_with_in_reply_to() {
        let from: EmailAddress = "279035121518989@patient.mssante.fr".parse().unwrap();
        let raw = build(&PatientMessage {
            from: ("Jeanne MARTIN", &from),
            to: "pharmacie@ours.test",
            subject: "[FIN]",
            text: "Merci",
            in_reply_to: Some("a@ours.test"),
            closes: true,
            attachment: Some(("ordonnance.jpg", "image/jpeg", b"JPEG")),
            message_id: "m1@patient.mssante.fr",
        })
        .unwrap();
        let facts = mss_message::Facts::of(&raw);
        assert!(facts.closes_conversation());
        assert_eq!(facts.patient.ins.as_deref(), Some("279035121518989"));
        assert_eq!(facts.envelope.in_reply_to.as_deref(), Some("<a@ours.test>"));
        assert_eq!(facts.attachments().count(), 1);
        let receipt = read_receipt(&from, &"pharmacie@ours.test".parse().unwrap(), "m2@ours.test", "Re:\r\nx");
        let receipt = String::from_utf8(receipt).unwrap();
        assert!(receipt.contains("Original-Message-ID: <m2@ours.test>\r\nDisposition: manual-action"));
        let facts = mss_message::Facts::of(receipt.as_bytes());
        assert_eq!(facts.receipt_for.as_deref(), Some("m2@ours.test"), "{receipt}");
    }
}
