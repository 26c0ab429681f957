//! The run's own network: the harness re-executes itself in a private
//! network namespace (`unshare --net`) whose loopback routes carry
//! `quickack 1`, so that no side's delayed ACKs stall a peer that writes in
//! pieces (issue 20: Postfix's EHLO reply waited 40 ms for the load
//! generator's ACK). Both sides and the load generator live in it, treated
//! alike; the machine's own routes are never touched. Packages are
//! installed before, outside: the namespace has no network.

use std::process::Command;

/// Set in the re-executed harness.
const INSIDE: &str = "MSS_BENCH_PRIVATE_NETWORK";

/// Runs the rest of the harness in a private network namespace: returns
/// in the namespace; the outer process waits for it and exits with its
/// status. `--shared-network` keeps the machine's network (and its stall).
pub fn enter(args: &[String]) {
    if std::env::var_os(INSIDE).is_some() {
        quick_loopback();
        return;
    }
    if args.iter().any(|a| a == "--shared-network") {
        eprintln!("shared network: delayed ACKs as the machine has them");
        return;
    }
    let exe = std::env::current_exe().expect("the harness's path");
    let mut inner = Command::new("unshare")
        .args(["--net", "--"])
        .arg(exe)
        .args(args)
        .env(INSIDE, "1")
        .spawn()
        .expect("unshare (util-linux) is needed, and root");
    // `unshare` becomes the harness: interrupted, it stops its run.
    let _passed_on = crate::interrupt::kills(inner.id());
    let status = inner.wait().expect("the harness in its namespace");
    std::process::exit(status.code().unwrap_or(1));
}

/// Brings the namespace's loopback up, its routes acknowledging at once.
fn quick_loopback() {
    let ip = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().expect("ip (iproute2) is needed");
        assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    ip(&["link", "set", "lo", "up"]);
    for destination in ["127.0.0.0/8", "127.0.0.1"] {
        ip(&[
            "route",
            "change",
            "local",
            destination,
            "dev",
            "lo",
            "proto",
            "kernel",
            "scope",
            "host",
            "src",
            "127.0.0.1",
            "table",
            "local",
            "quickack",
            "1",
        ]);
    }
}
