//! Delivery status notifications (RFC 3464), in French and in English: the
//! report sent to a sender whose message could not be delivered, or was
//! delivered or relayed when they asked (RFC 3461 `NOTIFY=SUCCESS`). A
//! patient Mon espace santé refused is explained in words, not only by its
//! reply.
//!
//! What of the message goes back: its header section, unless the sender
//! asked for the whole message (`RET=FULL`) and the report is a failure
//! (RFC 3461 §4.3; a success report returns headers only, §6.2), up to
//! [`RETURNED_MAX`]. Without `RET`, headers only: a report should not carry
//! health data again when nobody asked.

use std::fmt::Write;

use mss_core::EmailAddress;
use mss_core::patients::GatewayRefusal;
use mss_store::Dsn;

/// The largest message returned whole (`RET=FULL`); a larger one comes
/// back as its header section.
pub const RETURNED_MAX: usize = 10 * 1024 * 1024;

/// What happened to a recipient (RFC 3464 §2.3.3 `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    /// Put in the recipient's mailbox here.
    Delivered,
    /// Handed to a next hop that does not offer DSN: no further report.
    Relayed,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
        }
    }
}

/// A recipient of a report.
pub struct Reported<'a> {
    pub address: &'a str,
    pub action: Action,
    /// The reply that decided it (empty for a local delivery).
    pub reply: &'a str,
    /// The recipient as the sender first named it (RCPT `ORCPT`).
    pub orcpt: Option<&'a str>,
}

