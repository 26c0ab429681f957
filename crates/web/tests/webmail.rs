//! The portal's read-only webmail over real HTTP with a real store: the
//! folders and their unread counts, the message list, reading a message
//! (which marks it seen), HTML bodies shown as text only, and the 404 a
//! person without a role on a mailbox gets.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mss_core::{MailboxKind, MailboxState, Role};
use mss_identity::{Method, Person, SessionAuthority, TokenKey};
use mss_store::{Mailbox, NewMailbox, Store, StoreConfig, now_unix};
use mss_web::{Cgu, Web};

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";
const ELODIE: &str = "810003621892";
const PAUL: &str = "810009999995";

struct Site {
    _dir: tempfile::TempDir,
    store: Store,
    sessions: Arc<SessionAuthority>,
    addr: SocketAddr,
}

async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sessions =
        Arc::new(SessionAuthority::new(Arc::new(TokenKey::generate("ours.test").unwrap()), store.meta.clone()));
    let web = Arc::new(Web {
        store: store.clone(),
        domain: "ours.test".parse().unwrap(),
        sessions: sessions.clone(),
        cgu: Cgu { version: "2026-01".into(), url: "/cgu".into() },
        validation_delay: Duration::from_secs(0),
        psc: None,
        cps: None,
        annuaire: Arc::new(mss_directory::annuaire::Annuaire::new(&dir.path().join("annuaire"), None)),
        https: false,
    });
    let app = mss_web::router(web);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Site { _dir: dir, store, sessions, addr }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl Site {
    async fn get(&self, path: &str, cookie: &str) -> Reply {
        let (addr, path, cookie) = (self.addr, path.to_string(), cookie.to_string());
        tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n")
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            let (head, body) = response.split_once("\r\n\r\n").unwrap();
            let status = head.split(' ').nth(1).unwrap().parse().unwrap();
            let headers = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            Reply { status, headers, body: body.to_string() }
        })
        .await
        .unwrap()
    }

    /// A portal session for the person with this national id: the cookie.
    async fn signed_in(&self, national_id: &str, first: &str, last: &str) -> String {
        let person = Person {
            national_id: national_id.parse().unwrap(),
            first_name: first.into(),
            last_name: last.into(),
            finess: vec![],
        };
        format!("mss-portail={}", self.sessions.open_portal(&person, Method::Psc, now_unix()).await.unwrap())
    }

    async fn personal(&self, local: &str, national_id: &str) -> Mailbox {
        let new = NewMailbox {
            address: format!("{local}@ours.test").parse().unwrap(),
            kind: MailboxKind::Personal,
            state: MailboxState::Active,
            national_id: Some(national_id.parse().unwrap()),
            finess: None,
            first_name: None,
            last_name: None,
            display_name: local.into(),
            service: None,
            liste_rouge: false,
            certificate_dn: None,
        };
        self.store.meta.create_mailbox(&new).await.unwrap()
    }
}

fn plain(subject: &str) -> Vec<u8> {
    format!(
        "From: =?utf-8?q?Jos=C3=A9_Martin?= <jose.martin@autre.test>\r\nTo: elodie@ours.test\r\n\
         Subject: {subject}\r\nDate: Fri, 27 Nov 2026 09:30:00 +0000\r\nMessage-ID: <{subject}@autre.test>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\nCorps de {subject}.\r\n"
    )
    .into_bytes()
}

const HTML_WITH_ATTACHMENT: &str = "From: Labo <labo@autre.test>\r\nTo: elodie@ours.test\r\n\
    Subject: =?utf-8?q?R=C3=A9sultats?=\r\nDate: Thu, 26 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n\
    Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
    <html><body><p>Voir <b>les analyses</b></p><script>alert('x')</script>\
    <img src=\"https://tracker.test/pixel.gif\"></body></html>\r\n\
    --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"analyses.pdf\"\r\n\
    Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";

