//! IMAP protocol tests: each command against a real store over real TLS.

mod support;

use mss_core::{MailboxKind, Role};
use mss_imap::Limits;
use support::*;

const ALICE: &str = "alice.martin@ours.test";

async fn alice_site() -> (Site, mss_store::MailboxId, std::net::SocketAddr) {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    (site, alice, addr)
}

#[tokio::test]
async fn before_tls_only_starttls_is_offered_and_login_is_refused() {
    let (_site, _, addr) = alice_site().await;
    let mut client = Client::new(tokio::net::TcpStream::connect(addr).await.unwrap());
    let greeting = client.line().await.unwrap();
    assert!(greeting.contains("STARTTLS") && greeting.contains("LOGINDISABLED"), "{greeting}");
    assert!(!greeting.contains("AUTH="), "no mechanism before TLS: {greeting}");
    let login = client.cmd("LOGIN alice secret").await;
    assert_eq!(login.status(), "NO", "{login:?}");
    assert!(login.tagged.contains("PRIVACYREQUIRED"));
    assert_eq!(client.cmd("SELECT INBOX").await.status(), "NO", "wrong state is NO");
    assert_eq!(client.cmd("FROBNICATE").await.status(), "BAD", "unknown command is BAD");
    let caps = client.cmd("CAPABILITY").await;
    assert!(caps.untagged.contains("IMAP4rev2") && caps.ok());
    let bye = client.cmd("LOGOUT").await;
    assert!(bye.untagged.contains("* BYE") && bye.ok());
}

#[tokio::test]
async fn tokens_authenticate_and_bad_ones_are_refused() {
    let (site, _, addr) = alice_site().await;
    let mut client = starttls(addr, site.anonymous()).await;
    let caps = client.cmd("CAPABILITY").await;
    assert!(caps.untagged.contains("AUTH=XOAUTH2") && caps.untagged.contains("AUTH=OAUTHBEARER"), "{caps:?}");
    assert!(!caps.untagged.contains("LOGINDISABLED") && caps.untagged.contains("AUTH=PLAIN"), "application passwords");
    let forged = client.xoauth2(ALICE, "eyJhbGciOiJFUzI1NiJ9.e30.AAAA").await;
    assert_eq!(forged.status(), "NO");
    assert!(forged.tagged.contains("AUTHENTICATIONFAILED"));
    let other = client.xoauth2("bob@ours.test", &site.token(ALICE)).await;
    assert_eq!(other.status(), "NO", "the user must match the token");
    assert_eq!(client.cmd("LOGIN alice.martin@ours.test x").await.status(), "NO");
    let token_as_password = client.cmd(&format!("LOGIN {ALICE} {}", site.token(ALICE))).await;
    assert_eq!(token_as_password.status(), "NO", "a token is no password without the development option");
    let ok = client.xoauth2(ALICE, &site.token(ALICE)).await;
    assert!(ok.ok() && ok.tagged.contains("CAPABILITY"), "{ok:?}");
    assert_eq!(client.cmd("AUTHENTICATE XOAUTH2 AAAA").await.status(), "BAD", "once only");
    let caps = client.cmd("CAPABILITY").await;
    for cap in ["IDLE", "MOVE", "UIDPLUS", "CONDSTORE", "SPECIAL-USE", "ACL", "NAMESPACE", "APPENDLIMIT="] {
        assert!(caps.untagged.contains(cap), "{cap} in {caps:?}");
    }
}

#[tokio::test]
async fn oauthbearer_works_with_a_continuation() {
    use base64::Engine;
    let (site, _, addr) = alice_site().await;
    let mut client = starttls(addr, site.anonymous()).await;
    client.send(b"a1 AUTHENTICATE OAUTHBEARER\r\n").await;
    assert_eq!(client.line().await.unwrap().trim(), "+");
    let response = base64::engine::general_purpose::STANDARD
        .encode(format!("n,a={ALICE},\u{1}auth=Bearer {}\u{1}\u{1}", site.token(ALICE)));
    client.send(format!("{response}\r\n").as_bytes()).await;
    assert!(client.until("a1").await.ok());
}

#[tokio::test]
async fn software_authenticates_with_its_certificate() {
    let site = Site::new().await;
    let lgo_cert = site
        .ca
        .issue_operator(&mss_trust::OperatorIdentity {
            host: "lgo.pharmacie.test".into(),
            organisation: "PHARMACIE CENTRALE".into(),
            unit: "750000002".into(),
            state: "Paris (75)".into(),
        })
        .unwrap();
    let dn = lgo_cert.subject.to_string();
    site.mailbox_with("app-lgo@ours.test", MailboxKind::Applicative, None, Some(dn)).await;
    let addr = site.start(Limits::default()).await;
    let mut client = starttls(addr, site.with_certificate(&lgo_cert)).await;
    let reply = client.cmd("AUTHENTICATE EXTERNAL =").await;
    assert!(reply.ok(), "{reply:?}");
    assert!(client.cmd("SELECT INBOX").await.ok());
    // Without a certificate, EXTERNAL proves nothing.
    let mut anonymous = starttls(addr, site.anonymous()).await;
    assert_eq!(anonymous.cmd("AUTHENTICATE EXTERNAL =").await.status(), "NO");
}

