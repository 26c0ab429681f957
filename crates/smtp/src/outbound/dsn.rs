//! Delivery status notifications (RFC 3464), in French and in English: the
//! report sent to a sender whose message could not be delivered. A patient
//! Mon espace santé refused is explained in words, not only by its reply.

use std::fmt::Write;

use mss_core::EmailAddress;
use mss_core::patients::GatewayRefusal;

/// A recipient the report is about.
pub struct FailedRecipient<'a> {
    pub address: &'a str,
    /// The last reply, as received or as we phrased it.
    pub reply: &'a str,
}

/// Builds the report for `sender` about `original`. `reporting_host` is our
/// MTA, `domain` our mail domain.
pub fn failure_report(
    reporting_host: &str,
    domain: &str,
    sender: &str,
    original: &[u8],
    failed: &[FailedRecipient<'_>],
) -> Vec<u8> {
    let now = time::OffsetDateTime::now_utc();
    let date = now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default();
    let boundary = format!("mss-dsn-{}", now.unix_timestamp_nanos());
    let mut text = String::new();
    let _ = writeln!(text, "Votre message n'a pas pu être remis aux destinataires suivants :\r");
    for f in failed {
        let _ = writeln!(text, "  {} : {}\r", f.address, one_line(f.reply));
        if let Some(why) = patient_refusal(f) {
            let _ = writeln!(text, "    {}\r", why.explained());
        }
    }
    let _ = writeln!(text, "\r\nYour message could not be delivered to the following recipients:\r");
    for f in failed {
        let _ = writeln!(text, "  {}: {}\r", f.address, one_line(f.reply));
    }
    let mut status = format!("Reporting-MTA: dns; {reporting_host}\r\nArrival-Date: {date}\r\n");
    for f in failed {
        let _ = write!(
            status,
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\nDiagnostic-Code: smtp; {}\r\n",
            f.address,
            status_code(f.reply),
            one_line(f.reply)
        );
    }
    let headers = original_headers(original);
    let mut out = String::new();
    let _ = write!(
        out,
        "From: Mail Delivery System <mailer-daemon@{domain}>\r\n\
         To: <{sender}>\r\n\
         Subject: =?utf-8?q?=C3=89chec_de_remise?= / Delivery failure\r\n\
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
         Content-Type: text/rfc822-headers\r\n\
         \r\n"
    );
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(headers);
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

/// Mon espace santé's refusal, when the recipient is a patient and the
/// reply's status says one (`mss_core::patients::GatewayRefusal`).
fn patient_refusal(failed: &FailedRecipient<'_>) -> Option<GatewayRefusal> {
    let address: EmailAddress = failed.address.parse().ok()?;
    if !address.domain().is_patient() {
        return None;
    }
    GatewayRefusal::from_status(&status_code(failed.reply))
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
        let report = failure_report(
            "mss.ours.test",
            "ours.test",
            "a@ours.test",
            original,
            &[FailedRecipient { address: "x@peer.test", reply: "550 5.1.1 no such user" }],
        );
        let report = String::from_utf8(report).unwrap();
        assert!(report.contains("Content-Type: multipart/report; report-type=delivery-status"));
        assert!(report.contains("n'a pas pu être remis") && report.contains("could not be delivered"));
        assert!(report.contains("Final-Recipient: rfc822; x@peer.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
        assert!(report.contains("Subject: Ordonnance"), "original headers included");
        assert!(!report.contains("secret body"), "never the content");
        assert_eq!(status_code("451 timeout"), "5.0.0");
        assert!(!report.contains("Mon espace santé"), "a professional's refusal is not explained as a patient's");
    }

    #[test]
    fn a_patient_refused_by_mon_espace_sante_is_explained_in_french() {
        let patient = "279035121518989@patient.mssante.fr";
        let report = |reply| {
            let failed = [FailedRecipient { address: patient, reply }];
            String::from_utf8(failure_report("h", "ours.test", "a@ours.test", b"Subject: x\r\n\r\n", &failed)).unwrap()
        };
        let closed = report("550 5.7.1 this conversation was closed ([FIN])");
        assert!(closed.contains("Cette conversation avec le patient est close"), "{closed}");
        let unknown = report("550 5.1.1 unknown patient");
        assert!(unknown.contains("ne connaît pas de patient avec cet INS"), "{unknown}");
        let other = report("451 4.4.1 timeout");
        assert!(!other.contains("Mon espace santé"), "{other}");
    }
}
