//! The pharmacy's indicator page: a Gestionnaire sees the month's
//! dispensations, those with an exchange (counted here independently), the
//! share against 5 % and whether the 240 € are earned, a chart with its
//! text alternative, the table and the CSV export; a Utilisateur does not.

mod support;

use mss_core::Role;
use mss_ops::indicator::{Declaration, declare};
use mss_store::{Placement, now_unix};
use support::webmail::site;

const BOB: &str = "810000013994";
const PAUL: &str = "810009999995";

#[tokio::test]
async fn a_gestionnaire_sees_where_the_pharmacy_stands() {
    let s = site().await;
    let pharmacy = s.organisational("gare", "Pharmacie de la Gare").await;
    s.store.meta.grant_role(pharmacy.id, &BOB.parse().unwrap(), Role::Gestionnaire).await.unwrap();
    s.store.meta.grant_role(pharmacy.id, &PAUL.parse().unwrap(), Role::Utilisateur).await.unwrap();
    let now = now_unix();
    let today = mss_core::Civil::paris(now);
    let date = format!("{:04}-{:02}-{:02}", today.year, today.month, today.day);
    // Twenty dispensations: two about patients who wrote (one with two
    // messages), the others about patients who did not, or without INS.
    let patients = ["279035121518989", "180017512345660"];
    let mut declared: Vec<Declaration> =
        (0..20).map(|i| Declaration { id: format!("D{i:02}"), date: date.clone(), ..Declaration::default() }).collect();
    declared[0].patient_ins = Some(patients[0].into());
    declared[1].patient_ins = Some(patients[1].into());
    declared[2].patient_ins = Some("253072A07300443".into());
    declare(&s.store, &"750000002".parse().unwrap(), &declared, now).await.unwrap();
    for (n, ins) in [patients[0], patients[0], patients[1]].iter().enumerate() {
        let raw = format!("From: <{ins}@patient.mssante.fr>\r\nTo: <gare@ours.test>\r\nSubject: M{n}\r\n\r\nx\r\n");
        let facts = Some(mss_message::stored(raw.as_bytes()));
        s.store.deliver_indexed(raw.as_bytes(), &[Placement::inbox(pharmacy.id)], facts).await.unwrap();
    }
    // Counted independently: the dispensations whose INS wrote.
    let expected = declared.iter().filter(|d| d.patient_ins.as_deref().is_some_and(|i| patients.contains(&i))).count();
    assert_eq!(expected, 2);

    let bob = s.signed_in(BOB, "Bob", "Durand").await;
    let path = "/portail/boites/gare@ours.test/indicateur";
    let page = s.get(path, &bob).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "<dt>Dispensations déclarées</dt><dd>20</dd>",
        "<dt>Avec un échange MSSanté</dt><dd>2</dd>",
        "<dt>Part</dt><dd>10,00 %</dd>",
        "Seuil de 5 % atteint : 240 € acquis",
        "<svg viewBox=",
        "role=\"img\"",
        "<figcaption>Part des dispensations avec un échange MSSanté, par mois",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    assert!(page.body.contains(">D00<") && page.body.contains(">D01<") && !page.body.contains(">D02<"));
    let mail = s.get("/portail/boites/gare@ours.test/courrier", &bob).await;
    assert!(mail.body.contains("Indicateur 5 %"), "linked from the mailbox");

    let month = format!("{:04}-{:02}", today.year, today.month);
    let csv = s.get(&format!("{path}.csv?periode={month}"), &bob).await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv.body.contains(&format!("{month};20;2;1000;oui\r\n")), "{}", csv.body);
    assert!(csv.body.contains("\"'D00\";"), "{}", csv.body);
    let year = s.get(&format!("{path}?periode={}", today.year), &bob).await;
    assert!(year.body.contains("<dt>Dispensations déclarées</dt><dd>20</dd>") && year.body.contains("année"));
    assert_eq!(s.get(&format!("{path}?periode=2026-13"), &bob).await.status, 400);

    let paul = s.signed_in(PAUL, "Paul", "Leroy").await;
    assert_eq!(s.get(path, &paul).await.status, 403);
    assert_eq!(s.get(&format!("{path}.csv"), &paul).await.status, 403);
}