#[tokio::test]
async fn folders_are_listed_created_renamed_and_deleted() {
    let (site, _, addr) = alice_site().await;
    let mut c = logged_in(&site, addr, ALICE).await;
    let list = c.cmd("LIST \"\" \"*\"").await;
    for (name, attr) in [("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"), ("Junk", "\\Junk")] {
        assert!(list.lines("LIST").iter().any(|l| l.ends_with(name) && l.contains(attr)), "{name}: {list:?}");
    }
    assert!(list.lines("LIST").iter().any(|l| l.ends_with("INBOX")));
    let root = c.cmd("LIST \"\" \"\"").await;
    assert!(root.untagged.contains("(\\Noselect) \"/\" \"\""), "{root:?}");
    assert!(c.cmd("CREATE Ordonnances/2026").await.ok());
    assert_eq!(c.cmd("CREATE Ordonnances/2026").await.status(), "NO");
    let top = c.cmd("LIST \"\" \"%\"").await;
    assert!(top.lines("LIST").iter().any(|l| l.contains("\\HasChildren") && l.ends_with("Ordonnances")), "{top:?}");
    assert!(!top.untagged.contains("Ordonnances/2026"), "% stops at the delimiter");
    assert!(c.cmd("RENAME Ordonnances Prescriptions").await.ok());
    let renamed = c.cmd("LIST \"\" \"Prescriptions/*\"").await;
    assert!(renamed.untagged.contains("Prescriptions/2026"), "{renamed:?}");
    assert_eq!(c.cmd("DELETE Prescriptions").await.status(), "NO", "children first");
    assert!(c.cmd("DELETE Prescriptions/2026").await.ok());
    assert!(c.cmd("UNSUBSCRIBE Prescriptions").await.ok());
    let lsub = c.cmd("LSUB \"\" \"*\"").await;
    assert!(!lsub.untagged.contains("Prescriptions") && lsub.untagged.contains("INBOX"), "{lsub:?}");
    assert_eq!(c.cmd("DELETE INBOX").await.status(), "NO");
    assert_eq!(c.cmd("SELECT Nowhere").await.status(), "NO");
    let ns = c.cmd("NAMESPACE").await;
    assert!(ns.untagged.contains("* NAMESPACE ((\"\" \"/\")) NIL ((\"Partage/\" \"/\"))"), "{ns:?}");
}

#[tokio::test]
async fn select_fetch_and_status_show_the_messages() {
    let (site, alice, addr) = alice_site().await;
    site.deliver(alice, &message("Ordonnance", "Paracetamol 1g")).await;
    site.deliver(alice, &message("Compte-rendu", "RAS")).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    let status = c.cmd("STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE)").await;
    assert!(status.untagged.contains("MESSAGES 2") && status.untagged.contains("UNSEEN 2"), "{status:?}");
    assert!(status.untagged.contains("UIDNEXT 3"));
    let select = c.cmd("SELECT INBOX").await;
    assert!(select.ok() && select.tagged.contains("READ-WRITE"), "{select:?}");
    assert!(select.untagged.contains("* 2 EXISTS") && select.untagged.contains("UIDVALIDITY"));
    let fetch = c.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)").await;
    assert_eq!(fetch.lines("FETCH").len(), 2, "{fetch:?}");
    assert!(fetch.untagged.contains("UID 1 FLAGS ()") && fetch.untagged.contains("INTERNALDATE \""));
    let envelope = c.cmd("FETCH 1 (ENVELOPE BODYSTRUCTURE)").await;
    assert!(envelope.untagged.contains("\"Ordonnance\""), "{envelope:?}");
    assert!(envelope.untagged.contains("\"alice.martin\" \"ours.test\""), "{envelope:?}");
    assert!(envelope.untagged.to_ascii_uppercase().contains("(\"TEXT\" \"PLAIN\""), "{envelope:?}");
    let peek = c.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])").await;
    assert!(peek.untagged.contains("Subject: Ordonnance"), "{peek:?}");
    assert!(!peek.untagged.contains("FLAGS (\\Seen)"));
    let partial = c.cmd("FETCH 1 (BODY.PEEK[TEXT]<0.4>)").await;
    assert!(partial.untagged.contains("BODY[TEXT]<0> {4}\r\nPara"), "{partial:?}");
    let body = c.cmd("UID FETCH 1 (BODY[])").await;
    assert!(body.untagged.contains("Paracetamol 1g") && body.untagged.contains("\\Seen"), "{body:?}");
    let status = c.cmd("STATUS INBOX (UNSEEN)").await;
    assert!(status.untagged.contains("UNSEEN 1"), "reading marks \\Seen: {status:?}");
    let examine = c.cmd("EXAMINE INBOX").await;
    assert!(examine.tagged.contains("READ-ONLY"));
    c.cmd("FETCH 2 (BODY[])").await;
    assert!(c.cmd("STATUS INBOX (UNSEEN)").await.untagged.contains("UNSEEN 1"), "EXAMINE changes nothing");
    assert_eq!(c.cmd("FETCH 9 (FLAGS)").await.status(), "BAD", "sequence number past the end");
    assert!(c.cmd("UID FETCH 9 (FLAGS)").await.ok(), "a missing UID is no error");
}

