//! The pharmacy software's indicator API over real HTTP: it declares
//! dispensations with its applicative mailbox's token (another pharmacy's
//! software is refused), a batch with one bad item keeps nothing and says
//! which, a repeated batch replaces, the indicator counts the
//! dispensation whose patient wrote to the pharmacy, and one linked by hand
//! to a message of the pharmacy.

mod support;

use mss_core::MailboxKind;
use mss_store::{Mailbox, NewMailbox, Placement, now_unix};
use support::{Reply, Site, exchange, plain_site};

const FINESS: &str = "750000002";
const OTHER: &str = "310000005";

async fn mailbox(s: &Site, local: &str, kind: MailboxKind, finess: &str) -> Mailbox {
    let new =
        NewMailbox::of_structure(format!("{local}@ours.test").parse().unwrap(), kind, finess.parse().unwrap(), local);
    s.store.meta.create_mailbox(&new).await.unwrap()
}

async fn request(s: &Site, method: &str, path: &str, token: Option<&str>, body: &str) -> Reply {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        s.addr,
        body.len()
    );
    exchange(s.addr, raw.into_bytes()).await
}

#[tokio::test]
async fn the_software_declares_dispensations_and_reads_the_indicator() {
    let s = plain_site().await;
    let pharmacy = mailbox(&s, "gare", MailboxKind::Organisational, FINESS).await;
    let software = mailbox(&s, "app-lgo", MailboxKind::Applicative, FINESS).await;
    let stranger = mailbox(&s, "app-autre", MailboxKind::Applicative, OTHER).await;
    let token = s.sessions.key.issue(&software.address.to_string(), now_unix(), 600).unwrap();
    let other_token = s.sessions.key.issue(&stranger.address.to_string(), now_unix(), 600).unwrap();
    let path = format!("/api/pharmacies/{FINESS}/dispensations");
    let today = mss_core::Civil::paris(now_unix());
    let date = format!("{:04}-{:02}-{:02}T09:00", today.year, today.month, today.day);
    let batch = |ins: &str| {
        serde_json::json!({ "dispensations": [
            { "id": "D1", "date": date, "patient_ins": "279035121518989", "prescriber_rpps": "10003621892" },
            { "id": "D2", "date": date, "patient_ins": ins },
        ]})
        .to_string()
    };

    assert_eq!(request(&s, "POST", &path, None, &batch("")).await.status, 401);
    assert_eq!(
        request(&s, "POST", &path, Some(&other_token), &batch("")).await.status,
        403,
        "another pharmacy's software"
    );
    let refused = request(&s, "POST", &path, Some(&token), &batch("279035121518988")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let problem: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(
        problem["errors"],
        serde_json::json!([{ "position": 2, "reason": "INS invalide (15 caractères, clé comprise)" }])
    );
    assert!(s.store.meta.dispensations(FINESS, 0, i64::MAX).await.unwrap().is_empty(), "nothing kept");

    let kept = request(&s, "POST", &path, Some(&token), &batch("")).await;
    assert_eq!((kept.status, kept.body.as_str()), (200, r#"{"inserted":2,"replaced":0}"#));
    let again = request(&s, "POST", &path, Some(&token), &batch("")).await;
    assert_eq!(again.body, r#"{"inserted":0,"replaced":2}"#, "idempotent: the same ids count once");

    // The patient of D1 wrote to the pharmacy.
    let raw = b"From: <279035121518989@patient.mssante.fr>\r\nTo: <gare@ours.test>\r\nSubject: Ordonnance\r\n\
                Message-ID: <note-1@patient.mssante.fr>\r\n\r\nx\r\n";
    s.store.deliver_indexed(raw, &[Placement::inbox(pharmacy.id)], Some(mss_message::stored(raw))).await.unwrap();
    let month = format!("{:04}-{:02}", today.year, today.month);
    let indicator =
        request(&s, "GET", &format!("/api/pharmacies/{FINESS}/indicator?period={month}"), Some(&token), "").await;
    assert_eq!(indicator.status, 200, "{}", indicator.body);
    let json: serde_json::Value = serde_json::from_str(&indicator.body).unwrap();
    assert_eq!((json["dispensations"].as_u64(), json["with_exchange"].as_u64()), (Some(2), Some(1)));
    assert_eq!((json["share_basis_points"].as_u64(), json["reached"].as_bool()), (Some(5000), Some(true)));
    // D2 has no INS: linked by hand to the patient's message, it counts too;
    // an unknown dispensation, or a message not in the pharmacy's mailboxes, is refused.
    let link = |id: &str| format!("/api/pharmacies/{FINESS}/dispensations/{id}/links");
    let message = r#"{"message_id":"<note-1@patient.mssante.fr>"}"#;
    assert_eq!(request(&s, "POST", &link("D9"), Some(&token), message).await.status, 404);
    let elsewhere = r#"{"message_id":"nowhere@x.test"}"#;
    assert_eq!(request(&s, "POST", &link("D2"), Some(&token), elsewhere).await.status, 404);
    let linked = request(&s, "POST", &link("D2"), Some(&token), r#"{"message_id":"note-1@patient.mssante.fr"}"#).await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let counted =
        request(&s, "GET", &format!("/api/pharmacies/{FINESS}/indicator?period={month}"), Some(&token), "").await;
    let json: serde_json::Value = serde_json::from_str(&counted.body).unwrap();
    assert_eq!((json["dispensations"].as_u64(), json["with_exchange"].as_u64()), (Some(2), Some(2)));
    let bad_period =
        request(&s, "GET", &format!("/api/pharmacies/{FINESS}/indicator?period=2026-13"), Some(&token), "").await;
    assert_eq!(bad_period.status, 422);
    // A body past 16 MiB is refused whole, nothing of it kept.
    let huge = format!(r#"{{"dispensations":[{}]}}"#, r#"{"id":"X","date":"2026-01-01"},"#.repeat(600_000));
    let refused = request(&s, "POST", &path, Some(&token), &huge).await;
    assert_eq!(refused.status, 413, "{:.200}", refused.body);
    assert_eq!(s.store.meta.dispensations(FINESS, 0, i64::MAX).await.unwrap().len(), 2);
    let not_json = request(&s, "POST", &path, Some(&token), "{").await;
    assert_eq!(not_json.status, 422);
    assert!(not_json.body.contains("JSON incomplet"), "in French: {}", not_json.body);
    // An unknown parameter, and a body that is not JSON, are problems in French.
    let unknown =
        request(&s, "GET", &format!("/api/pharmacies/{FINESS}/indicator?periode=2026-11"), Some(&token), "").await;
    assert_eq!((unknown.status, unknown.header("content-type")), (422, Some("application/problem+json")));
    assert!(unknown.body.contains("Paramètre « periode » inconnu."), "{}", unknown.body);
    let form = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b",
        s.addr
    );
    assert_eq!(exchange(s.addr, form.into_bytes()).await.status, 415);
}