#[tokio::test]
async fn the_webmail_lists_folders_and_messages_and_reading_marks_seen() {
    let s = site().await;
    let mailbox = s.personal("elodie", ELODIE).await;
    for subject in ["premier", "second"] {
        s.store.deliver(&plain(subject), &[mailbox.id]).await.unwrap();
    }
    s.store.deliver(HTML_WITH_ATTACHMENT.as_bytes(), &[mailbox.id]).await.unwrap();
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;

    let home = s.get("/portail/boites", &cookie).await;
    assert!(home.body.contains("href=\"/portail/boites/elodie@ours.test/courrier\""), "{}", home.body);

    let list = s.get("/portail/boites/elodie@ours.test/courrier", &cookie).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.header("content-security-policy"), Some(CSP));
    for label in ["Boîte de réception", "Envoyés", "Brouillons", "Corbeille", "Indésirables", "Archives"] {
        assert!(list.body.contains(label), "{label}");
    }
    assert!(
        list.body.contains("<span class=\"compte\">3<span class=\"masque\"> non lus</span></span>"),
        "{}",
        list.body
    );
    assert!(list.body.contains("José Martin &lt;jose.martin@autre.test&gt;") && list.body.contains("Résultats"));
    assert!(list.body.contains("27/11/2026 à 09:30 UTC"));
    assert_eq!(list.body.matches("class=\"non-lu\"").count(), 3);
    let (newest, oldest) = (list.body.find("Résultats").unwrap(), list.body.find("premier").unwrap());
    assert!(list.body.find("second").unwrap() < oldest && newest < oldest, "newest (highest UID) first");

    let read = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/1", &cookie).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.header("content-security-policy"), Some(CSP));
    assert!(read.body.contains("<h1>premier</h1>") && read.body.contains("Corps de premier."), "{}", read.body);
    assert!(read.body.contains("elodie@ours.test") && read.body.contains("27/11/2026 à 09:30 UTC"));
    let list = s.get("/portail/boites/elodie@ours.test/courrier?dossier=INBOX", &cookie).await;
    assert!(list.body.contains("<span class=\"compte\">2<"), "one fewer unread");
    assert_eq!(list.body.matches("class=\"non-lu\"").count(), 2);

    let html = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/3", &cookie).await;
    assert_eq!(html.status, 200, "{}", html.body);
    assert!(html.body.contains("Voir les analyses"), "{}", html.body);
    assert!(!html.body.contains("<script") && !html.body.contains("alert("), "no script");
    assert!(!html.body.contains("<img") && !html.body.contains("tracker.test"), "no remote content");
    assert!(!html.body.contains("<b>"), "no HTML from the message");
    assert!(html.body.contains("analyses.pdf") && html.body.contains("application/pdf"));

    assert_eq!(s.get("/portail/boites/elodie@ours.test/courrier/INBOX/99", &cookie).await.status, 404);
    assert_eq!(s.get("/portail/boites/elodie@ours.test/courrier?dossier=Nope", &cookie).await.status, 404);
    let sent = s.get("/portail/boites/elodie@ours.test/courrier?dossier=Sent", &cookie).await;
    assert!(sent.body.contains("Ce dossier est vide."));
}

#[tokio::test]
async fn a_person_without_a_role_gets_404_and_a_member_may_read() {
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    s.store.deliver(&plain("secret"), &[elodie.id]).await.unwrap();
    let org = NewMailbox {
        address: "pharmacie@ours.test".parse().unwrap(),
        kind: MailboxKind::Organisational,
        state: MailboxState::Active,
        national_id: None,
        finess: Some("750000002".parse().unwrap()),
        first_name: None,
        last_name: None,
        display_name: "Pharmacie du Centre".into(),
        service: None,
        liste_rouge: false,
        certificate_dn: None,
    };
    let org = s.store.meta.create_mailbox(&org).await.unwrap();
    s.store.deliver(&plain("commande"), &[org.id]).await.unwrap();
    let paul = s.signed_in(PAUL, "Paul", "Durand").await;
    for path in [
        "/portail/boites/elodie@ours.test/courrier",
        "/portail/boites/elodie@ours.test/courrier/INBOX/1",
        "/portail/boites/pharmacie@ours.test/courrier",
        "/portail/boites/nobody@ours.test/courrier",
    ] {
        let refused = s.get(path, &paul).await;
        assert_eq!(refused.status, 404, "{path}");
        assert!(!refused.body.contains("secret") && !refused.body.contains("commande"));
    }
    let unread = s.store.meta.folder(elodie.id, "INBOX").await.unwrap().unwrap();
    assert_eq!(s.store.meta.folder_counts(unread.id).await.unwrap().unseen, 1, "nothing marked seen");

    s.store.meta.grant_role(org.id, &PAUL.parse().unwrap(), Role::Utilisateur).await.unwrap();
    let list = s.get("/portail/boites/pharmacie@ours.test/courrier", &paul).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("commande"));

    // A suspended mailbox is not read, even by its members.
    s.store.meta.change_state(org.id, MailboxState::Active, MailboxState::Suspended, Some("contrôle")).await.unwrap();
    let closed = s.get("/portail/boites/pharmacie@ours.test/courrier/INBOX/1", &paul).await;
    assert_eq!(closed.status, 409);
    assert!(closed.body.contains("suspendue") && !closed.body.contains("commande"), "{}", closed.body);
}
