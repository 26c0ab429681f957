//! A folder larger than a page, listed, sorted and searched from the
//! store's index: paging links, the count, a word found in the text of a
//! message only, and messages stored without facts indexed on the way.

mod support;

use support::webmail::site;

const ELODIE: &str = "810003621892";
const MAIL: &str = "/portail/boites/elodie@ours.test/courrier";

/// Message `n` (1 to 60): from one of three senders, its subject numbered;
/// only the text of message 7 speaks of a posology.
fn message(n: usize) -> Vec<u8> {
    let sender = ["=?utf-8?q?=C3=89mile_Roux?= <emile@autre.test>", "Zoe Petit <zoe@autre.test>", "anne@autre.test"];
    let text = if n == 7 { "Merci de vérifier la Posologie indiquée." } else { "Bonjour, voici le compte rendu." };
    format!(
        "From: {}\r\nTo: elodie@ours.test\r\nSubject: Dossier {n:02}\r\nDate: Fri, 27 Nov 2026 09:{:02}:00 +0000\r\n\
         Message-ID: <{n}@autre.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n",
        sender[n % 3],
        n % 60
    )
    .into_bytes()
}

#[tokio::test]
async fn a_large_folder_is_paged_sorted_and_searched_in_the_text() {
    let s = site().await;
    let mailbox = s.personal("elodie", ELODIE).await;
    for n in 1..=60 {
        let raw = message(n);
        // The first five were stored before facts existed.
        let facts = (n > 5).then(|| mss_message::stored(&raw));
        let inbox = [mss_store::Placement::inbox(mailbox.id)];
        s.store.deliver_indexed(&raw, &inbox, facts).await.unwrap();
    }
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;

    let first = s.get(MAIL, &cookie).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(
        first.body.contains("<p class=\"nombre\">60 messages</p>") && first.body.contains("Page 1 sur 2"),
        "{}",
        first.body
    );
    assert!(first.body.contains(">Dossier 60<") && !first.body.contains(">Dossier 10<"), "newest first");
    assert!(first.body.contains(&format!("href=\"{MAIL}?page=2&amp;dossier=INBOX\">Page suivante")));
    assert!(!first.body.contains("Page précédente") && !first.body.contains("en cours d'indexation"));
    let second = s.get(&format!("{MAIL}?page=2"), &cookie).await;
    assert!(second.body.contains("Page 2 sur 2") && second.body.contains("Page précédente"), "{}", second.body);
    assert!(second.body.contains(">Dossier 10<") && second.body.contains(">Dossier 01<"), "{}", second.body);
    assert!(!second.body.contains("Page suivante") && !second.body.contains(">Dossier 11<"));

    // A word of the text only, whatever its case, or its beginning.
    for query in ["posologie", "POSOLOGIE", "verifier+poso"] {
        let found = s.get(&format!("{MAIL}?q={query}"), &cookie).await;
        assert!(found.body.contains("1 message correspond à"), "{query}: {}", found.body);
        assert!(found.body.contains(">Dossier 07<") && !found.body.contains(">Dossier 08<"), "{}", found.body);
    }
    // A message stored without facts, indexed when its folder was shown.
    let early = s.get(&format!("{MAIL}?q=dossier+03"), &cookie).await;
    assert!(early.body.contains("1 message correspond à « dossier 03 »."), "{}", early.body);

    // Sorted by sender (Émile's accent ignored), searched in every text, paged.
    let by_sender = s.get(&format!("{MAIL}?q=compte+rendu&tri=expediteur"), &cookie).await;
    assert!(by_sender.body.contains("59 messages correspondent à « compte rendu »."), "{}", by_sender.body);
    let body = &by_sender.body;
    let (anne, emile) = (body.find("</span>anne@").unwrap(), body.find("Émile Roux</span>").unwrap());
    assert!(anne < emile && emile < body.find("Zoe Petit").unwrap(), "Anne, Émile, then Zoé: {body}");
    assert_eq!(
        body.matches(r#"title="zoe@autre.test"><span class="masque">Non lu, </span>Zoe Petit</span>"#).count(),
        10,
        "20 + 20 + 10: {body}"
    );
    assert!(
        body.contains("Page 1 sur 2")
            && body.contains("q=compte%20rendu&amp;tri=expediteur&amp;page=2&amp;dossier=INBOX"),
        "{body}"
    );
    let last = s.get(&format!("{MAIL}?q=compte+rendu&tri=expediteur&page=2"), &cookie).await;
    assert_eq!(
        last.body.matches(r#"title="zoe@autre.test"><span class="masque">Non lu, </span>Zoe Petit</span>"#).count(),
        9,
        "{}",
        last.body
    );
    // By subject: Dossier 01 first.
    let by_subject = s.get(&format!("{MAIL}?tri=objet"), &cookie).await;
    let at = |text: &str| by_subject.body.find(text).unwrap();
    assert!(at(">Dossier 01<") < at(">Dossier 02<") && !by_subject.body.contains(">Dossier 51<"));
}
