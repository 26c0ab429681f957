//! A message's HTML, made safe to show inside a portal page.
//!
//! Rules kept here (two barriers, either is enough):
//! - ammonia keeps only harmless markup (text, structure, tables, links):
//!   no script, style, form, frame, event handler or `style` attribute;
//! - nothing remote is loaded: an image keeps its source only if it is a
//!   `data:` URL, links get `rel="noopener noreferrer nofollow"`; and the
//!   portal's Content-Security-Policy (`img-src 'self' data:`, no remote
//!   anything) would block what got through.

use std::borrow::Cow;
use std::sync::LazyLock;

use mail_parser::Message;

static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    let mut schemes = builder.clone_url_schemes();
    schemes.insert("data");
    builder.url_schemes(schemes).link_rel(Some("noopener noreferrer nofollow")).attribute_filter(
        |element, attribute, value| {
            let is_image = value.trim_start().to_ascii_lowercase().starts_with("data:image/");
            let is_data = value.trim_start().to_ascii_lowercase().starts_with("data:");
            match (element, attribute) {
                // Images inline only; no other use of data: URLs.
                ("img", "src") if !is_image => None,
                (_, _) if is_data && (element, attribute) != ("img", "src") => None,
                _ => Some(Cow::Borrowed(value)),
            }
        },
    );
    builder
});

/// The first text/html part of `message`, sanitised; `None` when the
/// message has no HTML of its own (its text is shown instead).
pub fn safe_html(message: &Message<'_>) -> Option<String> {
    let part = message.html_bodies().find(|part| part.is_text_html())?;
    Some(SANITISER.clean(part.text_contents()?).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(html: &str) -> String {
        let raw = format!("Content-Type: text/html; charset=utf-8\r\n\r\n{html}");
        safe_html(&mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn scripts_handlers_styles_and_remote_content_go() {
        let out = shown(
            "<p onclick=\"x()\" style=\"color:red\">Voir <b>les analyses</b></p><script>alert(1)</script>\
             <img src=\"https://tracker.test/p.gif\"><img src=\"data:image/png;base64,AAAA\" alt=\"logo\">\
             <iframe src=\"https://x.test\"></iframe><a href=\"https://labo.test/r\">résultats</a>\
             <a href=\"data:text/html,<script>x</script>\">piège</a><form action=\"https://x.test\"><input name=a></form><meta http-equiv=\"refresh\" content=\"0;url=https://x.test\">",
        );
        assert!(out.contains("<p>Voir <b>les analyses</b></p>"), "{out}");
        for gone in
            ["script", "alert", "onclick", "style", "tracker.test", "iframe", "form", "input", "meta", "text/html"]
        {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("src=\"data:image/png;base64,AAAA\""), "{out}");
        assert!(
            out.contains("<a href=\"https://labo.test/r\" rel=\"noopener noreferrer nofollow\">résultats</a>"),
            "{out}"
        );
    }

    #[test]
    fn a_text_message_has_no_html() {
        let parsed = mail_parser::MessageParser::default().parse(b"Subject: x\r\n\r\nBonjour\r\n").unwrap();
        assert_eq!(safe_html(&parsed), None);
    }
}
