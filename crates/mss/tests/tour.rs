//! The README's short tour, run as written: its shell block, in order,
//! with bash from the repository, `set -euo pipefail`. Two things change:
//! `mss` is this build's binary rather than `cargo run`, and the listeners
//! take free ports instead of the defaults (the tour's addresses follow).
//! It sends and reads mail with Python, signs Bob in with the PSC
//! simulator and creates his mailbox through the API, logs in with a CPS
//! card in SoftHSM2, declares dispensations as the pharmacy software, backs
//! up, checks, and stops the server.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::free_port;

/// The shell block of the README's "A short tour".
fn tour() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = &readme[readme.find("## A short tour").expect("a tour")..];
    let start = section.find("```sh\n").expect("its shell block") + 6;
    let end = start + section[start..].find("\n```").expect("its end");
    section[start..end].to_string()
}

/// `text` with `from` replaced by `to`, which must be there.
#[track_caller]
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the tour no longer says {from:?}");
    text.replace(from, to)
}

#[test]
fn the_readme_tour_runs_as_written() {
    let repository = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let [smtp, submission, imap, http] = ports;
    let mut script = tour();
    script = replaced(
        &script,
        r#"alias mss="cargo run -q --manifest-path $PWD/Cargo.toml -p mss --""#,
        &format!("alias mss={:?}", env!("CARGO_BIN_EXE_mss")),
    );
    script = replaced(
        &script,
        "mss init --domain pharmacie.example.fr",
        &format!(
            "mss init --domain pharmacie.example.fr --smtp 127.0.0.1:{smtp} --submission 127.0.0.1:{submission} \
             --imap 127.0.0.1:{imap} --http 127.0.0.1:{http}"
        ),
    );
    script = replaced(&script, "127.0.0.1:8080", &format!("127.0.0.1:{http}"));
    script = replaced(&script, r#""127.0.0.1", 5870"#, &format!(r#""127.0.0.1", {submission}"#));
    script = replaced(&script, r#""127.0.0.1", 1143"#, &format!(r#""127.0.0.1", {imap}"#));
    // A server left by a failing step is stopped with the script.
    let prelude = "set -euo pipefail\nshopt -s expand_aliases\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n";
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .current_dir(&repository)
        .env("TMPDIR", tmp.path())
        .env_remove("MSS_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the tour failed ({}):\n{stdout}\n--- stderr:\n{stderr}", out.status);
    for expected in [
        "elodie.dupont@pharmacie.example.fr pharmacie-du-centre-75001-paris@pharmacie.example.fr",
        "Bonjour",                                         // read back over IMAP
        "\"address\":\"bob.durand@pharmacie.example.fr\"", // created through the API
        "\"access_token\"",                                // PSC and the CPS card
        "\"refresh_token\"",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in the tour's output:\n{stdout}\n{stderr}");
    }
    // Nothing left listening.
    for port in ports {
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "port {port} still taken");
    }
}
