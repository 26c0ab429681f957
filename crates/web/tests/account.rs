//! Signing in with the software vendor's account system (« Mon Compte
//! Personnel »), over real HTTP against its simulator speaking OpenID
//! Connect: an account linked to nobody signs no one in; Élodie, signed in
//! with Pro Santé Connect, links hers; it then signs her in (a session that
//! may not link another account); Bob may not link Élodie's account; a flow
//! finished without the cookie of the browser that started it, or a code
//! used twice, is refused; unlinked, the account signs no one in again.

mod support;

use std::sync::Arc;

use axum::Router;
use mss_http::HttpClient;
use mss_identity::account::AccountLogin;
use mss_identity::oidc::OidcConfig;
use mss_identity::psc::simulator::{Identities, RegisteredClient, Simulator};
use mss_identity::{Method, Person};
use support::{Reply, Site};

const IDENTITIES: &str = r#"
[[identity]]
login = "elodie"
national_id = "810003621892"
given_name = "Élodie"
family_name = "Dupont"

[[identity]]
login = "bob"
national_id = "810000013994"
given_name = "Bob"
family_name = "Durand"
"#;
const NAME: &str = "Mon Compte Personnel";

async fn site() -> Site {
    support::site(|_, addr, web| {
        let issuer = format!("http://{addr}/compte-sim");
        let client = RegisteredClient { id: "mss".into(), secret: "s3cret".into() };
        let identities = Identities::parse(IDENTITIES).unwrap();
        let simulator = Arc::new(Simulator::accounts(&issuer, identities, client.clone(), NAME).unwrap());
        let config = OidcConfig {
            issuer,
            client_id: client.id,
            client_secret: client.secret,
            redirect_uri: format!("http://{addr}{}", mss_web::ACCOUNT_CALLBACK),
            scopes: vec![],
        };
        let http = HttpClient::new(None).unwrap();
        let account = Some(Arc::new(AccountLogin::new(NAME.into(), config, http, web.store.meta.clone())));
        (mss_web::Web { account, ..web }, Router::new().nest("/compte-sim", simulator.router()))
    })
    .await
}

/// The `name=value` of a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// A portal session opened with `method` for `person` (`elodie`, `bob`).
async fn session(s: &Site, person: &str, method: Method) -> String {
    let (id, first, last) =
        if person == "elodie" { ("810003621892", "Élodie", "Dupont") } else { ("810000013994", "Bob", "Durand") };
    let person =
        Person { national_id: id.parse().unwrap(), first_name: first.into(), last_name: last.into(), finess: vec![] };
    format!("{}={}", s.cookie, s.sessions.open_portal(&person, method, mss_store::now_unix()).await.unwrap())
}

/// At the provider, as `login`: where it sends the browser back.
async fn at_provider(s: &Site, start: &Reply, login: &str) -> String {
    assert_eq!(start.status, 303, "{}", start.body);
    let authorize = format!("{}&login_hint={login}", s.local(start.header("location").unwrap()));
    let back = s.call("GET", &authorize, "", None).await;
    assert_eq!(back.status, 303, "{}", back.body);
    s.local(back.header("location").unwrap())
}

/// Signs in with the account of `login`: the reply of the return.
async fn account_sign_in(s: &Site, login: &str) -> Reply {
    let start = s.call("GET", "/portail/connexion/compte?suite=/portail/boites", "", None).await;
    let callback = at_provider(s, &start, login).await;
    s.call("GET", &callback, &pair(start.cookies()[0]), None).await
}

/// Links the account of `login` for the session `cookie`: the reply of
/// the return.
async fn link(s: &Site, cookie: &str, login: &str) -> Reply {
    let page = s.call("GET", "/portail/compte", cookie, None).await;
    let start = s.call("POST", "/portail/compte/lier", cookie, Some(&format!("csrf={}", page.csrf()))).await;
    let callback = at_provider(s, &start, login).await;
    s.call("GET", &callback, &format!("{cookie}; {}", pair(start.cookies()[0])), None).await
}

