//! Acknowledgements of a message (RFC 8098 message disposition
//! notifications, and the ANS integration acknowledgements carried in
//! them, REFERENTIELS.md §7): what a `Disposition` field says, and how a
//! person is told. `…; displayed` is a read receipt; `…; processed` is the
//! recipient's software integrating the document; `…; processed/Error:
//! 902^Patient inconnu` (or `processed/error` with an `Error:` field, an
//! older form) is an integration failure with its code, 900 to 906.

/// The disposition of a read receipt sent by a person.
pub const DISPLAYED: &str = "manual-action/MDN-sent-manually; displayed";

/// A message disposition notification (RFC 8098 §3): `from` (the reader)
/// tells `to` what became of the message `original_id` (without brackets)
/// it received: a text part in French, then the machine-readable part.
/// `id` is the receipt's own Message-ID, `date` its RFC 5322 date.
pub struct Mdn<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub original_id: &'a str,
    pub original_subject: &'a str,
    pub disposition: &'a str,
    pub reporting_ua: &'a str,
    pub id: &'a str,
    pub date: &'a str,
}

/// `text` as RFC 2047 encoded words (UTF-8, base64), folded: at most 45
/// bytes of text per word, cut on character boundaries. (Also what a
/// packaged message's subject is written as, in `mss_message::packaging`.)
pub fn encoded_words(text: &str) -> String {
    use base64::Engine;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    let engine = base64::engine::general_purpose::STANDARD;
    words.iter().map(|w| format!("=?utf-8?b?{}?=", engine.encode(w))).collect::<Vec<_>>().join("\r\n ")
}

/// One line, without control characters (a header field's value).
fn line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

impl Mdn<'_> {
    pub fn build(&self) -> Vec<u8> {
        let boundary = format!("mdn-{}", line(self.id).replace(['<', '>', '@', ' '], ""));
        let subject = encoded_words(&format!("Accusé de lecture : {}", line(self.original_subject)));
        format!(
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
             Date: {date}\r\nMessage-ID: <{id}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=disposition-notification; boundary=\"{boundary}\"\r\n\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
             Votre message a été affiché par son destinataire ({from}).\r\n\r\n\
             --{boundary}\r\nContent-Type: message/disposition-notification\r\n\r\n\
             Reporting-UA: {ua}\r\nFinal-Recipient: rfc822; {from}\r\nOriginal-Message-ID: <{original}>\r\n\
             Disposition: {disposition}\r\n\r\n--{boundary}--\r\n",
            from = line(self.from),
            to = line(self.to),
            date = line(self.date),
            id = line(self.id),
            ua = line(self.reporting_ua),
            original = line(self.original_id),
            disposition = line(self.disposition),
        )
        .into_bytes()
    }
}

/// What a disposition says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// Read by a person.
    Displayed,
    /// Integrated by the recipient's software.
    Processed,
    /// Not integrated: the code (900–906) and the label the software gave.
    Error { code: Option<u16>, label: String },
    /// Deleted unread, or another disposition, as written.
    Other(String),
}

/// The ANS integration error codes (IG LPS, HL7 ACK ERR-5), in French.
pub fn error_label(code: u16) -> Option<&'static str> {
    Some(match code {
        900 => "version du document incorrecte (remplacement ou suppression)",
        901 => "auteur non autorisé",
        902 => "patient inconnu",
        903 => "INS absent",
        904 => "INS discordant",
        905 => "INS incomplet",
        906 => "autre erreur",
        _ => return None,
    })
}

/// Reads a `Disposition` field's value.
pub fn parse(disposition: &str) -> Ack {
    let kind = disposition.split_once(';').map_or(disposition, |(_, kind)| kind).trim();
    let lower = kind.to_ascii_lowercase();
    if let Some(at) = lower.find("error") {
        // `processed/Error: 902^libellé` (the code may be absent).
        let detail = kind[at + "error".len()..].trim_start_matches([':', ' ']).trim();
        let (code, label) = detail.split_once('^').unwrap_or((detail, ""));
        let code = code.trim().parse().ok();
        let label = if label.trim().is_empty() { detail.to_string() } else { label.trim().to_string() };
        return Ack::Error { code, label };
    }
    match lower.split('/').next().unwrap_or_default() {
        "displayed" => Ack::Displayed,
        "processed" => Ack::Processed,
        _ => Ack::Other(kind.to_string()),
    }
}

impl Ack {
    /// What a sender reads, in French (`le …` is added by the caller).
    pub fn explained(&self) -> String {
        match self {
            Ack::Displayed => "Lu".to_string(),
            Ack::Processed => "Intégré par le logiciel du destinataire".to_string(),
            Ack::Error { code: Some(code), label } => match error_label(*code) {
                Some(meaning) => format!("Non intégré : erreur {code}, {meaning} ({label})"),
                None => format!("Non intégré : erreur {code} ({label})"),
            },
            Ack::Error { code: None, label } => format!("Non intégré : {label}"),
            Ack::Other(kind) if kind.to_ascii_lowercase().starts_with("deleted") => "Supprimé sans être lu".to_string(),
            Ack::Other(kind) => format!("Accusé : {kind}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The subject a reader decodes (RFC 2047 words joined).
    fn mail_subject(message: &str) -> String {
        use base64::Engine;
        let field = message.split("\r\nSubject: ").nth(1).unwrap().split("\r\nDate:").next().unwrap();
        field
            .split("\r\n ")
            .map(|w| {
                let b64 = w.trim_start_matches("=?utf-8?b?").trim_end_matches("?=");
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn an_mdn_names_the_original_and_its_disposition_on_single_lines() {
        let mdn = Mdn {
            from: "bob@ours.test",
            to: "elodie@ours.test",
            original_id: "m1@ours.test",
            original_subject: "Ordonnance\r\nBcc: x",
            disposition: DISPLAYED,
            reporting_ua: "mss",
            id: "r1@ours.test",
            date: "Wed, 2 Dec 2026 10:00:00 +0000",
        };
        let text = String::from_utf8(mdn.build()).unwrap();
        assert!(text.contains(
            "Original-Message-ID: <m1@ours.test>\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n"
        ));
        assert!(!text.contains("\r\nBcc:"), "{text}");
        let facts_subject = mail_subject(&text);
        assert_eq!(facts_subject, "Accusé de lecture : Ordonnance  Bcc: x");
        assert!(text.contains("report-type=disposition-notification"));
    }

    #[test]
    fn dispositions_read_as_read_integrated_or_failed_with_their_code() {
        assert_eq!(parse("manual-action/MDN-sent-manually; displayed"), Ack::Displayed);
        assert_eq!(parse("automatic-action/MDN-sent-automatically; processed"), Ack::Processed);
        assert_eq!(
            parse("automatic-action/MDN-sent-automatically; processed/Error: 902^Patient inconnu"),
            Ack::Error { code: Some(902), label: "Patient inconnu".into() }
        );
        // The older form, without a code.
        assert_eq!(
            parse("automatic-action/MDN-sent-automatically; processed/error"),
            Ack::Error { code: None, label: String::new() }
        );
        assert_eq!(parse("manual-action/MDN-sent-manually; deleted").explained(), "Supprimé sans être lu");
        let failed = parse("automatic-action/MDN-sent-automatically; processed/Error: 904^INS ne correspond pas");
        assert_eq!(failed.explained(), "Non intégré : erreur 904, INS discordant (INS ne correspond pas)");
        assert!((900..=906).all(|c| error_label(c).is_some()) && error_label(907).is_none());
        assert_eq!(parse("").explained(), "Accusé : ");
    }
}
