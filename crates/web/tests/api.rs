//! The REST API over real HTTP against a real store: the creation flow of
//! the three mailbox types, the ANS validation, delegation, the audit trail,
//! and every kind of refusal as problem+json.

mod support;

use support::{CGU, Site};

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mss_core::{MailboxState, Role};
use mss_directory::{AnsSimulator, FhirPublisher, Validation, validate_due};
use mss_identity::{Method, Person, TokenKey};
use mss_store::now_unix;

const ALICE: &str = "810003621892";
const BOB: &str = "810000013994";
const FINESS: &str = "750000002";

impl Site {
    async fn login(&self, national_id: &str, first: &str, last: &str, finess: &[&str]) -> String {
        let person = Person {
            national_id: national_id.parse().unwrap(),
            first_name: first.into(),
            last_name: last.into(),
            finess: finess.iter().map(|f| f.to_string()).collect(),
        };
        self.sessions.open(&person, Method::Psc, now_unix()).await.unwrap().access_token
    }

    /// The ANS simulator decides everything due now.
    async fn ans(&self, unknown: &[&str]) {
        let unknown: Vec<String> = unknown.iter().map(|s| s.to_string()).collect();
        let ans = Arc::new(AnsSimulator::new(&unknown, &[]));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, ans.router()).await });
        let publisher = FhirPublisher { base_url, http: mss_http::HttpClient::new(None).unwrap() };
        let v = Validation {
            store: self.store.clone(),
            publisher: Arc::new(publisher),
            interval: Duration::from_secs(1),
            retry: Duration::from_secs(60),
        };
        validate_due(&v, now_unix() + 1).await.unwrap();
    }
}

struct Reply {
    status: u16,
    headers: String,
    json: serde_json::Value,
}

/// One HTTP/1.1 request on a new connection.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Reply {
    let (method, path, token) = (method.to_string(), path.to_string(), token.map(str::to_string));
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let json =
            if body.is_empty() { serde_json::Value::Null } else { serde_json::from_str(body).unwrap_or(body.into()) };
        Reply { status, headers: head.to_ascii_lowercase(), json }
    })
    .await
    .unwrap()
}

fn is_problem(reply: &Reply, status: u16) -> bool {
    reply.status == status
        && reply.headers.contains("content-type: application/problem+json")
        && reply.json["status"] == status
        && reply.json["detail"].as_str().is_some_and(|d| !d.is_empty())
}

fn pharmacy() -> serde_json::Value {
    serde_json::json!({"type": "ORG", "finess": FINESS, "name": "Pharmacie du Centre", "pharmacy": true,
                       "postal_code": "75001", "city": "Paris", "cgu_version": CGU, "cgu_accepted": true})
}

#[tokio::test]
async fn a_pharmacist_creates_a_personal_mailbox_that_waits_for_the_ans() {
    let s = support::plain_site().await;
    let token = s.login(ALICE, "Élodie", "Dupont", &[FINESS]).await;
    let preview =
        call(s.addr, "POST", "/api/mailboxes/preview", Some(&token), Some(serde_json::json!({"type": "PER"}))).await;
    assert_eq!(preview.status, 200, "{}", preview.json);
    assert_eq!(preview.json["address"], "elodie.dupont@ours.test");
    assert_eq!(preview.json["national_id"], ALICE);
    assert_eq!(preview.json["cgu"]["version"], CGU);

    let without_cgu =
        call(s.addr, "POST", "/api/mailboxes", Some(&token), Some(serde_json::json!({"type": "PER"}))).await;
    assert!(is_problem(&without_cgu, 422), "{}", without_cgu.json);
    assert!(without_cgu.json["detail"].as_str().unwrap().contains("J'ai lu et j'accepte les CGU"));
    assert!(s.store.meta.mailboxes().await.unwrap().is_empty(), "nothing created");

    let body = serde_json::json!({"type": "PER", "cgu_version": CGU, "cgu_accepted": true});
    let created = call(s.addr, "POST", "/api/mailboxes", Some(&token), Some(body.clone())).await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert!(created.headers.contains("location: /api/mailboxes/elodie.dupont@ours.test"));
    assert_eq!(created.json["status"], "pending");
    assert!(
        created.json["message"].as_str().unwrap().starts_with("Félicitations ! La boîte est en cours de création.")
    );
    let mailbox = s.store.meta.mailbox(&"elodie.dupont@ours.test".parse().unwrap()).await.unwrap().unwrap();
    let cgu = s.store.meta.cgu_acceptances(mailbox.id).await.unwrap();
    assert_eq!(
        (cgu[0].national_id.to_string().as_str(), cgu[0].version.as_str()),
        (ALICE, CGU),
        "who and which version"
    );
    let again = call(s.addr, "POST", "/api/mailboxes", Some(&token), Some(body)).await;
    assert!(is_problem(&again, 409), "one personal mailbox per person");

    let me = call(s.addr, "GET", "/api/me", Some(&token), None).await;
    assert_eq!(me.json["mailboxes"][0]["status"], "pending");
    assert_eq!(me.json["mailboxes"][0]["status_message"], "La boîte est en cours de création.");
    s.ans(&[]).await;
    let shown = call(s.addr, "GET", "/api/mailboxes/elodie.dupont@ours.test", Some(&token), None).await;
    assert_eq!(shown.json["status"], "active", "{}", shown.json);
}

