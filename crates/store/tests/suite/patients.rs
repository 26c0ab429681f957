//! A mailbox's patients: its conversations read from the folders that hold
//! them (not drafts, trash or junk, a message filed twice once), paged;
//! whom it wrote to, recorded or read from its messages.

use mss_store::*;

use crate::support::person;

const JEANNE: &str = "279035121518989";
const PAUL: &str = "180012A12345698";

/// A message and its facts: `from` wrote it, about the patient `ins`.
fn patient_mail(n: u32, from: (&str, &str), ins: Option<&str>, subject: &str, closes: bool) -> (Vec<u8>, MessageFacts) {
    receipt(n, from, ins, subject, closes, None)
}

/// The same, a read receipt of the message `receipt_for` when given.
fn receipt(
    n: u32,
    from: (&str, &str),
    ins: Option<&str>,
    subject: &str,
    closes: bool,
    receipt_for: Option<&str>,
) -> (Vec<u8>, MessageFacts) {
    let raw = format!("From: {}\r\nSubject: {subject}\r\nX-N: {n}\r\n\r\nbody {n}\r\n", from.1).into_bytes();
    let facts = MessageFacts {
        blob: BlobHash::of(&raw),
        version: 1,
        encoded: b"{}".to_vec(),
        columns: FactColumns {
            subject: Some(subject.into()),
            from_name: Some(from.0.into()).filter(|n: &String| !n.is_empty()),
            from_address: Some(from.1.into()),
            patient_ins: ins.map(str::to_string),
            closes_conversation: closes,
            receipt_for: receipt_for.map(str::to_string),
            receipt_disposition: receipt_for.map(|_| "manual-action/MDN-sent-manually; displayed".to_string()),
            header: true,
            ..FactColumns::default()
        },
        text: IndexedText::default(),
        searched: Default::default(),
        documents: Vec::new(),
    };
    (raw, facts)
}

fn patient(ins: &str) -> String {
    format!("{ins}@patient.mssante.fr")
}

