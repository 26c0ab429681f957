//! Hostile mail cannot take the webmail down: a message of two hundred thousand
//! embedded messages, each inside the last, is listed, opened and replied
//! to like any other. mail-parser builds such a tree without recursion, but
//! dropping it recursively would overflow the stack of the server's thread
//! and abort the whole process: the webmail parses through
//! `mss_message::parsed`, which takes the tree apart iteratively.

mod support;

use support::webmail::site;

const ELODIE: &str = "810003621892";
const MAIL: &str = "/portail/boites/elodie@ours.test/courrier";

#[tokio::test]
async fn a_message_of_two_hundred_thousand_embedded_messages_is_shown_and_the_server_lives() {
    let s = site().await;
    let mailbox = s.personal("elodie", ELODIE).await;
    let mut raw = "From: <labo@labo.test>\r\nSubject: x\r\nContent-Type: message/rfc822\r\n\r\n".repeat(200_000);
    raw.push_str("From: <labo@labo.test>\r\nSubject: end\r\n\r\nbody\r\n");
    s.store.deliver(raw.as_bytes(), &[mailbox.id]).await.unwrap();
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;

    for path in [
        MAIL.to_string(),
        format!("{MAIL}/INBOX/1"),
        "/portail/boites/elodie@ours.test/ecrire?repondre=INBOX%2F1".into(),
    ] {
        let page = s.get(&path, &cookie).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
    }
    assert_eq!(s.get(MAIL, &cookie).await.status, 200, "the server still answers");
}

/// The folder page's parameters come from the address bar: a page number
/// past any end, one that overflows, FTS5 syntax in the search (quotes,
/// operators, prefixes, column filters) and a long search all answer a
/// page, never an error.
#[tokio::test]
async fn hostile_page_numbers_and_searches_answer_a_page() {
    let s = site().await;
    let mailbox = s.personal("elodie", ELODIE).await;
    let raw = "From: <labo@labo.test>\r\nSubject: Ordonnance\r\n\r\nparacetamol\r\n";
    s.store.deliver(raw.as_bytes(), &[mailbox.id]).await.unwrap();
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let long = "ordonnance%20".repeat(500);
    for query in [
        "page=18446744073709551615".to_string(),
        "page=9999999999999999".to_string(),
        "page=0".to_string(),
        "q=%22%20OR%20*%20NEAR(a%20b)%20NOT%20subject%3Ax%20%5E".to_string(),
        "q=AND".to_string(),
        format!("q={long}"),
        "q=%00%0D%0A".to_string(),
        "tri=objet&q=ordo&page=18446744073709551615".to_string(),
    ] {
        let page = s.get(&format!("{MAIL}?{query}"), &cookie).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
    }
    let found = s.get(&format!("{MAIL}?q=ordonnance%20paraceta"), &cookie).await;
    assert!(found.body.contains("Ordonnance"), "a real search still finds: {}", found.body);
}