#[tokio::test]
async fn a_refusal_by_the_ans_is_shown_with_its_reason() {
    let s = support::plain_site().await;
    let token = s.login(BOB, "Bob", "Durand", &[]).await;
    let body = serde_json::json!({"type": "PER", "cgu_version": CGU, "cgu_accepted": true});
    assert_eq!(call(s.addr, "POST", "/api/mailboxes", Some(&token), Some(body)).await.status, 201);
    s.ans(&[BOB]).await;
    let shown = call(s.addr, "GET", "/api/mailboxes/bob.durand@ours.test", Some(&token), None).await;
    assert_eq!(shown.json["status"], "refused");
    assert!(shown.json["status_message"].as_str().unwrap().contains("refusée par l'ANS"), "{}", shown.json);
    let m = s.store.meta.mailbox(&"bob.durand@ours.test".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(m.state, MailboxState::Deleted);
}

#[tokio::test]
async fn organisational_and_applicative_mailboxes_follow_the_structure() {
    let s = support::plain_site().await;
    let owner = s.login(ALICE, "Élodie", "Dupont", &[FINESS]).await;
    let stranger = s.login(BOB, "Bob", "Durand", &["310000002"]).await;
    let refused = call(s.addr, "POST", "/api/mailboxes", Some(&stranger), Some(pharmacy())).await;
    assert!(is_problem(&refused, 403), "not attached to the structure: {}", refused.json);

    let created = call(s.addr, "POST", "/api/mailboxes", Some(&owner), Some(pharmacy())).await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["address"], "pharmacie-du-centre-75001-paris@ours.test");
    assert_eq!(created.json["role"], "administrateur", "the creator is the titulaire");

    let app = serde_json::json!({"type": "APP", "finess": FINESS, "name": "LGO Officine",
        "certificate_dn": "CN=lgo.pharmacie.test,O=EDITEUR LGO,C=FR", "cgu_version": CGU, "cgu_accepted": true});
    let early = call(s.addr, "POST", "/api/mailboxes", Some(&owner), Some(app.clone())).await;
    assert!(is_problem(&early, 403), "the organisational mailbox is not active yet");
    s.ans(&[]).await;
    let created = call(s.addr, "POST", "/api/mailboxes", Some(&owner), Some(app.clone())).await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["certificate_dn"], "CN=lgo.pharmacie.test,O=EDITEUR LGO,C=FR");
    // The same certificate, written another way, cannot name a second
    // mailbox: SASL EXTERNAL could not tell them apart.
    let twin = serde_json::json!({"type": "APP", "finess": FINESS, "name": "LGO Comptoir",
        "certificate_dn": "CN=lgo.pharmacie.test, O=EDITEUR LGO, C=FR", "cgu_version": CGU, "cgu_accepted": true});
    let refused = call(s.addr, "POST", "/api/mailboxes", Some(&owner), Some(twin)).await;
    assert!(is_problem(&refused, 409), "{}", refused.json);
    assert!(refused.json["detail"].as_str().unwrap().contains("certificat"), "in French: {}", refused.json);
    let by_stranger = call(s.addr, "POST", "/api/mailboxes", Some(&stranger), Some(app)).await;
    assert!(is_problem(&by_stranger, 403));
}