#[tokio::test]
async fn store_search_expunge_copy_and_move() {
    let (site, alice, addr) = alice_site().await;
    for (subject, body) in [("Ordonnance A", "amoxicilline"), ("Facture", "total"), ("Ordonnance B", "ibuprofene")] {
        site.deliver(alice, &message(subject, body)).await;
    }
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    let store = c.cmd("STORE 1 +FLAGS (\\Flagged $Ordonnance)").await;
    assert!(store.untagged.contains("* 1 FETCH (FLAGS (\\Flagged $Ordonnance))"), "{store:?}");
    assert!(c.cmd("STORE 2 +FLAGS.SILENT (\\Seen)").await.untagged.is_empty(), ".SILENT");
    assert_eq!(c.cmd("SEARCH FLAGGED").await.lines("SEARCH"), ["* SEARCH 1"]);
    assert_eq!(c.cmd("SEARCH UNSEEN").await.lines("SEARCH"), ["* SEARCH 1 3"]);
    assert_eq!(c.cmd("SEARCH SUBJECT ordonnance").await.lines("SEARCH"), ["* SEARCH 1 3"]);
    assert_eq!(c.cmd("SEARCH BODY IBUPROFENE").await.lines("SEARCH"), ["* SEARCH 3"]);
    assert_eq!(c.cmd("SEARCH OR FROM alice KEYWORD $Ordonnance NOT 1").await.lines("SEARCH"), ["* SEARCH 2 3"]);
    assert_eq!(c.cmd("UID SEARCH TEXT total").await.lines("SEARCH"), ["* SEARCH 2"]);
    assert_eq!(c.cmd("SEARCH SENTON 26-Nov-2026 LARGER 10").await.lines("SEARCH"), ["* SEARCH 1 2 3"]);
    assert_eq!(c.cmd("SEARCH CHARSET KOI8-R ALL").await.status(), "NO");

    let copy = c.cmd("COPY 1:2 Archive").await;
    assert!(copy.ok() && copy.tagged.contains("[COPYUID "), "{copy:?}");
    assert!(copy.tagged.ends_with("1:2 1:2] COPY completed") || copy.tagged.contains(" 1:2 1:2]"), "{copy:?}");
    assert!(c.cmd("COPY 1 Nowhere").await.tagged.contains("TRYCREATE"));
    let moved = c.cmd("UID MOVE 3 Trash").await;
    assert!(moved.ok() && moved.untagged.contains("COPYUID") && moved.untagged.contains("* 3 EXPUNGE"), "{moved:?}");

    c.cmd("STORE 1:2 +FLAGS (\\Deleted)").await;
    let uid_expunge = c.cmd("UID EXPUNGE 2").await;
    assert!(uid_expunge.untagged.contains("* 2 EXPUNGE") && !uid_expunge.untagged.contains("* 1 EXPUNGE"));
    let expunge = c.cmd("EXPUNGE").await;
    assert!(expunge.untagged.contains("* 1 EXPUNGE"), "{expunge:?}");
    let status = c.cmd("STATUS Archive (MESSAGES)").await;
    assert!(status.untagged.contains("MESSAGES 2"), "{status:?}");
    assert!(c.cmd("STATUS Trash (MESSAGES)").await.untagged.contains("MESSAGES 1"));
}

#[tokio::test]
async fn append_stores_durably_and_answers_appenduid() {
    let (site, alice, addr) = alice_site().await;
    let mut c = logged_in(&site, addr, ALICE).await;
    let draft = message("Brouillon", "à compléter");
    c.send(format!("a1 APPEND Drafts (\\Draft) \"26-Nov-2026 10:00:00 +0100\" {{{}}}\r\n", draft.len()).as_bytes())
        .await;
    assert!(c.line().await.unwrap().starts_with('+'));
    c.send(format!("{draft}\r\n").as_bytes()).await;
    let reply = c.until("a1").await;
    assert!(reply.ok() && reply.tagged.contains("[APPENDUID "), "{reply:?}");
    // LITERAL+: no continuation.
    c.send(format!("a2 APPEND INBOX {{{}+}}\r\n{draft}\r\n", draft.len()).as_bytes()).await;
    assert!(c.until("a2").await.ok());
    let drafts = site.store.meta.folder(alice, "Drafts").await.unwrap().unwrap();
    let metas = site.store.meta.messages(drafts.id, &[1]).await.unwrap();
    assert!(metas[0].has_flag("\\Draft"));
    assert_eq!(metas[0].received_at, 1_795_683_600, "the APPEND date is the INTERNALDATE");
    assert_eq!(site.store.blobs.get(&metas[0].blob).await.unwrap().unwrap(), draft.as_bytes());
    // Read once at APPEND, kept with the message (issue 14).
    let facts = site.store.meta.facts(drafts.id, &[1]).await.unwrap();
    let facts = mss_message::stored::decode(&facts[0].1).unwrap();
    assert_eq!(facts.envelope.subject.as_deref(), Some("Brouillon"));
    assert!(c.cmd("APPEND Nowhere {1+}\r\nx").await.tagged.contains("TRYCREATE"));
}

