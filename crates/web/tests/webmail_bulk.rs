//! The mail client's list: one row per message with the sender's name, the
//! first words, the marks (attachment, health document, follow-up), and
//! bulk actions on the messages selected, under the same rights as one
//! message's actions: an Utilisateur marks read and unread but is refused
//! moving and deleting, nothing changed; a Gestionnaire moves and deletes;
//! hostile forms (no selection, foreign UIDs, a folder that does not
//! exist, too many messages, no CSRF token) change nothing.

mod support;

use support::webmail::{Webmail, site};

const ORG: &str = "pharmacie@ours.test";
const MAIL: &str = "/portail/boites/pharmacie@ours.test/courrier";
const BULK: &str = "/portail/boites/pharmacie@ours.test/courrier/lot";

fn order(n: u32, attachment: bool) -> Vec<u8> {
    let head = format!(
        "From: Laboratoire Bio <labo@autre.test>\r\nTo: {ORG}\r\nSubject: Commande {n}\r\n\
         Message-ID: <c{n}@autre.test>\r\nDate: Fri, 27 Nov 2026 10:30:00 +0100\r\nMIME-Version: 1.0\r\n"
    );
    let text = format!("Bonjour,\r\n\r\nVoici   la commande\r\nnuméro {n}.\r\n> ancien message cité\r\n");
    if attachment {
        format!(
            "{head}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             {text}--b\r\nContent-Type: application/pdf; name=bon.pdf\r\nContent-Disposition: attachment; filename=bon.pdf\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
        )
    } else {
        format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}")
    }
    .into_bytes()
}

/// The pharmacy with four orders (the second with a PDF), Paul its
/// Utilisateur and Bob its Gestionnaire: their cookies and CSRF tokens.
async fn pharmacy(s: &Webmail) -> (mss_store::Mailbox, [(String, String); 2]) {
    let (org, staff) = s.pharmacy_with_staff().await;
    for n in 1..=4 {
        let raw = order(n, n == 2);
        let inbox = [mss_store::Placement::inbox(org.id)];
        s.store.deliver_indexed(&raw, &inbox, Some(mss_message::stored(&raw))).await.unwrap();
    }
    (org, staff)
}

fn flagged(folder: &[(mss_store::MessageMeta, Vec<u8>)], flag: &str) -> Vec<u32> {
    folder.iter().filter(|(m, _)| m.has_flag(flag)).map(|(m, _)| m.uid).collect()
}

