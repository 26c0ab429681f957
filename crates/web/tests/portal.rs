//! The portal's security properties over real HTTP, without a browser: the
//! headers of every response, the cookies of a Pro Santé Connect login, the
//! CSRF token every form needs, an ended session sending the person to
//! sign-in, and the wizard's server-side checks.

mod support;

use support::{CGU, Reply, Site};

use mss_identity::{Method, Person};
use mss_store::now_unix;

const IDENTITIES: &str = r#"
[[identity]]
login = "elodie"
national_id = "810003621892"
given_name = "Élodie"
family_name = "Dupont"
finess = ["750000002"]
organisation = "Pharmacie du Centre"
"#;
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

impl Site {
    /// A portal session for Élodie opened at `at`: the `Cookie` header.
    async fn signed_in(&self, at: i64) -> String {
        let person = Person {
            national_id: "810003621892".parse().unwrap(),
            first_name: "Élodie".into(),
            last_name: "Dupont".into(),
            finess: vec!["750000002".into()],
        };
        let token = self.sessions.open_portal(&person, Method::Psc, at).await.unwrap();
        format!("{}={token}", self.cookie)
    }
}

#[track_caller]
fn assert_secured(reply: &Reply) {
    assert_eq!(reply.header("content-security-policy"), Some(CSP));
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
}

#[tokio::test]
async fn every_portal_response_carries_the_security_headers() {
    let s = support::site_with_psc(IDENTITIES, false).await;
    let page = s.get("/portail/connexion", "").await;
    assert_eq!(page.status, 200);
    assert_secured(&page);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.starts_with("<!DOCTYPE html><html lang=\"fr\">"), "{}", page.body);
    assert!(page.body.contains("<title>Connexion · Messagerie sécurisée de santé</title>"));
    assert!(page.body.contains("href=\"#contenu\"") && page.body.contains("<h1>Connexion</h1>"));
    assert!(page.body.contains("Se connecter avec Pro Santé Connect"));
    assert!(!page.body.contains("<script") && !page.body.contains("style="), "no script, no inline style");
    let at = page.body.find("/portail/assets/portail-").unwrap();
    let css_path = &page.body[at..at + page.body[at..].find('"').unwrap()];
    let css = s.get(css_path, "").await;
    assert_eq!(css.status, 200);
    assert_secured(&css);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(s.get("/portail/assets/portail-0000000000000000.css", "").await.status, 404);
    let refused = s.call("POST", "/portail/deconnexion", "", Some("csrf=x")).await;
    assert_eq!(refused.status, 303, "no session: to sign-in");
    assert_secured(&refused);
}

/// Logs in through the simulator as a browser does; the `Set-Cookie` of
/// the start and of the return, and where the return goes.
async fn psc_login(s: &Site, target: &str) -> (String, String, String) {
    let start = s.get(&format!("/portail/connexion/psc?login_hint=elodie&suite={target}"), "").await;
    assert_eq!(start.status, 303, "{}", start.body);
    let login_cookie = start.cookies()[0].to_string();
    let authorize = s.get(&s.local(start.header("location").unwrap()), "").await;
    assert_eq!(authorize.status, 303, "{}", authorize.body);
    let callback = s.local(authorize.header("location").unwrap());
    let pair = login_cookie.split(';').next().unwrap();
    let back = s.get(&callback, pair).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let session = back.cookies().into_iter().find(|c| c.contains("mss-portail=")).unwrap().to_string();
    (login_cookie, session, back.header("location").unwrap().to_string())
}

#[tokio::test]
async fn a_pro_sante_connect_login_opens_a_portal_session_with_safe_cookies() {
    let s = support::site_with_psc(IDENTITIES, false).await;
    let (login, session, to) = psc_login(&s, "%2Fportail%2Fcreer").await;
    assert!(login.starts_with("mss-connexion=") && login.contains("; HttpOnly; SameSite=Lax"), "{login}");
    assert!(login.contains("Path=/") && login.contains("Max-Age=600") && !login.contains("Secure"), "{login}");
    assert!(session.starts_with("mss-portail=") && session.contains("; HttpOnly; SameSite=Lax"), "{session}");
    assert_eq!(to, "/portail/creer", "back to the page asked for");
    let pair = session.split(';').next().unwrap();
    let page = s.get("/portail/boites", pair).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Élodie Dupont") && page.body.contains("Mes boîtes aux lettres"));
    // The portal's cookie is not an access token, and the reverse.
    let token = pair.split_once('=').unwrap().1;
    assert!(s.sessions.verify(token, now_unix()).await.is_err());

    // Without the login cookie, the callback is the API's (JSON tokens);
    // an outside target is never followed.
    let start = s.get("/api/auth/psc/login?login_hint=elodie", "").await;
    let authorize = s.get(&s.local(start.header("location").unwrap()), "").await;
    let api = s.get(&s.local(authorize.header("location").unwrap()), "").await;
    assert_eq!(api.status, 200);
    assert!(api.body.contains("access_token"));
    let (_, _, to) = psc_login(&s, "https%3A%2F%2Fevil.test%2F").await;
    assert_eq!(to, "/portail/boites");
}