#[tokio::test]
async fn delegation_follows_the_role_matrix() {
    let s = support::plain_site().await;
    let owner = s.login(ALICE, "Élodie", "Dupont", &[FINESS]).await;
    assert_eq!(call(s.addr, "POST", "/api/mailboxes", Some(&owner), Some(pharmacy())).await.status, 201);
    let org = "/api/mailboxes/pharmacie-du-centre-75001-paris@ours.test";
    let role = |r: &str| Some(serde_json::json!({ "role": r }));
    let manager = s.login(BOB, "Bob", "Durand", &[]).await;
    let (user_id, other_id) = ("810001234565", "810009999995");

    assert_eq!(
        call(s.addr, "PUT", &format!("{org}/members/{BOB}"), Some(&owner), role("gestionnaire")).await.status,
        200
    );
    assert_eq!(
        call(s.addr, "PUT", &format!("{org}/members/{user_id}"), Some(&manager), role("utilisateur")).await.status,
        200
    );
    let escalate =
        call(s.addr, "PUT", &format!("{org}/members/{user_id}"), Some(&manager), role("administrateur")).await;
    assert!(is_problem(&escalate, 403), "a Gestionnaire does not make Administrateurs");
    let demote_owner = call(s.addr, "DELETE", &format!("{org}/members/{ALICE}"), Some(&manager), None).await;
    assert!(is_problem(&demote_owner, 403), "nor removes them");
    let last = call(s.addr, "DELETE", &format!("{org}/members/{ALICE}"), Some(&owner), None).await;
    assert!(is_problem(&last, 409), "the last Administrateur stays: {}", last.json);
    let bad_id = call(s.addr, "PUT", &format!("{org}/members/12345"), Some(&owner), role("utilisateur")).await;
    assert!(is_problem(&bad_id, 422));
    let bad_role = call(s.addr, "PUT", &format!("{org}/members/{user_id}"), Some(&owner), role("chef")).await;
    assert!(is_problem(&bad_role, 422));
    let missing = call(s.addr, "DELETE", &format!("{org}/members/{other_id}"), Some(&owner), None).await;
    assert!(is_problem(&missing, 404), "{}", missing.json);

    let members = call(s.addr, "GET", &format!("{org}/members"), Some(&manager), None).await;
    let list: Vec<(String, String)> = members.json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["national_id"].as_str().unwrap().into(), m["role"].as_str().unwrap().into()))
        .collect();
    assert_eq!(list.len(), 3, "{list:?}");
    let org_id =
        s.store.meta.mailbox(&"pharmacie-du-centre-75001-paris@ours.test".parse().unwrap()).await.unwrap().unwrap().id;
    assert_eq!(s.store.meta.role_of(org_id, &user_id.parse().unwrap()).await.unwrap(), Some(Role::Utilisateur));

    // The audit trail: for the Administrateur, not for the Gestionnaire.
    let trail = call(s.addr, "GET", &format!("{org}/audit?action=role."), Some(&owner), None).await;
    assert_eq!(trail.status, 200, "{}", trail.json);
    let results: Vec<&str> =
        trail.json["entries"].as_array().unwrap().iter().map(|e| e["result"].as_str().unwrap()).collect();
    assert!(results.iter().filter(|r| r.starts_with("refused")).count() >= 3, "{results:?}");
    assert!(results.contains(&"ok"));
    assert!(is_problem(&call(s.addr, "GET", &format!("{org}/audit"), Some(&manager), None).await, 403));
}

