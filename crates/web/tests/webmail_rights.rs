//! The webmail enforces on an organisational mailbox exactly the rights IMAP
//! gives each role (pen test, issue 13): an Utilisateur ("lrsp") reads,
//! marks seen and sends, and is refused, with nothing changed, flagging,
//! deleting, moving and saving or replacing drafts; a Gestionnaire may, and
//! every such change is in the audit trail.

mod support;

use support::webmail::{Webmail, site};

const ORG: &str = "pharmacie@ours.test";
const MESSAGE: &str = "/portail/boites/pharmacie@ours.test/courrier/INBOX/1";
const COMPOSE: &str = "/portail/boites/pharmacie@ours.test/ecrire";

fn order(subject: &str) -> Vec<u8> {
    format!(
        "From: Labo <labo@autre.test>\r\nTo: {ORG}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@autre.test>\r\n\r\nTexte\r\n"
    )
    .into_bytes()
}

/// A refusal page: 403, in French.
fn refused(reply: &support::Reply) -> bool {
    reply.status == 403 && reply.body.contains("Votre rôle sur cette boîte ne permet pas")
}

/// An organisational mailbox with one message, Paul its Utilisateur and Bob
/// its Gestionnaire, both signed in: their cookies and CSRF tokens.
async fn pharmacy(s: &Webmail) -> (mss_store::Mailbox, [(String, String); 2]) {
    let (org, staff) = s.pharmacy_with_staff().await;
    s.store.deliver(&order("commande"), &[org.id]).await.unwrap();
    (org, staff)
}

#[tokio::test]
async fn an_utilisateur_reads_and_marks_seen_but_may_not_flag_delete_or_move() {
    let s = site().await;
    let (org, [(paul, csrf), _]) = pharmacy(&s).await;
    let act = |what: &str| format!("csrf={csrf}&action={what}");

    let read = s.get(MESSAGE, &paul).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body.contains("Marquer comme non lu"));
    for hidden in ["Marquer pour suivi", "value=\"supprimer\"", "value=\"deplacer\""] {
        assert!(!read.body.contains(hidden), "{hidden} offered to an Utilisateur");
    }
    assert!(s.folder(&org, "INBOX").await[0].0.has_flag("\\Seen"), "reading marks seen (s)");
    let unread = s.post_form(&format!("{MESSAGE}/action"), &paul, &act("non-lu")).await;
    assert_eq!(unread.status, 303, "s lets him mark it unread: {}", unread.body);
    assert!(!s.folder(&org, "INBOX").await[0].0.has_flag("\\Seen"));

    for attempt in [act("suivi"), act("supprimer"), format!("{}&vers=Archive", act("deplacer"))] {
        let reply = s.post_form(&format!("{MESSAGE}/action"), &paul, &attempt).await;
        assert!(refused(&reply), "{attempt}: {} {}", reply.status, reply.body);
    }
    let inbox = s.folder(&org, "INBOX").await;
    assert_eq!(inbox.len(), 1, "still there");
    assert!(!inbox[0].0.has_flag("\\Flagged") && !inbox[0].0.has_flag("\\Deleted"), "flags unchanged");
    assert!(s.folder(&org, "Trash").await.is_empty() && s.folder(&org, "Archive").await.is_empty());
    let refusals = s.audited("webmail.", ORG).await;
    assert_eq!(refusals.iter().filter(|e| e.contains(" refused: ")).count(), 3, "{refusals:?}");
}

