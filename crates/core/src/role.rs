//! Who may do what on a mailbox.
//!
//! An organisational mailbox's *titulaire* is `Administrateur` by default and gives
//! each other user one of three roles. The permission matrix:
//!
//! | action | Utilisateur | Gestionnaire | Administrateur |
//! |---|---|---|---|
//! | read mail | yes | yes | yes |
//! | send mail | yes | yes | yes |
//! | manage folders | no | yes | yes |
//! | delete mail | no | yes | yes |
//! | manage members | no | Utilisateurs only | yes |
//! | manage the mailbox | no | no | yes |
//!
//! Rule: no role means no access ([`may`] with `None` is always false). The
//! protocol crates ask [`crate::access::rights`], which reads this table;
//! they do not keep their own copy of it.
//! Changes of membership are decided by [`may_delegate`]: a Gestionnaire adds,
//! removes and keeps Utilisateurs only; an Administrateur changes anyone
//! (the store refuses to remove the last Administrateur).

use std::fmt;
use std::str::FromStr;

/// A role that was not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("role: unknown role {0:?}, expected administrateur, gestionnaire or utilisateur")]
    Unknown(String),
}

/// A user's role on a mailbox (official French names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Administrateur,
    Gestionnaire,
    Utilisateur,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Administrateur, Role::Gestionnaire, Role::Utilisateur];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrateur => "administrateur",
            Role::Gestionnaire => "gestionnaire",
            Role::Utilisateur => "utilisateur",
        }
    }
}

impl FromStr for Role {
    type Err = RoleError;

    /// Accepts the names in any case (`Administrateur`, `GESTIONNAIRE`).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(input))
            .ok_or_else(|| RoleError::Unknown(crate::excerpt(input)))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a user does on a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadMail,
    SendMail,
    ManageFolders,
    DeleteMail,
    /// Give, change or remove other users' roles.
    ManageMembers,
    /// Change the mailbox's settings, suspend or delete it.
    ManageMailbox,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::ReadMail,
        Action::SendMail,
        Action::ManageFolders,
        Action::DeleteMail,
        Action::ManageMembers,
        Action::ManageMailbox,
    ];

    /// A stable name for audit traces, e.g. `read_mail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadMail => "read_mail",
            Action::SendMail => "send_mail",
            Action::ManageFolders => "manage_folders",
            Action::DeleteMail => "delete_mail",
            Action::ManageMembers => "manage_members",
            Action::ManageMailbox => "manage_mailbox",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `role` allows `action` (the matrix in the module documentation).
pub fn permits(role: Role, action: Action) -> bool {
    use Action::{DeleteMail, ManageFolders, ReadMail, SendMail};
    match role {
        Role::Administrateur => true,
        Role::Gestionnaire => matches!(action, ReadMail | SendMail | ManageFolders | DeleteMail),
        Role::Utilisateur => matches!(action, ReadMail | SendMail),
    }
}

/// Whether a user with `role` on a mailbox (`None`: no role there) may do `action`.
pub fn may(role: Option<Role>, action: Action) -> bool {
    role.is_some_and(|role| permits(role, action))
}

/// Whether someone with `actor`'s role may move a member from `current` to
/// `next` (`None`: not a member).
pub fn may_delegate(actor: Option<Role>, current: Option<Role>, next: Option<Role>) -> bool {
    match actor {
        Some(Role::Administrateur) => true,
        Some(Role::Gestionnaire) => [current, next].iter().all(|r| matches!(r, None | Some(Role::Utilisateur))),
        Some(Role::Utilisateur) | None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delegation_matrix() {
        use Role::{Administrateur as A, Gestionnaire as G, Utilisateur as U};
        let everyone = [None, Some(A), Some(G), Some(U)];
        for current in everyone {
            for next in everyone {
                assert!(may_delegate(Some(A), current, next), "an Administrateur changes anyone");
                assert!(!may_delegate(Some(U), current, next), "an Utilisateur changes no one");
                assert!(!may_delegate(None, current, next), "a stranger changes no one");
                let only_users = [current, next].iter().all(|r| matches!(r, None | Some(U)));
                assert_eq!(may_delegate(Some(G), current, next), only_users, "{current:?} -> {next:?}");
            }
        }
    }

    #[test]
    fn roles_parse_in_any_case() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.as_str().to_uppercase().parse::<Role>(), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        assert_eq!("Gestionnaire".parse(), Ok(Role::Gestionnaire));
        assert_eq!(
            "admin".parse::<Role>().unwrap_err().to_string(),
            "role: unknown role \"admin\", expected administrateur, gestionnaire or utilisateur"
        );
    }

    #[test]
    fn no_role_no_access() {
        for action in Action::ALL {
            assert!(!may(None, action), "{action}");
        }
    }
}
