//! The portal's webmail over real HTTP with a real store: the folders and
//! their unread counts, the message list, reading a message (which marks it
//! seen), HTML bodies sanitised, the 404 a person without a role on
//! a mailbox gets; writing (new, reply, forward with attachments kept,
//! drafts), refusals outside the trust space, over the size limit or without
//! the CSRF token, which store nothing; downloads and message actions.

mod support;

use support::webmail::{MAX, site};

use mail_parser::MimeHeaders;
use mss_core::{MailboxKind, MailboxState, Role};
use mss_store::NewMailbox;

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const ELODIE: &str = "810003621892";
const BOB: &str = "810000013994";
const PAUL: &str = "810009999995";

fn plain(subject: &str) -> Vec<u8> {
    format!(
        "From: =?utf-8?q?Jos=C3=A9_Martin?= <jose.martin@autre.test>\r\nTo: elodie@ours.test\r\n\
         Subject: {subject}\r\nDate: Fri, 27 Nov 2026 09:30:00 +0000\r\nMessage-ID: <{subject}@autre.test>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\nCorps de {subject}.\r\n"
    )
    .into_bytes()
}

const HTML_WITH_ATTACHMENT: &str = "From: Labo <labo@autre.test>\r\nTo: elodie@ours.test\r\n\
    Subject: =?utf-8?q?R=C3=A9sultats?=\r\nDate: Thu, 26 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n\
    Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
    <html><body><p>Voir <b>les analyses</b></p><script>alert('x')</script>\
    <img src=\"https://tracker.test/pixel.gif\"></body></html>\r\n\
    --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"analyses.pdf\"\r\n\
    Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";

