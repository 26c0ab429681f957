//! The webmail shows as a message's sender only what SMTP policy reads
//! (`mss_message::originators`, issue 13): a stored message with two
//! `From:` fields is from « Expéditeur non vérifiable » in the folder list
//! and on the message page, a reply to it starts with no recipient, and
//! neither address is offered as a correspondent.

mod support;

use support::webmail::site;

const ELODIE: &str = "810003621892";
const MAIL: &str = "/portail/boites/elodie@ours.test/courrier";

/// The first From names another professional, the last the mailbox's holder.
const TWO_FROM: &str = "From: Dr Paul Chef <paul.chef@hopital.test>\r\nTo: secretariat@ours.test\r\n\
    From: =?utf-8?q?Officine_=C3=89lodie?= <elodie@ours.test>\r\nSubject: Ordonnance urgente\r\n\
    Date: Fri, 27 Nov 2026 09:30:00 +0000\r\nMessage-ID: <twice@hopital.test>\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\r\nMerci de délivrer.\r\n";

#[tokio::test]
async fn a_message_with_two_from_fields_shows_an_unverifiable_sender() {
    let s = site().await;
    let mailbox = s.personal("elodie", ELODIE).await;
    s.store.deliver(TWO_FROM.as_bytes(), &[mailbox.id]).await.unwrap();
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;

    let list = s.get(MAIL, &cookie).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains("<span class=\"masque\">Non lu, </span>Expéditeur non vérifiable</span>"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("paul.chef") && !list.body.contains("Officine"), "{}", list.body);
    // Neither address is searchable as the sender.
    for query in ["chef", "elodie%40ours.test", "officine"] {
        let found = s.get(&format!("{MAIL}?q={query}"), &cookie).await;
        assert!(found.body.contains("Aucun message ne correspond"), "{query}: {}", found.body);
    }

    let read = s.get(&format!("{MAIL}/INBOX/1"), &cookie).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body.contains("<dt>De</dt><dd>Expéditeur non vérifiable</dd>"), "{}", read.body);
    assert!(read.body.contains("role=\"alert\"><p>Expéditeur non vérifiable : l'en-tête"), "{}", read.body);
    assert!(!read.body.contains("paul.chef") && !read.body.contains("Officine"), "{}", read.body);
    assert!(read.body.contains("Merci de délivrer."), "the message itself is still readable");

    let reply = s.get("/portail/boites/elodie@ours.test/ecrire?repondre=INBOX%2F1", &cookie).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains("id=\"a\" name=\"a\" value=\"\""),
        "the reply starts with no recipient: {}",
        reply.body
    );
    assert!(reply.body.contains("un expéditeur non vérifiable a écrit"), "{}", reply.body);
    assert!(!reply.body.contains("paul.chef"), "not a recent correspondent either: {}", reply.body);
}
