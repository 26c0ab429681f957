//! Sequence sets (RFC 9051 §9 `sequence-set`) against the session's map of
//! sequence numbers to UIDs: which messages a set names, as indices into
//! the map (ascending, each once).

use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

/// Indices into `uids` named by `set`, read as UIDs (`by_uid`) or as
/// sequence numbers. Numbers past the end are ignored, as RFC 9051 allows
/// for UIDs; `*` is the last message.
pub fn indices(set: &SequenceSet, uids: &[u32], by_uid: bool) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    if uids.is_empty() {
        return out;
    }
    let last = if by_uid { uids[uids.len() - 1] } else { uids.len() as u32 };
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => last,
    };
    for sequence in set.0.as_ref() {
        let (a, b) = match sequence {
            Sequence::Single(v) => (value(v), value(v)),
            Sequence::Range(a, b) => (value(a), value(b)),
        };
        let (low, high) = (a.min(b), a.max(b));
        if by_uid {
            let start = uids.partition_point(|&u| u < low);
            let end = uids.partition_point(|&u| u <= high);
            out.extend(start..end);
        } else {
            let high = high.min(uids.len() as u32);
            if low >= 1 && low <= high {
                out.extend((low as usize - 1)..(high as usize));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether `n` is in `set`, `*` being `last`.
pub fn contains(set: &SequenceSet, n: u32, last: u32) -> bool {
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => last,
    };
    set.0.as_ref().iter().any(|sequence| match sequence {
        Sequence::Single(v) => value(v) == n,
        Sequence::Range(a, b) => (value(a).min(value(b))..=value(a).max(value(b))).contains(&n),
    })
}

/// Whether every sequence number in `set` exists (RFC 9051: a sequence
/// number past the end is an error; UIDs are not).
pub fn sequence_numbers_valid(set: &SequenceSet, count: usize) -> bool {
    set.0.as_ref().iter().all(|sequence| {
        let ok = |v: &SeqOrUid| match v {
            SeqOrUid::Value(n) => n.get() as usize <= count,
            SeqOrUid::Asterisk => count > 0,
        };
        match sequence {
            Sequence::Single(v) => ok(v),
            Sequence::Range(a, b) => ok(a) && ok(b),
        }
    })
}

/// Writes ascending numbers as a compact set ("1:3,7,9:10").
pub fn compact(numbers: impl IntoIterator<Item = u32>) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for n in numbers {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(n) => *end = n,
            _ => runs.push((n, n)),
        }
    }
    runs.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}:{b}") }).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> SequenceSet {
        text.try_into().unwrap()
    }

    #[test]
    fn sets_name_messages_by_number_or_uid() {
        let uids = [3, 5, 8, 13, 21];
        assert_eq!(indices(&set("1:*"), &uids, false), [0, 1, 2, 3, 4]);
        assert_eq!(indices(&set("2,4:3"), &uids, false), [1, 2, 3]);
        assert_eq!(indices(&set("*"), &uids, false), [4]);
        assert_eq!(indices(&set("4:10"), &uids, true), [1, 2]);
        assert_eq!(indices(&set("100:*"), &uids, true), [4], "n:* with n past the end is the last message");
        assert_eq!(indices(&set("1:2,2"), &uids, false), [0, 1]);
        assert!(indices(&set("1:*"), &[], true).is_empty());
        assert!(sequence_numbers_valid(&set("1:5"), 5));
        assert!(!sequence_numbers_valid(&set("6"), 5));
        assert_eq!(compact([1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert!(contains(&set("2:4,9"), 3, 10) && contains(&set("5:*"), 10, 10) && !contains(&set("2:4"), 5, 10));
    }
}
