//! ACL (RFC 4314) as far as roles go: MYRIGHTS, GETACL and LISTRIGHTS answer
//! truthfully from the roles held on the mailbox; SETACL and DELETEACL are
//! refused, since roles are granted through the portal and the API, where
//! the rules of delegation are enforced. imap-codec has no ACL grammar, so
//! these few commands are parsed here.

use mss_core::Role;

use super::access::Rights;
use super::args::Tokens;
use super::{Reply, Session, unavailable};
use crate::wire;

#[derive(Debug, PartialEq, Eq)]
pub enum AclCommand {
    MyRights(String),
    GetAcl(String),
    ListRights(String, String),
    SetAcl(String),
    DeleteAcl(String),
}

/// `None` when `message` is not an ACL command; otherwise the tag and the
/// command, or the tag and why it is malformed.
pub fn parse(message: &[u8]) -> Option<Result<(String, AclCommand), (String, String)>> {
    let mut words = Tokens::new(message);
    let tag = String::from_utf8(words.atom()?.to_vec()).ok()?;
    let name = words.atom()?.to_ascii_uppercase();
    let expected = match name.as_slice() {
        b"MYRIGHTS" | b"GETACL" => 1,
        b"LISTRIGHTS" | b"DELETEACL" => 2,
        b"SETACL" => 3,
        _ => return None,
    };
    let mut args = Vec::new();
    for _ in 0..expected {
        match words.astring() {
            Some(arg) => args.push(String::from_utf8_lossy(&arg).into_owned()),
            None => return Some(Err((tag, format!("{} needs {expected} arguments", String::from_utf8_lossy(&name))))),
        }
    }
    if !words.rest.trim_ascii().is_empty() {
        return Some(Err((tag, "Unexpected data after the arguments".into())));
    }
    let mailbox = args.remove(0);
    let command = match name.as_slice() {
        b"MYRIGHTS" => AclCommand::MyRights(mailbox),
        b"GETACL" => AclCommand::GetAcl(mailbox),
        b"LISTRIGHTS" => AclCommand::ListRights(mailbox, args.remove(0)),
        b"DELETEACL" => AclCommand::DeleteAcl(mailbox),
        _ => AclCommand::SetAcl(mailbox),
    };
    Some(Ok((tag, command)))
}

impl Session<'_> {
    pub(super) async fn acl(&mut self, command: AclCommand) -> Reply {
        if self.principal.is_none() {
            return Reply::no("Authenticate first");
        }
        match command {
            AclCommand::MyRights(name) => match self.resolve(&name).await {
                Ok(target) => {
                    self.out.extend_from_slice(b"* MYRIGHTS ");
                    wire::astring(&mut self.out, &target.name);
                    self.out.extend(format!(" {}\r\n", target.rights.as_str()).into_bytes());
                    Reply::ok("MYRIGHTS completed")
                }
                Err(reply) => reply,
            },
            AclCommand::GetAcl(name) => self.get_acl(&name).await,
            AclCommand::ListRights(name, identifier) => match self.resolve_with(&name, 'a').await {
                Ok(target) => {
                    self.out.extend_from_slice(b"* LISTRIGHTS ");
                    wire::astring(&mut self.out, &target.name);
                    self.out.push(b' ');
                    wire::astring(&mut self.out, &identifier);
                    // The rights always granted together, then the role steps.
                    self.out.extend_from_slice(b" \"\" lr s p wikxte a\r\n");
                    Reply::ok("LISTRIGHTS completed")
                }
                Err(reply) => reply,
            },
            AclCommand::SetAcl(_) | AclCommand::DeleteAcl(_) => {
                Reply::no("Roles are managed in the portal or the API, not over IMAP").with_code("NOPERM")
            }
        }
    }

    /// GETACL: the owner of a personal mailbox, or every role holder of an
    /// organisational one (by national id), with the rights of their role.
    async fn get_acl(&mut self, name: &str) -> Reply {
        let target = match self.resolve_with(name, 'a').await {
            Ok(target) => target,
            Err(reply) => return reply,
        };
        let Some(principal) = &self.principal else {
            return Reply::no("Authenticate first");
        };
        let entries: Vec<(String, Rights)> = if target.mailbox == principal.mailbox.id {
            vec![(principal.address().to_string(), Rights::ALL)]
        } else {
            match self.server.store.meta.roles_on(target.mailbox).await {
                Ok(roles) => {
                    roles.into_iter().map(|(id, role): (_, Role)| (id.to_string(), Rights::of(role))).collect()
                }
                Err(e) => return unavailable(e),
            }
        };
        self.out.extend_from_slice(b"* ACL ");
        wire::astring(&mut self.out, &target.name);
        for (identifier, rights) in entries {
            self.out.push(b' ');
            wire::astring(&mut self.out, &identifier);
            self.out.extend(format!(" {}", rights.as_str()).into_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
        Reply::ok("GETACL completed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_commands_are_recognised_and_others_left_alone() {
        assert_eq!(parse(b"a1 MYRIGHTS INBOX\r\n"), Some(Ok(("a1".into(), AclCommand::MyRights("INBOX".into())))));
        assert_eq!(
            parse(b"a2 getacl \"Partage/x@y.test/INBOX\"\r\n"),
            Some(Ok(("a2".into(), AclCommand::GetAcl("Partage/x@y.test/INBOX".into()))))
        );
        assert_eq!(
            parse(b"a3 LISTRIGHTS {5}\r\nINBOX bob\r\n"),
            Some(Ok(("a3".into(), AclCommand::ListRights("INBOX".into(), "bob".into()))))
        );
        assert!(matches!(parse(b"a4 SETACL INBOX\r\n"), Some(Err(_))));
        assert!(matches!(parse(b"a5 MYRIGHTS INBOX extra\r\n"), Some(Err(_))));
        assert_eq!(parse(b"a6 SELECT INBOX\r\n"), None);
        assert_eq!(parse(b"\r\n"), None);
        assert!(matches!(parse(b"a7 GETACL {99}\r\nab"), Some(Err(_))));
    }
}
