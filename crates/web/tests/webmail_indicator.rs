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
