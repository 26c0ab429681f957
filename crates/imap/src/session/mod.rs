//! One IMAP session: the state machine of RFC 9051 §3 (not authenticated,
//! authenticated, selected, logout), the dispatch of parsed commands, and the
//! untagged updates that keep a client in step with what other sessions and
//! deliveries change.
//!
//! Each command handler returns the tagged [`Reply`]; untagged responses are
//! collected in `out` and written before it. Access to a mailbox other than
//! the principal's own goes through [`access`], which reads the person's role
//! at each use, so a role change takes effect on open sessions at once; the
//! login itself is checked again before each command ([`revalidate`]).

mod access;
mod acl;
mod args;
mod auth;
mod bodies;
mod fetch;
mod folder_limits;
mod folders;
mod list;
mod mutate;
mod revalidate;
mod search;
mod selected;
mod sequence;
mod sort;

use std::net::SocketAddr;

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::extensions::enable::CapabilityEnable;
use mss_identity::Principal;
use mss_store::NewAuditEntry;

use self::selected::Selected;
use crate::conn::{Conn, Frame, ReadEnd};
use crate::server::{ImapServer, TlsPeer};

/// How a session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The client asked for TLS; the caller upgrades and runs the session again.
    StartTls,
    Closed,
}

/// The tagged status of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    status: &'static str,
    code: Option<String>,
    text: String,
}

impl Reply {
    pub fn ok(text: impl Into<String>) -> Self {
        Self { status: "OK", code: None, text: text.into() }
    }
    pub fn no(text: impl Into<String>) -> Self {
        Self { status: "NO", code: None, text: text.into() }
    }
    pub fn bad(text: impl Into<String>) -> Self {
        Self { status: "BAD", code: None, text: text.into() }
    }
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
    fn line(&self, tag: &str) -> Vec<u8> {
        match &self.code {
            Some(code) => format!("{tag} {} [{code}] {}\r\n", self.status, self.text),
            None => format!("{tag} {} {}\r\n", self.status, self.text),
        }
        .into_bytes()
    }
}

/// The answer to a storage failure: the client may try again. A full disk
/// is told as such (`OVERQUOTA`, as Dovecot does), so the user knows waiting
/// is the remedy.
fn unavailable(e: mss_store::StoreError) -> Reply {
    tracing::error!(error = %e, "imap: store failure");
    if e.is_storage_full() {
        return Reply::no("Not enough disk space on the server, try again later").with_code("OVERQUOTA");
    }
    Reply::no("Temporary server failure, try again").with_code("UNAVAILABLE")
}

enum State {
    NotAuthenticated,
    Authenticated,
    Selected(Box<Selected>),
}

pub struct Session<'a> {
    server: &'a ImapServer,
    peer: SocketAddr,
    tls: Option<TlsPeer>,
    principal: Option<Principal>,
    state: State,
    /// RFC 7162 CONDSTORE enabled (by ENABLE, SELECT (CONDSTORE) or a
    /// CONDSTORE-specific command): MODSEQ in untagged FETCH.
    condstore: bool,
    /// ENABLE IMAP4rev2: no RECENT.
    rev2: bool,
    errors: usize,
    /// Untagged responses of the current command.
    out: Vec<u8>,
    /// Whether the current command already wrote its audit entry.
    audited: bool,
}

/// What the loop does after a command.
enum Next {
    Continue,
    StartTls,
    /// End the session after the reply (LOGOUT, or a BYE already queued).
    Logout,
}

impl<'a> Session<'a> {
    pub fn new(server: &'a ImapServer, peer: SocketAddr, tls: Option<TlsPeer>) -> Self {
        Self {
            server,
            peer,
            tls,
            principal: None,
            state: State::NotAuthenticated,
            condstore: false,
            rev2: false,
            errors: 0,
            out: Vec::new(),
            audited: false,
        }
    }

    pub fn greeting(&self) -> String {
        format!("* OK [CAPABILITY {}] {} mss IMAP ready\r\n", self.capabilities(), self.server.hostname)
    }

    pub fn tls_started(&mut self, tls: TlsPeer) {
        self.tls = Some(tls);
    }

    fn authenticated(&self) -> bool {
        self.principal.is_some()
    }

