//! What SORT compares (RFC 5256 §2.1 and §3): the base subject of a
//! subject, and string keys compared i;ascii-casemap. Here, beside the
//! facts, because the store keeps each message's keys, computed once when
//! its facts are written (`stored`), and IMAP computes the same keys for a
//! message read from its bytes.

/// Bytes of a string sort key: longer values sort by their beginning.
pub const MAX_KEY: usize = 256;

/// RFC 5256 §2.1: the base subject of a subject already decoded from
/// RFC 2047, and whether extraction took off a reply or forward marker
/// (`Re:`, `Fwd:`, a `(fwd)` trailer or a `[fwd: ...]` wrapper), which
/// REFERENCES step 5 asks.
pub fn base_subject(subject: &str) -> (String, bool) {
    // Step 1: tabs and line breaks become spaces, runs of spaces one space.
    let spaced = subject.split([' ', '\t', '\r', '\n']).filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ");
    let mut text = spaced.as_str();
    let mut reply = false;
    loop {
        text = strip_trailers(text, &mut reply);
        text = strip_leaders(text, &mut reply);
        // Step 6: "[fwd: subject]" is the subject, forwarded; start again.
        match strip_fwd_wrapper(text) {
            Some(inner) => {
                text = inner;
                reply = true;
            }
            None => return (text.to_string(), reply),
        }
    }
}

/// Step 2: `subj-trailer = "(fwd)" / WSP`, as many as there are.
fn strip_trailers<'a>(mut text: &'a str, reply: &mut bool) -> &'a str {
    loop {
        if let Some(rest) = text.strip_suffix(' ') {
            text = rest;
        } else if let Some(rest) = strip_suffix_ignore_case(text, "(fwd)") {
            text = rest;
            *reply = true;
        } else {
            return text;
        }
    }
}

/// Steps 3 to 5: leaders (`*subj-blob subj-refwd` or a space) and blobs
/// (`[list]`) come off the front, while a blob is left when nothing else
/// would remain.
fn strip_leaders<'a>(mut text: &'a str, reply: &mut bool) -> &'a str {
    loop {
        if let Some(rest) = text.strip_prefix(' ') {
            text = rest;
            continue;
        }
        let blobs = Blobs::at(text);
        if let Some(len) = refwd_len(&text[blobs.end..]) {
            text = &text[blobs.end + len..];
            *reply = true;
            continue;
        }
        // No leader follows the blobs: step 4 takes them off one by one,
        // each only if text remains after it, so all of them go, or all but
        // the last.
        let keep = if blobs.end < text.len() { blobs.end } else { blobs.last };
        if keep == 0 {
            return text;
        }
        text = &text[keep..];
    }
}

/// The blobs (`subj-blob = "[" *BLOBCHAR "]" *WSP`) at the start of a text.
struct Blobs {
    /// Where the blobs end.
    end: usize,
    /// Where the last blob starts (0 when there are fewer than two).
    last: usize,
}

impl Blobs {
    fn at(text: &str) -> Self {
        let mut blobs = Blobs { end: 0, last: 0 };
        while let Some(len) = blob_len(&text[blobs.end..]) {
            blobs.last = blobs.end;
            blobs.end += len;
        }
        blobs
    }
}

/// The length of the `subj-blob` at the start of `text`: brackets around
/// anything but brackets, and the spaces after.
fn blob_len(text: &str) -> Option<usize> {
    let inner = text.strip_prefix('[')?;
    let close = inner.find(['[', ']'])?;
    let after = inner[close..].strip_prefix(']')?;
    Some(1 + close + 1 + (after.len() - after.trim_start_matches(' ').len()))
}

/// The length of the `subj-refwd` at the start of `text`:
/// `("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn refwd_len(text: &str) -> Option<usize> {
    let word = ["re", "fwd", "fw"].into_iter().find(|word| starts_with_ignore_case(text, word))?;
    let rest = &text[word.len()..];
    let mut at = word.len() + rest.len() - rest.trim_start_matches(' ').len();
    at += blob_len(&text[at..]).unwrap_or(0);
    (text.as_bytes().get(at) == Some(&b':')).then_some(at + 1)
}

/// Step 6: the subject inside `[fwd:` and `]`.
fn strip_fwd_wrapper(text: &str) -> Option<&str> {
    if !starts_with_ignore_case(text, "[fwd:") {
        return None;
    }
    text["[fwd:".len()..].strip_suffix(']')
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes().get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let start = text.len().checked_sub(suffix.len())?;
    let tail = text.get(start..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..start])
}

/// A string as SORT compares it: i;ascii-casemap (RFC 4790 §9.2: a-z as
/// A-Z, then octet by octet), cut to [`MAX_KEY`] bytes.
pub fn sort_key(text: &str) -> Box<str> {
    let mut end = text.len().min(MAX_KEY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_ascii_uppercase().into_boxed_str()
}

/// The addr-mailbox of an address: the part before its last "@".
pub fn addr_mailbox(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(local, _)| local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subjects_follow_rfc_5256() {
        let cases = [
            ("Re: [list] Fwd: Subject (fwd)", "Subject", true),
            ("Subject", "Subject", false),
            ("re: RE: Re:  hello", "hello", true),
            ("Fwd: Fw: FWD: x", "x", true),
            ("[Fwd: Re: Meeting]", "Meeting", true),
            ("[PATCH] fix the build", "fix the build", false),
            ("[list] [PATCH 2/3] Re: fix", "fix", true),
            ("[only a blob]", "[only a blob]", false),
            ("[a] [b]", "[b]", false),
            ("Re[2]: second", "second", true),
            ("Re [list] : third", "third", true),
            ("Fwd : spaced", "spaced", true),
            ("  Hello\t  world \r\n again  ", "Hello world again", false),
            ("Subject (fwd) (FWD) ", "Subject", true),
            ("Reply to all", "Reply to all", false),
            ("Re:", "", true),
            ("", "", false),
            ("[fwd: [fwd: inner] ]", "inner", true),
            ("Re: Résultats d'analyse", "Résultats d'analyse", true),
            ("[é] é", "é", false),
            ("Re: [unclosed", "[unclosed", true),
        ];
        for (subject, base, reply) in cases {
            assert_eq!(base_subject(subject), (base.to_string(), reply), "{subject:?}");
        }
    }

    #[test]
    fn hostile_subjects_stay_linear() {
        for subject in ["[]".repeat(200_000), "Re: ".repeat(200_000), "[fwd: ".repeat(50_000) + &"]".repeat(50_000)] {
            let started = std::time::Instant::now();
            base_subject(&subject);
            assert!(started.elapsed() < std::time::Duration::from_secs(2), "{}", &subject[..10]);
        }
        assert_eq!(base_subject(&"[]".repeat(3)).0, "[]");
    }

    #[test]
    fn sort_keys_fold_ascii_case_and_are_bounded() {
        assert_eq!(&*sort_key("alice_b@x"), "ALICE_B@X");
        assert_eq!(&*sort_key("élodie"), "éLODIE");
        let long = "é".repeat(200);
        assert_eq!(sort_key(&long).len(), MAX_KEY);
    }
}