#[tokio::test]
async fn over_https_the_cookies_are_secure_and_host_only() {
    let s = support::site_with_psc(IDENTITIES, true).await;
    let (login, session, _) = psc_login(&s, "%2Fportail%2Fboites").await;
    for cookie in [&login, &session] {
        assert!(cookie.starts_with("__Host-") && cookie.contains("; Secure") && cookie.contains("Path=/"), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    }
    let pair = session.split(';').next().unwrap();
    assert_eq!(s.get("/portail/boites", pair).await.status, 200);
}

#[tokio::test]
async fn a_post_without_its_csrf_token_is_refused_and_changes_nothing() {
    let s = support::site_with_psc(IDENTITIES, false).await;
    let cookie = s.signed_in(now_unix()).await;
    let page = s.get("/portail/creer/personnelle", &cookie).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    for form in ["", "csrf=", "csrf=0000", &format!("csrf={}", "a".repeat(64))] {
        let refused = s.call("POST", "/portail/deconnexion", &cookie, Some(form)).await;
        assert_eq!(refused.status, 403, "{form}");
        assert!(refused.body.contains("jeton de sécurité"), "{}", refused.body);
        assert_secured(&refused);
        let create = format!("{form}&etape=creer&cgu=oui");
        assert_eq!(s.call("POST", "/portail/creer/personnelle", &cookie, Some(&create)).await.status, 403);
    }
    assert!(s.store.meta.mailboxes().await.unwrap().is_empty(), "nothing created");
    assert_eq!(s.get("/portail/boites", &cookie).await.status, 200, "still signed in");
    // Another session's token does not do either.
    let other = s.signed_in(now_unix()).await;
    let other_csrf = s.get("/portail/boites", &other).await.csrf();
    assert_ne!(other_csrf, csrf);
    let refused = s.call("POST", "/portail/deconnexion", &cookie, Some(&format!("csrf={other_csrf}"))).await;
    assert_eq!(refused.status, 403);

    let out = s.call("POST", "/portail/deconnexion", &cookie, Some(&format!("csrf={csrf}"))).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/portail/connexion?deconnecte=1"));
    assert!(out.cookies().iter().any(|c| c.starts_with("mss-portail=;") && c.contains("Max-Age=0")));
    let after = s.get("/portail/boites", &cookie).await;
    assert_eq!(after.status, 303, "the session ended with the sign-out");
    assert!(after.header("location").unwrap().contains("expiree=1"));
}

#[tokio::test]
async fn an_ended_session_sends_the_person_to_sign_in_and_back() {
    let s = support::site_with_psc(IDENTITIES, false).await;
    let none = s.get("/portail/boites/a@ours.test/membres", "").await;
    assert_eq!(none.status, 303);
    assert_eq!(none.header("location"), Some("/portail/connexion?suite=%2Fportail%2Fboites%2Fa%40ours.test%2Fmembres"));
    let expired = s.signed_in(now_unix() - 9 * 3600).await;
    for cookie in [expired.as_str(), "mss-portail=forged.token.value"] {
        let sent = s.get("/portail/creer?x=1", cookie).await;
        assert_eq!(sent.status, 303);
        let to = sent.header("location").unwrap();
        assert_eq!(to, "/portail/connexion?suite=%2Fportail%2Fcreer%3Fx%3D1&expiree=1");
        assert!(sent.cookies().iter().any(|c| c.contains("Max-Age=0")), "the dead cookie is cleared");
        let page = s.get(to, "").await;
        assert!(page.body.contains("Votre session a expiré, veuillez vous reconnecter"), "{}", page.body);
        assert!(page.body.contains("/portail/connexion/psc?suite=%2Fportail%2Fcreer%3Fx%3D1"), "the target is kept");
    }
}

#[tokio::test]
async fn the_wizard_checks_every_step_on_the_server_with_errors_next_to_the_field() {
    let s = support::site_with_psc(IDENTITIES, false).await;
    let cookie = s.signed_in(now_unix()).await;
    let form = s.get("/portail/creer/organisationnelle", &cookie).await;
    assert!(form.body.contains("810003621892") || form.body.contains("10003621892"), "the RPPS is shown");
    assert!(form.body.contains("N° FINESS") && form.body.contains("750000002"));
    let csrf = form.csrf();
    let org = |extra: &str| {
        format!("csrf={csrf}&etape=confirmer&finess=750000002&structure=pharmacie&postal_code=75001&city=Paris{extra}")
    };
    let missing = s.call("POST", "/portail/creer/organisationnelle", &cookie, Some(&org("&name="))).await;
    assert_eq!(missing.status, 422);
    assert!(missing.body.contains("id=\"name-erreur\"") && missing.body.contains("Ce champ est obligatoire."));
    assert!(missing.body.contains("aria-invalid=\"true\""));
    let postal = org("&name=Pharmacie+du+Centre").replace("postal_code=75001", "postal_code=7500");
    let postal = s.call("POST", "/portail/creer/organisationnelle", &cookie, Some(&postal)).await;
    assert_eq!(postal.status, 422);
    assert!(
        postal.body.contains("id=\"postal_code-erreur\"") && postal.body.contains("Code postal invalide"),
        "{}",
        postal.body
    );
    assert!(!postal.body.contains("expected") && !postal.body.contains("digits"), "French only: {}", postal.body);
    let foreign = org("&name=Pharmacie+du+Centre").replace("finess=750000002", "finess=130000003");
    let foreign = s.call("POST", "/portail/creer/organisationnelle", &cookie, Some(&foreign)).await;
    assert_eq!(foreign.status, 422);
    assert!(foreign.body.contains("id=\"finess-erreur\"") && foreign.body.contains("pas rattaché"), "{}", foreign.body);

    let confirmed =
        s.call("POST", "/portail/creer/organisationnelle", &cookie, Some(&org("&name=Pharmacie+du+Centre"))).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(confirmed.body.contains("pharmacie-du-centre-75001-paris@ours.test"), "the address preview");
    assert!(confirmed.body.contains("J'ai lu et j'accepte les CGU") && confirmed.body.contains("Créer la boîte"));
    let create = org("&name=Pharmacie+du+Centre").replace("etape=confirmer", "etape=creer");
    let unticked = s.call("POST", "/portail/creer/organisationnelle", &cookie, Some(&create)).await;
    assert_eq!(unticked.status, 422);
    assert!(unticked.body.contains("id=\"cgu-erreur\"") && unticked.body.contains("Acceptez les CGU"));
    assert!(s.store.meta.mailboxes().await.unwrap().is_empty(), "nothing created without the CGU");
    let created = s.call("POST", "/portail/creer/organisationnelle", &cookie, Some(&format!("{create}&cgu=oui"))).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let to = created.header("location").unwrap();
    let done = s.get(to, &cookie).await;
    assert!(done.body.contains("Félicitations ! La boîte est en cours de création."), "{}", done.body);
    let list = s.get("/portail/boites", &cookie).await;
    assert!(
        list.body.contains("pharmacie-du-centre-75001-paris@ours.test") && list.body.contains("en cours de création")
    );
    assert!(list.body.contains("Administrateur") && list.body.contains("Gérer les membres"));
    // The terms accepted, in the mailbox's details, and readable at /cgu.
    let members = s.get("/portail/boites/pharmacie-du-centre-75001-paris@ours.test/membres", &cookie).await;
    assert!(
        members.body.contains("CGU acceptées") && members.body.contains(&format!("version {CGU}")),
        "{}",
        members.body
    );
    assert!(confirmed.body.contains("href=\"/cgu\""), "the wizard links to the terms");
    let cgu = s.get("/cgu", "").await;
    assert_eq!(cgu.status, 200);
    assert!(
        cgu.body.contains(&format!("Version {CGU}"))
            && cgu.body.contains("<h2>4. Données de santé et confidentialité</h2>")
    );
}
