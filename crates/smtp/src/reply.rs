//! SMTP replies with enhanced status codes (RFC 5321 §4.2, RFC 3463), kept
//! in one place so that every refusal reads the same way.

use std::fmt;

/// One reply: `code enhanced text`. The enhanced code is left out where
/// RFC 2034 does not use one (greeting, EHLO, 354); a text of several lines
/// becomes a multi-line reply (`250-...` then `250 ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: &'static str,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, enhanced: &'static str, text: impl Into<String>) -> Self {
        Self { code, enhanced, text: text.into() }
    }

    /// Whether the reply ends the transaction attempt with a permanent error.
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    pub fn ok(text: impl Into<String>) -> Self {
        Self::new(250, "2.0.0", text)
    }

    pub fn bad_sequence(text: impl Into<String>) -> Self {
        Self::new(503, "5.5.1", text)
    }

    pub fn syntax(text: impl Into<String>) -> Self {
        Self::new(501, "5.5.4", text)
    }

    /// The reply to a smtp-proto parse error.
    pub fn for_parse_error(error: &smtp_proto::Error) -> Self {
        use smtp_proto::Error;
        match error {
            Error::UnknownCommand => Self::new(500, "5.5.1", "Unknown command"),
            Error::InvalidSenderAddress => Self::new(501, "5.1.7", "Bad sender address syntax"),
            Error::InvalidRecipientAddress => Self::new(501, "5.1.3", "Bad recipient address syntax"),
            Error::SyntaxError { syntax } => Self::syntax(format!("Syntax: {syntax}")),
            Error::InvalidParameter { param } => Self::syntax(format!("Invalid parameter {param}")),
            Error::UnsupportedParameter { param } => {
                Self::new(555, "5.5.4", format!("Unsupported parameter {}", param.chars().take(40).collect::<String>()))
            }
            Error::ResponseTooLong => Self::new(500, "5.5.2", "Line too long"),
            Error::NeedsMoreData { .. } | Error::InvalidResponse { .. } => Self::new(500, "5.5.2", "Syntax error"),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = self.text.lines().peekable();
        while let Some(line) = lines.next() {
            let separator = if lines.peek().is_some() { '-' } else { ' ' };
            if self.enhanced.is_empty() {
                write!(f, "{}{separator}{line}\r\n", self.code)?;
            } else {
                write!(f, "{}{separator}{} {line}\r\n", self.code, self.enhanced)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line_replies() {
        assert_eq!(Reply::ok("Sender OK").to_string(), "250 2.0.0 Sender OK\r\n");
        assert_eq!(
            Reply::new(250, "", "host greets you\nPIPELINING\nSTARTTLS").to_string(),
            "250-host greets you\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
        );
        assert_eq!(Reply::new(354, "", "End data").to_string(), "354 End data\r\n");
    }
}
