//! LIST with the extensions of RFC 5258 (selection and return options,
//! several patterns) and RFC 5819 (STATUS in LIST), which imap-codec does not
//! parse: `LIST (SPECIAL-USE) "" "*" RETURN (SUBSCRIBED STATUS (MESSAGES))`.
//! Plain LIST and LSUB come from imap-codec and become the same [`List`].

use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox as MailboxName};

use super::access::mailbox_name;
use super::args::Tokens;

/// A LIST or LSUB request, whatever its syntax.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct List {
    /// LSUB: answered with LSUB lines, subscribed names only.
    pub lsub: bool,
    pub reference: String,
    pub patterns: Vec<String>,
    /// Selection SUBSCRIBED (implies returning \Subscribed).
    pub subscribed_only: bool,
    /// Selection SPECIAL-USE: only folders with a special use.
    pub special_use_only: bool,
    /// STATUS items to return with each selectable name (RFC 5819).
    pub status: Vec<&'static str>,
}

impl List {
    pub fn basic(reference: &MailboxName<'_>, pattern: &ListMailbox<'_>, lsub: bool) -> Self {
        let pattern = match pattern {
            ListMailbox::Token(t) => String::from_utf8_lossy(t.as_ref()).into_owned(),
            ListMailbox::String(s) => String::from_utf8_lossy(s.as_ref()).into_owned(),
        };
        Self { lsub, reference: mailbox_name(reference), patterns: vec![pattern], ..Self::default() }
    }
}

/// `None` when `message` is not a LIST command; otherwise the tag and the
/// request, or the tag and why it is malformed.
pub fn parse_extended(message: &[u8]) -> Option<Result<(String, List), (String, String)>> {
    let mut words = Tokens::new(message);
    let tag = String::from_utf8(words.atom()?.to_vec()).ok()?;
    if !words.atom()?.eq_ignore_ascii_case(b"LIST") {
        return None;
    }
    let bad = |why: &str| Some(Err((tag.clone(), why.to_string())));
    let mut list = List::default();
    if words.rest.trim_ascii_start().starts_with(b"(") {
        let Some(options) = words.atom_list() else { return bad("Bad selection options") };
        for option in options {
            match option.as_str() {
                "SUBSCRIBED" => list.subscribed_only = true,
                "SPECIAL-USE" => list.special_use_only = true,
                "RECURSIVEMATCH" | "REMOTE" => {}
                _ => return bad("Unknown selection option"),
            }
        }
    }
    let Some(reference) = words.astring() else { return bad("Missing reference") };
    list.reference = String::from_utf8_lossy(&reference).into_owned();
    if words.eat(b'(') {
        while !words.eat(b')') {
            let Some(pattern) = words.pattern() else { return bad("Bad pattern list") };
            list.patterns.push(pattern);
        }
    } else {
        let Some(pattern) = words.pattern() else { return bad("Missing pattern") };
        list.patterns.push(pattern);
    }
    if words.at_end() {
        return Some(Ok((tag, list)));
    }
    if !words.atom().is_some_and(|w| w.eq_ignore_ascii_case(b"RETURN")) || !words.eat(b'(') {
        return bad("Expected RETURN options");
    }
    loop {
        if words.eat(b')') {
            break;
        }
        let Some(option) = words.atom() else { return bad("Bad return options") };
        match option.to_ascii_uppercase().as_slice() {
            b"SUBSCRIBED" | b"CHILDREN" | b"SPECIAL-USE" => {}
            b"STATUS" => {
                let Some(items) = words.atom_list() else { return bad("Bad STATUS items") };
                for item in items {
                    let Some(known) = super::folders::STATUS_ITEMS.iter().find(|k| **k == item) else {
                        return bad("Unknown STATUS item");
                    };
                    list.status.push(known);
                }
            }
            _ => return bad("Unknown return option"),
        }
    }
    if !words.at_end() {
        return bad("Unexpected data after the command");
    }
    Some(Ok((tag, list)))
}

impl Tokens<'_> {
    /// A LIST pattern: an astring that may hold `%` and `*`.
    fn pattern(&mut self) -> Option<String> {
        self.skip_spaces();
        let end =
            self.rest.iter().position(|b| !b.is_ascii_graphic() || b"(){\"\\".contains(b)).unwrap_or(self.rest.len());
        if end > 0 {
            let (word, rest) = self.rest.split_at(end);
            self.rest = rest;
            return Some(String::from_utf8_lossy(word).into_owned());
        }
        self.astring().map(|s| String::from_utf8_lossy(&s).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> List {
        match parse_extended(text.as_bytes()) {
            Some(Ok((_, list))) => list,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn extended_list_options_are_read() {
        let l = parsed("a LIST (SPECIAL-USE) \"\" \"*\"\r\n");
        assert!(l.special_use_only && l.patterns == ["*"]);
        let l = parsed("a LIST \"\" (INBOX \"Partage/%\") RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN))\r\n");
        assert_eq!(l.patterns, ["INBOX", "Partage/%"]);
        assert_eq!(l.status, ["MESSAGES", "UNSEEN"]);
        let l = parsed("a list (subscribed) \"\" %\r\n");
        assert!(l.subscribed_only && l.patterns == ["%"]);
        assert!(matches!(parse_extended(b"a LIST (FOO) \"\" *\r\n"), Some(Err(_))));
        assert!(matches!(parse_extended(b"a LIST \"\" * RETURN (STATUS (BOGUS))\r\n"), Some(Err(_))));
        assert!(matches!(parse_extended(b"a LIST \"\" * RETURN\r\n"), Some(Err(_))));
        assert!(parse_extended(b"a LSUB \"\" *\r\n").is_none());
    }
}