pub async fn a_mailboxs_patient_conversations_are_read_from_its_folders(store: &Store) {
    let pharmacy = store.meta.create_mailbox(&person("pharmacie@pharma.test", "10003621892")).await.unwrap();
    let other = store.meta.create_mailbox(&person("autre@pharma.test", "10000013994")).await.unwrap();
    let ours = ("Pharmacie de la Gare", "pharmacie@pharma.test");
    let jeanne = patient(JEANNE);
    let paul = patient(PAUL);
    let mail = [
        (patient_mail(1, ("Jeanne Martin", &jeanne), Some(JEANNE), "Ordonnance", false), "INBOX"),
        (patient_mail(2, ours, Some(JEANNE), "Re: Ordonnance", false), SENT),
        (patient_mail(3, ("", &paul), Some(PAUL), "Disponible ?", false), "INBOX"),
        (patient_mail(4, ours, Some("1"), "brouillon", false), DRAFTS),
        (patient_mail(5, ("Labo", "labo@pharma.test"), None, "Résultats", false), "INBOX"),
        (patient_mail(6, ("Jeanne M.", &jeanne), Some(JEANNE), "[FIN]", true), "INBOX"),
        (patient_mail(7, ("Jeanne Martin", &jeanne), Some(JEANNE), "jeté", false), TRASH),
        (
            receipt(8, ("Jeanne Martin", &jeanne), Some(JEANNE), "Lu : Re: Ordonnance", false, Some("r2@pharma.test")),
            "INBOX",
        ),
    ];
    let mut uids = Vec::new();
    for ((raw, facts), folder) in &mail {
        let placement = Placement { mailbox: pharmacy.id, folder: folder.to_string() };
        let delivery = store.deliver_indexed(raw, &[placement], Some(facts.clone())).await.unwrap();
        uids.push(delivery.copies[0].uid);
    }
    let inbox = store.meta.folder(pharmacy.id, INBOX).await.unwrap().unwrap();
    let archive = store.meta.folder(pharmacy.id, "Archive").await.unwrap().unwrap();
    // Jeanne's first message is read, then filed a second time.
    store.meta.set_flags(inbox.id, &[uids[0]], FlagChange::Add, &["\\Seen".into()], None).await.unwrap();
    store.meta.copy_messages(inbox.id, &[uids[0]], archive.id).await.unwrap();

    let page = store.meta.patient_threads(pharmacy.id, 0, 10).await.unwrap();
    assert_eq!(page.total, 2);
    let summary: Vec<_> = page
        .threads
        .iter()
        .map(|t| (t.ins.as_str(), t.name.as_deref(), t.messages, t.unseen, t.last.columns.subject.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [(JEANNE, Some("Jeanne M."), 3, 1, Some("[FIN]")), (PAUL, None, 1, 1, Some("Disponible ?"))],
        "latest exchange first; the draft, the trashed message and the second copy left out"
    );
    let jeanne_thread = &page.threads[0];
    assert!(jeanne_thread.last.columns.closes_conversation && jeanne_thread.last.from_patient());
    assert_eq!(jeanne_thread.last.folder, inbox.id);

    let second = store.meta.patient_threads(pharmacy.id, 1, 1).await.unwrap();
    assert_eq!((second.total, second.threads[0].ins.as_str()), (2, PAUL));
    let past = store.meta.patient_threads(pharmacy.id, 5, 10).await.unwrap();
    assert_eq!((past.total, past.threads.len()), (2, 0));
    assert_eq!(store.meta.patient_threads(other.id, 0, 10).await.unwrap(), PatientPage::default());

    let messages = store.meta.patient_messages(pharmacy.id, JEANNE, 50).await.unwrap();
    let subjects: Vec<_> = messages.iter().map(|m| m.columns.subject.as_deref().unwrap()).collect();
    assert_eq!(subjects, ["Ordonnance", "Re: Ordonnance", "[FIN]"]);
    let from_patient: Vec<bool> = messages.iter().map(PatientMessage::from_patient).collect();
    assert_eq!(from_patient, [true, false, true]);
    assert!(messages[0].meta.flags.iter().any(|f| f == "\\Seen"));
    let latest = store.meta.patient_messages(pharmacy.id, &JEANNE.to_lowercase(), 2).await.unwrap();
    assert_eq!(latest.iter().map(|m| m.meta.uid).collect::<Vec<_>>(), [messages[1].meta.uid, messages[2].meta.uid]);
    assert!(store.meta.patient_messages(other.id, JEANNE, 50).await.unwrap().is_empty());

    // The read receipt is no message of the conversation, but is found by
    // the message it is about, in this mailbox only.
    let asked = ["r2@pharma.test".to_string(), "r9@pharma.test".to_string()];
    let receipts = store.meta.receipts(pharmacy.id, &asked).await.unwrap();
    assert_eq!(receipts.iter().map(|r| r.original.as_str()).collect::<Vec<_>>(), ["r2@pharma.test"]);
    assert_eq!(receipts[0].from.as_deref(), Some(jeanne.as_str()));
    assert_eq!(receipts[0].disposition.as_deref(), Some("manual-action/MDN-sent-manually; displayed"));
    assert!(store.meta.receipts(other.id, &asked).await.unwrap().is_empty());
}

pub async fn whom_a_mailbox_wrote_to_is_recorded_or_read_from_its_messages(store: &Store) {
    let pharmacy = store.meta.create_mailbox(&person("pharmacie@pharma.test", "10003621892")).await.unwrap();
    let other = store.meta.create_mailbox(&person("autre@pharma.test", "10000013994")).await.unwrap();
    let author = "pharmacie@pharma.test";
    assert!(!store.meta.wrote_to_patient(pharmacy.id, author, JEANNE).await.unwrap());
    // Recorded when sent, without any copy kept.
    store.meta.record_patient_contact(pharmacy.id, JEANNE, 1_700_000_000).await.unwrap();
    store.meta.record_patient_contact(pharmacy.id, JEANNE, 1_600_000_000).await.unwrap();
    assert!(store.meta.wrote_to_patient(pharmacy.id, author, JEANNE).await.unwrap());
    assert!(!store.meta.wrote_to_patient(other.id, "autre@pharma.test", JEANNE).await.unwrap());
    assert!(!store.meta.wrote_to_patient(pharmacy.id, author, PAUL).await.unwrap());
    // Read from a message the mailbox sent before contacts were recorded;
    // a message from the patient is not the mailbox writing.
    let (raw, facts) = patient_mail(1, ("", &patient(PAUL)), Some(PAUL), "Bonjour", false);
    store.deliver_indexed(&raw, &[Placement::inbox(other.id)], Some(facts)).await.unwrap();
    assert!(!store.meta.wrote_to_patient(other.id, "autre@pharma.test", PAUL).await.unwrap());
    let (raw, facts) = patient_mail(2, ("", "Autre@Pharma.test"), Some(PAUL), "Votre commande", false);
    let sent = Placement { mailbox: other.id, folder: SENT.into() };
    store.deliver_indexed(&raw, &[sent], Some(facts)).await.unwrap();
    assert!(store.meta.wrote_to_patient(other.id, "autre@pharma.test", PAUL).await.unwrap());
}

pub async fn quick_answers_are_the_mailboxs_own_once_chosen(store: &Store) {
    let pharmacy = store.meta.create_mailbox(&person("pharmacie@pharma.test", "10003621892")).await.unwrap();
    let other = store.meta.create_mailbox(&person("autre@pharma.test", "10000013994")).await.unwrap();
    assert_eq!(store.meta.quick_answers(pharmacy.id).await.unwrap(), None, "never chosen");
    let chosen = vec!["Disponible.".to_string(), "À commander.".to_string()];
    store.meta.set_quick_answers(pharmacy.id, &chosen, 1).await.unwrap();
    assert_eq!(store.meta.quick_answers(pharmacy.id).await.unwrap(), Some(chosen));
    let reordered = vec!["À commander.".to_string(), "Disponible.".to_string(), "Passez.".to_string()];
    store.meta.set_quick_answers(pharmacy.id, &reordered, 2).await.unwrap();
    assert_eq!(store.meta.quick_answers(pharmacy.id).await.unwrap(), Some(reordered));
    store.meta.set_quick_answers(pharmacy.id, &[], 3).await.unwrap();
    assert_eq!(store.meta.quick_answers(pharmacy.id).await.unwrap(), Some(vec![]), "none, chosen");
    assert_eq!(store.meta.quick_answers(other.id).await.unwrap(), None);
}