#[tokio::test]
async fn concurrent_sessions_see_each_others_changes() {
    let (site, alice, addr) = alice_site().await;
    site.deliver(alice, &message("Un", "1")).await;
    site.deliver(alice, &message("Deux", "2")).await;
    let mut a = logged_in(&site, addr, ALICE).await;
    let mut b = logged_in(&site, addr, ALICE).await;
    a.cmd("SELECT INBOX").await;
    b.cmd("SELECT INBOX").await;
    a.cmd("STORE 1 +FLAGS (\\Seen \\Deleted)").await;
    let noop = b.cmd("NOOP").await;
    assert!(noop.untagged.contains("* 1 FETCH (UID 1 FLAGS (\\Seen \\Deleted))"), "{noop:?}");
    a.cmd("EXPUNGE").await;
    // FETCH by number must not announce the expunge; NOOP then does.
    let fetch = b.cmd("FETCH 1:* (FLAGS)").await;
    assert!(!fetch.untagged.contains("EXPUNGE"), "{fetch:?}");
    assert!(b.cmd("NOOP").await.untagged.contains("* 1 EXPUNGE"));

    // IDLE wakes up on a delivery.
    b.send(b"i1 IDLE\r\n").await;
    assert!(b.line().await.unwrap().starts_with('+'));
    site.deliver(alice, &message("Trois", "3")).await;
    let update = b.line().await.unwrap();
    assert_eq!(update, "* 2 EXISTS");
    // ... and on a flag change by the other session.
    a.cmd("STORE 1 +FLAGS (\\Flagged)").await;
    let flags = b.line().await.unwrap();
    assert!(flags.starts_with("* 1 FETCH (UID 2 FLAGS (\\Flagged))"), "{flags}");
    b.send(b"DONE\r\n").await;
    assert!(b.until("i1").await.ok());
}

#[tokio::test]
async fn an_organisational_mailbox_is_shared_with_the_rights_of_each_role() {
    let site = Site::new().await;
    site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    site.mailbox("bob.durand@ours.test", MailboxKind::Personal, Some(BOB_ID)).await;
    let pharmacy = "pharmacie-centrale-75001-paris@ours.test";
    let org = site.mailbox(pharmacy, MailboxKind::Organisational, None).await;
    site.grant(org, ALICE_ID, Role::Administrateur).await;
    site.grant(org, BOB_ID, Role::Utilisateur).await;
    site.deliver(org, &message("Ordonnance", "pour la pharmacie")).await;
    let addr = site.start(Limits::default()).await;
    let shared_inbox = format!("Partage/{pharmacy}/INBOX");

    let mut alice = logged_in(&site, addr, ALICE).await;
    let list = alice.cmd("LIST \"\" \"Partage/*\"").await;
    assert!(list.untagged.contains(&shared_inbox), "{list:?}");
    let rights = alice.cmd(&format!("MYRIGHTS {shared_inbox}")).await;
    assert!(rights.untagged.contains("lrswipkxtea"), "{rights:?}");
    let acl = alice.cmd(&format!("GETACL {shared_inbox}")).await;
    assert!(
        acl.untagged.contains(&format!("{ALICE_ID} lrswipkxtea")) && acl.untagged.contains(&format!("{BOB_ID} lrsp"))
    );

    let mut bob = logged_in(&site, addr, "bob.durand@ours.test").await;
    assert!(bob.cmd(&format!("MYRIGHTS {shared_inbox}")).await.untagged.contains(" lrsp"));
    assert_eq!(bob.cmd(&format!("GETACL {shared_inbox}")).await.status(), "NO", "only an Administrateur sees the ACL");
    let select = bob.cmd(&format!("SELECT {shared_inbox}")).await;
    assert!(select.ok() && select.untagged.contains("* 1 EXISTS"), "{select:?}");
    assert!(bob.cmd("FETCH 1 (BODY[])").await.untagged.contains("pour la pharmacie"));
    let delete = bob.cmd("STORE 1 +FLAGS (\\Deleted)").await;
    assert!(delete.status() == "NO" && delete.tagged.contains("NOPERM"), "an Utilisateur does not delete: {delete:?}");
    assert_eq!(bob.cmd("EXPUNGE").await.status(), "NO");
    let filing = bob.cmd(&format!("COPY 1 {shared_inbox}")).await;
    assert!(filing.tagged.contains("[NOPERM]"), "no right to insert, not TRYCREATE: {filing:?}");
    assert_eq!(bob.cmd(&format!("CREATE Partage/{pharmacy}/Dossiers")).await.status(), "NO");
    assert_eq!(bob.cmd(&format!("SETACL {shared_inbox} {BOB_ID} lrswipkxtea")).await.status(), "NO");

    // Alice sees Bob's reading at once, and a role change applies at once.
    alice.cmd(&format!("SELECT {shared_inbox}")).await;
    assert!(alice.cmd("FETCH 1 (FLAGS)").await.untagged.contains("\\Seen"));
    site.grant(org, BOB_ID, Role::Gestionnaire).await;
    assert!(bob.cmd("STORE 1 +FLAGS (\\Deleted)").await.ok(), "now a Gestionnaire");
    site.store.meta.grant_role(org, &"810003621892".parse().unwrap(), Role::Utilisateur).await.unwrap();
    let mut outsider_view = logged_in(&site, addr, "bob.durand@ours.test").await;
    assert_eq!(outsider_view.cmd("SELECT Partage/other@ours.test/INBOX").await.status(), "NO");
}

