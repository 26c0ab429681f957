//! The permission matrix of an organisational mailbox, asserted cell by cell.

use mss_core::{Action, Role, may, permits};

#[test]
fn permission_matrix() {
    use Action::*;
    // (action, utilisateur, gestionnaire, administrateur)
    let matrix = [
        (ReadMail, true, true, true),
        (SendMail, true, true, true),
        (ManageFolders, false, true, true),
        (DeleteMail, false, true, true),
        (ManageMembers, false, false, true),
        (ManageMailbox, false, false, true),
    ];
    assert_eq!(matrix.len(), Action::ALL.len(), "every action is in the table");
    for (action, utilisateur, gestionnaire, administrateur) in matrix {
        for (role, expected) in [
            (Role::Utilisateur, utilisateur),
            (Role::Gestionnaire, gestionnaire),
            (Role::Administrateur, administrateur),
        ] {
            assert_eq!(permits(role, action), expected, "{role} {action}");
            assert_eq!(may(Some(role), action), expected, "{role} {action}");
        }
        assert!(!may(None, action), "no role, {action}");
    }
}

#[test]
fn titulaire_is_administrateur_and_can_do_everything() {
    let titulaire: Role = "Administrateur".parse().unwrap();
    assert!(Action::ALL.into_iter().all(|action| permits(titulaire, action)));
}
