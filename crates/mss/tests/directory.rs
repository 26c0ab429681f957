//! Our mailboxes in the Annuaire Santé, end to end: the real binary, a real
//! data directory, `mss serve` and its ANS simulator. Creations,
//! suspensions, deletions and resumptions wait in `mss annuaire outbox`
//! until the running server has the directory acknowledge them; `/fhir`
//! shows what we publish in the national API's shape.

mod common;

use std::time::{Duration, Instant};

use common::*;

const ALICE: &str = "810003621892";
const PERSON: &str = "urn:oid:1.2.250.1.71.4.2.1";

/// The outbox lines (pending only, or `--all`).
fn outbox(op: &Operator, all: bool) -> Vec<Vec<String>> {
    let out = op.ok(if all { "annuaire outbox --all" } else { "annuaire outbox" });
    out.lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

fn wait_until_sent(op: &Operator) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !outbox(op, false).is_empty() {
        assert!(Instant::now() < deadline, "never acknowledged: {:?}", outbox(op, true));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The addresses the simulated ANS holds on a person's record.
fn held_by_ans(web: &str, national_id: &str) -> Vec<String> {
    let path = format!("/ans-sim/Practitioner?identifier={PERSON}|{national_id}");
    let bundle = http(web, "GET", &path, None, None).json();
    let telecom = bundle["entry"][0]["resource"]["telecom"].as_array().cloned().unwrap_or_default();
    telecom.iter().map(|t| t["value"].as_str().unwrap().to_string()).collect()
}

#[test]
fn suspensions_and_deletions_wait_in_the_outbox_until_the_directory_acknowledges_them() {
    let op = Operator::new("ours.test");
    let alice = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let second = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let hidden = op.ok("mailbox create --type per --rpps 10000000017 --first Zoé --last Caché --liste-rouge");
    op.ok(&format!("mailbox suspend {alice} --reason impayé"));
    op.ok(&format!("mailbox delete {second} --reason doublon"));
    // Refused while no server runs: nothing else writes the directory then.
    op.refused(&format!("mailbox liste-rouge {alice} maybe"), "value");

    let pending = outbox(&op, false);
    let shown: Vec<(&str, &str, &str, &str)> =
        pending.iter().map(|l| (l[1].as_str(), l[2].as_str(), l[3].as_str(), l[4].as_str())).collect();
    assert_eq!(
        shown,
        [
            (alice.as_str(), "publish", "pending", "0"),
            (second.as_str(), "publish", "pending", "0"),
            (hidden.trim(), "publish", "pending", "0"),
            (alice.as_str(), "withdraw", "pending", "0"),
            (second.as_str(), "withdraw", "pending", "0"),
        ]
    );

    let server = op.serve();
    let web = server.addr("http");
    wait_until_sent(&op);
    let all = outbox(&op, true);
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|l| l[3] == "acknowledged" && l[4] == "1" && l[5] == "-"), "{all:?}");
    assert!(held_by_ans(&web, ALICE).is_empty(), "suspended and deleted: withdrawn");

    op.ok(&format!("mailbox resume {alice}"));
    wait_until_sent(&op);
    assert_eq!(held_by_ans(&web, ALICE), [alice.as_str()]);
    let last = outbox(&op, true).pop().unwrap();
    assert_eq!((last[1].as_str(), last[2].as_str(), last[3].as_str()), (alice.as_str(), "publish", "acknowledged"));

    // What we publish, read back in the national API's shape.
    let found = http(&web, "GET", &format!("/fhir/Practitioner?identifier={PERSON}|{ALICE}"), None, None);
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.header("content-type"), Some("application/fhir+json"));
    let bundle = found.json();
    assert_eq!(
        (bundle["resourceType"].as_str(), bundle["type"].as_str(), bundle["total"].as_u64()),
        (Some("Bundle"), Some("searchset"), Some(1))
    );
    let practitioner = &bundle["entry"][0]["resource"];
    assert_eq!(practitioner["identifier"][0]["value"], ALICE);
    assert_eq!(practitioner["name"][0]["family"], "Martin");
    assert_eq!(practitioner["telecom"].as_array().unwrap().len(), 1, "the deleted one is not shown");
    assert_eq!(practitioner["telecom"][0]["value"], alice.as_str());
    assert_eq!(practitioner["telecom"][0]["extension"][0]["valueCoding"]["code"], "MSSANTE");
    let everyone = http(&web, "GET", "/fhir/Practitioner", None, None).json();
    assert_eq!(everyone["total"], 1, "liste rouge mailboxes are not shown: {everyone}");
    let bad = http(&web, "GET", "/fhir/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.2|123", None, None);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["resourceType"], "OperationOutcome");

    op.ok(&format!("mailbox liste-rouge {alice} on"));
    wait_until_sent(&op);
    let last = outbox(&op, true).pop().unwrap();
    assert_eq!((last[2].as_str(), last[3].as_str()), ("update", "acknowledged"));
    assert_eq!(http(&web, "GET", "/fhir/Practitioner", None, None).json()["total"], 0);
}
