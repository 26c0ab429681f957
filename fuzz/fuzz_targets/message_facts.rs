//! The facts of arbitrary messages (`mss_message::Facts::of`): never a
//! panic, every part's offsets inside the message and in order, the stored
//! encoding reads back as the same facts, and its indexed text holds each
//! word once. The same messages go through the packaging of a bare CDA
//! (`mss_message::packaging`): a message it packages then carries an IHE
//! XDM package.
#![no_main]

#[path = "../common/panics.rs"]
mod panics;

use libfuzzer_sys::fuzz_target;
use mss_message::packaging::{Packaging, package_bare_cda};
use mss_message::{Facts, stored};

fuzz_target!(|raw: &[u8]| {
    panics::let_mail_parser_assertions_unwind();
    let facts = Facts::of(raw);
    assert!(!facts.parts.is_empty(), "a message has at least one part");
    for offsets in facts.parts.iter().filter_map(|p| p.offsets) {
        assert!(offsets.header <= offsets.body && offsets.body <= offsets.end, "{offsets:?}");
        assert!(offsets.end <= raw.len() as u64, "{offsets:?} beyond {} bytes", raw.len());
    }
    for (i, part) in facts.parts.iter().enumerate() {
        assert!(part.parent.is_none_or(|p| (p as usize) < i), "a parent comes before its parts");
    }
    let kept = stored::encode(mss_store::BlobHash::of(raw), raw);
    assert_eq!(stored::decode(&kept).as_ref(), Some(&facts), "the stored facts read back");
    let words: Vec<&str> = kept.text.as_str().split(' ').filter(|w| !w.is_empty()).collect();
    let distinct: std::collections::HashSet<&str> = words.iter().copied().collect();
    assert_eq!(distinct.len(), words.len(), "the index keeps each word once");
    if let Packaging::Packaged { message, .. } = package_bare_cda(raw, "fuzz", [1, 2]) {
        assert!(Facts::of(&message).xdm, "a packaged message carries its package");
    }
});