#[tokio::test]
async fn the_webmail_lists_folders_and_messages_and_reading_marks_seen() {
    let s = site().await;
    let mailbox = s.personal("elodie", ELODIE).await;
    for subject in ["premier", "second"] {
        s.store.deliver(&plain(subject), &[mailbox.id]).await.unwrap();
    }
    s.store.deliver(HTML_WITH_ATTACHMENT.as_bytes(), &[mailbox.id]).await.unwrap();
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;

    let home = s.get("/portail/boites", &cookie).await;
    assert!(home.body.contains("href=\"/portail/boites/elodie@ours.test/courrier\""), "{}", home.body);

    let list = s.get("/portail/boites/elodie@ours.test/courrier", &cookie).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.header("content-security-policy"), Some(CSP));
    for label in ["Boîte de réception", "Envoyés", "Brouillons", "Corbeille", "Indésirables", "Archives"] {
        assert!(list.body.contains(label), "{label}");
    }
    assert!(
        list.body.contains("<span class=\"compte\">3<span class=\"masque\"> non lus</span></span>"),
        "{}",
        list.body
    );
    assert!(list.body.contains(r#"title="jose.martin@autre.test"><span class="masque">Non lu, </span>José Martin<"#));
    assert!(list.body.contains("Résultats"));
    assert!(list.body.contains("27/11/2026 à 10:30"));
    assert_eq!(list.body.matches("class=\"non-lu\"").count(), 3);
    let (newest, oldest) = (list.body.find("Résultats").unwrap(), list.body.find("premier").unwrap());
    assert!(list.body.find("second").unwrap() < oldest && newest < oldest, "newest (highest UID) first");

    let read = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/1", &cookie).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.header("content-security-policy"), Some(CSP));
    assert!(
        read.body.contains("<h1 id=\"titre-message\">premier</h1>") && read.body.contains("Corps de premier."),
        "{}",
        read.body
    );
    assert!(read.body.contains("elodie@ours.test") && read.body.contains("27/11/2026 à 10:30"));
    let list = s.get("/portail/boites/elodie@ours.test/courrier?dossier=INBOX", &cookie).await;
    assert!(list.body.contains("<span class=\"compte\">2<"), "one fewer unread");
    assert_eq!(list.body.matches("class=\"non-lu\"").count(), 2);

    let html = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/3", &cookie).await;
    assert_eq!(html.status, 200, "{}", html.body);
    assert!(html.body.contains("<div class=\"corps-html\"><p>Voir <b>les analyses</b></p>"), "{}", html.body);
    let scripts = html.body.matches("<script").count();
    assert!(scripts == 1 && html.body.contains("<script src=\"/portail/assets/portail-"), "the portal's only");
    assert!(!html.body.contains("alert("), "no script");
    assert!(!html.body.contains("tracker.test"), "no remote content");
    assert!(html.body.contains("analyses.pdf") && html.body.contains("application/pdf"));

    assert_eq!(s.get("/portail/boites/elodie@ours.test/courrier/INBOX/99", &cookie).await.status, 404);
    assert_eq!(s.get("/portail/boites/elodie@ours.test/courrier?dossier=Nope", &cookie).await.status, 404);
    let sent = s.get("/portail/boites/elodie@ours.test/courrier?dossier=Sent", &cookie).await;
    assert!(sent.body.contains("Ce dossier est vide."));

    // The switcher lists the mailboxes she may read; unknown pages are French.
    assert!(
        list.body
            .contains("<option value=\"elodie@ours.test\" selected>elodie · elodie@ours.test (Titulaire)</option>"),
        "{}",
        list.body
    );
    let switched = s.get("/portail/boites/ouvrir?adresse=elodie@ours.test", &cookie).await;
    assert_eq!(switched.header("location"), Some("/portail/boites/elodie%40ours.test/courrier"));
    assert_eq!(s.get(switched.header("location").unwrap(), &cookie).await.status, 200);
    let unknown = s.get("/portail/nulle-part", &cookie).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("<h1>Page introuvable</h1>") && unknown.body.contains("lang=\"fr\""));

    // The state the page's script polls moves when mail arrives.
    let state = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    let before = state(&s.get("/portail/boites/elodie@ours.test/courrier/etat?dossier=INBOX", &cookie).await.body);
    assert_eq!(before, serde_json::json!({ "uidnext": 4, "non_lus": 1 }));
    s.store.deliver(&plain("troisième"), &[mailbox.id]).await.unwrap();
    let after = state(&s.get("/portail/boites/elodie@ours.test/courrier/etat", &cookie).await.body);
    assert_eq!(after, serde_json::json!({ "uidnext": 5, "non_lus": 2 }));

    // Search and sort.
    let found = s.get("/portail/boites/elodie@ours.test/courrier?q=JOSE+premier", &cookie).await;
    assert!(found.body.contains("1 message correspond à « JOSE premier »."), "{}", found.body);
    assert!(found.body.contains(">premier<") && !found.body.contains(">second<"));
    let none = s.get("/portail/boites/elodie@ours.test/courrier?q=introuvable", &cookie).await;
    assert!(none.body.contains("Aucun message ne correspond à « introuvable »."));
    let by_subject = s.get("/portail/boites/elodie@ours.test/courrier?tri=objet", &cookie).await;
    let at = |text: &str| by_subject.body.find(text).unwrap();
    assert!(at(">premier<") < at(">Résultats<") && at(">Résultats<") < at(">second<"), "{}", by_subject.body);
    assert!(by_subject.body.contains("<option value=\"objet\" selected>Par objet</option>"));
}

#[tokio::test]
async fn a_person_without_a_role_gets_404_and_a_member_may_read() {
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    s.store.deliver(&plain("secret"), &[elodie.id]).await.unwrap();
    let org = NewMailbox {
        address: "pharmacie@ours.test".parse().unwrap(),
        kind: MailboxKind::Organisational,
        state: MailboxState::Active,
        national_id: None,
        finess: Some("750000002".parse().unwrap()),
        first_name: None,
        last_name: None,
        display_name: "Pharmacie du Centre".into(),
        service: None,
        liste_rouge: false,
        certificate_dn: None,
    };
    let org = s.store.meta.create_mailbox(&org).await.unwrap();
    s.store.deliver(&plain("commande"), &[org.id]).await.unwrap();
    let paul = s.signed_in(PAUL, "Paul", "Durand").await;
    for path in [
        "/portail/boites/elodie@ours.test/courrier",
        "/portail/boites/elodie@ours.test/courrier/INBOX/1",
        "/portail/boites/pharmacie@ours.test/courrier",
        "/portail/boites/nobody@ours.test/courrier",
    ] {
        let refused = s.get(path, &paul).await;
        assert_eq!(refused.status, 404, "{path}");
        assert!(!refused.body.contains("secret") && !refused.body.contains("commande"));
    }
    let unread = s.store.meta.folder(elodie.id, "INBOX").await.unwrap().unwrap();
    assert_eq!(s.store.meta.folder_counts(unread.id).await.unwrap().unseen, 1, "nothing marked seen");

    s.store.meta.grant_role(org.id, &PAUL.parse().unwrap(), Role::Utilisateur).await.unwrap();
    let list = s.get("/portail/boites/pharmacie@ours.test/courrier", &paul).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("commande"));

    // A suspended mailbox is not read, even by its members.
    s.store.meta.change_state(org.id, MailboxState::Active, MailboxState::Suspended, Some("contrôle")).await.unwrap();
    let closed = s.get("/portail/boites/pharmacie@ours.test/courrier/INBOX/1", &paul).await;
    assert_eq!(closed.status, 409);
    assert!(closed.body.contains("suspendue") && !closed.body.contains("commande"), "{}", closed.body);
}

