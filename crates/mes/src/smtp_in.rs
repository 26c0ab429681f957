//! The gateway's SMTP server: where operators deliver professionals'
//! messages to patients. STARTTLS first; the operator presents a
//! certificate that chains to the trust anchors (mutual TLS, as in the
//! trust space); each recipient and each message is judged by Mon espace
//! santé's rules (`mss_core::patients::gateway_takes_recipient`,
//! `gateway_takes_message`), with their replies.

use std::sync::Arc;
use std::time::Duration;

use mss_core::{EmailAddress, patients};
use mss_trust::tls::PeerCertificate;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::MonEspaceSante;

/// The longest command line (RFC 5321 §4.5.3.1.4: 512; data lines 1000).
const MAX_LINE: usize = 1000;
/// How long the server waits for a line.
const IDLE: Duration = Duration::from_secs(60);
/// Recipients per message.
const MAX_RECIPIENTS: usize = 100;
/// Commands per connection.
const MAX_COMMANDS: usize = 1000;
/// Data read at most before the message is refused as too large (it is
/// still read to its end, and dropped).
const MAX_DATA: usize = patients::MAX_PATIENT_MESSAGE_BYTES + 1024 * 1024;

/// Accepts operators' connections until the listener fails.
pub async fn serve(sim: Arc<MonEspaceSante>, listener: TcpListener) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else { continue };
        let sim = sim.clone();
        tokio::spawn(async move {
            if let Err(e) = session(&sim, stream).await {
                tracing::debug!(%peer, error = %e, "mes-sim: session ended");
            }
        });
    }
}

/// A line read, or why none was.
enum Line {
    Text(Vec<u8>),
    Closed,
}

async fn read_line<S: AsyncRead + Unpin>(c: &mut BufReader<S>) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let read = tokio::time::timeout(IDLE, (&mut *c).take(MAX_LINE as u64 + 2).read_until(b'\n', &mut line))
        .await
        .map_err(|_| std::io::Error::other("idle"))??;
    if read == 0 {
        return Ok(Line::Closed);
    }
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::other("line too long"));
    }
    Ok(Line::Text(line))
}

async fn reply<S: AsyncRead + AsyncWrite + Unpin>(c: &mut BufReader<S>, text: &str) -> std::io::Result<()> {
    c.get_mut().write_all(format!("{text}\r\n").as_bytes()).await
}

