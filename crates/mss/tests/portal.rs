//! The portal in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, fantoccini) against a running `mss serve`, at 1280x800.
//! A pharmacist signs in through the Pro Santé Connect simulator, creates
//! her personal and her pharmacy's mailbox in the wizard, sees them wait for
//! the ANS then become active, and makes a colleague Gestionnaire; the
//! colleague may manage Utilisateurs and nothing more, a form without its
//! CSRF token is refused, the keyboard alone creates a mailbox, pages fit a
//! phone screen, and axe-core finds no WCAG 2.1 A/AA violation in them. The
//! pharmacy's mailbox sends a prescription with an attachment to another
//! operator (refused first outside the trust space, and for a file over the
//! size limit before any upload), where the recipient reads it and
//! downloads the attachment intact; new mail shows up in an open list
//! without a reload. A failing test leaves a screenshot in
//! `target/portal-screenshots/`.
//!
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver`
//! (scripts/test installs them, and fetches axe-core into `target/axe-core`);
//! without them these tests fail.

mod common;

use std::time::{Duration, Instant};

use common::browser::{Browser, Person};
use common::*;
use fantoccini::Locator;
use fantoccini::key::Key;

const ELODIE_PER: &str = "elodie.dupont@pharmacie.test";
const PHARMACY: &str = "pharmacie-du-centre-75001-paris@pharmacie.test";
const BOB: &str = "810000013994";
const MARC: &str = "810001234565";

/// Fast-forwards the ANS: the running server asks it now; the page shows
/// the mailbox active once it answered.
async fn validate(p: &Person, dir: &std::path::Path, address: &str) {
    ok(&format!("mailbox validate {address} --data-dir {}", dir.display()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        p.c.refresh().await.unwrap();
        let row = p.row(address).await;
        if row.contains("active") {
            return;
        }
        assert!(row.contains("en cours de création"), "{row}");
        assert!(Instant::now() < deadline, "the ANS simulator never validated {address}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacist_creates_her_mailboxes_in_the_wizard_and_delegates_to_a_gestionnaire() {
    let op = Operator::new("pharmacie.test");
    // Bob has his own mailbox: the directory search finds him.
    op.ok("mailbox create --type per --rpps 10000013994 --first Bob --last Durand");
    let server = op.serve();
    let browser = Browser::start().await;
    let p = Person { c: browser.client.clone(), base: format!("http://{}", server.addr("http")) };
    let dir = op.dir.clone();
    browser
        .run("wizard_and_delegation", async move {
            p.sign_in("Élodie Dupont").await;
            p.sees("Vous n'avez encore aucune boîte aux lettres").await;
            assert!(p.c.title().await.unwrap().starts_with("Mes boîtes aux lettres"));

            // The personal mailbox, in the seed's steps.
            p.link("Créer une boîte aux lettres").await;
            p.link("Créer votre boîte personnelle").await;
            for shown in ["Nom", "Élodie Dupont", "N° RPPS", "10003621892", "N° FINESS", "750000002", ELODIE_PER] {
                p.sees(shown).await;
            }
            p.button("Confirmer ces informations").await;
            p.sees("J'ai lu et j'accepte les CGU").await;
            p.button("Créer la boîte").await;
            p.sees("Erreur : Acceptez les CGU en vigueur").await;
            p.find(Locator::Id("cgu")).await.click().await.unwrap();
            p.button("Créer la boîte").await;
            p.sees("Félicitations ! La boîte est en cours de création. Elle sera disponible sous 24h, le temps que l'ANS valide les informations transmises et finalise la mise à jour de l'annuaire.").await;
            p.link("Retour à mes boîtes aux lettres").await;
            assert!(p.row(ELODIE_PER).await.contains("en cours de création"));
            validate(&p, &dir, ELODIE_PER).await;
            let row = p.row(ELODIE_PER).await;
            assert!(row.contains("active") && row.contains("Titulaire"), "{row}");

            // The pharmacy's mailbox: its FINESS from her identity, the
            // address previewed, a missing field refused next to it.
            p.link("Créer une boîte").await;
            p.link("Créer une boîte organisationnelle").await;
            p.fill("postal_code", "75001").await;
            p.fill("city", "Paris").await;
            p.button("Confirmer ces informations").await;
            let error = p.find(Locator::Id("name-erreur")).await.text().await.unwrap();
            assert_eq!(error, "Erreur : Ce champ est obligatoire.");
            p.fill("name", "Pharmacie du Centre").await;
            p.button("Confirmer ces informations").await;
            p.sees(PHARMACY).await;
            p.find(Locator::Id("cgu")).await.click().await.unwrap();
            p.button("Créer la boîte").await;
            p.sees("Félicitations ! La boîte est en cours de création.").await;
            p.link("Retour à mes boîtes aux lettres").await;
            let row = p.row(PHARMACY).await;
            assert!(row.contains("Organisationnelle") && row.contains("Administrateur"), "{row}");
            assert!(row.contains("en cours de création"), "{row}");
            validate(&p, &dir, PHARMACY).await;

            // Bob becomes Gestionnaire.
            p.link("Gérer les membres").await;
            p.fill("national_id", "12345").await;
            p.button("Ajouter le membre").await;
            p.sees("Erreur : Identifiant national invalide").await;
            p.fill("recherche", "Durand").await;
            p.button("Rechercher").await;
            p.sees("Résultats de la recherche").await;
            p.find(Locator::Id(&format!("role-annuaire-{BOB}"))).await.select_by_value("gestionnaire").await.unwrap();
            p.button("Ajouter Bob Durand").await;
            p.sees("Le rôle est enregistré.").await;
            let row = p.row(BOB).await;
            assert!(row.contains("Bob Durand") && row.contains("Gestionnaire"), "{row}");
            p.goto(&format!("/portail/boites/{PHARMACY}/tracabilite?action=role.")).await;
            p.sees(&format!("member={BOB} role=gestionnaire")).await;
            p.button("Se déconnecter").await;
            p.sees("Vous êtes déconnecté").await;

            // What a Gestionnaire can and cannot do.
            p.sign_in("Bob Durand").await;
            let row = p.row(PHARMACY).await;
            assert!(row.contains("Gestionnaire") && row.contains("Gérer les membres"), "{row}");
            assert!(!row.contains("Traçabilité"), "the audit trail is for Administrateurs: {row}");
            p.link("Gérer les membres").await;
            p.sees("vous ajoutez et retirez des Utilisateurs").await;
            p.fill("recherche", "Dupont").await;
            p.button("Rechercher").await;
            p.sees("Résultats de la recherche").await;
            let options = p.c.find_all(Locator::Css("form[method=post] select option")).await.unwrap();
            assert!(!options.is_empty());
            for option in options {
                let value = option.attr("value").await.unwrap();
                assert_eq!(value.as_deref(), Some("utilisateur"), "only Utilisateur may be given");
            }
            let elodie = p.row("810003621892").await;
            assert!(!elodie.contains("Retirer") && !elodie.contains("Modifier"), "{elodie}");
            p.fill("national_id", MARC).await;
            p.button("Ajouter le membre").await;
            p.sees("Le rôle est enregistré.").await;
            assert!(p.row(MARC).await.contains("Retirer"));
            // Forged forms are refused by the server all the same.
            let forge = "document.getElementById('role').innerHTML = '<option value=\"administrateur\">A</option>';";
            p.c.execute(forge, vec![]).await.unwrap();
            p.fill("national_id", MARC).await;
            p.button("Ajouter le membre").await;
            p.sees("Un Gestionnaire ne gère que les Utilisateurs.").await;
            p.goto(&format!("/portail/boites/{PHARMACY}/membres")).await;
            let aim = format!(
                "document.querySelector('form[action$=\"/{MARC}/retirer\"]').action = '/portail/boites/{PHARMACY}/membres/810003621892/retirer';"
            );
            p.c.execute(&aim, vec![]).await.unwrap();
            p.button("Retirer").await;
            p.sees("Un Gestionnaire ne gère que les Utilisateurs.").await;
            p.goto(&format!("/portail/boites/{PHARMACY}/tracabilite")).await;
            p.sees("Seul un Administrateur consulte la traçabilité de la boîte.").await;
            p.goto(&format!("/portail/boites/{PHARMACY}/membres")).await;
            p.button("Retirer").await;
            p.sees("Le membre est retiré de la boîte.").await;
            assert!(!p.text().await.contains(MARC));

            // A form without its CSRF token changes nothing.
            p.c.execute("document.querySelector('input[name=csrf]').remove();", vec![]).await.unwrap();
            p.button("Se déconnecter").await;
            p.sees("Demande refusée").await;
            p.sees("jeton de sécurité").await;
            p.goto("/portail/boites").await;
            p.sees("Bob Durand").await;
        })
        .await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_alone_creates_a_mailbox_and_pages_fit_a_phone() {
    let op = Operator::new("pharmacie.test");
    let server = op.serve();
    let browser = Browser::start().await;
    let p = Person { c: browser.client.clone(), base: format!("http://{}", server.addr("http")) };
    browser
        .run("keyboard_and_phone", async move {
            p.sign_in("Bob Durand").await;
            p.tab_to("Aller au contenu").await;
            p.tab_to("Créer une boîte aux lettres").await;
            p.press(Key::Enter).await;
            assert_eq!(p.path().await, "/portail/creer");
            p.tab_to("Créer votre boîte personnelle").await;
            p.press(Key::Enter).await;
            p.tab_to("Confirmer ces informations").await;
            p.press(Key::Enter).await;
            p.tab_to("cgu").await;
            p.press(Key::Space).await;
            p.tab_to("Créer la boîte").await;
            p.press(Key::Enter).await;
            p.sees("Félicitations ! La boîte est en cours de création.").await;
            assert!(p.fits().await, "1280x800");
            p.accessible().await;
            for page in ["/portail/boites", "/portail/creer", "/portail/creer/organisationnelle", "/portail/connexion"]
            {
                p.goto(page).await;
                p.accessible().await;
            }

            p.c.set_window_size(375, 812).await.unwrap();
            for page in ["/portail/boites", "/portail/creer", "/portail/creer/organisationnelle", "/portail/connexion"]
            {
                p.goto(page).await;
                assert!(p.fits().await, "{page} fits a phone screen");
            }
        })
        .await;
    drop(server);
}

/// A GET with the browser's session cookie, outside the browser (for a
/// download): the status and the body's bytes.
fn get_with_cookie(base: &str, path: &str, cookie: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    (head.split(' ').nth(1).unwrap().parse().unwrap(), response[split..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pharmacy_sends_an_attachment_to_another_operator_where_it_is_read() {
    let operators = mutual_operators();
    let bob = operators.bob.clone();
    // A's copy of the Annuaire Santé knows Bob, at B.
    let extraction = operators.a.dir.join("extraction.txt");
    ok(&format!("annuaire synth --lines 1 --out {}", extraction.display()));
    let header = std::fs::read_to_string(&extraction).unwrap().lines().next().unwrap().to_string();
    let mut fields = vec![String::new(); 31];
    for (i, value) in [(0, "PER"), (1, bob.as_str()), (2, "8"), (3, "10000013994"), (4, "810000013994")]
        .into_iter()
        .chain([(9, "DURAND"), (10, "Bob"), (13, "10"), (14, "Médecin"), (27, "75013 PARIS"), (28, "75013")])
    {
        fields[i] = value.to_string();
    }
    std::fs::write(&extraction, format!("{header}\n{}\n", fields.join("|"))).unwrap();
    operators.a.ok(&format!("annuaire import {}", extraction.display()));
    let (server_a, server_b) = (operators.a.serve(), operators.b.serve());
    let files = tempfile::tempdir().unwrap();
    let pdf: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let small = files.path().join("ordonnance.pdf");
    std::fs::write(&small, &pdf).unwrap();
    // Over the 25 MiB default limit (sparse: nothing is written).
    let big = files.path().join("scanner.tif");
    std::fs::File::create(&big).unwrap().set_len(30 * 1024 * 1024).unwrap();

    let browser = Browser::start().await;
    let p = Person { c: browser.client.clone(), base: format!("http://{}", server_a.addr("http")) };
    let there = Person { c: browser.client.clone(), base: format!("http://{}", server_b.addr("http")) };
    let (dir_a, dir_b) = (operators.a.dir.clone(), operators.b.dir.clone());
    browser
        .run("attachment_between_operators", async move {
            // The pharmacy's mailbox, from the wizard, validated.
            p.sign_in("Élodie Dupont").await;
            p.goto("/portail/creer").await;
            p.link("Créer une boîte organisationnelle").await;
            p.fill("name", "Pharmacie du Centre").await;
            p.fill("postal_code", "75001").await;
            p.fill("city", "Paris").await;
            p.button("Confirmer ces informations").await;
            p.find(Locator::Id("cgu")).await.click().await.unwrap();
            p.button("Créer la boîte").await;
            p.sees("Félicitations ! La boîte est en cours de création.").await;
            p.link("Retour à mes boîtes aux lettres").await;
            validate(&p, &dir_a, PHARMACY).await;

            // Writing from it: outside the trust space is refused.
            p.goto(&format!("/portail/boites/{PHARMACY}/courrier")).await;
            p.link("Nouveau message").await;
            p.sees(&format!("De : Pharmacie du Centre <{PHARMACY}>")).await;
            p.fill("a", "patient@gmail.test").await;
            p.press(Key::Tab).await;
            p.sees("Attention : patient@gmail.test est hors de l'espace de confiance MSSanté").await;
            p.fill("objet", "Ordonnance de Mme Durand").await;
            p.button("Envoyer").await;
            p.sees("patient@gmail.test est hors de l'espace de confiance MSSanté").await;
            p.accessible().await;

            // Too large a file is refused before any upload.
            p.find(Locator::Id("pieces")).await.send_keys(big.to_str().unwrap()).await.unwrap();
            p.sees("au-delà de la taille maximale du message (25,0 Mo)").await;
            let compose = p.path().await;

            // Bob is found in the Annuaire Santé by his name.
            p.fill("a", "Durand").await;
            let offered = format!("#correspondants option[value=\"{bob}\"]");
            let option = p.find(Locator::Css(&offered)).await;
            let label = option.prop("textContent").await.unwrap().unwrap_or_default();
            assert_eq!(label, "Bob DURAND (Médecin, 75013 PARIS)", "the directory's entry");
            p.fill("a", &bob).await;
            p.button("Envoyer").await;
            assert_eq!(p.path().await, compose, "the script kept the form from being sent");
            let clear =
                "const i = document.getElementById('pieces'); i.value = ''; i.dispatchEvent(new Event('change'));";
            p.c.execute(clear, vec![]).await.unwrap();

            // The prescription goes to the hospital's operator.
            p.find(Locator::Id("pieces")).await.send_keys(small.to_str().unwrap()).await.unwrap();
            p.fill("corps", "Bonjour Docteur,\nvoici l'ordonnance de Mme Durand.").await;
            p.button("Envoyer").await;
            p.sees("Votre message a été envoyé.").await;
            p.goto(&format!("/portail/boites/{PHARMACY}/courrier?dossier=Sent")).await;
            p.sees("Ordonnance de Mme Durand").await;
            p.button("Se déconnecter").await;
            p.sees("Vous êtes déconnecté").await;

            // Bob reads it at his operator, and downloads the attachment.
            there.sign_in("Bob Durand").await;
            there.goto(&format!("/portail/boites/{bob}/courrier")).await;
            let deadline = Instant::now() + Duration::from_secs(30);
            while !there.text().await.contains("Ordonnance de Mme Durand") {
                assert!(Instant::now() < deadline, "the message never reached {bob}");
                tokio::time::sleep(Duration::from_millis(300)).await;
                there.c.refresh().await.unwrap();
            }
            there.sees("Pharmacie du Centre").await;
            there.accessible().await;
            there.link("Ordonnance de Mme Durand").await;
            there.sees("voici l'ordonnance de Mme Durand.").await;
            there.accessible().await;
            there.sees("ordonnance.pdf · application/pdf · 48,8 Ko").await;
            let link = there.find(Locator::LinkText("ordonnance.pdf")).await;
            let href = link.attr("href").await.unwrap().unwrap();
            let cookie = there.c.get_named_cookie("mss-portail").await.unwrap();
            let (status, bytes) = get_with_cookie(&there.base, &href, &format!("mss-portail={}", cookie.value()));
            assert_eq!(status, 200);
            assert_eq!(bytes, pdf, "the attachment arrived intact");
            there.link("Répondre").await;
            there.sees("Re: Ordonnance de Mme Durand").await;

            // New mail shows up in the open list without a reload.
            there.goto(&format!("/portail/boites/{bob}/courrier")).await;
            let store = mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: dir_b }).await.unwrap();
            let mailbox = store.meta.mailbox(&bob.parse().unwrap()).await.unwrap().unwrap();
            let results = "From: labo@hopital.test\r\nTo: {bob}\r\nSubject: Resultats d'analyses\r\n\r\nNormaux.\r\n";
            store.deliver(results.as_bytes(), &[mailbox.id]).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(25);
            while !there.text().await.contains("Resultats d'analyses") {
                assert!(Instant::now() < deadline, "the new message never appeared");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let announced = there.find(Locator::Id("annonce")).await.prop("textContent").await.unwrap();
            assert_eq!(announced.as_deref(), Some("Nouveau message reçu."));
            assert!(there.path().await.ends_with("/courrier"), "no reload");

            // The webmail fits a phone screen too.
            there.c.set_window_size(375, 812).await.unwrap();
            for page in ["courrier", "courrier/INBOX/1", "courrier?q=ordonnance", "ecrire?repondre=INBOX%2F1"] {
                there.goto(&format!("/portail/boites/{bob}/{page}")).await;
                assert!(there.fits().await, "{page} fits a phone screen");
            }
        })
        .await;
    drop((server_a, server_b));
}
