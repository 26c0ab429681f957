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

/// Python's http.server on a free port, serving `dir`; stopped on drop.
struct FileServer(std::process::Child);

impl FileServer {
    fn start(dir: &std::path::Path) -> (Self, u16) {
        let port = free_port();
        let child = std::process::Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 is needed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        (Self(child), port)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_extraction_is_downloaded_from_a_url() {
    let op = Operator::new("ours.test");
    let served = tempfile::tempdir().unwrap();
    ok(&format!("annuaire synth --lines 500 --seed 5 --out {}", served.path().join("extraction.txt").display()));
    let (_server, port) = FileServer::start(served.path());

    let printed = op.ok(&format!("annuaire import http://127.0.0.1:{port}/extraction.txt"));
    assert!(printed.contains("imported 500 entries from 500 lines"), "{printed}");
    let before = op.ok("annuaire search --type PER --json");
    assert!(before.contains("\"total\""), "{before}");
    assert!(!op.dir.join("annuaire/telechargement.part").exists(), "the download is removed once imported");

    // A missing file: a clear refusal, the snapshot stays.
    let out = op.run(&format!("annuaire import http://127.0.0.1:{port}/absent.txt"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
    assert!(!op.dir.join("annuaire/telechargement.part").exists());
    assert_eq!(op.ok("annuaire search --type PER --json"), before, "the snapshot is intact");
}