#[tokio::test]
async fn huge_literals_are_refused_before_they_are_sent() {
    let site = Site::new().await;
    site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits { max_append_bytes: 1000, ..Limits::default() }).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    assert!(c.cmd("CAPABILITY").await.untagged.contains("APPENDLIMIT=1000"));
    c.send(b"a1 APPEND INBOX {5000}\r\n").await;
    let refusal = c.line().await.unwrap();
    assert!(refusal.starts_with("a1 NO [TOOBIG]"), "no continuation, a refusal: {refusal}");
    assert!(c.cmd("NOOP").await.ok(), "the session goes on");
    c.send(b"a2 APPEND INBOX {5000+}\r\n").await;
    let bad = c.until("a2").await;
    assert!(bad.tagged.starts_with("a2 BAD [TOOBIG]"), "{bad:?}");
    assert!(c.closed().await, "the literal is on its way: the connection ends");
}

#[tokio::test]
async fn long_lines_bad_syntax_and_stalled_clients() {
    let site = Site::new().await;
    site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let limits = Limits {
        max_line_bytes: 1024,
        progress_timeout: std::time::Duration::from_millis(300),
        unauthenticated_timeout: std::time::Duration::from_millis(300),
        ..Limits::default()
    };
    let addr = site.start(limits).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    c.send(format!("a1 NOOP {}\r\n", "x".repeat(5000)).as_bytes()).await;
    let refusal = c.line().await.unwrap();
    assert!(refusal.starts_with("* BAD"), "a long line is refused: {refusal}");
    assert_eq!(c.cmd("SELECT").await.status(), "BAD");
    assert_eq!(c.cmd("FETCH 1:* (FLAGS)").await.status(), "BAD", "no mailbox selected");
    assert_eq!(c.cmd("UID FETCH x").await.status(), "BAD");
    // A command left unfinished: the client is disconnected.
    c.send(b"a2 NOOP").await;
    assert!(c.closed().await);
    // An unauthenticated client that says nothing is disconnected too.
    let mut silent = Client::new(tokio::net::TcpStream::connect(addr).await.unwrap());
    assert!(silent.closed().await);
}

#[tokio::test]
async fn uids_and_uidvalidity_survive_a_restart() {
    let (site, alice, addr) = alice_site().await;
    site.deliver(alice, &message("Un", "1")).await;
    site.deliver(alice, &message("Deux", "2")).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    let before = c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1 +FLAGS (\\Deleted)").await;
    c.cmd("EXPUNGE").await;
    let reopened = open_store(site.dir.path().to_path_buf()).await;
    let inbox = reopened.meta.folder(alice, "INBOX").await.unwrap().unwrap();
    assert!(before.untagged.contains(&format!("UIDVALIDITY {}", inbox.uidvalidity)));
    assert_eq!(inbox.uidnext, 3, "UIDs are never reused");
    assert_eq!(reopened.meta.folder_uids(inbox.id).await.unwrap(), [2]);
}

#[tokio::test]
async fn condstore_reports_modseq_and_unchangedsince() {
    let (site, alice, addr) = alice_site().await;
    site.deliver(alice, &message("Un", "1")).await;
    site.deliver(alice, &message("Deux", "2")).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    assert!(c.cmd("ENABLE CONDSTORE").await.untagged.contains("* ENABLED CONDSTORE"));
    let select = c.cmd("SELECT INBOX").await;
    let highest: u64 = select
        .untagged
        .split("HIGHESTMODSEQ ")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .and_then(|s| s.parse().ok())
        .expect("HIGHESTMODSEQ");
    let store = c.cmd("STORE 1 +FLAGS (\\Seen)").await;
    assert!(store.untagged.contains("MODSEQ ("), "{store:?}");
    let guarded = c.cmd(&format!("STORE 1:2 (UNCHANGEDSINCE {highest}) +FLAGS (\\Flagged)")).await;
    assert!(guarded.tagged.contains("[MODIFIED 1]"), "{guarded:?}");
    let changed = c.cmd(&format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})")).await;
    assert_eq!(changed.lines("FETCH").len(), 2, "{changed:?}");
    // Envelopes (from the stored facts) of the changed messages only, each
    // with its own.
    let since: u64 =
        changed.untagged.rsplit("MODSEQ (").next().and_then(|s| s.split(')').next()).unwrap().parse().unwrap();
    c.cmd("STORE 2 +FLAGS (\\Answered)").await;
    let envelopes = c.cmd(&format!("FETCH 1:* (ENVELOPE) (CHANGEDSINCE {since})")).await;
    let lines = envelopes.lines("FETCH");
    assert_eq!(lines.len(), 1, "{envelopes:?}");
    assert!(lines[0].starts_with("* 2 FETCH") && lines[0].contains("\"Deux\""), "{envelopes:?}");
}