#[tokio::test]
async fn the_webmail_sends_replies_forwards_and_keeps_drafts() {
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    let bob = s.personal("bob", BOB).await;
    let hospital = mss_store::WhitelistRow {
        domain: "hopital.test".into(),
        operator_dn: "CN=mss.hopital.test,O=Hopital".into(),
        description: String::new(),
        responsible_contact: String::new(),
        support_contact: String::new(),
        updated_at: String::new(),
        source: mss_store::WhitelistSource::Manual,
    };
    s.store.meta.add_manual_whitelist_row(&hospital).await.unwrap();
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;
    let compose = "/portail/boites/elodie@ours.test/ecrire";

    let form = s.get(compose, &cookie).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("enctype=\"multipart/form-data\"") && form.body.contains(&format!("data-max=\"{MAX}\""))
    );
    assert!(form.body.contains("<script src=\"/portail/assets/portail-"), "the size check script");

    // Sent to a colleague here and a hospital elsewhere, with an attachment.
    let pdf: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let fields = [
        ("csrf", csrf.as_str()),
        ("a", "Bob <bob@ours.test>, dr.house@hopital.test"),
        ("cc", ""),
        ("objet", "Ordonnance de Mme Durand"),
        ("corps", "Bonjour,\r\nvoici l'ordonnance.\r\n"),
        ("action", "envoyer"),
    ];
    let sent = s.post_multipart(compose, &cookie, &fields, &[("ordonnance é.pdf", "application/pdf", &pdf)]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(sent.header("location"), Some("/portail/boites/elodie@ours.test/courrier?fait=envoye"));
    let inbox = s.folder(&bob, "INBOX").await;
    assert_eq!(inbox.len(), 1);
    let message = mail_parser::MessageParser::default().parse(&inbox[0].1).unwrap();
    assert_eq!(message.subject(), Some("Ordonnance de Mme Durand"));
    assert_eq!(message.from().unwrap().first().unwrap().address(), Some("elodie@ours.test"));
    assert!(message.body_text(0).unwrap().contains("voici l'ordonnance."));
    let part = message.attachments().next().unwrap();
    assert_eq!((part.attachment_name(), part.contents()), (Some("ordonnance é.pdf"), pdf.as_slice()));
    assert!(String::from_utf8_lossy(&inbox[0].1).starts_with("Received: from portail by mss.ours.test"));
    assert_eq!(s.folder(&elodie, "Sent").await.len(), 1, "a copy in Sent");
    let queued = s.store.meta.queue().await.unwrap();
    assert_eq!(queued.iter().map(|q| q.recipient.as_str()).collect::<Vec<_>>(), ["dr.house@hopital.test"]);
    let done = s.get("/portail/boites/elodie@ours.test/courrier?fait=envoye", &cookie).await;
    assert!(done.body.contains("Votre message a été envoyé."));

    // Suggestions: her correspondents in the page, the directory as she types.
    let form = s.get(compose, &cookie).await;
    assert!(form.body.contains("<option value=\"bob@ours.test\">Bob</option>"), "{}", form.body);
    assert!(form.body.contains("<option value=\"dr.house@hopital.test\"></option>"));
    let suggested = s.get("/portail/annuaire/suggestions?q=bo", &cookie).await;
    let suggested: serde_json::Value = serde_json::from_str(&suggested.body).unwrap();
    assert_eq!(suggested[0]["address"], "bob@ours.test", "{suggested}");
    assert_eq!(s.get("/portail/annuaire/suggestions?q=b", &cookie).await.body, "[]", "two letters at least");

    // Before sending, the page may ask which addresses would be refused.
    let check = |q: &str| format!("{compose}/verifier?adresses={q}");
    let warned = s.get(&check("x%40gmail.test%2C%20bob%40ours.test%2C%20personne%40ours.test"), &cookie).await;
    let warned: serde_json::Value = serde_json::from_str(&warned.body).unwrap();
    let warnings: Vec<&str> =
        warned["avertissements"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("x@gmail.test est hors de l'espace de confiance MSSanté"), "{warnings:?}");
    assert_eq!(warnings[1], "Aucune boîte active à l'adresse personne@ours.test.");
    let malformed = s.get(&check("pas%20une%20adresse"), &cookie).await.body;
    assert!(malformed.contains("Adresse invalide : pas une adresse"), "{malformed}");

    // Refusals store nothing.
    let outside = [("csrf", csrf.as_str()), ("a", "x@gmail.test"), ("objet", "Hors"), ("action", "envoyer")];
    let refused = s.post_multipart(compose, &cookie, &outside, &[("a.txt", "text/plain", b"x")]).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("x@gmail.test est hors de l'espace de confiance MSSanté"), "{}", refused.body);
    assert!(refused.body.contains("joignez de nouveau vos fichiers") && refused.body.contains("value=\"Hors\""));
    let nobody = [("csrf", csrf.as_str()), ("a", "personne@ours.test"), ("action", "envoyer")];
    let refused = s.post_multipart(compose, &cookie, &nobody, &[]).await;
    assert!(refused.body.contains("Aucune boîte active à l'adresse personne@ours.test."), "{}", refused.body);
    let empty = [("csrf", csrf.as_str()), ("a", ""), ("action", "envoyer")];
    assert!(s.post_multipart(compose, &cookie, &empty, &[]).await.body.contains("Indiquez au moins un destinataire."));
    let zeros = "0".repeat(64);
    let forged = [("csrf", zeros.as_str()), ("a", "bob@ours.test"), ("action", "envoyer")];
    assert_eq!(s.post_multipart(compose, &cookie, &forged, &[]).await.status, 403);
    let files_first = [("a", "bob@ours.test"), ("csrf", csrf.as_str())];
    assert_eq!(s.post_multipart(compose, &cookie, &files_first, &[]).await.status, 403, "the token comes first");
    let big = vec![b'x'; MAX + 300 * 1024];
    let too_big = [("csrf", csrf.as_str()), ("a", "bob@ours.test"), ("action", "envoyer")];
    let refused = s.post_multipart(compose, &cookie, &too_big, &[("scan.tif", "image/tiff", &big)]).await;
    assert_eq!(refused.status, 413);
    assert!(refused.body.contains("dépassent la taille maximale"), "{}", refused.body);
    let just_over = vec![b'x'; MAX];
    let refused = s.post_multipart(compose, &cookie, &too_big, &[("scan.tif", "image/tiff", &just_over)]).await;
    assert_eq!(refused.status, 413, "the message once encoded is over the limit");
    assert_eq!(s.folder(&bob, "INBOX").await.len(), 1);
    assert_eq!(s.folder(&elodie, "Sent").await.len(), 1);
    assert_eq!(s.store.meta.queue().await.unwrap().len(), 1);

    // Bob replies to all, forwards with the attachment kept.
    let bob_cookie = s.signed_in(BOB, "Bob", "Durand").await;
    let bob_csrf = s.csrf(&bob_cookie).await;
    let reply = s.get("/portail/boites/bob@ours.test/ecrire?repondre=INBOX%2F1&tous=1", &bob_cookie).await;
    assert!(reply.body.contains("value=\"Re: Ordonnance de Mme Durand\""), "{}", reply.body);
    assert!(
        reply.body.contains("value=\"elodie@ours.test\"") && reply.body.contains("value=\"dr.house@hopital.test\"")
    );
    assert!(reply.body.contains("&gt; voici l'ordonnance."), "quoted");
    let forward = s.get("/portail/boites/bob@ours.test/ecrire?transferer=INBOX%2F1", &bob_cookie).await;
    assert!(
        forward.body.contains("value=\"Fwd: Ordonnance de Mme Durand\"") && forward.body.contains("ordonnance é.pdf")
    );
    let fields = [
        ("csrf", bob_csrf.as_str()),
        ("a", "elodie@ours.test"),
        ("objet", "Fwd: Ordonnance de Mme Durand"),
        ("corps", "Pour information."),
        ("source", "INBOX/1"),
        ("garder", "0"),
        ("action", "envoyer"),
    ];
    assert_eq!(s.post_multipart("/portail/boites/bob@ours.test/ecrire", &bob_cookie, &fields, &[]).await.status, 303);
    let inbox = s.folder(&elodie, "INBOX").await;
    let forwarded = mail_parser::MessageParser::default().parse(&inbox[0].1).unwrap();
    assert_eq!(forwarded.attachments().next().unwrap().contents(), pdf.as_slice(), "the attachment went along");

    // Reading it, downloading it, then the message actions.
    let read = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/1", &cookie).await;
    assert!(read.body.contains("href=\"/portail/boites/elodie@ours.test/courrier/INBOX/1/pieces/0\""), "{}", read.body);
    let download = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/1/pieces/0", &cookie).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.header("content-type"), Some("application/octet-stream"));
    assert!(download.header("content-disposition").unwrap().starts_with("attachment; filename=\"ordonnance__.pdf\""));
    assert_eq!(download.bytes, pdf);
    s.store.audit.flush().await;
    let filter = mss_store::AuditFilter { limit: 1000, ..Default::default() };
    let trail = s.store.meta.audit_entries(&filter).await.unwrap();
    let seen: Vec<String> = trail
        .iter()
        .map(|e| &e.entry)
        .filter(|e| e.action.starts_with("webmail.") && e.target == "elodie@ours.test")
        .map(|e| format!("{} {}", e.action, e.detail))
        .collect();
    for expected in ["webmail.download INBOX/1 part=0", "webmail.send recipients=2 size=", "webmail.read INBOX/1"] {
        assert!(seen.iter().any(|s| s.starts_with(expected)), "{expected} in {seen:?}");
    }
    let message = "/portail/boites/elodie@ours.test/courrier/INBOX/1";
    let unread = s.post_form(&format!("{message}/action"), &cookie, &format!("csrf={csrf}&action=non-lu")).await;
    assert_eq!(unread.header("location"), Some(&*format!("{message}?fait=non-lu")));
    assert!(!s.folder(&elodie, "INBOX").await[0].0.has_flag("\\Seen"));
    s.post_form(&format!("{message}/action"), &cookie, &format!("csrf={csrf}&action=suivi")).await;
    assert!(s.folder(&elodie, "INBOX").await[0].0.has_flag("\\Flagged"));
    let deleted = s.post_form(&format!("{message}/action"), &cookie, &format!("csrf={csrf}&action=supprimer")).await;
    assert_eq!(deleted.status, 303);
    assert!(s.folder(&elodie, "INBOX").await.is_empty());
    assert_eq!(s.folder(&elodie, "Trash").await.len(), 1, "deleting moves to the Trash");
    let trash = "/portail/boites/elodie@ours.test/courrier/Trash/1";
    s.post_form(&format!("{trash}/action"), &cookie, &format!("csrf={csrf}&action=supprimer")).await;
    assert!(s.folder(&elodie, "Trash").await.is_empty(), "and from the Trash, for good");

    // A draft, taken up again and sent: it leaves Drafts.
    let fields = [
        ("csrf", csrf.as_str()),
        ("a", "bob@ours.test"),
        ("objet", "Brouillon"),
        ("corps", "À finir"),
        ("action", "brouillon"),
    ];
    let saved = s.post_multipart(compose, &cookie, &fields, &[("note.txt", "text/plain", b"note")]).await;
    assert_eq!(
        saved.header("location"),
        Some("/portail/boites/elodie@ours.test/courrier?dossier=Drafts&fait=brouillon")
    );
    let drafts = s.folder(&elodie, "Drafts").await;
    assert!(drafts[0].0.has_flag("\\Draft"));
    let uid = drafts[0].0.uid;
    let listed = s.get("/portail/boites/elodie@ours.test/courrier?dossier=Drafts", &cookie).await;
    assert!(listed.body.contains(&format!("ecrire?brouillon={uid}")), "{}", listed.body);
    let taken = s.get(&format!("{compose}?brouillon={uid}"), &cookie).await;
    assert!(
        taken.body.contains("value=\"Brouillon\"") && taken.body.contains("À finir") && taken.body.contains("note.txt")
    );
    let source = format!("Drafts/{uid}");
    let uid_text = uid.to_string();
    let fields = [
        ("csrf", csrf.as_str()),
        ("a", "bob@ours.test"),
        ("objet", "Brouillon"),
        ("corps", "Fini"),
        ("source", source.as_str()),
        ("garder", "0"),
        ("brouillon", uid_text.as_str()),
        ("action", "envoyer"),
    ];
    assert_eq!(s.post_multipart(compose, &cookie, &fields, &[]).await.status, 303);
    assert!(s.folder(&elodie, "Drafts").await.is_empty());
    let last = s.folder(&bob, "INBOX").await.pop().unwrap();
    let last = mail_parser::MessageParser::default().parse(&last.1).unwrap();
    assert_eq!(last.attachments().next().unwrap().contents(), b"note");
}

