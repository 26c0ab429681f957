//! `GET /api/annuaire` over real HTTP: the imported national extraction
//! and our own mailboxes (active ones at once, liste rouge ones never),
//! authentication, paging, refusals as problem+json in French.

mod support;

use std::sync::Arc;

use axum::http::Request;
use mss_core::{MailboxKind, MailboxState, NationalId};
use mss_directory::annuaire::extraction::HEADER;
use mss_directory::annuaire::{Annuaire, import};
use mss_identity::{Method, Person};
use mss_store::{MailboxDraft, Store, now_unix};
use mss_web::Web;

/// A PER line of the extraction.
fn line(address: &str, last: &str, first: &str, rpps: &str) -> String {
    let mut f = vec![String::new(); 31];
    for (i, v) in [(0, "PER"), (1, address), (2, "8"), (3, rpps), (9, last), (10, first), (13, "10"), (14, "Médecin")]
    {
        f[i] = v.to_string();
    }
    f[4] = format!("8{rpps}");
    f[27] = "75011 PARIS".into();
    f[28] = "75011".into();
    f.join("|")
}

async fn own(store: &Store, local: &str, last: &str, state: MailboxState, liste_rouge: bool) {
    let mut draft = MailboxDraft::new(MailboxKind::Personal);
    draft.national_id = Some(NationalId::Rpps("10003621892".parse().unwrap()));
    draft.first_name = Some("Élodie".into());
    draft.last_name = Some(last.into());
    draft.display_name = format!("Élodie {last}");
    draft.liste_rouge = liste_rouge;
    let address = format!("{local}@ours.test").parse().unwrap();
    store.meta.create_mailbox(&draft.at(address, state)).await.unwrap();
}