/// A mailbox of 100,000 messages: SELECT, FETCH 1:* (FLAGS), UID SEARCH,
/// SORT, THREAD and a MOVE of 10,000 all complete and stay correct. (How
/// long they take, and the server's memory, are measured by the bench
/// harness.)
#[tokio::test]
async fn a_mailbox_of_100000_messages_stays_usable() {
    const COUNT: usize = 100_000;
    let (site, alice, addr) = alice_site().await;
    let inbox = site.store.meta.folder(alice, "INBOX").await.unwrap().unwrap();
    let raw = message("Volume", "un parmi cent mille");
    let blob = site.store.blobs.put(raw.clone().into()).await.unwrap();
    let batch: Vec<mss_store::Appended> = (0..COUNT)
        .map(|i| mss_store::Appended {
            blob,
            size: raw.len() as u64,
            received_at: 1_790_000_000 + i as i64,
            flags: if i % 10 == 0 { vec!["\\Flagged".into()] } else { vec![] },
            inline: None,
        })
        .collect();
    for chunk in batch.chunks(25_000) {
        site.store.meta.append(inbox.id, chunk).await.unwrap();
    }
    let mut c = logged_in(&site, addr, ALICE).await;
    let select = c.cmd("SELECT INBOX").await;
    assert!(select.untagged.contains(&format!("* {COUNT} EXISTS")), "{}", &select.untagged[..200]);
    let fetch = c.cmd("FETCH 1:* (FLAGS)").await;
    assert!(fetch.ok());
    assert_eq!(fetch.untagged.matches(" FETCH (").count(), COUNT);
    let search = c.cmd("UID SEARCH FLAGGED").await;
    let found = search.lines("SEARCH")[0].split(' ').skip(2).count();
    assert_eq!(found, COUNT / 10);
    let sorted = c.cmd("UID SORT (REVERSE ARRIVAL) UTF-8 ALL").await;
    assert!(sorted.lines("SORT")[0].starts_with(&format!("* SORT {COUNT} {} ", COUNT - 1)), "{}", sorted.tagged);
    // One subject and one Message-ID for all: each flagged message is read,
    // and all are gathered under one dummy.
    let threads = c.cmd("THREAD REFERENCES UTF-8 FLAGGED").await;
    assert!(threads.lines("THREAD")[0].starts_with("* THREAD ((1)(11)(21)"), "{}", threads.tagged);
    assert_eq!(threads.untagged.matches(')').count(), COUNT / 10 + 1);
    let moved = c.cmd("UID MOVE 1:10000 Archive").await;
    assert!(moved.ok(), "{}", moved.tagged);
    assert_eq!(moved.untagged.matches(" EXPUNGE").count(), 10_000);
    let status = c.cmd("STATUS Archive (MESSAGES)").await;
    assert!(status.untagged.contains("MESSAGES 10000"), "{status:?}");
    let after = c.cmd("SEARCH ALL").await;
    assert_eq!(after.lines("SEARCH")[0].split(' ').skip(2).count(), COUNT - 10_000);
}

#[tokio::test]
async fn extended_list_selects_special_use_and_returns_status() {
    let (site, alice, addr) = alice_site().await;
    site.deliver(alice, &message("Un", "1")).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    let special = c.cmd("LIST (SPECIAL-USE) \"\" \"*\"").await;
    assert!(special.ok(), "{special:?}");
    assert_eq!(special.lines("LIST").len(), 5, "only the special-use folders: {special:?}");
    assert!(!special.untagged.contains("INBOX"));
    let with_status = c.cmd("LIST \"\" (INBOX Sent) RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN))").await;
    assert!(with_status.ok(), "{with_status:?}");
    assert!(with_status.untagged.contains("* STATUS INBOX (MESSAGES 1 UNSEEN 1)"), "{with_status:?}");
    assert!(with_status.untagged.contains("* STATUS Sent (MESSAGES 0 UNSEEN 0)"));
    assert_eq!(with_status.lines("LIST").len(), 2);
    assert_eq!(c.cmd("LIST (BOGUS) \"\" *").await.status(), "BAD");
    let mut anonymous = starttls(addr, site.anonymous()).await;
    assert_eq!(anonymous.cmd("LIST (SPECIAL-USE) \"\" *").await.status(), "NO");
}

#[tokio::test]
async fn a_pending_mailbox_cannot_be_used_and_says_why() {
    let site = Site::new().await;
    let pending = mss_store::NewMailbox {
        address: "claire.petit@ours.test".parse().unwrap(),
        kind: MailboxKind::Personal,
        state: mss_core::MailboxState::Pending,
        national_id: Some(ALICE_ID.parse().unwrap()),
        finess: None,
        first_name: None,
        last_name: None,
        display_name: "Claire Petit".into(),
        service: None,
        liste_rouge: false,
        certificate_dn: None,
    };
    site.store.meta.create_mailbox(&pending).await.unwrap();
    let addr = site.start(Limits::default()).await;
    let mut c = starttls(addr, site.anonymous()).await;
    let reply = c.xoauth2("claire.petit@ours.test", &site.token("claire.petit@ours.test")).await;
    assert_eq!(reply.status(), "NO");
    assert!(reply.tagged.contains("La boite est en cours de creation"), "{reply:?}");
}

/// A message with the header fields SORT and THREAD read, and a body of
/// `body_size` bytes (which decides the SIZE order).
fn headed(fields: &str, body_size: usize) -> String {
    format!("{fields}\r\nTo: pharmacie@ours.test\r\nMIME-Version: 1.0\r\n\r\n{}\r\n", "x".repeat(body_size))
}

