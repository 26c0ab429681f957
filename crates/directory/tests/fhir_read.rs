//! The FHIR read endpoint over real HTTP: our active, published mailboxes
//! as Practitioner and Organization records, with the telecom the
//! publication sends, paged by links; malformed parameters are 400
//! OperationOutcomes.

use mss_core::{MailboxKind, MailboxState};
use mss_http::HttpClient;
use mss_store::{NewMailbox, Store, StoreConfig};

fn mailbox(address: &str, kind: MailboxKind) -> NewMailbox {
    NewMailbox {
        address: address.parse().unwrap(),
        kind,
        state: MailboxState::Active,
        national_id: None,
        finess: Some("750000002".parse().unwrap()),
        first_name: None,
        last_name: None,
        display_name: "Pharmacie du Centre".into(),
        service: Some("Officine".into()),
        liste_rouge: false,
        certificate_dn: None,
    }
}

async fn get(base: &str, path: &str) -> (u16, Option<String>, serde_json::Value) {
    let request = http::Request::get(format!("{base}{path}")).body(Vec::new()).unwrap();
    let response = HttpClient::new(None).unwrap().send(request).await.unwrap();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    (response.status().as_u16(), kind, serde_json::from_slice(response.body()).unwrap())
}

#[tokio::test]
async fn software_reads_our_structures_as_the_national_api_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    let org = mailbox("pharmacie-du-centre@ours.test", MailboxKind::Organisational);
    store.meta.create_mailbox(&org).await.unwrap();
    let app = NewMailbox { display_name: "Logiciel".into(), ..mailbox("lgo@ours.test", MailboxKind::Applicative) };
    store.meta.create_mailbox(&app).await.unwrap();
    let hidden = NewMailbox { liste_rouge: true, ..mailbox("secret@ours.test", MailboxKind::Organisational) };
    store.meta.create_mailbox(&hidden).await.unwrap();
    let pending =
        NewMailbox { state: MailboxState::Pending, ..mailbox("later@ours.test", MailboxKind::Organisational) };
    store.meta.create_mailbox(&pending).await.unwrap();
    let other =
        NewMailbox { finess: Some("750000010".parse().unwrap()), ..mailbox("x@ours.test", MailboxKind::Cabinet) };
    store.meta.create_mailbox(&other).await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let router = axum::Router::new().nest("/fhir", mss_directory::fhir_read::router(store.meta.clone(), &base));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let (status, kind, bundle) =
        get(&base, "/Organization?identifier=urn%3Aoid%3A1.2.250.1.71.4.2.2%7C1750000002").await;
    assert_eq!((status, kind.as_deref()), (200, Some("application/fhir+json")));
    assert_eq!((bundle["type"].as_str(), bundle["total"].as_u64()), (Some("searchset"), Some(1)));
    let organization = &bundle["entry"][0]["resource"];
    assert_eq!(organization["resourceType"], "Organization");
    assert_eq!(organization["identifier"][0]["system"], "urn:oid:1.2.250.1.71.4.2.2");
    assert_eq!(organization["identifier"][0]["value"], "1750000002");
    assert_eq!(organization["name"], "Pharmacie du Centre");
    let telecom = organization["telecom"].as_array().unwrap();
    let values: Vec<&str> = telecom.iter().map(|t| t["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["lgo@ours.test", "pharmacie-du-centre@ours.test"], "active, off the liste rouge");
    // The very telecom the publication PATCH carries.
    let published = mss_directory::fhir::contact_point(&store.meta.mailbox(&org.address).await.unwrap().unwrap());
    assert_eq!(telecom[1], published);
    let metadata = telecom[0]["extension"][1]["extension"].as_array().unwrap();
    assert!(metadata.iter().any(|e| e["url"] == "type" && e["valueCoding"]["code"] == "APP"), "{metadata:?}");

    let (_, _, all) = get(&base, "/Organization").await;
    assert_eq!(all["total"], 2);
    let (_, _, one) = get(&base, "/Organization?_count=1").await;
    assert_eq!((one["total"].as_u64(), one["entry"].as_array().unwrap().len()), (Some(2), 1));
    let link = |bundle: &serde_json::Value, relation: &str| {
        let links = bundle["link"].as_array().unwrap();
        links.iter().find(|l| l["relation"] == relation).map(|l| l["url"].as_str().unwrap().to_string())
    };
    assert_eq!(link(&one, "self").unwrap(), format!("{base}/Organization?_count=1&_offset=0"));
    assert_eq!(link(&one, "previous"), None);
    let next = link(&one, "next").unwrap();
    assert_eq!(next, format!("{base}/Organization?_count=1&_offset=1"));
    let (_, _, two) = get(&next, "").await;
    assert_eq!(two["entry"][0]["resource"]["id"], "1750000010", "the second record, in identifier order");
    assert_eq!(link(&two, "next"), None);
    assert_eq!(link(&two, "previous").unwrap(), format!("{base}/Organization?_count=1&_offset=0"));
    let (_, _, kept) = get(&base, "/Organization?identifier=1750000002&_count=5").await;
    assert_eq!(link(&kept, "self").unwrap(), format!("{base}/Organization?identifier=1750000002&_count=5&_offset=0"));
    let (_, _, none) = get(&base, "/Practitioner").await;
    assert_eq!(none["total"], 0);
    let (_, _, bare) = get(&base, "/Organization?identifier=1750000010").await;
    assert_eq!(bare["entry"][0]["resource"]["telecom"][0]["value"], "x@ours.test");

    for bad in [
        "/Organization?identifier=urn%3Aoid%3A1.2.250.1.71.4.2.1%7C1750000002",
        "/Organization?identifier=750000002",
        "/Organization?identifier=1abc",
        "/Practitioner?identifier=%7C810003621892",
        "/Practitioner?identifier=810003621893",
        "/Organization?_count=-1",
        "/Organization?_offset=x",
    ] {
        let (status, _, outcome) = get(&base, bad).await;
        assert_eq!((status, outcome["resourceType"].as_str()), (400, Some("OperationOutcome")), "{bad}");
    }
}
