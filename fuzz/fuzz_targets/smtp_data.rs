//! The DATA reader (`mss_smtp::data`) on arbitrary client bytes, fed in
//! arbitrary chunks: never panics, reads the same whatever the chunking,
//! ends only after `<CR><LF>.<CR><LF>`, never keeps more than its limit; and
//! whatever we send (`dot_stuffed`) reads back whole.
//!
//! The first byte picks the chunk size and the limit; the rest is the data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_smtp::data::{DataReader, dot_stuffed};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else { return };
    let chunk = usize::from(selector & 0x0f) + 1;
    let limit = usize::from(selector >> 4) * 64;

    let mut whole = DataReader::new(limit);
    let used = whole.feed(input);
    assert!(whole.kept() <= limit);
    if whole.is_done() {
        // RFC 5321 §4.1.1.4: only <CRLF>.<CRLF> ends the data (the DATA
        // line's own CRLF counts for the first one).
        let ended = &input[..used];
        assert!(ended == b".\r\n" || ended.ends_with(b"\r\n.\r\n"), "ended on {ended:?}");
    } else {
        assert_eq!(used, input.len(), "everything is read until the end");
    }

    let mut chunked = DataReader::new(limit);
    let mut chunked_used = 0;
    for piece in input.chunks(chunk) {
        chunked_used += chunked.feed(piece);
        assert!(chunked.kept() <= limit);
        if chunked.is_done() {
            break;
        }
    }
    assert_eq!(chunked_used, used);
    assert_eq!(chunked.is_done(), whole.is_done());
    let done = whole.is_done();
    let result = whole.finish();
    assert_eq!(chunked.finish(), result);

    // What we send: read back by the strict reader, ending exactly at its end.
    let sent = dot_stuffed(input);
    let mut back = DataReader::new(sent.len());
    assert_eq!(back.feed(&sent), sent.len());
    assert!(back.is_done());
    back.finish().expect("what we send has no bare CR or LF");
    if done && let Ok(read) = result {
        // A message read whole without error goes out again unchanged (one
        // cut short lacks the CRLF that sending it adds).
        let resent = dot_stuffed(&read);
        let mut again = DataReader::new(resent.len());
        again.feed(&resent);
        assert_eq!(again.finish().unwrap(), read);
    }
});