    /// RFC 9051 §7.2.2, with the extensions of this server.
    fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev2", "IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE"];
        if !self.authenticated() {
            if self.tls.is_none() {
                caps.extend(["STARTTLS", "LOGINDISABLED"]);
            } else {
                // PLAIN and LOGIN take application passwords.
                caps.extend(["AUTH=XOAUTH2", "AUTH=OAUTHBEARER", "AUTH=EXTERNAL", "AUTH=PLAIN"]);
            }
            return caps.join(" ");
        }
        caps.extend([
            "IDLE",
            "NAMESPACE",
            "UNSELECT",
            "UIDPLUS",
            "MOVE",
            "CONDSTORE",
            "SPECIAL-USE",
            "CHILDREN",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "ACL",
            "RIGHTS=texk",
            "BINARY",
            "STATUS=SIZE",
            "SORT",
            "SORT=DISPLAY",
            "THREAD=ORDEREDSUBJECT",
            "THREAD=REFERENCES",
        ]);
        let mut text = caps.join(" ");
        text.push_str(&format!(" APPENDLIMIT={}", self.server.limits.max_append_bytes));
        text
    }

    /// Reads and answers commands until the client leaves, asks for TLS,
    /// or misbehaves too often.
    pub async fn run(&mut self, conn: &mut Conn) -> Outcome {
        conn.set_write_timeout(self.server.limits.write_timeout);
        loop {
            let limits = self.server.limits.frame(self.authenticated());
            let frame = match conn.command(&limits).await {
                Ok(frame) => frame,
                Err(end) => return self.ended(conn, end).await,
            };
            if let (Frame::Command(_), Some(bye)) = (&frame, self.login_revoked().await) {
                let _ = conn.write(&bye).await;
                return Outcome::Closed;
            }
            let next = match frame {
                Frame::Command(bytes) => match self.command(conn, &bytes).await {
                    Ok(next) => next,
                    Err(end) => return self.ended(conn, end).await,
                },
                Frame::LineTooLong => {
                    self.errors += 1;
                    self.out.extend_from_slice(b"* BAD Line too long\r\n");
                    Next::Continue
                }
                Frame::Refused { tag, text } => {
                    // RFC 7889: TOOBIG; counted, so that refusals cannot be
                    // asked for without end.
                    self.errors += 1;
                    self.out.extend(Reply::no(text).with_code("TOOBIG").line(&tag));
                    Next::Continue
                }
                Frame::Overflow { tag, text } => {
                    tracing::warn!(peer = %self.peer, reason = text, "imap: command too big, disconnected");
                    let reply = Reply::bad(text).with_code("TOOBIG");
                    self.out.extend(reply.line(tag.as_deref().unwrap_or("*")));
                    self.out.extend_from_slice(b"* BYE Too much data\r\n");
                    let _ = conn.write(&std::mem::take(&mut self.out)).await;
                    return Outcome::Closed;
                }
            };
            if self.errors >= self.server.limits.max_errors {
                self.out.extend_from_slice(b"* BYE Too many errors\r\n");
                let _ = conn.write(&std::mem::take(&mut self.out)).await;
                return Outcome::Closed;
            }
            if conn.write(&std::mem::take(&mut self.out)).await.is_err() {
                return Outcome::Closed;
            }
            match next {
                Next::Continue => {}
                Next::StartTls => return Outcome::StartTls,
                Next::Logout => return Outcome::Closed,
            }
        }
    }

    async fn ended(&mut self, conn: &mut Conn, end: ReadEnd) -> Outcome {
        match end {
            ReadEnd::Timeout => {
                tracing::info!(peer = %self.peer, "imap: idle too long, disconnected");
                let _ = conn.write(b"* BYE Autologout; idle for too long\r\n").await;
            }
            ReadEnd::Overflow => {
                tracing::warn!(peer = %self.peer, "imap: line too long, disconnected");
                let _ = conn.write(b"* BYE Too much data\r\n").await;
            }
            ReadEnd::Closed | ReadEnd::Io(_) => {}
        }
        Outcome::Closed
    }

    /// One framed command: parsed, dispatched, answered.
    async fn command(&mut self, conn: &mut Conn, bytes: &[u8]) -> Result<Next, ReadEnd> {
        if let Some(parsed) = acl::parse(bytes) {
            let (tag, reply) = match parsed {
                Ok((tag, command)) => (tag, self.acl(command).await),
                Err((tag, why)) => (tag, Reply::bad(why)),
            };
            self.finish(&tag, reply, Some(true)).await;
            return Ok(Next::Continue);
        }
        let command = match CommandCodec::default().decode(bytes) {
            Ok((_, command)) => command,
            Err(_) if let Some(parsed) = list::parse_extended(bytes) => {
                let (tag, reply) = match parsed {
                    Ok((tag, _)) if !self.authenticated() => (tag, Reply::no("Authenticate first")),
                    Ok((tag, list)) => (tag, self.list_with(&list).await),
                    Err((tag, why)) => (tag, Reply::bad(why)),
                };
                self.finish(&tag, reply, Some(true)).await;
                return Ok(Next::Continue);
            }
            Err(_) => {
                self.errors += 1;
                let tag = String::from_utf8_lossy(crate::conn::tag_of(bytes)).into_owned();
                let tag = if tag.is_empty() || tag.len() >= 64 { "*".to_string() } else { tag };
                let name = crate::conn::command_name(bytes);
                self.out.extend(Reply::bad(format!("Unknown command or bad syntax: {name}")).line(&tag));
                return Ok(Next::Continue);
            }
        };
        let tag = command.tag.inner().to_string();
        // RFC 9051 §7.5.1 (and RFC 5256 §3 for SORT and THREAD): no EXPUNGE
        // while answering these by sequence number.
        let allow_expunge = !matches!(
            command.body,
            CommandBody::Fetch { uid: false, .. }
                | CommandBody::Store { uid: false, .. }
                | CommandBody::Search { uid: false, .. }
                | CommandBody::Sort { uid: false, .. }
                | CommandBody::Thread { uid: false, .. }
        );
        self.audited = false;
        let name = crate::conn::command_name(bytes).to_ascii_lowercase();
        let (reply, next) = self.dispatch(conn, command).await?;
        if !self.audited && self.principal.is_some() {
            let (target, folder) = match self.selected() {
                Some(selected) => (selected.address.clone(), selected.folder.name.clone()),
                None => (self.principal.as_ref().map(|p| p.address().to_string()).unwrap_or_default(), String::new()),
            };
            self.record(&format!("imap.{name}"), &target, &folder, &reply).await;
        }
        if reply.status == "BAD" {
            self.errors += 1;
        }
        let refresh = !matches!(next, Next::Logout);
        self.finish(&tag, reply, refresh.then_some(allow_expunge)).await;
        Ok(next)
    }

    /// Adds pending updates (when selected; expunges only when allowed)
    /// and the tagged reply.
    async fn finish(&mut self, tag: &str, reply: Reply, refresh: Option<bool>) {
        if let (Some(allow_expunge), State::Selected(_)) = (refresh, &self.state) {
            self.refresh(allow_expunge).await;
        }
        self.out.extend(reply.line(tag));
    }

    async fn dispatch(&mut self, conn: &mut Conn, command: Command<'_>) -> Result<(Reply, Next), ReadEnd> {
        use CommandBody as C;
        let body = command.body;
        // Commands valid in every state.
        match body {
            C::Capability => {
                self.out.extend(format!("* CAPABILITY {}\r\n", self.capabilities()).into_bytes());
                return Ok((Reply::ok("CAPABILITY completed"), Next::Continue));
            }
            C::Noop => return Ok((Reply::ok("NOOP completed"), Next::Continue)),
            C::Logout => {
                self.out.extend_from_slice(b"* BYE Logging out\r\n");
                return Ok((Reply::ok("LOGOUT completed"), Next::Logout));
            }
            C::Id { .. } => {
                self.out.extend_from_slice(
                    format!("* ID (\"name\" \"mss\" \"version\" \"{}\")\r\n", env!("CARGO_PKG_VERSION")).as_bytes(),
                );
                return Ok((Reply::ok("ID completed"), Next::Continue));
            }
            _ => {}
        }
        if !self.authenticated() {
            return Ok(match body {
                C::StartTLS if self.tls.is_some() => (Reply::bad("TLS is already active"), Next::Continue),
                C::StartTLS => (Reply::ok("Begin TLS negotiation now"), Next::StartTls),
                C::Authenticate { mechanism, initial_response } => {
                    let initial = initial_response.map(|r| r.declassify().to_vec());
                    (self.authenticate(conn, mechanism.as_ref(), initial).await?, Next::Continue)
                }
                C::Login { username, password } => {
                    let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                    let password = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                    (self.login(&user, &password).await, Next::Continue)
                }
                C::Enable { .. } => (Reply::no("Authenticate first"), Next::Continue),
                _ => (Reply::no("Authenticate first").with_code("AUTHENTICATIONFAILED"), Next::Continue),
            });
        }
        let reply = match body {
            C::StartTLS | C::Authenticate { .. } | C::Login { .. } => Reply::bad("Already authenticated"),
            C::Enable { capabilities } => self.enable(capabilities.as_ref()),
            C::Namespace => {
                self.out.extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL ((\"");
                self.out.extend_from_slice(access::SHARED_PREFIX.as_bytes());
                self.out.extend_from_slice(b"/\" \"/\"))\r\n");
                Reply::ok("NAMESPACE completed")
            }
            C::Select { mailbox, parameters } => self.select(&mailbox, false, &parameters).await,
            C::Examine { mailbox, parameters } => self.select(&mailbox, true, &parameters).await,
            C::Create { mailbox } => self.create(&mailbox).await,
            C::Delete { mailbox } => self.delete(&mailbox).await,
            C::Rename { from, to } => self.rename(&from, &to).await,
            C::Subscribe { mailbox } => self.subscribe(&mailbox, true).await,
            C::Unsubscribe { mailbox } => self.subscribe(&mailbox, false).await,
            C::List { reference, mailbox_wildcard } => {
                self.list_with(&list::List::basic(&reference, &mailbox_wildcard, false)).await
            }
            C::Lsub { reference, mailbox_wildcard } => {
                self.list_with(&list::List::basic(&reference, &mailbox_wildcard, true)).await
            }
            C::Status { mailbox, item_names } => {
                let items: Vec<&str> = item_names.iter().filter_map(folders::status_item_name).collect();
                self.status(&access::mailbox_name(&mailbox), &items).await
            }
            C::Append { mailbox, flags, date, message } => self.append(&mailbox, &flags, date.as_ref(), message).await,
            C::Idle => return self.idle(conn).await,
            other => self.selected_command(conn, other).await,
        };
        Ok((reply, Next::Continue))
    }

    /// Commands of the selected state.
    async fn selected_command(&mut self, conn: &mut Conn, body: CommandBody<'_>) -> Reply {
        use CommandBody as C;
        if self.selected().is_none() {
            return Reply::bad("No mailbox selected");
        }
        // Roles change while sessions are open: the rights are read again
        // for each command, and a withdrawn access closes the mailbox.
        if let Err(reply) = self.selected_still_allowed().await {
            return reply;
        }
        match body {
            C::Check => Reply::ok("CHECK completed"),
            C::Close => self.close(true).await,
            C::Unselect => self.close(false).await,
            C::Expunge => self.expunge(None).await,
            C::ExpungeUid { sequence_set } => self.expunge(Some(&sequence_set)).await,
            C::Fetch { sequence_set, macro_or_item_names, uid, modifiers } => {
                self.fetch(conn, &sequence_set, macro_or_item_names, uid, &modifiers).await
            }
            C::Store { sequence_set, kind, response, flags, uid, modifiers } => {
                self.store(&sequence_set, kind, response, &flags, uid, &modifiers).await
            }
            C::Search { charset, criteria, uid } => self.search(charset.as_ref(), criteria.as_ref(), uid).await,
            C::Sort { sort_criteria, charset, search_criteria, uid } => {
                self.sort(sort_criteria.as_ref(), &charset, search_criteria.as_ref(), uid).await
            }
            C::Thread { algorithm, charset, search_criteria, uid } => {
                self.thread(&algorithm, &charset, search_criteria.as_ref(), uid).await
            }
            C::Copy { sequence_set, mailbox, uid } => self.copy(&sequence_set, &mailbox, uid, false).await,
            C::Move { sequence_set, mailbox, uid } => self.copy(&sequence_set, &mailbox, uid, true).await,
            _ => Reply::bad("Command not supported"),
        }
    }

    /// RFC 5161.
    fn enable(&mut self, capabilities: &[CapabilityEnable<'_>]) -> Reply {
        let mut enabled = Vec::new();
        for capability in capabilities {
            match capability {
                CapabilityEnable::CondStore => {
                    self.condstore = true;
                    enabled.push("CONDSTORE");
                }
                other if other.to_string().eq_ignore_ascii_case("IMAP4rev2") => {
                    self.rev2 = true;
                    enabled.push("IMAP4rev2");
                }
                _ => {}
            }
        }
        self.out.extend(format!("* ENABLED {}\r\n", enabled.join(" ")).trim_end().as_bytes());
        self.out.extend_from_slice(b"\r\n");
        Reply::ok("ENABLE completed")
    }

    /// The audit trail of IMAP: who did what on which mailbox and folder,
    /// and the result; never message content.
    async fn audit(&mut self, action: &str, target: &access::Target, reply: &Reply) {
        self.audited = true;
        self.record(&format!("imap.{action}"), &target.address, &target.folder, reply).await;
    }

    async fn record(&self, action: &str, mailbox: &str, folder: &str, reply: &Reply) {
        let user = self.principal.as_ref().map(|p| p.address().to_string()).unwrap_or_else(|| "anonymous".into());
        let result = match &reply.code {
            Some(code) => format!("{} [{code}] {}", reply.status, reply.text),
            None => format!("{} {}", reply.status, reply.text),
        };
        let detail = format!("folder={folder} peer={}", self.peer);
        self.server.store.audit.record(NewAuditEntry::now(user, action, mailbox, result, detail)).await;
    }
}
