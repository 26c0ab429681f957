//! The indicator's data: dispensations declared all or none, a correction
//! replacing its id, read by FINESS and time; the pharmacy's patient
//! messages found from its mailboxes by FINESS.

use mss_core::MailboxKind;
use mss_store::*;

use crate::support::address;

fn declared(id: &str, at: i64, ins: Option<&str>) -> StoredDispensation {
    StoredDispensation { finess: "750000002".into(), id: id.into(), at, patient_ins: ins.map(str::to_string) }
}

pub async fn dispensations_are_kept_replaced_and_read_by_pharmacy_and_time(store: &Store) {
    let first = [declared("D1", 1000, Some("279035121518989")), declared("D2", 2000, None)];
    assert_eq!(store.meta.put_dispensations(&first).await.unwrap(), Declared { inserted: 2, replaced: 0 });
    let corrected = [declared("D2", 2500, Some("279035121518989")), declared("D3", 3000, None)];
    assert_eq!(store.meta.put_dispensations(&corrected).await.unwrap(), Declared { inserted: 1, replaced: 1 });
    let other = StoredDispensation { finess: "310000005".into(), ..declared("D1", 1500, None) };
    store.meta.put_dispensations(&[other]).await.unwrap();
    let read = store.meta.dispensations("750000002", 0, 3000).await.unwrap();
    assert_eq!(read, [declared("D1", 1000, Some("279035121518989")), declared("D2", 2500, Some("279035121518989"))]);
    assert_eq!(store.meta.dispensations("310000005", 0, 10_000).await.unwrap().len(), 1);
}

pub async fn a_pharmacys_patient_exchanges_are_found_from_its_mailboxes(store: &Store) {
    let mailbox = |local: &str, finess: &str| {
        NewMailbox::of_structure(
            address(&format!("{local}@pharma.test")),
            MailboxKind::Organisational,
            finess.parse().unwrap(),
            local,
        )
    };
    let gare = store.meta.create_mailbox(&mailbox("gare", "750000002")).await.unwrap();
    let other = store.meta.create_mailbox(&mailbox("autre", "310000005")).await.unwrap();
    let facts = |raw: &[u8], ins: &str| MessageFacts {
        blob: BlobHash::of(raw),
        version: 1,
        encoded: b"{}".to_vec(),
        columns: FactColumns { patient_ins: Some(ins.into()), header: true, ..FactColumns::default() },
        text: IndexedText::default(),
        searched: Default::default(),
        documents: Vec::new(),
    };
    for (raw, mailbox, folder, ins) in [
        (&b"a"[..], gare.id, INBOX, "279035121518989"),
        (b"b", gare.id, SENT, "180017512345660"),
        (b"c", gare.id, DRAFTS, "279035121518989"),
        (b"d", other.id, INBOX, "279035121518989"),
    ] {
        let placement = Placement { mailbox, folder: folder.into() };
        store.deliver_indexed(raw, &[placement], Some(facts(raw, ins))).await.unwrap();
    }
    store.deliver(b"no patient", &[gare.id]).await.unwrap();
    let now = now_unix();
    let mut found = store.meta.patient_exchanges("750000002", now - 60, now + 60).await.unwrap();
    found.sort_by(|a, b| a.ins.cmp(&b.ins));
    let patients: Vec<&str> = found.iter().map(|e| e.ins.as_str()).collect();
    assert_eq!(patients, ["180017512345660", "279035121518989"], "not the draft, not another pharmacy's");
    assert!(store.meta.patient_exchanges("750000002", now + 60, now + 120).await.unwrap().is_empty());
}