async fn session(sim: &MonEspaceSante, stream: TcpStream) -> std::io::Result<()> {
    let mut plain = BufReader::new(stream);
    reply(&mut plain, "220 patient.mssante.fr ESMTP Mon espace santé (simulateur)").await?;
    loop {
        let Line::Text(line) = read_line(&mut plain).await? else { return Ok(()) };
        let line = String::from_utf8_lossy(&line).trim_end().to_ascii_uppercase();
        if line.starts_with("EHLO") || line.starts_with("HELO") {
            reply(&mut plain, "250-patient.mssante.fr\r\n250 STARTTLS").await?;
        } else if line == "STARTTLS" {
            reply(&mut plain, "220 2.0.0 Ready to start TLS").await?;
            break;
        } else if line == "QUIT" {
            return reply(&mut plain, "221 2.0.0 Bye").await;
        } else {
            reply(&mut plain, "530 5.7.0 Must issue a STARTTLS command first").await?;
        }
    }
    let stream = TlsAcceptor::from(sim.server_tls.clone()).accept(plain.into_inner()).await?;
    let trusted = match sim.server_trust.judge(stream.get_ref().1.peer_certificates()) {
        PeerCertificate::Trusted { subject } => {
            tracing::info!(%subject, "mes-sim: operator connected");
            true
        }
        other => {
            tracing::info!(verdict = ?other, "mes-sim: operator certificate refused");
            false
        }
    };
    let mut c = BufReader::new(stream);
    let mut envelope: Option<(String, Vec<EmailAddress>)> = None;
    for _ in 0..MAX_COMMANDS {
        let Line::Text(raw) = read_line(&mut c).await? else { return Ok(()) };
        let line = String::from_utf8_lossy(&raw).trim_end().to_string();
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            reply(&mut c, &format!("250-patient.mssante.fr\r\n250 SIZE {}", patients::MAX_PATIENT_MESSAGE_BYTES))
                .await?;
        } else if upper.starts_with("MAIL FROM:") {
            if !trusted {
                reply(&mut c, "550 5.7.1 Operator certificate not trusted").await?;
                continue;
            }
            envelope = Some((path_of(&line[10..]), Vec::new()));
            reply(&mut c, "250 2.1.0 OK").await?;
        } else if upper.starts_with("RCPT TO:") {
            let Some((_, recipients)) = envelope.as_mut() else {
                reply(&mut c, "503 5.5.1 MAIL first").await?;
                continue;
            };
            if recipients.len() >= MAX_RECIPIENTS {
                reply(&mut c, "452 4.5.3 Too many recipients").await?;
                continue;
            }
            match sim.takes_recipient(&path_of(&line[8..])) {
                Ok(address) => {
                    recipients.push(address);
                    reply(&mut c, "250 2.1.5 OK").await?;
                }
                Err(refusal) => {
                    let (code, status, text) = refusal.reply();
                    reply(&mut c, &format!("{code} {status} {text}")).await?;
                }
            }
        } else if upper == "DATA" {
            let Some((sender, recipients)) = envelope.take().filter(|(_, r)| !r.is_empty()) else {
                reply(&mut c, "503 5.5.1 No valid recipient").await?;
                continue;
            };
            reply(&mut c, "354 End data with <CR><LF>.<CR><LF>").await?;
            let Some(message) = read_data(&mut c).await? else {
                let (code, status, text) = patients::GatewayRefusal::TooLarge.reply();
                reply(&mut c, &format!("{code} {status} {text}")).await?;
                continue;
            };
            match sim.receive(&sender, &recipients, &message).await {
                Ok(()) => reply(&mut c, "250 2.0.0 Delivered to Mon espace santé").await?,
                Err(refusal) => {
                    let (code, status, text) = refusal.reply();
                    reply(&mut c, &format!("{code} {status} {text}")).await?;
                }
            }
        } else if upper == "RSET" {
            envelope = None;
            reply(&mut c, "250 2.0.0 OK").await?;
        } else if upper == "NOOP" {
            reply(&mut c, "250 2.0.0 OK").await?;
        } else if upper == "QUIT" {
            return reply(&mut c, "221 2.0.0 Bye").await;
        } else {
            reply(&mut c, "502 5.5.2 Command not implemented").await?;
        }
    }
    reply(&mut c, "421 4.7.0 Too many commands").await
}

/// The address between `<` and `>` of a MAIL or RCPT argument.
fn path_of(argument: &str) -> String {
    let argument = argument.trim();
    let inner = argument.strip_prefix('<').and_then(|a| a.split_once('>')).map_or(argument, |(path, _)| path);
    inner.trim().to_string()
}

/// The message up to the final dot, dot-stuffing undone; None when it was
/// larger than [`MAX_DATA`] (read to its end all the same).
async fn read_data<S: AsyncRead + Unpin>(c: &mut BufReader<S>) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut too_large = false;
    loop {
        let Line::Text(line) = read_line(c).await? else { return Err(std::io::Error::other("closed in DATA")) };
        if line == b".\r\n" || line == b".\n" {
            return Ok((!too_large).then_some(data));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() + line.len() > MAX_DATA {
            too_large = true;
            data.clear();
        }
        if !too_large {
            data.extend_from_slice(line);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_read_between_brackets() {
        assert_eq!(super::path_of(" <a@b.test> SIZE=10"), "a@b.test");
        assert_eq!(super::path_of("a@b.test"), "a@b.test");
        assert_eq!(super::path_of("<>"), "");
    }
}
