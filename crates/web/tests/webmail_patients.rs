//! Writing to a patient from the webmail (issue 15): an address whose INS
//! is malformed is refused under the field; Mon espace santé takes at most
//! 25 MiB, so a larger message to a patient is refused with a
//! French explanation and nothing is sent, even where the operator's own
//! limit is larger; the compose form tells its script that limit, which
//! refuses the files before any upload.

mod support;

use support::webmail::site_sending;

const ELODIE: &str = "810003621892";
const BOB: &str = "810000013994";
const PATIENT: &str = "279035121518989@patient.mssante.fr";

#[tokio::test]
async fn a_malformed_ins_or_a_message_over_25_mib_to_a_patient_is_refused_in_french() {
    // An operator whose own message limit is larger than Mon espace santé's.
    let s = site_sending(40 * 1024 * 1024).await;
    let elodie = s.personal("elodie", ELODIE).await;
    let bob = s.personal("bob", BOB).await;
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;
    let compose = "/portail/boites/elodie@ours.test/ecrire";
    let form = s.get(compose, &cookie).await;
    assert!(form.body.contains(&format!("data-max-patient=\"{}\"", 25 * 1024 * 1024)), "{}", form.body);

    let scan: Vec<u8> = (0..26 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let fields = |to: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("a", to.to_string()),
            ("cc", String::new()),
            ("objet", "Votre radio".to_string()),
            ("corps", "Bonjour, voici votre radio.\r\n".to_string()),
            ("action", "envoyer".to_string()),
        ]
    };
    let to_patient = fields(PATIENT);
    let to_patient: Vec<(&str, &str)> = to_patient.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = s.post_multipart(compose, &cookie, &to_patient, &[("radio.jpg", "image/jpeg", &scan)]).await;
    assert_eq!(refused.status, 413, "{}", refused.body);
    let explained = ["Mon espace santé n'accepte pas", "Mon espace santé n&#39;accepte pas"];
    assert!(explained.iter().any(|text| refused.body.contains(text)), "{}", refused.body);
    assert!(s.store.meta.queue().await.unwrap().is_empty(), "nothing queued");
    assert!(s.folder(&elodie, "Sent").await.is_empty(), "nothing in Sent");

    // A malformed INS: said under the field, in French, before anything is sent.
    let malformed = fields("279035121518988@patient.mssante.fr");
    let malformed: Vec<(&str, &str)> = malformed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = s.post_multipart(compose, &cookie, &malformed, &[]).await;
    assert!(
        refused.body.contains("n&#39;est pas l&#39;adresse d&#39;un patient")
            || refused.body.contains("n'est pas l'adresse d'un patient"),
        "{}",
        refused.body
    );
    assert!(s.store.meta.queue().await.unwrap().is_empty(), "nothing queued");

    // The same to a colleague goes: the operator's own limit is larger.
    let to_bob = fields("bob@ours.test");
    let to_bob: Vec<(&str, &str)> = to_bob.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sent = s.post_multipart(compose, &cookie, &to_bob, &[("radio.jpg", "image/jpeg", &scan)]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(s.folder(&bob, "INBOX").await.len(), 1);
}
