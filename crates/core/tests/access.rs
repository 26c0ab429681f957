//! The access rule, asserted for every kind, state and relation, and the
//! order between relations that must hold whatever the matrix becomes.

use mss_core::{MailboxKind, MailboxState, Relation, Right, Rights, Role, rights};

const EVERYONE: [Relation; 4] = [
    Relation::Holder,
    Relation::Member(Role::Administrateur),
    Relation::Member(Role::Gestionnaire),
    Relation::Member(Role::Utilisateur),
];

fn set(list: &[Right]) -> Rights {
    list.iter().fold(Rights::NONE, |rights, right| rights.with(*right))
}

/// What the rule must answer, written out.
fn expected(relation: Relation, kind: MailboxKind, state: MailboxState) -> Rights {
    use Right::*;
    if state != MailboxState::Active {
        return Rights::NONE;
    }
    match (relation, kind) {
        (Relation::Holder, _) => Rights::ALL,
        (Relation::Member(_), MailboxKind::Personal | MailboxKind::Applicative | MailboxKind::Cabinet) => Rights::NONE,
        (Relation::Member(Role::Administrateur), _) => {
            set(&[Read, MarkSeen, SetFlags, Write, SendAs, CreateFolders, Delete, Administer])
        }
        (Relation::Member(Role::Gestionnaire), _) => {
            set(&[Read, MarkSeen, SetFlags, Write, SendAs, CreateFolders, Delete])
        }
        (Relation::Member(Role::Utilisateur), _) => set(&[Read, MarkSeen, SendAs]),
    }
}

#[test]
fn every_kind_state_and_relation() {
    let mut cells = 0;
    for kind in MailboxKind::ALL {
        for state in MailboxState::ALL {
            for relation in EVERYONE {
                assert_eq!(
                    rights(relation, kind, state),
                    expected(relation, kind, state),
                    "{relation:?} {kind} {state}"
                );
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 64);
}

#[test]
fn a_mailbox_that_receives_no_mail_grants_nothing() {
    for state in [MailboxState::Pending, MailboxState::Suspended, MailboxState::Deleted] {
        for kind in MailboxKind::ALL {
            for relation in EVERYONE {
                assert!(rights(relation, kind, state).is_empty(), "{relation:?} {kind} {state}");
            }
        }
    }
}

#[test]
fn each_role_has_at_most_what_the_role_above_has() {
    let includes = |big: Rights, small: Rights| Right::ALL.iter().all(|r| !small.has(*r) || big.has(*r));
    for kind in MailboxKind::ALL {
        for state in MailboxState::ALL {
            let of = |relation| rights(relation, kind, state);
            for pair in EVERYONE.windows(2) {
                assert!(includes(of(pair[0]), of(pair[1])), "{:?} over {:?}, {kind} {state}", pair[0], pair[1]);
            }
        }
    }
}

#[test]
fn sets_add_and_remove_rights() {
    let reader = Rights::NONE.with(Right::Read);
    assert!(reader.has(Right::Read) && !reader.has(Right::Delete));
    assert_eq!(reader.without(Right::Read), Rights::NONE);
    assert!(Right::ALL.iter().all(|r| Rights::ALL.has(*r)));
    assert_eq!(Relation::Member(Role::Utilisateur).role(), Some(Role::Utilisateur));
    assert_eq!(Relation::Holder.role(), None);
}

#[path = "support/access_matrix.rs"]
mod access_matrix;

/// The matrix the front ends' tests iterate has every cell once: the holder
/// of each personal mailbox, each role and no relation on every kind, in
/// every state; no relation grants nothing, the holder everything while
/// the mailbox receives mail.
#[test]
fn the_front_ends_matrix_has_every_cell_once() {
    let cases = access_matrix::cases();
    let names: std::collections::HashSet<String> = cases.iter().map(|c| c.local_part()).collect();
    assert_eq!((cases.len(), names.len()), (68, 68), "4 kinds × 4 states × (3 roles + none) + 4 holders");
    assert!(cases.contains(&access_matrix::OWN));
    assert_eq!(access_matrix::OWN.rights(), Rights::ALL);
    for case in &cases {
        let expected = match case.relation {
            Some(relation) => rights(relation, case.kind, case.state),
            None => Rights::NONE,
        };
        assert_eq!(case.rights(), expected, "{}", case.local_part());
        assert_eq!(case.held(), case.relation == Some(Relation::Holder));
        assert!(!case.held() || case.kind == MailboxKind::Personal, "a person holds personal mailboxes only");
    }
}