#[tokio::test]
async fn bad_tokens_and_other_peoples_mailboxes_are_refused_clearly() {
    let s = support::plain_site().await;
    let owner = s.login(ALICE, "Élodie", "Dupont", &[FINESS]).await;
    assert_eq!(call(s.addr, "POST", "/api/mailboxes", Some(&owner), Some(pharmacy())).await.status, 201);
    let none = call(s.addr, "GET", "/api/me", None, None).await;
    assert!(is_problem(&none, 401) && none.headers.contains("www-authenticate: bearer"));
    let forged = format!("{}x", &owner[..owner.len() - 1]);
    assert!(is_problem(&call(s.addr, "GET", "/api/me", Some(&forged), None).await, 401));
    let foreign = TokenKey::generate("ours.test").unwrap().issue(ALICE, now_unix(), 60).unwrap();
    assert!(is_problem(&call(s.addr, "GET", "/api/me", Some(&foreign), None).await, 401), "another key");

    let other = s.login(BOB, "Bob", "Durand", &[]).await;
    let theirs =
        call(s.addr, "GET", "/api/mailboxes/pharmacie-du-centre-75001-paris@ours.test", Some(&other), None).await;
    assert!(is_problem(&theirs, 404), "someone else's mailbox is not revealed");
    let garbage = call(s.addr, "POST", "/api/mailboxes", Some(&other), Some(serde_json::json!({"type": "XYZ"}))).await;
    assert!(is_problem(&garbage, 422));
    let unknown_field = call(
        s.addr,
        "POST",
        "/api/mailboxes/preview",
        Some(&other),
        Some(serde_json::json!({"type": "PER", "admin": true})),
    )
    .await;
    assert!(is_problem(&unknown_field, 422));
    let bad_finess = serde_json::json!({"type": "ORG", "finess": "123", "name": "X", "service": "Y", "cgu_version": CGU, "cgu_accepted": true});
    assert!(is_problem(&call(s.addr, "POST", "/api/mailboxes", Some(&owner), Some(bad_finess)).await, 422));
    assert!(is_problem(&call(s.addr, "GET", "/api/nowhere", Some(&owner), None).await, 404));

    // Logout ends the token at once.
    assert_eq!(call(s.addr, "POST", "/api/auth/logout", Some(&owner), None).await.status, 204);
    assert!(is_problem(&call(s.addr, "GET", "/api/me", Some(&owner), None).await, 401));
    s.store.audit.flush().await;
    let refusals = s
        .store
        .meta
        .audit_entries(&mss_store::AuditFilter { action_prefix: Some("api.".into()), limit: 50, ..Default::default() })
        .await
        .unwrap();
    assert!(refusals.len() >= 3, "refused tokens are traced: {refusals:?}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_the_openapi_document_describes_every_route() {
    let s = support::plain_site().await;
    let person =
        Person { national_id: ALICE.parse().unwrap(), first_name: "A".into(), last_name: "B".into(), finess: vec![] };
    let tokens = s.sessions.open(&person, Method::Cps, now_unix()).await.unwrap();
    let body = serde_json::json!({ "refresh_token": tokens.refresh_token });
    let refreshed = call(s.addr, "POST", "/api/auth/refresh", None, Some(body.clone())).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.json);
    assert_eq!(
        call(s.addr, "GET", "/api/me", refreshed.json["access_token"].as_str(), None).await.json["method"],
        "cps"
    );
    assert!(is_problem(&call(s.addr, "POST", "/api/auth/refresh", None, Some(body)).await, 401), "used once");

    let doc = call(s.addr, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(doc.json["openapi"], "3.1.0");
    for path in [
        "/me",
        "/auth/refresh",
        "/auth/logout",
        "/mailboxes",
        "/mailboxes/preview",
        "/mailboxes/{address}",
        "/mailboxes/{address}/members",
        "/mailboxes/{address}/members/{national_id}",
        "/mailboxes/{address}/audit",
        "/pharmacies/{finess}/dispensations",
        "/pharmacies/{finess}/indicator",
        "/pharmacies/{finess}/dispensations/{id}/links",
        "/mailboxes/{address}/messages/{folder}/{uid}/tracking",
    ] {
        assert!(doc.json["paths"][path].is_object(), "{path} documented");
    }
}
