//! Login with Pro Santé Connect end to end: the production OIDC client
//! against the embedded PSC simulator, over HTTP, following the redirects a
//! browser follows; then the session is used to create a mailbox.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

const IDENTITIES: &str = r#"
[[identity]]
login = "elodie"
national_id = "810003621892"
given_name = "Élodie"
family_name = "Dupont"
finess = ["750000002"]
organisation = "Pharmacie du Centre"
"#;

/// GET through `addr`; returns status, Location and body.
async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, Option<String>, String) {
    let (path, token) = (path.to_string(), token.map(str::to_string));
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let location = head.lines().find_map(|l| l.strip_prefix("location: ").map(str::to_string));
        (status, location, body.to_string())
    })
    .await
    .unwrap()
}

/// Follows a redirect to our own server.
fn local_path(location: &str, addr: SocketAddr) -> String {
    location.strip_prefix(&format!("http://{addr}")).unwrap_or(location).to_string()
}

#[tokio::test]
async fn a_pharmacist_logs_in_with_pro_sante_connect_and_creates_the_pharmacy_mailbox() {
    let support::Site { dir: _dir, store, addr, .. } = support::site_with_psc(IDENTITIES, false).await;
    let (status, to_psc, _) = get(addr, "/api/auth/psc/login?login_hint=elodie", None).await;
    assert_eq!(status, 303, "a redirect to PSC");
    let to_psc = to_psc.unwrap();
    assert!(to_psc.contains("/psc-sim/authorize?") && to_psc.contains("code_challenge_method=S256"), "{to_psc}");
    let (status, back, _) = get(addr, &local_path(&to_psc, addr), None).await;
    assert_eq!(status, 303, "PSC sends the person back");
    let callback = local_path(&back.unwrap(), addr);
    assert!(callback.starts_with("/api/auth/psc/callback?code="), "{callback}");
    let (status, _, body) = get(addr, &callback, None).await;
    assert_eq!(status, 200, "{body}");
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let (_, _, me) = get(addr, "/api/me", Some(access)).await;
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    assert_eq!((me["first_name"].as_str(), me["last_name"].as_str()), (Some("Élodie"), Some("Dupont")));
    assert_eq!(me["national_id"], "810003621892");
    assert_eq!(me["finess"][0], "750000002", "the FINESS PSC gave");
    assert_eq!(me["method"], "psc");

    // The same code twice: refused (codes are used once).
    let (status, _, body) = get(addr, &callback, None).await;
    assert_eq!(status, 401, "{body}");
    // A forged state, an empty one, one far longer than any kept: refused.
    let (status, _, _) = get(addr, "/api/auth/psc/callback?code=x&state=forged", None).await;
    assert_eq!(status, 401);
    let (status, _, _) = get(addr, "/api/auth/psc/callback?code=x&state=", None).await;
    assert_eq!(status, 401);
    let long = format!("/api/auth/psc/callback?code=x&state={}", "s".repeat(4000));
    let (status, _, _) = get(addr, &long, None).await;
    assert_eq!(status, 401);
    store.audit.flush().await;
    let logins = store
        .meta
        .audit_entries(&mss_store::AuditFilter {
            action_prefix: Some("session.login".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let results: Vec<&str> = logins.iter().map(|e| e.entry.result.as_str()).collect();
    assert_eq!(results.iter().filter(|r| r.starts_with("refused")).count(), 4, "each refusal traced: {results:?}");
    assert!(results.contains(&"ok"));
}

/// Behind one name, the return from PSC may reach another node than the
/// one that sent the person there: the flow waits in the store they share.
#[tokio::test]
async fn a_login_started_on_one_node_finishes_on_another() {
    let site = support::site_with_psc(IDENTITIES, false).await;
    let other = support::another_node(&site).await;
    let (_, to_psc, _) = get(site.addr, "/api/auth/psc/login?login_hint=elodie", None).await;
    let (_, back, _) = get(site.addr, &local_path(&to_psc.unwrap(), site.addr), None).await;
    let callback = local_path(&back.unwrap(), site.addr);
    let (status, _, body) = get(other, &callback, None).await;
    assert_eq!(status, 200, "{body}");
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap();
    let (_, _, me) = get(site.addr, "/api/me", tokens["access_token"].as_str()).await;
    assert!(me.contains("810003621892"), "the session holds on the first node too: {me}");
    let (status, _, _) = get(site.addr, &callback, None).await;
    assert_eq!(status, 401, "the flow was taken once, whichever node");
}

#[tokio::test]
async fn the_simulator_lists_its_identities_without_a_hint() {
    let support::Site { dir: _dir, addr, .. } = support::site_with_psc(IDENTITIES, false).await;
    let (_, to_psc, _) = get(addr, "/api/auth/psc/login", None).await;
    let (status, _, page) = get(addr, &local_path(&to_psc.unwrap(), addr), None).await;
    assert_eq!(status, 200);
    assert!(page.contains("Choisissez une identité de test") && page.contains("Élodie Dupont"), "{page}");
    assert!(page.contains("login_hint=elodie"));
}
