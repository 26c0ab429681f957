//! People read French only: every portal page a pharmacist reaches (found
//! by following the links from her mailboxes, as she would, and the error
//! pages of mistyped addresses) and every API problem a hostile or clumsy
//! client provokes (its `title` and `detail`) is scanned for English
//! words. The words are those English uses every sentence and French never
//! does, so user data in French does not trip them.

mod support;

use std::collections::{BTreeSet, VecDeque};

use mss_core::Role;
use mss_identity::{Method, Person};
use mss_store::{Placement, now_unix};
use support::webmail::{site, site_with};

const ELODIE: &str = "810003621892";
/// English words no French page or message uses.
const ENGLISH: &[&str] = &[
    "the",
    "is",
    "are",
    "was",
    "not",
    "and",
    "expected",
    "invalid",
    "failed",
    "missing",
    "unknown",
    "found",
    "must",
    "should",
    "cannot",
    "unable",
    "error",
    "with",
    "from",
    "this",
    "that",
    "column",
    "field",
    "request",
    "value",
    "digits",
    "characters",
    "empty",
    "too",
    "token",
    "none",
    "null",
    "true",
    "false",
    "at",
    "line",
    "while",
    "body",
    "unauthorized",
    "forbidden",
    "bad",
    "conflict",
    "payload",
    "unsupported",
    "entity",
    "media",
    "got",
    "key",
];

/// The English words of `text`, if any.
fn english(text: &str) -> Vec<String> {
    let words = text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).map(str::to_lowercase);
    let found: BTreeSet<String> = words.filter(|w| ENGLISH.contains(&w.as_str())).collect();
    found.into_iter().collect()
}

/// What a page shows: its text without scripts, styles, tags or entities.
fn visible(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tag = &rest[open..];
        let skip_to = if tag.starts_with("<script") {
            tag.find("</script>").map(|e| e + 9)
        } else if tag.starts_with("<style") {
            tag.find("</style>").map(|e| e + 8)
        } else {
            tag.find('>').map(|e| e + 1)
        };
        rest = &tag[skip_to.unwrap_or(tag.len())..];
    }
    text.push_str(rest);
    text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'")
}

/// The portal links of a page (downloads and sign-out left out).
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .filter(|href| href.starts_with("/portail/") || href == "/cgu")
        .filter(|href| !href.contains("/pieces/") && !href.contains("/assets/") && !href.contains("deconnexion"))
        .map(|href| href.split('#').next().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn every_page_a_pharmacist_reaches_is_in_french() {
    let s = site_with(|web| mss_web::Web { operator_admins: vec![ELODIE.parse().unwrap()], ..web }).await;
    let elodie = s.personal("elodie", ELODIE).await;
    let pharmacy = s.organisational("pharmacie", "Pharmacie du Centre").await;
    s.store.meta.grant_role(pharmacy.id, &ELODIE.parse().unwrap(), Role::Administrateur).await.unwrap();
    let raw = "From: Laboratoire <labo@ours.test>\r\nTo: elodie@ours.test\r\nSubject: Bilan\r\n\
               Message-ID: <b1@ours.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
               --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRésultats normaux.\r\n--b\r\n\
               Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=bilan.pdf\r\n\r\n%PDF\r\n--b--\r\n";
    for mailbox in [elodie.id, pharmacy.id] {
        s.store
            .deliver_indexed(raw.as_bytes(), &[Placement::inbox(mailbox)], Some(mss_message::stored(raw.as_bytes())))
            .await
            .unwrap();
    }
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    // Some history for the trail pages.
    s.get("/portail/boites/elodie@ours.test/courrier/INBOX/1", &cookie).await;

    let mut queue: VecDeque<String> = [
        "/portail/boites",
        "/portail/creer",
        "/portail/compte",
        "/portail/operateur",
        "/portail/connexion",
        "/cgu",
        // Mistakes: French error pages too.
        "/portail/nexiste-pas",
        "/portail/boites/personne@ours.test/courrier",
        "/portail/boites/elodie@ours.test/courrier?dossier=Nulle-part",
        "/portail/boites/elodie@ours.test/courrier/INBOX/999",
        "/portail/boites/elodie@ours.test/courrier?page=abc&tri=%00",
    ]
    .map(String::from)
    .into();
    let mut seen = BTreeSet::new();
    let mut offenders = Vec::new();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) || seen.len() > 300 {
            continue;
        }
        let page = s.get(&path, &cookie).await;
        if page.header("content-type").is_some_and(|t| t.starts_with("text/html")) {
            let found = english(&visible(&page.body));
            if !found.is_empty() {
                offenders.push(format!("{path} ({}): {found:?}", page.status));
            }
            queue.extend(links(&page.body).into_iter().filter(|l| !seen.contains(l)));
        }
    }
    assert!(seen.len() > 40, "the crawl reached few pages: {seen:?}");
    for expected in ["/portail/boites/pharmacie@ours.test/membres", "/portail/boites/elodie@ours.test/courrier/INBOX/1"]
    {
        assert!(seen.iter().any(|p| p.starts_with(expected)), "{expected} not reached: {seen:?}");
    }
    assert!(offenders.is_empty(), "English on pages:\n{}", offenders.join("\n"));
}

