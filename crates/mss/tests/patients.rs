//! A patient and their pharmacy through Mon espace santé, end to end with
//! real processes: `mss serve` in development runs the Mon espace santé
//! simulator (`[patients] simulator`, which `mss init` turns on); headless
//! Chromium is the patient on the simulator's pages and the pharmacist on
//! the portal. The patient sends a prescription photo to "Pharmacie de la
//! Gare"; it appears in the pharmacy's patients; a Utilisateur answers with
//! a quick answer; the patient reads it (the read receipt comes back) and
//! closes with [FIN]; the pharmacy sees the conversation closed; a reply to
//! the closed conversation is refused by Mon espace santé and explained in
//! French to the pharmacist. Then the pharmacy software declares its
//! dispensations over HTTP with its applicative mailbox's token, and the
//! pharmacy's 5 % indicator page counts the one whose patient wrote,
//! matching the test's own count. The pages pass axe-core.

mod common;

use common::browser::{Browser, Person};
use common::*;
use fantoccini::Locator;

const INS: &str = "279035121518989";
const BOB: &str = "810000013994";
const ELODIE: &str = "810003621892";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_writes_to_the_pharmacy_which_answers_and_the_patient_closes() {
    let op = Operator::new("pharmacie.test");
    let pharmacy = op.ok(
        r#"mailbox create --type org --finess 750000002 --pharmacy --name "Pharmacie de la Gare" --postal-code 75010 --city Paris"#,
    );
    let pharmacy = pharmacy.trim().to_string();
    op.ok(&format!("mailbox grant {pharmacy} --national-id {ELODIE} --role administrateur"));
    op.ok(&format!("mailbox grant {pharmacy} --national-id {BOB} --role utilisateur"));
    let software = op.ok(r#"mailbox create --type app --finess 750000002 --name "LGO Officine""#).trim().to_string();
    let token = op.ok(&format!("token {software}")).trim().to_string();
    let server = op.serve();
    let http_addr = server.addr("http");
    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("ordonnance.jpg");
    std::fs::write(&photo, b"\xff\xd8\xff\xe0\x00\x10JFIF photo of a prescription").unwrap();

    let browser = Browser::start().await;
    let base = format!("http://{}", server.addr("http"));
    let patient = Person { c: browser.client.clone(), base: base.clone() };
    let bob = Person { c: browser.client.clone(), base };
    browser
        .run("patient_conversation", async move {
            // The patient writes first to the pharmacy, with a photo.
            patient.goto(&format!("/mes-sim/{INS}")).await;
            patient.sees("Messagerie de Jeanne MARTIN").await;
            patient.fill("a", &pharmacy).await;
            patient.fill("objet", "Mon médicament est-il disponible ?").await;
            patient.fill("texte", "Bonjour, voici mon ordonnance.").await;
            patient.find(Locator::Id("piece")).await.send_keys(photo.to_str().unwrap()).await.unwrap();
            patient.button("Envoyer").await;
            patient.sees("Votre message a été envoyé.").await;

            // A Utilisateur of the pharmacy answers with a quick answer.
            bob.sign_in("Bob Durand").await;
            bob.goto(&format!("/portail/boites/{pharmacy}/courrier")).await;
            bob.sees("Conversation patient").await;
            bob.accessible().await;
            bob.link("Patients").await;
            let row = bob.row("Jeanne MARTIN").await;
            assert!(row.contains("En cours") && row.contains("Mon médicament est-il disponible ?"), "{row}");
            bob.accessible().await;
            bob.link("Jeanne MARTIN").await;
            bob.sees("Bonjour, voici mon ordonnance.").await;
            bob.sees("Télécharger ordonnance.jpg").await;
            bob.accessible().await;
            bob.link("Votre médicament est disponible.").await;
            let typed = bob.find(Locator::Id("texte")).await.prop("value").await.unwrap();
            assert_eq!(typed.as_deref(), Some("Votre médicament est disponible."));
            bob.button("Envoyer").await;
            bob.sees("Votre réponse a été envoyée au patient.").await;

            // The patient reads it, then closes the conversation.
            patient.goto(&format!("/mes-sim/{INS}")).await;
            patient.until("Re: Mon médicament est-il disponible ?").await;
            patient.link("Re: Mon médicament est-il disponible ?").await;
            patient.sees("Votre médicament est disponible.").await;
            patient.link("Retour aux messages").await;
            patient.button("Clore la conversation").await;
            patient.sees("La conversation est close.").await;

            // The pharmacy sees it closed, and the read receipt.
            bob.goto(&format!("/portail/boites/{pharmacy}/patients")).await;
            bob.until("Close").await;
            bob.link("Jeanne MARTIN").await;
            bob.sees("Fin de la conversation.").await;
            bob.sees("Lu par le patient le ").await;
            assert!(!bob.text().await.contains("Accusé de lecture"), "the receipt is no message of the conversation");
            bob.sees("Cette conversation est close.").await;
            bob.goto(&format!("/portail/boites/{pharmacy}/courrier")).await;
            bob.until("Accusé de lecture : Re: Mon médicament est-il disponible ?").await;

            // A reply within the closed conversation: Mon espace santé
            // refuses it, and the pharmacist is told why, in French.
            bob.goto(&format!("/portail/boites/{pharmacy}/ecrire?repondre=INBOX%2F1")).await;
            bob.button("Envoyer").await;
            bob.sees("Votre message a été envoyé.").await;
            bob.until("Échec de remise").await;
            bob.link("Échec de remise").await;
            bob.sees("Cette conversation avec le patient est close").await;
            bob.button("Se déconnecter").await;
            bob.sees("Vous êtes déconnecté").await;

            // The software declares today's dispensations: Jeanne's, and
            // three of patients who did not write; counted here: 1 of 4.
            let today = mss_core::Civil::paris(mss_store::now_unix());
            let date = format!("{:04}-{:02}-{:02}T08:30", today.year, today.month, today.day);
            let items: Vec<serde_json::Value> = [Some(INS), Some("180017512345660"), None, None]
                .iter()
                .enumerate()
                .map(|(i, ins)| serde_json::json!({ "id": format!("V{i}"), "date": date, "patient_ins": ins }))
                .collect();
            let body = serde_json::json!({ "dispensations": items });
            let path = "/api/pharmacies/750000002/dispensations";
            let declared = http(&http_addr, "POST", path, Some(&token), Some(&body));
            assert_eq!((declared.status, declared.body.as_str()), (200, r#"{"inserted":4,"replaced":0}"#));
            let expected_with_exchange = 1;

            patient.sign_in("Élodie Dupont").await;
            patient.goto(&format!("/portail/boites/{pharmacy}/courrier")).await;
            patient.link("Indicateur 5 %").await;
            patient.sees("Dispensations déclarées").await;
            let text = patient.text().await;
            assert!(text.contains(&format!("Avec un échange MSSanté\n{expected_with_exchange}")), "{text}");
            assert!(text.contains("25,00 %") && text.contains("Seuil de 5 % atteint"), "{text}");
            patient.accessible().await;
        })
        .await;
    drop(server);
}