/// Five messages, delivered in this order (sequence numbers 1 to 5):
/// an original, two replies to it (one naming a parent that never came),
/// an invoice and an earlier forward of the same invoice.
const CONSULTATION: [(&str, usize); 5] = [
    (
        "From: =?UTF-8?Q?Zo=C3=A9_Bernard?= <zoe@ours.test>\r\nSubject: Ordonnance\r\n\
         Date: 10 Nov 2026 09:00:00 +0000\r\nMessage-ID: <o1@ours.test>",
        1000,
    ),
    (
        "From: Alice Martin <alice.martin@ours.test>\r\nSubject: Re: Ordonnance\r\n\
         Date: 12 Nov 2026 09:00:00 +0000\r\nMessage-ID: <o2@ours.test>\r\nReferences: <o1@ours.test>",
        5000,
    ),
    (
        "From: bob@ours.test\r\nCc: carol@ours.test\r\nSubject: Facture\r\n\
         Date: 11 Nov 2026 09:00:00 +0000\r\nMessage-ID: <f1@ours.test>",
        3000,
    ),
    (
        "From: \"Claire Dupont\" <claire@ours.test>\r\nSubject: RE: [cabinet] Ordonnance\r\n\
         Date: 13 Nov 2026 09:00:00 +0000\r\nMessage-ID: <o3@ours.test>\r\n\
         References: <o1@ours.test>\r\n <never-received@ours.test>",
        2000,
    ),
    (
        "From: Yves <aaron@ours.test>\r\nSubject: Fwd: Facture\r\n\
         Date: 09 Nov 2026 09:00:00 +0000\r\nMessage-ID: <f2@ours.test>",
        4000,
    ),
];

