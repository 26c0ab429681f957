//! Several `mss serve` nodes (two, three) of one operator on one PostgreSQL database and
//! one S3 bucket (throwaway servers from mss-testkit), each node a copy of
//! the same data directory as a deployment would have: mail submitted to
//! one node is read on the other, and the outbound queue is drained once
//! while nodes are killed with SIGKILL at random moments and started again:
//! the peer operator receives every acknowledged message, once unless a node
//! died between the peer's `250` and recording it (docs/operations.md), and
//! `mss check` finds the store consistent afterwards.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use mss_testkit::{Cluster, S3Server};

/// Points an operator's store at PostgreSQL `url` and the bucket, with a
/// short delivery claim so that a killed node's work is taken over soon.
fn share(op: &Operator, url: &str, s3: &mss_testkit::S3Bucket) {
    use std::os::unix::fs::OpenOptionsExt;
    let secret = op.dir.join("s3.secret");
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&secret).unwrap();
    std::io::Write::write_all(&mut file, s3.secret_access_key.as_bytes()).unwrap();
    let config = op.dir.join("mss.toml");
    let text =
        std::fs::read_to_string(&config).unwrap().replace("delivery_claim_seconds = 600", "delivery_claim_seconds = 5");
    let store = format!(
        "\n[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\npostgres_pool_size = 4\nblobs = \"s3\"\n\
         s3_endpoint = \"{}\"\ns3_region = \"{}\"\ns3_bucket = \"{}\"\ns3_access_key_id = \"{}\"\n\
         s3_secret_access_key_file = \"s3.secret\"\n",
        s3.endpoint, s3.region, s3.name, s3.access_key_id
    );
    std::fs::write(config, text + &store).unwrap();
}

/// A second node: the same data directory, copied (keys, configuration).
fn another_node(op: &Operator) -> Operator {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let status = Command::new("cp").arg("-a").arg(&op.dir).arg(&dir).status().unwrap();
    assert!(status.success());
    for own in ["ports.json", "serve.lock"] {
        let _ = std::fs::remove_file(dir.join(own));
    }
    Operator::adopt(tmp, dir)
}

/// Submits messages numbered from `first` to one node until `count` were
/// acknowledged or the node went away; prints the numbers acknowledged.
const SEND: &str = r#"
import smtplib, ssl, sys
submission, ca, user, token, to, first, count = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
host, port = submission.rsplit(":", 1)
try:
    with smtplib.SMTP(host, int(port), timeout=10) as s:
        s.starttls(context=ctx)
        s.auth("XOAUTH2", lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01", initial_response_ok=True)
        for n in range(int(first), int(first) + int(count)):
            s.sendmail(user, [to], f"From: <{user}>\r\nTo: <{to}>\r\nSubject: Ordonnance {n}\r\n\r\nTexte {n}\r\n".encode())
            print(n, flush=True)
except (OSError, smtplib.SMTPException):
    pass
"#;

fn send(node: &Server, ca: &Path, [user, token, to]: [&str; 3], first: usize, count: usize) -> Vec<usize> {
    let out = Command::new("python3")
        .args(["-c", SEND, &node.addr("submission"), ca.to_str().unwrap(), user, token, to])
        .args([first.to_string(), count.to_string()])
        .output()
        .expect("python3 is needed");
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().parse().unwrap()).collect()
}

/// The numbers of the messages in `address`'s INBOX (`Subject: Ordonnance
/// N`), in arrival order, a message received twice listed twice.
async fn numbers_received(op: &Operator, address: &str) -> Vec<usize> {
    let store = mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: op.dir.clone() }).await.unwrap();
    let mailbox = store.meta.mailbox(&address.parse().unwrap()).await.unwrap().unwrap();
    let mut numbers = Vec::new();
    for message in store.meta.folder_messages(mailbox.id, mss_store::INBOX).await.unwrap() {
        let raw = store.blobs.get(&message.blob).await.unwrap().expect("the message's body");
        let text = String::from_utf8_lossy(&raw);
        let subject = text.lines().find_map(|l| l.strip_prefix("Subject: Ordonnance ")).expect("a numbered subject");
        numbers.push(subject.trim().parse().unwrap());
    }
    numbers
}

