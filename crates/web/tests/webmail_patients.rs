//! Writing to a patient from the webmail (issue 15): an address whose INS
//! is malformed is refused under the field; Mon espace santé takes at most
//! 25 MiB, so a larger message to a patient is refused with a
//! French explanation and nothing is sent, even where the operator's own
//! limit is larger; the compose form tells its script that limit, which
//! refuses the files before any upload.

mod support;

use support::webmail::site_sending;

const ELODIE: &str = "810003621892";
const BOB: &str = "810000013994";
const PATIENT: &str = "279035121518989@patient.mssante.fr";

#[tokio::test]
async fn a_malformed_ins_or_a_message_over_25_mib_to_a_patient_is_refused_in_french() {
    // An operator whose own message limit is larger than Mon espace santé's.
    let s = site_sending(40 * 1024 * 1024).await;
    let elodie = s.personal("elodie", ELODIE).await;
    let bob = s.personal("bob", BOB).await;
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;
    let compose = "/portail/boites/elodie@ours.test/ecrire";
    let form = s.get(compose, &cookie).await;
    assert!(form.body.contains(&format!("data-max-patient=\"{}\"", 25 * 1024 * 1024)), "{}", form.body);

    let scan: Vec<u8> = (0..26 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let fields = |to: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("a", to.to_string()),
            ("cc", String::new()),
            ("objet", "Votre radio".to_string()),
            ("corps", "Bonjour, voici votre radio.\r\n".to_string()),
            ("action", "envoyer".to_string()),
        ]
    };
    let to_patient = fields(PATIENT);
    let to_patient: Vec<(&str, &str)> = to_patient.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = s.post_multipart(compose, &cookie, &to_patient, &[("radio.jpg", "image/jpeg", &scan)]).await;
    assert_eq!(refused.status, 413, "{}", refused.body);
    let explained = ["Mon espace santé n'accepte pas", "Mon espace santé n&#39;accepte pas"];
    assert!(explained.iter().any(|text| refused.body.contains(text)), "{}", refused.body);
    assert!(s.store.meta.queue().await.unwrap().is_empty(), "nothing queued");
    assert!(s.folder(&elodie, "Sent").await.is_empty(), "nothing in Sent");

    // A malformed INS: said under the field, in French, before anything is sent.
    let malformed = fields("279035121518988@patient.mssante.fr");
    let malformed: Vec<(&str, &str)> = malformed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = s.post_multipart(compose, &cookie, &malformed, &[]).await;
    assert!(
        refused.body.contains("n&#39;est pas l&#39;adresse d&#39;un patient")
            || refused.body.contains("n'est pas l'adresse d'un patient"),
        "{}",
        refused.body
    );
    assert!(s.store.meta.queue().await.unwrap().is_empty(), "nothing queued");

    // The same to a colleague goes: the operator's own limit is larger.
    let to_bob = fields("bob@ours.test");
    let to_bob: Vec<(&str, &str)> = to_bob.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sent = s.post_multipart(compose, &cookie, &to_bob, &[("radio.jpg", "image/jpeg", &scan)]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(s.folder(&bob, "INBOX").await.len(), 1);
}

const PAUL: &str = "810009999995";

/// A patient's message as Mon espace santé's gateway delivers it, stored
/// with its facts in the pharmacy's INBOX as the SMTP server does.
async fn from_patient(s: &support::webmail::Webmail, pharmacy: &mss_store::Mailbox, n: u32, subject: &str, text: &str) {
    let raw = format!(
        "From: Jeanne Martin <{PATIENT}>\r\nTo: <pharmacie@ours.test>\r\nSubject: {subject}\r\n\
         Message-ID: <p{n}@patient.mssante.fr>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=ordonnance.jpg\r\n\r\nJPEG\r\n--b--\r\n"
    );
    let facts = mss_message::stored(raw.as_bytes());
    let inbox = [mss_store::Placement::inbox(pharmacy.id)];
    s.store.deliver_indexed(raw.as_bytes(), &inbox, Some(facts)).await.unwrap();
}

/// The messages queued for the patient, as sent: their bytes.
async fn queued_to_patient(s: &support::webmail::Webmail) -> Vec<String> {
    let mut out = Vec::new();
    for q in s.store.meta.queue().await.unwrap().iter().filter(|q| q.recipient == PATIENT) {
        out.push(String::from_utf8(s.store.blobs.get(&q.blob).await.unwrap().unwrap()).unwrap());
    }
    out
}

