//! `mss annuaire synth|import|search` end to end: the real binary, a real
//! data directory, a synthetic extraction; bad files refused with nothing
//! changed; our own active mailboxes found at once.

mod common;

use common::*;

#[test]
fn an_operator_imports_the_extraction_and_searches_it() {
    let op = Operator::new("ours.test");
    let extraction = op.dir.join("extraction.txt");
    ok(&format!("annuaire synth --lines 3000 --seed 3 --out {}", extraction.display()));
    let printed = op.ok(&format!("annuaire import {}", extraction.display()));
    assert!(printed.contains("imported 3000 entries from 3000 lines"), "{printed}");
    assert!(printed.contains("(snapshot 1): 3000 added, 0 updated, 0 removed; 0 lines skipped"), "{printed}");

    let found = op.ok("annuaire search martin --type PER --per-page 5");
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 5, "{found}");
    assert!(lines.iter().all(|l| l.contains("\tPER\t") && l.to_lowercase().contains("martin")), "{found}");
    let json: serde_json::Value = serde_json::from_str(&op.ok("annuaire search --department 75 --json")).unwrap();
    assert!(json["hits"].as_array().unwrap().iter().all(|h| h["department"] == "75"), "{json}");

    // Our own mailbox is found as soon as it is active; liste rouge never.
    op.ok("mailbox create --type per --rpps 10003621892 --first Zéphyrin --last Quasimodo");
    op.ok("mailbox create --type per --rpps 10000000017 --first Zoé --last Quasimodo --liste-rouge");
    let found = op.ok("annuaire search quasi");
    assert_eq!(found.trim(), "zephyrin.quasimodo@ours.test\tPER\tZéphyrin Quasimodo\t\t\toperateur", "{found}");

    // A bad file is refused (usage error) and the snapshot stays.
    let bad = op.dir.join("bad.txt");
    let text = std::fs::read_to_string(&extraction).unwrap();
    std::fs::write(&bad, &text[..text.len() - 30]).unwrap();
    let out = op.run(&format!("annuaire import {}", bad.display()));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("file: line 3001: the file ends in the middle"), "{}", stderr(&out));
    assert_eq!(op.ok("annuaire search martin --per-page 5").lines().count(), 5);
    op.refused("annuaire search cp:123", "query");
    op.refused("annuaire search", "query");
    op.refused("annuaire search dupont --page 0", "page");
}