/// A Utilisateur links a message to a dispensation from its page: an
/// unknown number, a forged form or a number with control characters
/// change nothing; the link made shows on the page and counts.
#[tokio::test]
async fn a_message_is_linked_to_a_dispensation_from_its_page() {
    let s = site().await;
    let pharmacy = s.organisational("gare", "Pharmacie de la Gare").await;
    s.store.meta.grant_role(pharmacy.id, &PAUL.parse().unwrap(), Role::Utilisateur).await.unwrap();
    let now = now_unix();
    let today = mss_core::Civil::paris(now);
    let date = format!("{:04}-{:02}-{:02}", today.year, today.month, today.day);
    let finess = "750000002".parse().unwrap();
    let declared = [Declaration { id: "V-0042".into(), date, ..Declaration::default() }];
    declare(&s.store, &finess, &declared, now).await.unwrap();
    // A doctor's message about the prescription, naming no patient.
    let raw = "From: <dr.house@hopital.test>\r\nTo: <gare@ours.test>\r\nMessage-ID: <rx-1@hopital.test>\r\n\
               Subject: Ordonnance\r\n\r\nPosologie modifiee.\r\n";
    let facts = Some(mss_message::stored(raw.as_bytes()));
    s.store.deliver_indexed(raw.as_bytes(), &[Placement::inbox(pharmacy.id)], facts).await.unwrap();
    let month = mss_core::indicator::Period::Month { year: today.year, month: today.month };
    let counted = || async {
        let report = mss_ops::indicator::report(&s.store, &finess, month, Default::default()).await.unwrap();
        report.tally.with_exchange
    };
    assert_eq!(counted().await, 0);

    let paul = s.signed_in(PAUL, "Paul", "Leroy").await;
    let page = "/portail/boites/gare@ours.test/courrier/INBOX/1";
    let shown = s.get(page, &paul).await;
    assert!(shown.body.contains("Ce message n'est lié à aucune délivrance."), "{}", shown.body);
    assert!(shown.body.contains("Lier à cette délivrance"));
    let csrf = s.csrf(&paul).await;
    let action = format!("{page}/delivrance");

    let forged = s.post_form(&action, &paul, "delivrance=V-0042").await;
    assert_eq!(forged.status, 403);
    let unknown = s.post_form(&action, &paul, &format!("csrf={csrf}&delivrance=V-9999")).await;
    assert_eq!(unknown.status, 422);
    assert!(
        unknown.body.contains("n&#39;est pas connue") || unknown.body.contains("n'est pas connue"),
        "{}",
        unknown.body
    );
    let hostile = s.post_form(&action, &paul, &format!("csrf={csrf}&delivrance=V%0D%0A-0042")).await;
    assert_eq!(hostile.status, 422);
    assert_eq!(counted().await, 0, "nothing linked");

    let linked = s.post_form(&action, &paul, &format!("csrf={csrf}&delivrance=V-0042")).await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    assert_eq!(linked.header("location"), Some(format!("{page}?fait=delivrance").as_str()));
    let shown = s.get(page, &paul).await;
    assert!(shown.body.contains("Ce message compte pour la délivrance : V-0042."), "{}", shown.body);
    assert_eq!(counted().await, 1, "the linked dispensation counts");
    let trail = s.audited("webmail.dispensation.link", "gare@ours.test").await;
    assert_eq!(trail.len(), 2, "{trail:?}");
    assert!(trail[0].contains("ok") && trail[1].contains("refused"), "{trail:?}");

    // Someone with no role in the pharmacy's mailbox finds nothing there.
    let stranger = s.signed_in("810001234565", "Jean", "Martin").await;
    let csrf = s.csrf(&stranger).await;
    assert_eq!(s.post_form(&action, &stranger, &format!("csrf={csrf}&delivrance=V-0042")).await.status, 404);
}