/// A patient writes to the pharmacy; a Utilisateur reads the conversation
/// (marking it read), answers with a quick answer (sent with the patient
/// headers, answering the patient's message), then closes it; a new
/// message from the patient starts a new conversation. Only a Gestionnaire
/// edits the quick answers.
#[tokio::test]
async fn a_pharmacy_answers_its_patient_with_a_quick_answer_and_closes_the_conversation() {
    let s = support::webmail::site().await;
    let pharmacy = s.organisational("pharmacie", "Pharmacie de la Gare").await;
    s.store.meta.grant_role(pharmacy.id, &PAUL.parse().unwrap(), mss_core::Role::Utilisateur).await.unwrap();
    s.store.meta.grant_role(pharmacy.id, &BOB.parse().unwrap(), mss_core::Role::Gestionnaire).await.unwrap();
    s.personal("elodie", ELODIE).await;
    from_patient(&s, &pharmacy, 1, "Mon médicament est-il disponible ?", "Bonjour, voici mon ordonnance.").await;

    let paul = s.signed_in(PAUL, "Paul", "Leroy").await;
    let inbox_page = s.get("/portail/boites/pharmacie@ours.test/courrier", &paul).await;
    assert!(
        inbox_page
            .body
            .contains("href=\"/portail/boites/pharmacie@ours.test/patients/279035121518989\">Conversation patient"),
        "the patient's message is marked in the list: {}",
        inbox_page.body
    );
    let list = s.get("/portail/boites/pharmacie@ours.test/patients", &paul).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("Jeanne Martin (INS 2 79 03 51 215 189 89)"), "{}", list.body);
    assert!(list.body.contains("En cours") && list.body.contains(">1<span class=\"masque\"> non lus"), "{}", list.body);
    assert!(!list.body.contains("Modifier les réponses rapides"), "a Utilisateur does not edit them");

    let path = "/portail/boites/pharmacie@ours.test/patients/279035121518989";
    let page = s.get(path, &paul).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Bonjour, voici mon ordonnance.") && page.body.contains("Télécharger ordonnance.jpg"));
    let inbox = s.folder(&pharmacy, "INBOX").await;
    assert!(inbox[0].0.flags.iter().any(|f| f == "\\Seen"), "opening the conversation reads it");
    // Writing a new message, the patient is offered by name, not typed.
    let compose = s.get("/portail/boites/pharmacie@ours.test/ecrire", &paul).await;
    assert!(
        compose.body.contains("value=\"279035121518989@patient.mssante.fr\"")
            && compose.body.contains("Jeanne Martin (INS 2 79 03 51 215 189 89), patient"),
        "{}",
        compose.body
    );
    let chosen = s.get(&format!("{path}?reponse=0"), &paul).await;
    assert!(chosen.body.contains(">Votre médicament est disponible.</textarea>"), "{}", chosen.body);

    let csrf = s.csrf(&paul).await;
    // Nothing typed: said under the field, nothing sent.
    let empty = s.post_form(path, &paul, &format!("csrf={csrf}&texte=+&action=envoyer")).await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert!(empty.body.contains("Écrivez votre message"), "{}", empty.body);
    assert!(queued_to_patient(&s).await.is_empty());
    let bogus = s.post_form(path, &paul, &format!("csrf={csrf}&texte=x&action=supprimer")).await;
    assert_eq!(bogus.status, 400);
    let forged = s.post_form(path, &paul, "texte=x&action=envoyer").await;
    assert_eq!(forged.status, 403);
    assert!(queued_to_patient(&s).await.is_empty());

    let sent = s
        .post_form(path, &paul, &format!("csrf={csrf}&texte=Votre+m%C3%A9dicament+est+disponible.&action=envoyer"))
        .await;
    assert_eq!((sent.status, sent.header("location")), (303, Some(&*format!("{path}?fait=envoye"))));
    let queued = queued_to_patient(&s).await;
    assert_eq!(queued.len(), 1);
    let answer = &queued[0];
    for expected in [
        "X-MSS-INS: O\r\n",
        "Disposition-Notification-To: <pharmacie@ours.test>\r\n",
        "In-Reply-To: <p1@patient.mssante.fr>\r\n",
        "To: <279035121518989@patient.mssante.fr>\r\n",
    ] {
        assert!(answer.contains(expected), "{expected:?} in {answer}");
    }
    let text = mss_message::parsed::parse(answer.as_bytes()).unwrap().body_text(0).unwrap().into_owned();
    assert_eq!(text.trim_end(), "Votre médicament est disponible.");
    let facts = mss_message::Facts::of(answer.as_bytes());
    assert_eq!(facts.envelope.subject.as_deref(), Some("Re: Mon médicament est-il disponible ?"));
    assert!(!facts.closes_conversation());
    assert_eq!(s.folder(&pharmacy, "Sent").await.len(), 1);
    assert!(s.audited("webmail.patient.answer", "pharmacie@ours.test").await[0].contains("ins=279035121518989 answer"));

    let closed = s.post_form(path, &paul, &format!("csrf={csrf}&texte=&action=clore")).await;
    assert_eq!(closed.status, 303, "{}", closed.body);
    let queued = queued_to_patient(&s).await;
    assert_eq!(queued.len(), 2);
    let closing = queued.iter().find(|q| q.contains("X-MSS-MES: FIN\r\n")).expect("a closing message");
    assert!(closing.contains("Subject: [FIN]\r\n"), "{closing}");
    let list = s.get("/portail/boites/pharmacie@ours.test/patients", &paul).await;
    assert!(list.body.contains("Close") && !list.body.contains("En cours"), "{}", list.body);
    let page = s.get(path, &paul).await;
    assert!(page.body.contains("Cette conversation est close"), "{}", page.body);
    // Written after [FIN]: a new conversation, answering nothing.
    let again =
        s.post_form(path, &paul, &format!("csrf={csrf}&texte=Votre+commande+est+arriv%C3%A9e.&action=envoyer")).await;
    assert_eq!(again.status, 303, "{}", again.body);
    let queued = queued_to_patient(&s).await;
    let new = queued.iter().find(|q| q.contains("Subject: Message de Pharmacie de la Gare\r\n")).expect("a new one");
    assert!(!new.contains("In-Reply-To") && !new.contains("References"), "{new}");

    // After [FIN], the patient's new message is a new conversation; the
    // closed one is folded away.
    from_patient(&s, &pharmacy, 2, "Autre question", "Et pour mon fils ?").await;
    let page = s.get(path, &paul).await;
    assert!(page.body.contains("<details><summary>Conversation du "), "{}", page.body);
    assert!(page.body.contains("(close)") && page.body.contains("(en cours)"), "{}", page.body);
    assert!(!page.body.contains("Cette conversation est close"));

    // Quick answers: a Utilisateur may not edit them, a Gestionnaire may.
    let answers = "/portail/boites/pharmacie@ours.test/reponses-rapides";
    assert_eq!(s.get(answers, &paul).await.status, 403);
    let refused = s.post_form(answers, &paul, &format!("csrf={csrf}&reponses=Ferm%C3%A9")).await;
    assert_eq!(refused.status, 403);
    let bob = s.signed_in(BOB, "Bob", "Durand").await;
    let bob_csrf = s.csrf(&bob).await;
    let too_many = "x%0A".repeat(21);
    let refused = s.post_form(answers, &bob, &format!("csrf={bob_csrf}&reponses={too_many}")).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("20 réponses rapides au plus."), "{}", refused.body);
    let saved = s
        .post_form(answers, &bob, &format!("csrf={bob_csrf}&reponses=Pr%C3%AAt+%C3%A0+retirer.%0D%0A%0D%0AFerm%C3%A9"))
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = s.get(path, &paul).await;
    assert!(page.body.contains(">Prêt à retirer.</a>") && page.body.contains(">Fermé</a>"), "{}", page.body);
    assert!(!page.body.contains("Votre médicament est disponible.</a>"));

    // Someone without a role on the pharmacy sees none of it; an INS that
    // is not one is no patient.
    let elodie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    assert_eq!(s.get("/portail/boites/pharmacie@ours.test/patients", &elodie).await.status, 404);
    assert_eq!(s.get(path, &elodie).await.status, 404);
    assert_eq!(s.get("/portail/boites/pharmacie@ours.test/patients/279035121518988", &paul).await.status, 404);
}