#[tokio::test]
async fn a_draft_saves_itself_as_it_is_written_and_replaces_its_last_copy() {
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    s.personal("bob", BOB).await;
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;
    let compose = "/portail/boites/elodie@ours.test/ecrire";
    let page = s.get(compose, &cookie).await;
    assert!(page.body.contains("data-autosave") && page.body.contains("id=\"etat-brouillon\""), "{}", page.body);

    // The first save, with a file chosen: kept with the draft.
    let fields =
        [("csrf", csrf.as_str()), ("a", "bob@ours.test"), ("objet", "Stock"), ("corps", "Il me"), ("action", "auto")];
    let first = s.post_multipart(compose, &cookie, &fields, &[("bon.txt", "text/plain", b"bon")]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let saved: serde_json::Value = serde_json::from_str(&first.body).unwrap();
    let uid = saved["brouillon"].as_u64().unwrap().to_string();
    assert!(saved["heure"].as_str().unwrap().len() == 5 && saved["source"].is_null(), "{saved}");
    let source = format!("Drafts/{uid}");
    // Taken up: the next saves replace it, its attachment kept whatever the
    // boxes say (they choose when it is sent), the new source given back.
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("a", "bob@ours.test"),
        ("objet", "Stock"),
        ("corps", "Il me manque du paracétamol"),
        ("source", source.as_str()),
        ("brouillon", uid.as_str()),
        ("action", "auto"),
    ];
    let second = s.post_multipart(compose, &cookie, &fields, &[]).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let saved: serde_json::Value = serde_json::from_str(&second.body).unwrap();
    let new_uid = saved["brouillon"].as_u64().unwrap();
    assert_eq!(saved["source"].as_str(), Some(&*format!("Drafts/{new_uid}")));
    let drafts = s.folder(&elodie, "Drafts").await;
    assert_eq!(drafts.len(), 1, "one draft, the last");
    assert_eq!(drafts[0].0.uid, u32::try_from(new_uid).unwrap());
    let kept = mail_parser::MessageParser::default().parse(&drafts[0].1).unwrap();
    assert!(kept.body_text(0).unwrap().contains("paracétamol"));
    assert_eq!(kept.attachments().next().unwrap().contents(), b"bon");
    // A recipient that is no address: not saved, said in JSON, nothing lost.
    fields[1] = ("a", "pas une adresse");
    let (new_uid, new_source) = (new_uid.to_string(), format!("Drafts/{new_uid}"));
    fields[4] = ("source", new_source.as_str());
    fields[5] = ("brouillon", new_uid.as_str());
    let wrong = s.post_multipart(compose, &cookie, &fields, &[]).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("Adresse invalide"), "{}", wrong.body);
    assert_eq!(s.folder(&elodie, "Drafts").await.len(), 1);
    // Sent at last, with its attachment: the draft goes.
    let send = [
        ("csrf", csrf.as_str()),
        ("a", "bob@ours.test"),
        ("objet", "Stock"),
        ("corps", "Il me manque du paracétamol."),
        ("source", new_source.as_str()),
        ("garder", "0"),
        ("brouillon", new_uid.as_str()),
        ("action", "envoyer"),
    ];
    assert_eq!(s.post_multipart(compose, &cookie, &send, &[]).await.status, 303);
    assert!(s.folder(&elodie, "Drafts").await.is_empty());
}