async fn get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> (u16, String, serde_json::Value) {
    let mut request = Request::get(format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = mss_http::HttpClient::new(None).unwrap().send(request.body(Vec::new()).unwrap()).await.unwrap();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (response.status().as_u16(), kind, serde_json::from_slice(response.body()).unwrap())
}

#[tokio::test]
async fn people_search_the_directory_and_our_active_mailboxes() {
    let s = support::site(|dir, _, web| {
        let extraction = dir.join("extraction.txt");
        let lines = [
            HEADER.join("|"),
            line("elodie.dupont@medecin.mssante.fr", "DUPONT", "Élodie", "10000000017"),
            line("jean.dupond@medecin.mssante.fr", "DUPOND", "Jean", "10000000025"),
            // Our domain in the extraction: our store is authoritative.
            line("old.dupont@ours.test", "DUPONT", "Ancien", "10000000033"),
        ];
        std::fs::write(&extraction, lines.join("\n") + "\n").unwrap();
        import(&dir.join("annuaire"), &extraction, &|_| {}).unwrap();
        let annuaire = Arc::new(Annuaire::new(&dir.join("annuaire"), Some("ours.test".into())));
        (Web { annuaire, ..web }, axum::Router::new())
    })
    .await;
    let (store, sessions, addr) = (&s.store, &s.sessions, s.addr);
    own(store, "elodie.dupontel", "Dupontel", MailboxState::Active, false).await;
    own(store, "cachee.dupontel", "Dupontel", MailboxState::Active, true).await;
    own(store, "attente.dupontel", "Dupontel", MailboxState::Pending, false).await;
    let person = Person {
        national_id: "810003621892".parse().unwrap(),
        first_name: "Élodie".into(),
        last_name: "Dupont".into(),
        finess: Vec::new(),
    };
    let token = sessions.open(&person, Method::Psc, now_unix()).await.unwrap().access_token;

    let (status, kind, body) = get(addr, "/api/annuaire?q=dup", None).await;
    assert_eq!((status, kind.as_str()), (401, "application/problem+json"), "{body}");

    let (status, _, body) = get(addr, "/api/annuaire?q=DUP", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let addresses: Vec<&str> =
        body["hits"].as_array().unwrap().iter().map(|h| h["address"].as_str().unwrap()).collect();
    assert_eq!(
        addresses,
        ["elodie.dupontel@ours.test", "jean.dupond@medecin.mssante.fr", "elodie.dupont@medecin.mssante.fr"],
        "ours first; never liste rouge, pending, or our domain from the extraction"
    );
    assert_eq!(body["hits"][0]["source"], "operateur");
    assert_eq!(body["hits"][1]["source"], "annuaire");
    assert_eq!(body["hits"][1]["profession"], "Médecin");
    assert_eq!((body["total"].as_u64(), body["total_exact"].as_bool()), (Some(3), Some(true)));

    let (_, _, body) = get(addr, "/api/annuaire?q=dup&per_page=1&page=3", Some(&token)).await;
    assert_eq!(body["hits"][0]["address"], "elodie.dupont@medecin.mssante.fr");
    let (_, _, body) = get(addr, "/api/annuaire?id=10000000025&cp=75011", Some(&token)).await;
    assert_eq!(body["hits"][0]["address"], "jean.dupond@medecin.mssante.fr");

    for (path, words) in [
        ("/api/annuaire?q=dupont&cp=750", "Code postal"),
        ("/api/annuaire", "Recherche vide"),
        ("/api/annuaire?q=x&per_page=1000", "Page"),
    ] {
        let (status, kind, body) = get(addr, path, Some(&token)).await;
        assert_eq!((status, kind.as_str()), (422, "application/problem+json"), "{path}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(words), "{path}: {body}");
    }
}

/// An ORG line of the extraction: a pharmacy, its FINESS, name and place.
fn pharmacy_line(address: &str, finess: &str, company: &str, postal: &str, distribution: &str) -> String {
    let mut f = vec![String::new(); 31];
    for (i, v) in [(0, "ORG"), (1, address), (5, "1"), (6, finess), (18, company), (27, distribution), (28, postal)] {
        f[i] = v.to_string();
    }
    f.join("|")
}

/// The creation wizard fills the pharmacy's name, postal code and city in
/// from the Annuaire Santé extraction by its FINESS, editable; a FINESS the
/// extraction does not know leaves them empty.
#[tokio::test]
async fn the_wizard_knows_the_pharmacy_from_the_annuaire() {
    let s = support::site(|dir, _, web| {
        let extraction = dir.join("extraction.txt");
        let lines = [
            HEADER.join("|"),
            pharmacy_line(
                "pharmacie.gare@pharma.mssante.fr",
                "750000002",
                "PHARMACIE DE LA GARE",
                "75010",
                "75010 PARIS",
            ),
        ];
        std::fs::write(&extraction, lines.join("\n") + "\n").unwrap();
        import(&dir.join("annuaire"), &extraction, &|_| {}).unwrap();
        let annuaire = Arc::new(Annuaire::new(&dir.join("annuaire"), Some("ours.test".into())));
        (Web { annuaire, ..web }, axum::Router::new())
    })
    .await;
    let person = |finess: &[&str]| Person {
        national_id: "810003621892".parse().unwrap(),
        first_name: "Élodie".into(),
        last_name: "Dupont".into(),
        finess: finess.iter().map(|f| f.to_string()).collect(),
    };
    let page = |finess: &'static [&'static str], path: &'static str| {
        let (sessions, addr) = (s.sessions.clone(), s.addr);
        async move {
            let cookie = sessions.open_portal(&person(finess), Method::Psc, now_unix()).await.unwrap();
            let raw = format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: mss-portail={cookie}\r\n\r\n"
            );
            support::exchange(addr, raw.into_bytes()).await.body
        }
    };
    let known = page(&["750000002"], "/portail/creer/organisationnelle").await;
    for value in ["value=\"PHARMACIE DE LA GARE\"", "value=\"75010\"", "value=\"PARIS\""] {
        assert!(known.contains(value), "{value}: {known}");
    }
    let chosen = page(&["310000005", "750000002"], "/portail/creer/organisationnelle?finess=750000002").await;
    assert!(chosen.contains("value=\"PHARMACIE DE LA GARE\""), "{chosen}");
    let not_theirs = page(&["310000005"], "/portail/creer/organisationnelle?finess=750000002").await;
    assert!(!not_theirs.contains("PHARMACIE DE LA GARE"), "only the person's own structures");
    let unknown = page(&["310000005"], "/portail/creer/organisationnelle").await;
    assert!(unknown.contains("Nom de la structure") && !unknown.contains("PARIS"));
}