#[tokio::test]
async fn the_list_shows_names_first_words_and_marks() {
    let s = site().await;
    let (_, [_, (bob, _)]) = pharmacy(&s).await;
    let list = s.get(MAIL, &bob).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let body = &list.body;
    assert!(
        body.contains(r#"title="labo@autre.test"><span class="masque">Non lu, </span>Laboratoire Bio</span>"#),
        "{body}"
    );
    assert!(body.contains(r#"<span class="apercu">Bonjour, Voici la commande numéro 3.</span>"#), "{body}");
    assert!(!body.contains("ancien message cité"), "quoted lines are not the first words");
    assert!(body.contains(r#"<time class="quand" datetime="2026-11-27T10:30:00+01:00" title="27/11/2026 à 10:30">"#));
    assert_eq!(body.matches("<span class=\"masque\">Pièce jointe</span>").count(), 1, "{body}");
    assert_eq!(body.matches("<span class=\"taille\">").count(), 4, "each size: {body}");
    assert_eq!(body.matches("<li class=\"non-lu\">").count(), 4);
    // Bob may do everything: every bulk action is offered.
    for offered in ["value=\"lu\"", "value=\"non-lu\"", "value=\"suivi\"", "value=\"deplacer\"", "value=\"supprimer\""]
    {
        assert!(body.contains(offered), "{offered}");
    }
}

#[tokio::test]
async fn an_utilisateur_marks_a_selection_read_but_may_not_move_or_delete_it() {
    let s = site().await;
    let (org, [(paul, csrf), _]) = pharmacy(&s).await;
    let list = s.get(MAIL, &paul).await;
    assert!(list.body.contains("value=\"lu\"") && !list.body.contains("value=\"supprimer\""), "{}", list.body);

    let form =
        |action: &str, extra: &str| format!("csrf={csrf}&dossier=INBOX&q=&tri=recent&page=1&action={action}{extra}");
    let read = s.post_form(BULK, &paul, &form("lu", "&m=1&m=3")).await;
    assert_eq!(read.status, 303, "{}", read.body);
    assert_eq!(read.header("location"), Some(&*format!("{MAIL}?dossier=INBOX&tri=recent&page=1&fait=lot-lu")));
    assert_eq!(flagged(&s.folder(&org, "INBOX").await, "\\Seen"), [1, 3]);
    let done = s.get(read.header("location").unwrap(), &paul).await;
    assert!(done.body.contains("Les messages sélectionnés sont marqués comme lus."), "{}", done.body);

    for refused in [form("supprimer", "&m=2"), form("deplacer", "&m=2&vers=Archive"), form("suivi", "&m=2")] {
        let reply = s.post_form(BULK, &paul, &refused).await;
        assert_eq!(reply.status, 403, "{refused}: {}", reply.body);
        assert!(reply.body.contains("Votre rôle sur cette boîte ne permet pas"), "{}", reply.body);
    }
    let inbox = s.folder(&org, "INBOX").await;
    assert_eq!(inbox.len(), 4, "nothing moved");
    assert!(flagged(&inbox, "\\Flagged").is_empty());
    let audit = s.audited("webmail.", ORG).await;
    assert!(audit.iter().any(|e| e.contains("INBOX/1,3 +\\Seen")), "{audit:?}");
    assert_eq!(audit.iter().filter(|e| e.contains("refused: role")).count(), 3, "{audit:?}");
}

#[tokio::test]
async fn a_gestionnaire_moves_and_deletes_a_selection() {
    let s = site().await;
    let (org, [_, (bob, csrf)]) = pharmacy(&s).await;
    let form = |action: &str, extra: &str| format!("csrf={csrf}&dossier=INBOX&action={action}{extra}");
    let moved = s.post_form(BULK, &bob, &form("deplacer", "&m=1&m=2&vers=Archive")).await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert_eq!(s.folder(&org, "Archive").await.len(), 2);
    let deleted = s.post_form(BULK, &bob, &form("supprimer", "&m=3&m=3&m=4")).await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert!(s.folder(&org, "INBOX").await.is_empty());
    assert_eq!(s.folder(&org, "Trash").await.len(), 2, "to the Trash, each once");
    // From the Trash: for good.
    let trash = |action: &str| format!("csrf={csrf}&dossier=Trash&action={action}&m=1&m=2");
    assert_eq!(s.post_form(BULK, &bob, &trash("supprimer")).await.status, 303);
    assert!(s.folder(&org, "Trash").await.is_empty());
    let audit = s.audited("webmail.", ORG).await;
    for expected in ["webmail.move", "INBOX/1,2 to Archive", "webmail.delete", "INBOX/3,4 to Trash", "webmail.expunge"]
    {
        assert!(audit.iter().any(|e| e.contains(expected)), "{expected}: {audit:?}");
    }
}

#[tokio::test]
async fn hostile_bulk_forms_change_nothing() {
    let s = site().await;
    let (org, [(_, paul_csrf), (bob, csrf)]) = pharmacy(&s).await;
    let before = s.folder(&org, "INBOX").await;
    let form = |extra: &str| format!("csrf={csrf}&dossier=INBOX{extra}");
    // Nothing selected: said, nothing done.
    let none = s.post_form(BULK, &bob, &form("&action=supprimer")).await;
    assert_eq!(none.header("location"), Some(&*format!("{MAIL}?dossier=INBOX&fait=aucun")));
    let said = s.get(none.header("location").unwrap(), &bob).await;
    assert!(said.body.contains("Aucun message n'est sélectionné"), "{}", said.body);
    for (attempt, status) in [
        // Not numbers, an unknown action, a folder of no mailbox's, the
        // Archive that is not a folder here, the folder it is in.
        (form("&action=supprimer&m=1%20OR%201"), 404),
        (form("&action=supprimer&m=-1"), 404),
        (form("&action=tout-effacer&m=1"), 404),
        (format!("csrf={csrf}&dossier=..%2FINBOX&action=supprimer&m=1"), 404),
        (form("&action=deplacer&m=1&vers=Nulle%20part"), 404),
        (form("&action=deplacer&m=1&vers=INBOX"), 404),
        // Without the CSRF token, or with another session's.
        ("dossier=INBOX&action=supprimer&m=1".to_string(), 403),
        (format!("csrf={paul_csrf}&dossier=INBOX&action=supprimer&m=1"), 403),
    ] {
        let reply = s.post_form(BULK, &bob, &attempt).await;
        assert_eq!(reply.status, status, "{attempt}: {}", reply.body);
    }
    // Too many at once.
    let many: String = (1..=501).map(|n| format!("&m={n}")).collect();
    let reply = s.post_form(BULK, &bob, &form(&format!("&action=lu{many}"))).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("Sélectionnez au plus 500 messages"));
    // UIDs of no message here: nothing to do, and nothing else touched.
    let foreign = s.post_form(BULK, &bob, &form("&action=supprimer&m=77&m=4294967295")).await;
    assert_eq!(foreign.status, 303, "{}", foreign.body);
    let after = s.folder(&org, "INBOX").await;
    let flags =
        |f: &[(mss_store::MessageMeta, Vec<u8>)]| f.iter().map(|(m, _)| (m.uid, m.flags.clone())).collect::<Vec<_>>();
    assert_eq!(flags(&after), flags(&before));
    assert!(s.folder(&org, "Trash").await.is_empty());
    // Foreign UIDs beside one of the folder's: the trail names only what was done.
    let mixed = s.post_form(BULK, &bob, &form("&action=suivi&m=2&m=77")).await;
    assert_eq!(mixed.status, 303, "{}", mixed.body);
    assert_eq!(flagged(&s.folder(&org, "INBOX").await, "\\Flagged"), [2]);
    let audit = s.audited("webmail.", ORG).await;
    assert!(audit.iter().any(|e| e.ends_with("INBOX/2 +\\Flagged")), "{audit:?}");
    assert!(!audit.iter().any(|e| e.contains("77")), "{audit:?}");
}
