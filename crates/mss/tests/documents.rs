//! A health document between two operators, end to end with real
//! processes and a real browser: at operator A, a pharmacist sends a
//! prescription PDF as a document (patient and type named in the compose
//! form, a read receipt asked); at operator B, over mutual TLS, the doctor
//! sees it as a document (type, patient, INS, the package checked, the
//! `XDM/1.0/DDM+` prefix hidden) and sends the read receipt; back at A, the
//! pharmacist's "Suivi de l'envoi" shows the message read. The pages pass
//! axe-core.

mod common;

use common::browser::{Browser, Person};
use common::*;
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prescription_sent_as_a_document_is_read_at_the_other_operator_and_the_sender_sees_it_read() {
    let operators = mutual_operators();
    let (alice, bob) = (operators.alice.clone(), operators.bob.clone());
    let (server_a, server_b) = (operators.a.serve(), operators.b.serve());
    let files = tempfile::tempdir().unwrap();
    let pdf = files.path().join("ordonnance.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n").unwrap();

    let browser = Browser::start().await;
    let here = Person { c: browser.client.clone(), base: format!("http://{}", server_a.addr("http")) };
    let there = Person { c: browser.client.clone(), base: format!("http://{}", server_b.addr("http")) };
    browser
        .run("document_between_operators", async move {
            here.sign_in("Élodie Dupont").await;
            here.goto(&format!("/portail/boites/{alice}/ecrire")).await;
            here.fill("a", &bob).await;
            here.fill("corps", "Bonjour Docteur, voici l'ordonnance de Mme Martin.").await;
            here.find(Locator::Id("accuse")).await.click().await.unwrap();
            here.find(Locator::Id("doc")).await.click().await.unwrap();
            here.fill("doc_ins", "279035121518989").await;
            here.fill("doc_nom", "Martin").await;
            here.fill("doc_prenom", "Jeanne").await;
            here.find(Locator::Id("pieces")).await.send_keys(pdf.to_str().unwrap()).await.unwrap();
            here.accessible().await;
            here.button("Envoyer").await;
            here.sees("Votre message a été envoyé.").await;
            here.button("Se déconnecter").await;
            here.sees("Vous êtes déconnecté").await;

            there.sign_in("Bob Durand").await;
            there.goto(&format!("/portail/boites/{bob}/courrier")).await;
            there.until("Prescription de médicaments MARTIN Jeanne").await;
            assert!(!there.text().await.contains("XDM/1.0/DDM+"), "the prefix is hidden");
            there.link("Prescription de médicaments MARTIN Jeanne").await;
            there.sees("Documents de santé").await;
            there.sees("vérifié : empreintes et tailles conformes").await;
            there.sees("Jeanne MARTIN").await;
            there.sees("279035121518989").await;
            there.sees("(57833-6)").await;
            there.accessible().await;
            there.button("Envoyer un accusé de lecture").await;
            there.sees("L'accusé de lecture est envoyé.").await;
            there.button("Se déconnecter").await;
            there.sees("Vous êtes déconnecté").await;

            here.sign_in("Élodie Dupont").await;
            here.goto(&format!("/portail/boites/{alice}/courrier?dossier=Sent")).await;
            here.link("Prescription de médicaments MARTIN Jeanne").await;
            here.sees("Suivi de l'envoi").await;
            here.until("Lu le ").await;
            let row = here.row(&bob).await;
            assert!(row.contains("Remis au serveur du destinataire le ") && row.contains("Lu le "), "{row}");
            here.accessible().await;
        })
        .await;
    drop((server_a, server_b));
}