#[tokio::test]
async fn an_utilisateur_may_not_save_or_replace_a_draft_of_the_mailbox() {
    let s = site().await;
    let (org, [(paul, paul_csrf), (bob, bob_csrf)]) = pharmacy(&s).await;
    s.personal("dest", "810001234565").await;

    // Bob, Gestionnaire, keeps a draft there.
    let draft = [
        ("csrf", bob_csrf.as_str()),
        ("a", "dest@ours.test"),
        ("objet", "Commande grossiste"),
        ("corps", "À compléter"),
        ("action", "brouillon"),
    ];
    assert_eq!(s.post_multipart(COMPOSE, &bob, &draft, &[]).await.status, 303);
    let drafts = s.folder(&org, "Drafts").await;
    assert_eq!(drafts.len(), 1);
    let uid = drafts[0].0.uid.to_string();

    // Paul may take it up as a new message, not save over it nor send it away.
    let taken = s.get(&format!("{COMPOSE}?brouillon={uid}"), &paul).await;
    assert_eq!(taken.status, 200, "{}", taken.body);
    assert!(!taken.body.contains("name=\"brouillon\""), "no draft to replace: {}", taken.body);
    assert!(!taken.body.contains("Enregistrer le brouillon"));
    let save = [("csrf", paul_csrf.as_str()), ("a", "dest@ours.test"), ("objet", "Mien"), ("action", "brouillon")];
    assert!(refused(&s.post_multipart(COMPOSE, &paul, &save, &[]).await));
    let replace = [
        ("csrf", paul_csrf.as_str()),
        ("a", "dest@ours.test"),
        ("objet", "Commande grossiste"),
        ("source", &format!("Drafts/{uid}")),
        ("brouillon", uid.as_str()),
        ("action", "envoyer"),
    ];
    assert!(refused(&s.post_multipart(COMPOSE, &paul, &replace, &[]).await));
    let drafts = s.folder(&org, "Drafts").await;
    assert_eq!(drafts.len(), 1, "Bob's draft is still there");
    assert_eq!(drafts[0].0.uid.to_string(), uid);
    assert!(s.folder(&org, "Sent").await.is_empty(), "nothing sent");

    // He still sends as the mailbox (p).
    let send = [("csrf", paul_csrf.as_str()), ("a", "dest@ours.test"), ("objet", "Rappel"), ("action", "envoyer")];
    assert_eq!(s.post_multipart(COMPOSE, &paul, &send, &[]).await.status, 303);
    assert_eq!(s.folder(&org, "Sent").await.len(), 1);
    assert_eq!(s.folder(&org, "Drafts").await.len(), 1);
    let refusals = s.audited("webmail.draft", ORG).await;
    assert_eq!(refusals.iter().filter(|e| e.contains(" refused: ")).count(), 2, "{refusals:?}");
}

#[tokio::test]
async fn a_gestionnaire_flags_deletes_and_replaces_drafts_and_each_is_audited() {
    let s = site().await;
    let (org, [_, (bob, csrf)]) = pharmacy(&s).await;
    s.personal("dest", "810001234565").await;
    let act = |what: &str| format!("csrf={csrf}&action={what}");

    let read = s.get(MESSAGE, &bob).await;
    assert!(read.body.contains("Marquer pour suivi") && read.body.contains("value=\"supprimer\""));
    assert_eq!(s.post_form(&format!("{MESSAGE}/action"), &bob, &act("suivi")).await.status, 303);
    assert!(s.folder(&org, "INBOX").await[0].0.has_flag("\\Flagged"));
    assert_eq!(s.post_form(&format!("{MESSAGE}/action"), &bob, &act("supprimer")).await.status, 303);
    assert!(s.folder(&org, "INBOX").await.is_empty());
    let trash = "/portail/boites/pharmacie@ours.test/courrier/Trash/1";
    assert_eq!(s.post_form(&format!("{trash}/action"), &bob, &act("supprimer")).await.status, 303);
    assert!(s.folder(&org, "Trash").await.is_empty(), "expunged");

    let draft = |subject: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("a", "dest@ours.test".into()),
            ("objet", subject.into()),
            ("action", "brouillon".into()),
        ]
    };
    let first = draft("Premier jet");
    let first: Vec<(&str, &str)> = first.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(s.post_multipart(COMPOSE, &bob, &first, &[]).await.status, 303);
    let uid = s.folder(&org, "Drafts").await[0].0.uid.to_string();
    let second = [
        ("csrf", csrf.as_str()),
        ("a", "dest@ours.test"),
        ("objet", "Second jet"),
        ("brouillon", uid.as_str()),
        ("action", "brouillon"),
    ];
    assert_eq!(s.post_multipart(COMPOSE, &bob, &second, &[]).await.status, 303);
    assert_eq!(s.folder(&org, "Drafts").await.len(), 1, "replaced");

    let trail = s.audited("webmail.", ORG).await;
    for expected in [
        "webmail.flag ok INBOX/1 +\\Flagged",
        "webmail.delete ok INBOX/1 to Trash",
        "webmail.expunge ok Trash/1",
        "webmail.draft.save ok Drafts",
        &format!("webmail.draft.replace ok Drafts/{uid}"),
    ] {
        assert!(trail.iter().any(|e| e.starts_with(expected)), "{expected} in {trail:?}");
    }
}
