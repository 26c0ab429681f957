//! The webmail as a mail client, in headless Chromium against `mss serve`:
//! on a desktop screen the folders, the list (sender names, first words,
//! marks) and the message read side by side; on a phone one column, the
//! message alone with a way back. The keyboard moves in the list and opens
//! messages; "select all" and the bulk actions mark and delete; a draft
//! saves itself as it is written. Each page passes axe-core and fits the
//! phone's width; screenshots of each go to `MSS_SCREENSHOTS` (the
//! documentation's, `docs/screenshots`, are made this way).

mod common;

use common::browser::{Browser, Person};
use common::*;
use fantoccini::Locator;

const BOB: &str = "810000013994";

fn message(n: u32, subject: &str, from: &str, text: &str, pdf: bool) -> Vec<u8> {
    let head = format!(
        "From: {from}\r\nTo: pharmacie@pharmacie.test\r\nSubject: {subject}\r\nMessage-ID: <m{n}@autre.test>\r\n\
         Date: Mon, {n:02} Nov 2026 09:{n:02}:00 +0100\r\nMIME-Version: 1.0\r\n"
    );
    if pdf {
        format!(
            "{head}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             {text}\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=compte-rendu.pdf\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
        )
    } else {
        format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n")
    }
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webmail_reads_like_a_mail_client_on_a_desktop_and_a_phone() {
    let op = Operator::new("pharmacie.test");
    let pharmacy = op.ok(
        r#"mailbox create --type org --finess 750000002 --pharmacy --name "Pharmacie de la Gare" --postal-code 75010 --city Paris"#,
    );
    let pharmacy = pharmacy.trim().to_string();
    op.ok(&format!("mailbox grant {pharmacy} --national-id {BOB} --role gestionnaire"));
    let store = mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: op.dir.clone() }).await.unwrap();
    let mailbox = store.meta.mailbox(&pharmacy.parse().unwrap()).await.unwrap().unwrap();
    let inbox = [mss_store::Placement::inbox(mailbox.id)];
    let mail = [
        (
            "Compte rendu de biologie",
            "Laboratoire Bio <labo@autre.test>",
            "Bonjour, voici le compte rendu de Mme Martin.",
            true,
        ),
        ("Commande grossiste", "Grossiste <commandes@grossiste.test>", "Votre commande arrive demain matin.", false),
        (
            "Ordonnance renouvelée",
            "Dr Claire Petit <claire.petit@cabinet.test>",
            "Merci de préparer le traitement.",
            false,
        ),
        ("Rupture amoxicilline", "ARS <alerte@ars.test>", "Point de situation sur les tensions.", false),
    ];
    for (n, (subject, from, text, pdf)) in (1u32..).zip(mail) {
        let raw = message(n, subject, from, text, pdf);
        store.deliver_indexed(&raw, &inbox, Some(mss_message::stored(&raw))).await.unwrap();
    }
    let config = op.dir.join("mss.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[operator]\nadministrators = [\"{BOB}\"]\n")).unwrap();
    let server = op.serve();
    let browser = Browser::start().await;
    let p = Person { c: browser.client.clone(), base: format!("http://{}", server.addr("http")) };
    let mail = format!("/portail/boites/{pharmacy}/courrier");
    browser
        .run("webmail_client", async move {
            p.sign_in("Bob Durand").await;
            p.goto(&mail).await;
            p.sees("Bonjour, voici le compte rendu de Mme Martin.").await;
            p.sees("Laboratoire Bio").await;
            assert!(!p.text().await.contains("labo@autre.test"), "names, not addresses, in the list");
            assert_eq!(p.c.find_all(Locator::Css("ul.messages > li.non-lu")).await.unwrap().len(), 4);
            assert!(p.fits().await);
            p.accessible().await;
            p.screenshot("courrier-bureau").await;

            // The keyboard: j moves down the list, Enter opens.
            p.c.find(Locator::Css("body")).await.unwrap().send_keys("j").await.unwrap();
            p.focused().await.send_keys("j").await.unwrap();
            let focused = p.focused().await.text().await.unwrap();
            assert!(focused.contains("Ordonnance renouvelée"), "the second row: {focused}");
            p.press(fantoccini::key::Key::Enter).await;
            p.sees("Merci de préparer le traitement.").await;
            assert!(p.path().await.contains("/courrier/INBOX/3"), "{}", p.path().await);
            // Beside the list and the folders, on a desktop.
            assert!(p.shown(".volet-liste").await && p.shown(".volet-dossiers").await);
            assert!(!p.shown(".retour-liste").await);
            p.accessible().await;
            p.screenshot("message-bureau").await;

            // Select all, mark read: no unread left.
            p.goto(&mail).await;
            p.find(Locator::Id("tout")).await.click().await.unwrap();
            p.button("Marquer comme lu").await;
            p.sees("Les messages sélectionnés sont marqués comme lus.").await;
            assert!(p.c.find_all(Locator::Css("ul.messages > li.non-lu")).await.unwrap().is_empty());
            // Two chosen, deleted: to the Trash.
            p.find(Locator::Id("m-1")).await.click().await.unwrap();
            p.find(Locator::Id("m-2")).await.click().await.unwrap();
            p.find(Locator::Css(".barre-lot button[value='supprimer']")).await.click().await.unwrap();
            p.sees("Les messages sélectionnés sont supprimés.").await;
            assert_eq!(p.c.find_all(Locator::Css("ul.messages > li")).await.unwrap().len(), 2);
            p.accessible().await;

            // n writes a new message; the draft saves itself.
            p.c.find(Locator::Css("body")).await.unwrap().send_keys("n").await.unwrap();
            p.sees("De : Pharmacie de la Gare").await;
            p.fill("objet", "Commande du jour").await;
            p.fill("corps", "Deux boîtes de paracétamol 1 g.").await;
            // Saved 3 s after the typing stops.
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            p.sees("Brouillon enregistré à").await;
            let drafts = store.meta.folder(mailbox.id, "Drafts").await.unwrap().unwrap();
            assert_eq!(store.meta.folder_counts(drafts.id).await.unwrap().messages, 1, "one draft");
            p.accessible().await;
            p.screenshot("redaction-bureau").await;

            // The other pages people meet first, as they look.
            for (page, name, seen) in [
                ("/portail/boites", "boites", "Pharmacie de la Gare"),
                ("/portail/creer/organisationnelle", "creation-organisationnelle", "FINESS"),
                ("/cgu", "cgu", "Conditions générales d'utilisation"),
                ("/portail/operateur", "console-operateur", "En attente de validation par l'ANS"),
            ] {
                p.goto(page).await;
                p.sees(seen).await;
                p.accessible().await;
                p.screenshot(name).await;
            }
            // Sign-ins counted by how, in French.
            p.sees("Connexions : Pro Santé Connect").await;

            // A phone: one column; the message alone, with the way back.
            p.c.set_window_size(375, 812).await.unwrap();
            p.goto(&mail).await;
            assert!(p.fits().await, "the list fits a phone");
            p.accessible().await;
            p.screenshot("courrier-telephone").await;
            p.goto(&format!("{mail}/INBOX/3")).await;
            assert!(p.fits().await, "the message fits a phone");
            assert!(!p.shown(".volet-liste").await && p.shown(".retour-liste").await);
            p.accessible().await;
            p.screenshot("message-telephone").await;
            p.link("Retour au dossier Boîte de réception").await;
            p.sees("Rupture amoxicilline").await;
        })
        .await;
    drop(server);
}