#[tokio::test]
async fn sort_orders_by_each_key_and_thread_gathers_replies() {
    let (site, alice, addr) = alice_site().await;
    for (fields, size) in CONSULTATION {
        site.deliver(alice, &headed(fields, size)).await;
    }
    let mut c = logged_in(&site, addr, ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    for cap in ["SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"] {
        assert!(caps.untagged.split(' ').any(|word| word.trim() == cap), "{cap} in {caps:?}");
    }
    c.cmd("SELECT INBOX").await;
    let sort = async |c: &mut TlsClient, command: &str| {
        let reply = c.cmd(command).await;
        assert!(reply.ok(), "{command}: {reply:?}");
        reply.lines("SORT").concat()
    };
    assert_eq!(sort(&mut c, "SORT (DATE) UTF-8 ALL").await, "* SORT 5 1 3 2 4");
    assert_eq!(sort(&mut c, "SORT (REVERSE DATE) UTF-8 ALL").await, "* SORT 4 2 3 1 5");
    assert_eq!(sort(&mut c, "SORT (ARRIVAL) US-ASCII ALL").await, "* SORT 1 2 3 4 5");
    assert_eq!(sort(&mut c, "SORT (SIZE) UTF-8 ALL").await, "* SORT 1 4 3 5 2");
    // Base subjects: FACTURE (3, 5) before ORDONNANCE (1, 2, 4); equal
    // keys in sequence order, or by the next key.
    assert_eq!(sort(&mut c, "SORT (SUBJECT) UTF-8 ALL").await, "* SORT 3 5 1 2 4");
    assert_eq!(sort(&mut c, "SORT (SUBJECT REVERSE DATE) UTF-8 ALL").await, "* SORT 3 5 4 2 1");
    // Mailboxes: aaron, alice.martin, bob, claire, zoe.
    assert_eq!(sort(&mut c, "SORT (FROM) UTF-8 ALL").await, "* SORT 5 2 3 4 1");
    // Display names, or the address: Alice, bob@, Claire, Yves, Zoé.
    assert_eq!(sort(&mut c, "SORT (DISPLAYFROM) UTF-8 ALL").await, "* SORT 2 3 4 5 1");
    assert_eq!(sort(&mut c, "SORT (DISPLAYTO REVERSE SIZE) UTF-8 ALL").await, "* SORT 2 5 3 4 1");
    // No Cc sorts as the empty string, first.
    assert_eq!(sort(&mut c, "SORT (CC DATE) UTF-8 ALL").await, "* SORT 5 1 2 4 3");
    assert_eq!(sort(&mut c, "SORT (DATE) UTF-8 SUBJECT ordonnance").await, "* SORT 1 2 4");
    assert_eq!(sort(&mut c, "SORT (DATE) UTF-8 SUBJECT nothing").await, "* SORT");
    let badcharset = c.cmd("SORT (DATE) KOI8-R ALL").await;
    assert_eq!(badcharset.status(), "NO");
    assert!(badcharset.tagged.contains("[BADCHARSET (UTF-8 US-ASCII)]"), "{badcharset:?}");

    let thread = async |c: &mut TlsClient, command: &str| {
        let reply = c.cmd(command).await;
        assert!(reply.ok(), "{command}: {reply:?}");
        reply.lines("THREAD").concat()
    };
    // 2 and 4 reply to 1 (4 through a parent that never came); the forward
    // 5 joins the invoice 3 by its subject.
    assert_eq!(thread(&mut c, "THREAD REFERENCES UTF-8 ALL").await, "* THREAD (1 (2)(4))(3 5)");
    assert_eq!(thread(&mut c, "THREAD ORDEREDSUBJECT UTF-8 ALL").await, "* THREAD (5 3)(1 (2)(4))");
    // Two replies to a message that is not in the mailbox: a dummy holds them.
    for (day, id) in [(14, "g1"), (15, "g2")] {
        let fields = format!(
            "From: bob@ours.test\r\nSubject: Re: Garde\r\nDate: {day} Nov 2026 09:00:00 +0000\r\n\
             Message-ID: <{id}@ours.test>\r\nIn-Reply-To: <garde@ours.test>"
        );
        site.deliver(alice, &headed(&fields, 10)).await;
    }
    c.cmd("NOOP").await;
    assert_eq!(thread(&mut c, "THREAD REFERENCES UTF-8 ALL").await, "* THREAD (1 (2)(4))(3 5)((6)(7))");
    assert_eq!(thread(&mut c, "THREAD ORDEREDSUBJECT UTF-8 ALL").await, "* THREAD (5 3)(1 (2)(4))(6 7)");
    assert_eq!(thread(&mut c, "THREAD REFERENCES UTF-8 FROM bob").await, "* THREAD (3)((6)(7))");
    assert_eq!(thread(&mut c, "THREAD REFERENCES UTF-8 SUBJECT nothing").await, "* THREAD");
    assert_eq!(c.cmd("THREAD ZAWINSKI UTF-8 ALL").await.status(), "BAD");
    assert_eq!(c.cmd("THREAD REFERENCES ISO-8859-15 ALL").await.status(), "NO");
}

#[tokio::test]
async fn uid_sort_and_uid_thread_answer_with_uids() {
    let (site, alice, addr) = alice_site().await;
    for (fields, size) in CONSULTATION {
        site.deliver(alice, &headed(fields, size)).await;
    }
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    // Without message 1, sequence numbers 1 to 4 are UIDs 2 to 5.
    assert!(c.cmd("UID MOVE 1 Trash").await.ok());
    assert_eq!(c.cmd("UID SORT (DATE) UTF-8 ALL").await.lines("SORT"), ["* SORT 5 3 2 4"]);
    assert_eq!(c.cmd("SORT (DATE) UTF-8 ALL").await.lines("SORT"), ["* SORT 4 2 1 3"]);
    assert_eq!(c.cmd("UID SORT (REVERSE SUBJECT) UTF-8 UID 3:5").await.lines("SORT"), ["* SORT 4 3 5"]);
    // The parent of 2 and 4 is gone: they are side by side under a dummy,
    // which sorts by 2's date, after 3's.
    assert_eq!(c.cmd("UID THREAD REFERENCES UTF-8 ALL").await.lines("THREAD"), ["* THREAD (3 5)((2)(4))"]);
    assert_eq!(c.cmd("THREAD REFERENCES UTF-8 ALL").await.lines("THREAD"), ["* THREAD (2 4)((1)(3))"]);
}

#[tokio::test]
async fn every_access_goes_to_the_audit_trail_without_content() {
    let (site, alice, addr) = alice_site().await;
    site.deliver(alice, &message("Confidentiel", "diagnostic secret")).await;
    let mut refused = starttls(addr, site.anonymous()).await;
    refused.xoauth2(ALICE, "not-a-token").await;
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    c.cmd("FETCH 1 (BODY[])").await;
    c.cmd("STORE 1 +FLAGS (\\Flagged)").await;
    c.cmd("CREATE Dossiers").await;
    c.cmd("SELECT Nowhere").await;
    site.store.audit.flush().await;
    let filter = mss_store::AuditFilter { action_prefix: Some("imap.".into()), limit: 100, ..Default::default() };
    let mut trail = site.store.meta.audit_entries(&filter).await.unwrap();
    trail.reverse();
    let seen: Vec<(&str, &str, &str)> = trail
        .iter()
        .map(|e| (e.entry.action.as_str(), e.entry.target.as_str(), e.entry.result.split(' ').next().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("imap.login", ALICE, "refused:"),
            ("imap.login", ALICE, "ok"),
            ("imap.select", ALICE, "OK"),
            ("imap.fetch", ALICE, "OK"),
            ("imap.store", ALICE, "OK"),
            ("imap.create", ALICE, "OK"),
            ("imap.select", ALICE, "NO"),
        ]
    );
    assert!(trail[3].entry.detail.contains("folder=INBOX"));
    assert!(
        trail
            .iter()
            .all(|e| !format!("{e:?}").contains("diagnostic secret") && !format!("{e:?}").contains("Confidentiel"))
    );
    assert_eq!(site.store.meta.verify_audit().await.unwrap(), mss_store::AuditVerdict::Intact { entries: 7 });
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_down() {
    let (site, _, addr) = alice_site().await;
    let mut c = starttls(addr, site.anonymous()).await;
    for _ in 0..3 {
        assert_eq!(c.xoauth2(ALICE, "wrong").await.status(), "NO");
    }
    let started = std::time::Instant::now();
    assert_eq!(c.xoauth2(ALICE, "wrong").await.status(), "NO");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "the fourth failure waits");
    // The same account from another connection waits too; the right token still works.
    let mut other = starttls(addr, site.anonymous()).await;
    let started = std::time::Instant::now();
    assert!(other.xoauth2(ALICE, &site.token(ALICE)).await.ok());
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
}