#[tokio::test]
async fn a_linked_account_signs_its_person_in_and_no_one_else() {
    let s = site().await;
    let signin = s.call("GET", "/portail/connexion", "", None).await;
    assert!(signin.body.contains("Se connecter avec Mon Compte Personnel"), "{}", signin.body);

    // Not linked yet: no session.
    let refused = account_sign_in(&s, "elodie").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.body.contains("n'est lié à aucune identité"), "{}", refused.body);
    assert!(!refused.cookies().iter().any(|c| c.starts_with("mss-portail=") && !c.contains("Max-Age=0")));

    // Élodie, signed in with PSC, links hers.
    let elodie = session(&s, "elodie", Method::Psc).await;
    let page = s.call("GET", "/portail/compte", &elodie, None).await;
    assert!(page.body.contains("Lier mon compte Mon Compte Personnel") && page.body.contains("810003621892"));
    let linked = link(&s, &elodie, "elodie").await;
    assert_eq!(linked.header("location"), Some("/portail/compte?fait=lie"), "{}", linked.body);
    let page = s.call("GET", "/portail/compte", &elodie, None).await;
    assert!(page.body.contains("est lié à votre identité depuis le") && page.body.contains("Délier ce compte"));

    // It signs her in; that session may not link another account.
    let back = account_sign_in(&s, "elodie").await;
    assert_eq!((back.status, back.header("location")), (303, Some("/portail/boites")), "{}", back.body);
    let cookie = pair(back.cookies().into_iter().find(|c| c.starts_with("mss-portail=")).unwrap());
    let home = s.call("GET", "/portail/boites", &cookie, None).await;
    assert!(home.status == 200 && home.body.contains("Élodie Dupont"), "{}", home.body);
    let page = s.call("GET", "/portail/compte", &cookie, None).await;
    assert!(
        page.body.contains("<dd>Mon Compte Personnel</dd>")
            && page.body.contains("connectez-vous avec Pro Santé Connect")
    );
    let weak = s.call("POST", "/portail/compte/lier", &cookie, Some(&format!("csrf={}", page.csrf()))).await;
    assert_eq!(weak.status, 403, "{}", weak.body);

    // Bob may not take Élodie's account.
    let bob = session(&s, "bob", Method::Psc).await;
    let taken = link(&s, &bob, "elodie").await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert!(taken.body.contains("déjà lié à une autre personne"));
    let again = account_sign_in(&s, "elodie").await;
    let session_cookie = again.cookies().into_iter().find(|c| c.starts_with("mss-portail=")).map(pair).unwrap();
    let home = s.call("GET", "/portail/boites", &session_cookie, None).await;
    assert!(home.body.contains("Élodie Dupont") && !home.body.contains("Bob Durand"), "still Élodie's");

    // Unlinked: it signs no one in.
    let page = s.call("GET", "/portail/compte", &elodie, None).await;
    let out = s.call("POST", "/portail/compte/delier", &elodie, Some(&format!("csrf={}", page.csrf()))).await;
    assert_eq!(out.header("location"), Some("/portail/compte?fait=delie"));
    assert_eq!(account_sign_in(&s, "elodie").await.status, 401);

    s.store.audit.flush().await;
    let filter = mss_store::AuditFilter { limit: 1000, ..Default::default() };
    let trail = s.store.meta.audit_entries(&filter).await.unwrap();
    let said = |action: &str, result: &str| {
        trail.iter().filter(|e| e.entry.action == action && e.entry.result.starts_with(result)).count()
    };
    assert_eq!(said("account.link", "ok"), 1);
    assert_eq!(said("account.link", "refused"), 2, "the weak session's, and Bob's");
    assert_eq!(said("account.unlink", "ok"), 1);
    assert_eq!(said("session.login", "refused: account not linked"), 2);
}

#[tokio::test]
async fn a_flow_finished_elsewhere_or_twice_is_refused() {
    let s = site().await;
    let elodie = session(&s, "elodie", Method::Psc).await;
    link(&s, &elodie, "elodie").await;

    // A sign-in returned to a browser that did not start it (login CSRF).
    let start = s.call("GET", "/portail/connexion/compte", "", None).await;
    let callback = at_provider(&s, &start, "elodie").await;
    let elsewhere = s.call("GET", &callback, "", None).await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    assert!(elsewhere.cookies().iter().all(|c| !c.starts_with("mss-portail=")));
    // The same code twice: the second is refused.
    let cookie = pair(start.cookies()[0]);
    assert_eq!(s.call("GET", &callback, &cookie, None).await.status, 303);
    assert_eq!(s.call("GET", &callback, &cookie, None).await.status, 401);

    // A linking returned to someone else's session: it is a sign-in then
    // (no link cookie), refused; Bob's account stays unlinked.
    let bob = session(&s, "bob", Method::Psc).await;
    let page = s.call("GET", "/portail/compte", &elodie, None).await;
    let start = s.call("POST", "/portail/compte/lier", &elodie, Some(&format!("csrf={}", page.csrf()))).await;
    let callback = at_provider(&s, &start, "bob").await;
    assert_eq!(s.call("GET", &callback, &bob, None).await.status, 400);
    let issuer = format!("http://{}/compte-sim", s.addr);
    assert_eq!(s.store.meta.account_link(&issuer, "compte-bob").await.unwrap(), None);
    // Hostile returns: no state, an error from the provider, junk.
    for path in [
        "/portail/compte/retour",
        "/portail/compte/retour?error=access_denied&state=x",
        "/portail/compte/retour?code=%00&state=%FF",
    ] {
        let reply = s.call("GET", path, "", None).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
    }
}
