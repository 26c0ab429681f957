//! The operator's console: its administrators see the mailboxes and those
//! waiting for the ANS, the queue, the liste blanche, the publications and
//! the month's figures; anyone else finds no such page.

mod support;

use mss_core::MailboxState;
use mss_store::{MailboxDraft, now_unix};
use support::webmail::site_with;

const ELODIE: &str = "810003621892";
const PAUL: &str = "810009999995";

#[tokio::test]
async fn the_operators_administrators_see_its_state() {
    let s = site_with(|web| mss_web::Web { operator_admins: vec![ELODIE.parse().unwrap()], ..web }).await;
    s.personal("elodie", ELODIE).await;
    let mut draft = MailboxDraft::new(mss_core::MailboxKind::Personal);
    draft.national_id = Some(PAUL.parse().unwrap());
    draft.display_name = "Paul Leroy".into();
    s.store.meta.create_mailbox(&draft.at("paul@ours.test".parse().unwrap(), MailboxState::Pending)).await.unwrap();
    s.store
        .enqueue(b"Subject: x\r\n\r\ny\r\n", "elodie@ours.test", &["dr@peer.test".parse().unwrap()], now_unix() + 3600)
        .await
        .unwrap();

    let elodie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let home = s.get("/portail/boites", &elodie).await;
    assert!(home.body.contains("Console de l'opérateur"));
    let console = s.get("/portail/operateur", &elodie).await;
    assert_eq!(console.status, 200, "{}", console.body);
    for text in [
        "En attente de validation par l'ANS (1)",
        "paul@ours.test — Paul Leroy",
        "1 destinataire(s) en attente",
        "dr@peer.test",
        "Aucune liste de l'ANS importée.",
        "Messages envoyés à d'autres opérateurs",
        // Types and states named in French, not as codes.
        "<td>Personnelle</td><td>En cours de création</td><td>1</td>",
        "<td>Personnelle</td><td>Active</td><td>1</td>",
    ] {
        assert!(console.body.contains(text), "{text}: {}", console.body);
    }
    let paul = s.signed_in(PAUL, "Paul", "Leroy").await;
    assert_eq!(s.get("/portail/operateur", &paul).await.status, 404);
    assert!(!s.get("/portail/boites", &paul).await.body.contains("Console de l'opérateur"));
}
