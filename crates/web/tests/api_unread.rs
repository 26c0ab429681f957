//! What the pharmacy software polls for its envelope icon (`GET /api/unread`)
//! and the deep link that opens a new message prefilled: a person sees the
//! unread INBOX messages of the mailboxes they may read; the software, its
//! own and its pharmacy's organisational mailboxes, not another
//! pharmacy's; no credentials, no answer.

mod support;

use mss_core::{MailboxKind, Role};
use mss_identity::{Method, Person};
use mss_store::{NewMailbox, Placement, now_unix};
use support::exchange;
use support::webmail::site;

const BOB: &str = "810000013994";

#[tokio::test]
async fn unread_counts_for_people_and_the_pharmacy_software() {
    let s = site().await;
    let bob = s.personal("bob", BOB).await;
    let pharmacy = s.organisational("gare", "Pharmacie de la Gare").await;
    s.store.meta.grant_role(pharmacy.id, &BOB.parse().unwrap(), Role::Utilisateur).await.unwrap();
    let other = NewMailbox::of_structure(
        "autre@ours.test".parse().unwrap(),
        MailboxKind::Organisational,
        "310000005".parse().unwrap(),
        "Autre pharmacie",
    );
    let other = s.store.meta.create_mailbox(&other).await.unwrap();
    let app = NewMailbox::of_structure(
        "app-lgo@ours.test".parse().unwrap(),
        MailboxKind::Applicative,
        "750000002".parse().unwrap(),
        "LGO",
    );
    let app = s.store.meta.create_mailbox(&app).await.unwrap();
    for (mailbox, n) in [(bob.id, 1), (pharmacy.id, 3), (other.id, 2)] {
        for i in 0..n {
            let raw = format!("Subject: {i}\r\n\r\nx{i}\r\n");
            s.store.deliver_to(raw.as_bytes(), &[Placement::inbox(mailbox)]).await.unwrap();
        }
    }
    let get = |token: Option<String>| {
        let addr = s.addr;
        async move {
            let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
            let raw = format!("GET /api/unread HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n");
            exchange(addr, raw.into_bytes()).await
        }
    };
    let counts = |body: &str| -> Vec<(String, u64)> {
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        let mut out: Vec<(String, u64)> = json["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["address"].as_str().unwrap().to_string(), m["unread"].as_u64().unwrap()))
            .collect();
        out.sort();
        out
    };

    let person = Person {
        national_id: BOB.parse().unwrap(),
        first_name: "Bob".into(),
        last_name: "Durand".into(),
        finess: vec![],
    };
    let session = s.sessions.open(&person, Method::Psc, now_unix()).await.unwrap().access_token;
    let seen = get(Some(session)).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(counts(&seen.body), [("bob@ours.test".to_string(), 1), ("gare@ours.test".to_string(), 3)]);
    assert!(seen.body.contains("\"webmail\":\"/portail/boites/gare@ours.test/courrier\""));

    let token = s.sessions.key.issue(&app.address.to_string(), now_unix(), 600).unwrap();
    let software = get(Some(token)).await;
    assert_eq!(counts(&software.body), [("app-lgo@ours.test".to_string(), 0), ("gare@ours.test".to_string(), 3)]);
    assert_eq!(get(None).await.status, 401);

    // The deep link the software opens: a new message, prefilled.
    let cookie = s.signed_in(BOB, "Bob", "Durand").await;
    let link = "/portail/boites/gare@ours.test/ecrire?a=279035121518989%40patient.mssante.fr&objet=Votre+ordonnance";
    let form = s.get(link, &cookie).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("value=\"279035121518989@patient.mssante.fr\""), "{}", form.body);
    assert!(form.body.contains("value=\"Votre ordonnance\""));
}