/// A pseudo-random number below `n`, from the clock (each run differs).
fn random(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    u64::from(nanos) % n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_drained_once_while_nodes_are_killed_at_random_moments() {
    let Some(cluster) = Cluster::start() else { return };
    let Some(objects) = S3Server::start() else { return };
    cluster.create_database("mss");
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("igc-test");
    ok(&format!("pki init --out {}", ca.display()));
    let smtp_peer = format!("127.0.0.1:{}", free_port());
    let peer = Operator::with_ca_and_smtp("hopital.test", &ca, &smtp_peer);
    let bob = peer.ok("mailbox create --type per --rpps 10000013994 --first Bob --last Durand").trim().to_string();
    let ours = Operator::with_ca("pharmacie.test", &ca);
    share(&ours, &cluster.url("mss"), &objects.bucket());
    let alice = ours.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let token = ours.ok(&format!("token {alice}")).trim().to_string();
    ours.ok(&format!(r#"whitelist add hopital.test --dn "{}""#, peer.dn()));
    peer.ok(&format!(r#"whitelist add pharmacie.test --dn "{}""#, ours.dn()));
    ours.route("hopital.test", &smtp_peer);
    let nodes = [another_node(&ours), another_node(&ours), another_node(&ours)];
    let _peer_server = peer.serve();
    let mut servers = [nodes[0].serve(), nodes[1].serve(), nodes[2].serve()];
    let ca_file = ours.dir.join("tls/ca.pem");

    // Rounds of mail, each to one node, another killed at a random moment
    // and started again.
    let mut acknowledged = Vec::new();
    for round in 0..6 {
        let to = round % 3;
        let killed = (to + 1 + random(2) as usize) % 3;
        std::thread::sleep(Duration::from_millis(random(400)));
        servers[killed].kill();
        acknowledged.extend(send(&servers[to], &ca_file, [&alice, &token, &bob], round * 10, 10));
        std::thread::sleep(Duration::from_millis(random(300)));
        servers[killed] = nodes[killed].serve();
    }
    assert!(acknowledged.len() >= 50, "most messages were acknowledged: {acknowledged:?}");

    // Every acknowledged message reaches the peer once.
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.psql("mss", "SELECT count(*) FROM queue_recipients").trim() != "0" {
        assert!(
            Instant::now() < deadline,
            "the queue was not drained: {}",
            cluster.psql("mss", "SELECT * FROM queue_recipients")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_for_inbox(&peer, &bob, acknowledged.len()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = numbers_received(&peer, &bob).await;
    let distinct: std::collections::BTreeSet<usize> = received.iter().copied().collect();
    let expected: std::collections::BTreeSet<usize> = acknowledged.iter().copied().collect();
    assert_eq!(distinct, expected, "every acknowledged message, nothing else");
    // A second copy only from a node killed between the peer's 250 and
    // recording it: one per kill at most (six rounds, one kill each).
    let twice = received.len() - distinct.len();
    assert!(twice <= 6, "{twice} messages received twice: {received:?}");
    let sent = cluster.psql(
        "mss",
        "SELECT count(*) FROM folder_messages fm JOIN folders f ON f.id = fm.folder_id WHERE f.name = 'Sent'",
    );
    assert_eq!(sent.trim(), acknowledged.len().to_string(), "a Sent copy of each");
    drop(servers);
    assert!(nodes[0].ok("check").contains("store consistent"));
}

/// IDLEs on the INBOX of one node (`imap`), submits a message to the other
/// (`submission`), and prints the untagged EXISTS that woke the IDLE and
/// the subject fetched then, from the IDLE node.
const IDLE_ACROSS: &str = r#"
import imaplib, smtplib, ssl, sys, time
imap, submission, ca, user, token = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
host, port = imap.rsplit(":", 1)
M = imaplib.IMAP4(host, int(port)); M.starttls(ssl_context=ctx)
M.authenticate("XOAUTH2", lambda _: f"user={user}\1auth=Bearer {token}\1\1".encode())
M.select("INBOX")
tag = M._new_tag().decode()
M.send(f"{tag} IDLE\r\n".encode())
assert M.readline().startswith(b"+"), "IDLE refused"
host, port = submission.rsplit(":", 1)
with smtplib.SMTP(host, int(port), timeout=20) as s:
    s.starttls(context=ctx)
    s.auth("XOAUTH2", lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01", initial_response_ok=True)
    s.sendmail(user, [user], f"From: <{user}>\r\nTo: <{user}>\r\nSubject: Bilan de Mme Martin\r\n\r\nBonjour\r\n".encode())
sent = time.monotonic()
M.sock.settimeout(10)
line = M.readline()
while b"EXISTS" not in line:
    line = M.readline()
woke = time.monotonic() - sent
M.send(b"DONE\r\n")
while not M.readline().startswith(tag.encode()):
    pass
typ, data = M.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print(line.decode().strip())
print(data[0][1].decode().strip())
print(f"{woke:.3f}", file=sys.stderr)
M.logout()
"#;

/// Two serving nodes of one operator on a fresh database and bucket, with
/// Alice's mailbox and a token for her. Fields drop in order: the servers
/// stop before their directories and the database go.
struct TwoNodes {
    servers: [Server; 2],
    _nodes: [Operator; 2],
    ours: Operator,
    cluster: Cluster,
    _objects: S3Server,
    alice: String,
    token: String,
}

impl TwoNodes {
    fn start() -> Option<Self> {
        let cluster = Cluster::start()?;
        let objects = S3Server::start()?;
        cluster.create_database("mss");
        let ours = Operator::new("pharmacie.test");
        share(&ours, &cluster.url("mss"), &objects.bucket());
        let alice =
            ours.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
        let token = ours.ok(&format!("token {alice}")).trim().to_string();
        let nodes = [another_node(&ours), another_node(&ours)];
        let servers = [nodes[0].serve(), nodes[1].serve()];
        Some(Self { servers, _nodes: nodes, ours, cluster, _objects: objects, alice, token })
    }

    /// The operator's CA, for clients.
    fn ca(&self) -> String {
        self.ours.dir.join("tls/ca.pem").display().to_string()
    }
}

#[test]
fn mail_submitted_to_one_node_wakes_an_idle_session_on_the_other() {
    let Some(two) = TwoNodes::start() else { return };
    let out = Command::new("python3")
        .args(["-c", IDLE_ACROSS, &two.servers[1].addr("imap"), &two.servers[0].addr("submission")])
        .args([&two.ca(), &two.alice, &two.token])
        .output()
        .expect("python3 is needed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said.lines().collect::<Vec<_>>(), ["* 1 EXISTS", "Subject: Bilan de Mme Martin"], "{said}");
}

/// Guesses a password three times over IMAP on one node (`imap_a`), then
/// times a fourth guess over IMAP and a fifth over submission on the other
/// node, a login with the right credentials there, and one more wrong
/// guess: prints each time in seconds.
const GUESSES_ACROSS: &str = r#"
import imaplib, smtplib, ssl, sys, time
imap_a, imap_b, submission_b, ca, user, token = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
def imap(addr, password):
    host, port = addr.rsplit(":", 1)
    M = imaplib.IMAP4(host, int(port)); M.starttls(ssl_context=ctx)
    start = time.monotonic()
    try:
        M.login(user, password)
        raise SystemExit("a wrong password was accepted")
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e) or "failed" in str(e), e
    return time.monotonic() - start
for guess in range(3):
    imap(imap_a, f"mss-app-wrong{guess}")
print(f"{imap(imap_b, 'mss-app-wrong3'):.3f}")
host, port = submission_b.rsplit(":", 1)
with smtplib.SMTP(host, int(port), timeout=30) as s:
    s.starttls(context=ctx); s.ehlo()
    start = time.monotonic()
    try:
        s.login(user, "mss-app-wrong4")
        raise SystemExit("a wrong password was accepted")
    except smtplib.SMTPAuthenticationError:
        pass
    print(f"{time.monotonic() - start:.3f}")
    start = time.monotonic()
    s.auth("XOAUTH2", lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01", initial_response_ok=True)
    print(f"{time.monotonic() - start:.3f}")
print(f"{imap(imap_a, 'mss-app-wrong5'):.3f}")
"#;

/// Password guessing is slowed down across nodes: failures counted on one
/// node make the next guess wait on the other, over IMAP and submission
/// alike, and a success forgives.
#[test]
fn guesses_spread_over_nodes_are_slowed_down_as_on_one() {
    let Some(two) = TwoNodes::start() else { return };
    let [first, second] = &two.servers;
    let out = Command::new("python3")
        .args(["-c", GUESSES_ACROSS, &first.addr("imap"), &second.addr("imap")])
        .args([&second.addr("submission"), &two.ca(), &two.alice, &two.token])
        .output()
        .expect("python3 is needed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout).lines().map(|l| l.parse().unwrap()).collect();
    let [fourth, fifth, right, after] = times[..] else { panic!("four times: {times:?}") };
    assert!(fourth >= 0.9, "the fourth guess, on the other node, waited a second: {times:?}");
    assert!(fifth >= 1.9, "the fifth, over submission, two: {times:?}");
    assert!(right >= 3.9, "the right credentials answered only after the wait: {times:?}");
    assert!(after < 0.9, "a success forgave the account and the client: {times:?}");
    let counted = two.cluster.psql("mss", "SELECT key, failures FROM login_failures ORDER BY key");
    assert!(counted.contains(&format!("user:{}", two.alice)), "the store holds the count: {counted}");
}