/// Builds the report (RFC 3464) for `sender` about `original` and what
/// happened to `recipients` (all of one action), with what the sender asked
/// of reports (`dsn`: its ENVID, and `RET`).
pub fn report(
    reporting_host: &str,
    domain: &str,
    sender: &str,
    original: &[u8],
    recipients: &[Reported<'_>],
    dsn: &Dsn,
) -> Vec<u8> {
    let envid = dsn.envid.as_deref();
    let now = time::OffsetDateTime::now_utc();
    let date = now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default();
    let boundary = format!("mss-dsn-{}", now.unix_timestamp_nanos());
    let failed = recipients.iter().any(|r| r.action == Action::Failed);
    let (french, english, subject) = if failed {
        (
            "Votre message n'a pas pu être remis aux destinataires suivants :",
            "Your message could not be delivered to the following recipients:",
            "=?utf-8?q?=C3=89chec_de_remise?= / Delivery failure",
        )
    } else {
        (
            "Votre message a été remis aux destinataires suivants :",
            "Your message was delivered to the following recipients:",
            "=?utf-8?q?Message_remis?= / Delivery report",
        )
    };
    let mut text = String::new();
    let _ = writeln!(text, "{french}\r");
    for r in recipients {
        let said = if r.reply.is_empty() { r.action.as_str().to_string() } else { one_line(r.reply) };
        let _ = writeln!(text, "  {} : {}\r", r.address, said);
        if let Some(why) = patient_refusal(r) {
            let _ = writeln!(text, "    {}\r", why.explained());
        }
    }
    let _ = writeln!(text, "\r\n{english}\r");
    for r in recipients {
        let said = if r.reply.is_empty() { r.action.as_str().to_string() } else { one_line(r.reply) };
        let _ = writeln!(text, "  {}: {}\r", r.address, said);
    }
    let mut status = format!("Reporting-MTA: dns; {reporting_host}\r\n");
    if let Some(envid) = envid {
        let _ = write!(status, "Original-Envelope-Id: {}\r\n", one_line(envid));
    }
    let _ = write!(status, "Arrival-Date: {date}\r\n");
    for r in recipients {
        if let Some(orcpt) = r.orcpt {
            let _ = write!(status, "\r\nOriginal-Recipient: {}", one_line(orcpt));
        }
        let code = match r.action {
            Action::Failed => status_code(r.reply),
            Action::Delivered | Action::Relayed => "2.0.0".to_string(),
        };
        let _ = write!(
            status,
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: {}\r\nStatus: {code}\r\n",
            r.address,
            r.action.as_str()
        );
        if !r.reply.is_empty() {
            let _ = write!(status, "Diagnostic-Code: smtp; {}\r\n", one_line(r.reply));
        }
    }
    let whole = failed && dsn.ret.as_deref() == Some("FULL") && original.len() <= RETURNED_MAX;
    let (returned, kind) =
        if whole { (original, "message/rfc822") } else { (original_headers(original), "text/rfc822-headers") };
    let mut out = String::new();
    let _ = write!(
        out,
        "From: Mail Delivery System <mailer-daemon@{domain}>\r\n\
         To: <{sender}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <{boundary}@{domain}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {text}\r\n\
         --{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         {status}\r\n\
         --{boundary}\r\n\
         Content-Type: {kind}\r\n\
         \r\n"
    );
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(returned);
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

/// Mon espace santé's refusal, when the recipient is a patient and the
/// reply's status says one (`mss_core::patients::GatewayRefusal`).
fn patient_refusal(reported: &Reported<'_>) -> Option<GatewayRefusal> {
    let address: EmailAddress = reported.address.parse().ok()?;
    if reported.action != Action::Failed || !address.domain().is_patient() {
        return None;
    }
    GatewayRefusal::from_status(&status_code(reported.reply))
}

/// The header section of a message (up to the first empty line).
fn original_headers(message: &[u8]) -> &[u8] {
    let end = message.windows(4).position(|w| w == b"\r\n\r\n").map_or(message.len(), |p| p + 2);
    &message[..end.min(64 * 1024)]
}

/// The enhanced status code of a reply (`550 5.1.1 ...` gives `5.1.1`),
/// or the generic `5.0.0`.
fn status_code(reply: &str) -> String {
    reply
        .split_whitespace()
        .nth(1)
        .filter(|c| {
            c.split('.').count() == 3 && c.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|c| c.starts_with('5'))
        .unwrap_or("5.0.0")
        .to_string()
}

fn one_line(reply: &str) -> String {
    reply.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_each_recipient_in_both_languages() {
        let original = b"From: <a@ours.test>\r\nSubject: Ordonnance\r\n\r\nsecret body\r\n";
        let report = report(
            "mss.ours.test",
            "ours.test",
            "a@ours.test",
            original,
            &[Reported {
                address: "x@peer.test",
                action: Action::Failed,
                reply: "550 5.1.1 no such user",
                orcpt: None,
            }],
            &Dsn::default(),
        );
        let report = String::from_utf8(report).unwrap();
        assert!(report.contains("Content-Type: multipart/report; report-type=delivery-status"));
        assert!(report.contains("n'a pas pu être remis") && report.contains("could not be delivered"));
        assert!(report.contains("Final-Recipient: rfc822; x@peer.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
        assert!(report.contains("Subject: Ordonnance"), "original headers included");
        assert!(!report.contains("secret body"), "never the content unasked");
        assert!(report.contains("Content-Type: text/rfc822-headers"));
        assert_eq!(status_code("451 timeout"), "5.0.0");
        assert!(!report.contains("Mon espace santé"), "a professional's refusal is not explained as a patient's");
    }

    #[test]
    fn a_success_report_says_delivered_with_the_envelope_id_and_original_recipient() {
        let full = Dsn { ret: Some("FULL".into()), envid: Some("E1".into()) };
        let delivered = [Reported {
            address: "bob@ours.test",
            action: Action::Delivered,
            reply: "",
            orcpt: Some("rfc822;bob@ours.test"),
        }];
        let text = String::from_utf8(report(
            "h",
            "ours.test",
            "a@peer.test",
            b"Subject: x\r\n\r\nbody\r\n",
            &delivered,
            &full,
        ))
        .unwrap();
        assert!(text.contains("Original-Envelope-Id: E1\r\n"), "{text}");
        assert!(text.contains("Original-Recipient: rfc822;bob@ours.test\r\nFinal-Recipient: rfc822; bob@ours.test\r\nAction: delivered\r\nStatus: 2.0.0\r\n"), "{text}");
        assert!(text.contains("a été remis") && !text.contains("Diagnostic-Code"), "{text}");
        assert!(!text.contains("body"), "a success report returns headers only, RET=FULL or not");
    }

    #[test]
    fn a_failure_returns_the_whole_message_when_the_sender_asked() {
        let failed = [Reported { address: "x@peer.test", action: Action::Failed, reply: "550 5.1.1 no", orcpt: None }];
        let full = Dsn { ret: Some("FULL".into()), envid: None };
        let original = b"Subject: Ordonnance\r\n\r\nthe body asked back\r\n";
        let text = String::from_utf8(report("h", "ours.test", "a@ours.test", original, &failed, &full)).unwrap();
        assert!(
            text.contains("Content-Type: message/rfc822\r\n\r\nSubject: Ordonnance\r\n\r\nthe body asked back\r\n")
        );
        let huge = [&b"Subject: big\r\n\r\n"[..], &vec![b'x'; RETURNED_MAX]].concat();
        let text = String::from_utf8(report("h", "ours.test", "a@ours.test", &huge, &failed, &full)).unwrap();
        assert!(text.contains("Content-Type: text/rfc822-headers") && text.len() < 10_000, "too large: headers only");
    }

    #[test]
    fn a_patient_refused_by_mon_espace_sante_is_explained_in_french() {
        let patient = "279035121518989@patient.mssante.fr";
        let report = |reply| {
            let failed = [Reported { address: patient, action: Action::Failed, reply, orcpt: None }];
            let original = b"Subject: x\r\n\r\n";
            String::from_utf8(super::report("h", "ours.test", "a@ours.test", original, &failed, &Dsn::default()))
                .unwrap()
        };
        let closed = report("550 5.7.1 this conversation was closed ([FIN])");
        assert!(closed.contains("Cette conversation avec le patient est close"), "{closed}");
        let unknown = report("550 5.1.1 unknown patient");
        assert!(unknown.contains("ne connaît pas de patient avec cet INS"), "{unknown}");
        let other = report("451 4.4.1 timeout");
        assert!(!other.contains("Mon espace santé"), "{other}");
    }
}
