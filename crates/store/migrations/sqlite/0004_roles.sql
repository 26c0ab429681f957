-- Who may use a mailbox other than its own holder, and how: the roles the
-- titulaire of an organisational mailbox grants (Administrateur,
-- Gestionnaire, Utilisateur), by national id.
CREATE TABLE mailbox_roles (
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes (id),
    national_id TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('administrateur', 'gestionnaire', 'utilisateur')),
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, national_id)
);
CREATE INDEX mailbox_roles_national_id ON mailbox_roles (national_id);
