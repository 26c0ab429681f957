//! The webmail's test site: a [`Site`] that sends (message limit [`MAX`]),
//! and what the webmail tests do with it: pages, multipart and urlencoded
//! posts, people signed in, mailboxes made, folders and the audit trail
//! read back from the store.

use std::io::Write;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use mss_core::{MailboxKind, MailboxState, Role};
use mss_identity::{Method, Person};
use mss_smtp::Submitter;
use mss_store::{Mailbox, NewMailbox, now_unix};
use mss_web::{Sending, Web};

use super::{Reply, Site};

/// The message size limit of the test site.
pub const MAX: usize = 256 * 1024;

/// A served site whose webmail sends.
pub struct Webmail(pub Site);

impl Deref for Webmail {
    type Target = Site;

    fn deref(&self) -> &Site {
        &self.0
    }
}

/// A site that sends, with a message limit of [`MAX`].
pub async fn site() -> Webmail {
    site_sending(MAX).await
}

/// A site that sends messages of at most `max` bytes.
pub async fn site_sending(max: usize) -> Webmail {
    site_changed(max, |web| web).await
}

/// A site that sends, `change` applied to its state.
pub async fn site_with(change: impl FnOnce(Web) -> Web + Send + 'static) -> Webmail {
    site_changed(MAX, change).await
}

async fn site_changed(max: usize, change: impl FnOnce(Web) -> Web + Send + 'static) -> Webmail {
    let site = super::site(move |_, _, web| {
        let submitter = Submitter {
            store: web.store.clone(),
            domain: "ours.test".parse().unwrap(),
            wake: Arc::new(tokio::sync::Notify::new()),
            queue_expiry: Duration::from_secs(3600),
            sent_copy: true,
        };
        let sending = Sending {
            submitter: Arc::new(submitter),
            hostname: "mss.ours.test".into(),
            max_message_bytes: max,
            product: "mss tests".into(),
        };
        (change(Web { sending: Some(sending), ..web }), axum::Router::new())
    })
    .await;
    Webmail(site)
}

impl Webmail {
    pub async fn get(&self, path: &str, cookie: &str) -> Reply {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n", self.addr);
        super::exchange(self.addr, request.into_bytes()).await
    }

    /// Posts a multipart form: text `fields` in order, then `files`
    /// (name, content type, bytes) in the `pieces` field.
    pub async fn post_multipart(
        &self,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Reply {
        let boundary = "----mss-test-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").unwrap();
        }
        for (name, kind, bytes) in files {
            write!(
                body,
                "--{boundary}\r\nContent-Disposition: form-data; name=\"pieces\"; filename=\"{name}\"\r\n\
                 Content-Type: {kind}\r\n\r\n"
            )
            .unwrap();
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        write!(body, "--{boundary}--\r\n").unwrap();
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nCookie: {cookie}\r\n\
             Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        super::exchange(self.addr, request).await
    }

    /// Posts an urlencoded form.
    pub async fn post_form(&self, path: &str, cookie: &str, form: &str) -> Reply {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nCookie: {cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            self.addr,
            form.len()
        );
        super::exchange(self.addr, request.into_bytes()).await
    }

    /// The CSRF token of the session behind `cookie`, read from a page.
    pub async fn csrf(&self, cookie: &str) -> String {
        let page = self.get("/portail/boites", cookie).await.body;
        let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
        page[at..at + 64].to_string()
    }

    /// The raw messages of a folder of `mailbox`, in UID order.
    pub async fn folder(&self, mailbox: &Mailbox, name: &str) -> Vec<(mss_store::MessageMeta, Vec<u8>)> {
        let folders = self.store.meta.folders(mailbox.id).await.unwrap();
        let folder = folders.iter().find(|f| f.name == name).unwrap();
        let uids = self.store.meta.folder_uids(folder.id).await.unwrap();
        let mut out = Vec::new();
        for meta in self.store.meta.messages(folder.id, &uids).await.unwrap() {
            let raw = self.store.blobs.get(&meta.blob).await.unwrap().unwrap();
            out.push((meta, raw));
        }
        out
    }

    /// A portal session for the person with this national id: the cookie.
    pub async fn signed_in(&self, national_id: &str, first: &str, last: &str) -> String {
        let person = Person {
            national_id: national_id.parse().unwrap(),
            first_name: first.into(),
            last_name: last.into(),
            finess: vec![],
        };
        format!("mss-portail={}", self.sessions.open_portal(&person, Method::Psc, now_unix()).await.unwrap())
    }

    pub async fn personal(&self, local: &str, national_id: &str) -> Mailbox {
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

    /// An active organisational mailbox at `local@ours.test`.
    pub async fn organisational(&self, local: &str, display_name: &str) -> Mailbox {
        let new = NewMailbox::of_structure(
            format!("{local}@ours.test").parse().unwrap(),
            MailboxKind::Organisational,
            "750000002".parse().unwrap(),
            display_name,
        );
        self.store.meta.create_mailbox(&new).await.unwrap()
    }

    /// « Pharmacie du Centre » at `pharmacie@ours.test`, Paul (810009999995)
    /// its Utilisateur and Bob (810000013994) its Gestionnaire, both signed
    /// in: the mailbox, and their cookies and CSRF tokens.
    pub async fn pharmacy_with_staff(&self) -> (Mailbox, [(String, String); 2]) {
        let org = self.organisational("pharmacie", "Pharmacie du Centre").await;
        for (national_id, role) in [("810009999995", Role::Utilisateur), ("810000013994", Role::Gestionnaire)] {
            self.store.meta.grant_role(org.id, &national_id.parse().unwrap(), role).await.unwrap();
        }
        let paul = self.signed_in("810009999995", "Paul", "Durand").await;
        let bob = self.signed_in("810000013994", "Bob", "Martin").await;
        let (paul_csrf, bob_csrf) = (self.csrf(&paul).await, self.csrf(&bob).await);
        (org, [(paul, paul_csrf), (bob, bob_csrf)])
    }

    /// The audit entries whose action starts with `prefix`, on `target`:
    /// `action result detail` each, newest first.
    pub async fn audited(&self, prefix: &str, target: &str) -> Vec<String> {
        self.store.audit.flush().await;
        let filter = mss_store::AuditFilter { limit: 1000, ..Default::default() };
        let trail = self.store.meta.audit_entries(&filter).await.unwrap();
        trail
            .iter()
            .map(|e| &e.entry)
            .filter(|e| e.action.starts_with(prefix) && e.target == target)
            .map(|e| format!("{} {} {}", e.action, e.result, e.detail))
            .collect()
    }
}