#[tokio::test]
async fn every_api_problem_is_french_problem_json() {
    let s = site().await;
    s.personal("elodie", ELODIE).await;
    let person = Person {
        national_id: ELODIE.parse().unwrap(),
        first_name: "Élodie".into(),
        last_name: "Dupont".into(),
        finess: vec![],
    };
    let token = s.sessions.open(&person, Method::Psc, now_unix()).await.unwrap().access_token;
    let bearer = format!("Bearer {token}");
    let big = "x".repeat(2 * 1024 * 1024);
    let json = "application/json";
    // (method, path, authorization, content type, body)
    let asked: Vec<(&str, &str, &str, &str, &str)> = vec![
        ("GET", "/api/me", "", "", ""),
        ("GET", "/api/me", "Bearer abc.def.ghi", "", ""),
        ("GET", "/api/me", "Basic ZWxvZGllOnNlY3JldA==", "", ""),
        ("GET", "/api/annuaire?q=dupont&zzz=1", &bearer, "", ""),
        ("GET", "/api/annuaire?q=", &bearer, "", ""),
        ("POST", "/api/mailboxes", &bearer, json, "{not json"),
        ("POST", "/api/mailboxes", &bearer, json, "[1, 2]"),
        ("POST", "/api/mailboxes", &bearer, json, r#"{"type": "PER", "zzz": 1}"#),
        ("POST", "/api/mailboxes", &bearer, json, r#"{"type": "ZZZ"}"#),
        ("POST", "/api/mailboxes", &bearer, "text/plain", "{}"),
        ("POST", "/api/mailboxes", &bearer, json, &big),
        ("POST", "/api/mailboxes/preview", &bearer, json, r#"{"type": "ORG", "finess": "12"}"#),
        ("GET", "/api/mailboxes/personne@ours.test", &bearer, "", ""),
        ("GET", "/api/mailboxes/pas-une-adresse", &bearer, "", ""),
        ("PUT", "/api/mailboxes/elodie@ours.test/members/123", &bearer, json, r#"{"role": "chef"}"#),
        ("GET", "/api/mailboxes/elodie@ours.test/audit?limit=abc", &bearer, "", ""),
        ("GET", "/api/mailboxes/elodie@ours.test/messages/INBOX/9/tracking", &bearer, "", ""),
        ("POST", "/api/mailboxes/elodie@ours.test/documents", &bearer, json, r#"{"pdf": "%%%"}"#),
        ("POST", "/api/auth/refresh", "", json, r#"{"refresh_token": "vieux"}"#),
        ("POST", "/api/auth/refresh", "", json, "42"),
        ("POST", "/api/auth/cps/login", "", json, r#"{"challenge": 1}"#),
        ("POST", "/api/pharmacies/750000002/dispensations", &bearer, json, r#"{"dispensations": "non"}"#),
        ("GET", "/api/pharmacies/abc/indicator?mois=13", &bearer, "", ""),
    ];
    let mut offenders = Vec::new();
    for (method, path, authorization, content_type, body) in asked {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", s.addr);
        if !authorization.is_empty() {
            request.push_str(&format!("Authorization: {authorization}\r\n"));
        }
        if !content_type.is_empty() {
            request.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        let reply = support::exchange(s.addr, request.into_bytes()).await;
        let what = format!("{method} {path} [{}]", &body.chars().take(40).collect::<String>());
        assert!(reply.status >= 400, "{what}: {} {}", reply.status, reply.body);
        if reply.header("content-type") != Some("application/problem+json") {
            offenders.push(format!("{what}: {} {:?} {}", reply.status, reply.header("content-type"), reply.body));
            continue;
        }
        let problem: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        for key in ["title", "detail"] {
            let text = problem[key].as_str().unwrap_or_default();
            let found = english(text);
            if text.is_empty() || !found.is_empty() {
                offenders.push(format!("{what}: {key} {text:?} {found:?}"));
            }
        }
    }
    assert!(offenders.is_empty(), "not French problem+json:\n{}", offenders.join("\n"));
}

#[test]
fn the_scan_tells_english_from_french() {
    assert_eq!(english("postal code: expected 5 digits, got 4"), ["digits", "expected", "got"]);
    assert!(english("Le message est envoyé à « Pharmacie du Centre » à 14:32.").is_empty());
    let page = "<p>Boîte <b>vide</b></p><script>if (a is b) {}</script><style>.the{}</style>";
    assert_eq!(visible(page).split_whitespace().collect::<Vec<_>>(), ["Boîte", "vide"]);
    assert_eq!(
        links(r#"<a href="/portail/a?b=1&amp;c=2#x">x</a><a href="https://autre.test/">y</a>"#),
        ["/portail/a?b=1&c=2"]
    );
}
