//! Application passwords in the portal: a person makes one for a mailbox
//! they may use (shown once, never again), sees it listed with its scope
//! and dates, revokes it; a forged form, a bad name, a scope their role
//! does not allow, someone else's password or mailbox are refused and
//! change nothing. What the password opens is tested with real clients
//! (`crates/mss/tests/app_passwords.rs`).

mod support;

use mss_core::Role;
use mss_store::now_unix;
use support::webmail::site;

const BOB: &str = "810000013994";
const PAUL: &str = "810009999995";

#[tokio::test]
async fn a_person_makes_lists_and_revokes_application_passwords() {
    let s = site().await;
    let bob = s.personal("bob", BOB).await;
    let pharmacy = s.organisational("gare", "Pharmacie de la Gare").await;
    s.store.meta.grant_role(pharmacy.id, &PAUL.parse().unwrap(), Role::Utilisateur).await.unwrap();
    let cookie = s.signed_in(BOB, "Bob", "Durand").await;
    let csrf = s.csrf(&cookie).await;
    let page = "/portail/boites/bob@ours.test/mots-de-passe";

    let empty = s.get(page, &cookie).await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("Aucun.") && empty.body.contains("lecture et envoi"), "{}", empty.body);
    assert_eq!(s.post_form(page, &cookie, "nom=T%C3%A9l%C3%A9phone&usage=both&duree=90").await.status, 403);
    for bad in ["nom=&usage=both&duree=90", "nom=x&usage=admin&duree=90", "nom=x&usage=both&duree=7"] {
        let refused = s.post_form(page, &cookie, &format!("csrf={csrf}&{bad}")).await;
        assert_eq!(refused.status, 422, "{bad}");
    }
    assert!(s.store.meta.app_passwords(bob.id, &BOB.parse().unwrap()).await.unwrap().is_empty(), "nothing made");

    let made = s.post_form(page, &cookie, &format!("csrf={csrf}&nom=T%C3%A9l%C3%A9phone&usage=both&duree=90")).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let at = made.body.find("<code class=\"secret\">").unwrap() + "<code class=\"secret\">".len();
    let secret = &made.body[at..at + 36];
    assert!(secret.starts_with("mss-"), "{secret}");
    let kept = s.store.meta.app_password_by_hash(&mss_identity::app_password::hash(secret)).await.unwrap().unwrap();
    assert_eq!((kept.label.as_str(), kept.mailbox), ("Téléphone", bob.id));
    assert!(kept.expires_at - now_unix() > 89 * 86_400);
    let listed = s.get(page, &cookie).await.body;
    assert!(listed.contains("Téléphone") && listed.contains("jamais") && !listed.contains(secret), "shown once only");

    // Someone with no role in Bob's mailbox, or Bob on another's password.
    let paul = s.signed_in(PAUL, "Paul", "Leroy").await;
    let paul_csrf = s.csrf(&paul).await;
    assert_eq!(s.get(page, &paul).await.status, 404);
    let theirs = format!("{page}/{}/revoquer", kept.id);
    assert_eq!(s.post_form(&theirs, &paul, &format!("csrf={paul_csrf}")).await.status, 404);
    let gare = "/portail/boites/gare@ours.test/mots-de-passe";
    let wrong_mailbox = format!("{gare}/{}/revoquer", kept.id);
    assert_eq!(s.post_form(&wrong_mailbox, &paul, &format!("csrf={paul_csrf}")).await.status, 404);
    assert!(s.store.meta.app_password(kept.id).await.unwrap().unwrap().revoked_at.is_none());
    // A Utilisateur of the pharmacy makes one there, for what their role allows.
    let for_paul = s.post_form(gare, &paul, &format!("csrf={paul_csrf}&nom=LGO&usage=submission&duree=30")).await;
    assert_eq!(for_paul.status, 201);

    let revoked = s.post_form(&theirs, &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(revoked.status, 303);
    assert!(s.get(page, &cookie).await.body.contains("révoqué"));
    assert_eq!(s.post_form(&theirs, &cookie, &format!("csrf={csrf}")).await.status, 404, "once");
    let trail = s.audited("app_password.", "bob@ours.test").await;
    assert!(trail.iter().any(|t| t.starts_with("app_password.create ok")), "{trail:?}");
    assert!(trail.iter().any(|t| t.starts_with("app_password.revoke ok")), "{trail:?}");
    assert!(trail.iter().all(|t| !t.contains(secret)), "the secret is never traced");
}
