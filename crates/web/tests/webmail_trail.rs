//! The traçabilité page reads in French: actions as sentences, results as
//! « réussi » / « refusé », people by name, the peer's address without
//! port; the raw codes never shown to the pharmacist.

mod support;

use mss_core::Role;
use mss_store::NewAuditEntry;
use support::webmail::site;

const BOB: &str = "810000013994";

#[tokio::test]
async fn the_audit_trail_reads_in_french() {
    let s = site().await;
    s.personal("bob", BOB).await;
    let pharmacy = s.organisational("gare", "Pharmacie de la Gare").await;
    s.store.meta.grant_role(pharmacy.id, &BOB.parse().unwrap(), Role::Administrateur).await.unwrap();
    for (action, result, detail) in [
        ("role.set", "ok", "810009999995 utilisateur"),
        ("imap.fetch", "OK FETCH completed", "peer=127.0.0.1:50124 INBOX"),
        ("imap.login", "refused: unknown password", "peer=[::1]:993"),
    ] {
        s.store.audit.record(NewAuditEntry::now(BOB, action, "gare@ours.test", result, detail)).await;
    }
    s.store.audit.flush().await;
    let cookie = s.signed_in(BOB, "Bob", "Durand").await;
    let page = s.get("/portail/boites/gare@ours.test/tracabilite", &cookie).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "Rôle attribué",
        "Lecture de messages (IMAP)",
        "Connexion IMAP",
        "réussi",
        "refusé (unknown password)",
        "depuis 127.0.0.1 INBOX",
        "depuis ::1",
        "bob (810000013994)",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    for raw in [">role.set<", "OK FETCH completed", "peer=", ">imap.fetch<"] {
        assert!(!page.body.contains(raw), "{raw} shown raw");
    }
}
