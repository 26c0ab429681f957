-- Mailboxes (BAL), their folders, the message index, and the liste blanche.

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY,
    address       TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('PER', 'ORG', 'APP', 'CAB')),
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'suspended', 'deleted')),
    national_id   TEXT,
    finess        TEXT,
    first_name    TEXT,
    last_name     TEXT,
    display_name  TEXT    NOT NULL,
    service       TEXT,
    liste_rouge   INTEGER NOT NULL DEFAULT 0 CHECK (liste_rouge IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX mailboxes_national_id ON mailboxes (national_id);
CREATE INDEX mailboxes_finess ON mailboxes (finess);

CREATE TABLE folders (
    id             INTEGER PRIMARY KEY,
    mailbox_id     INTEGER NOT NULL REFERENCES mailboxes (id),
    name           TEXT    NOT NULL,
    uidvalidity    INTEGER NOT NULL,
    uidnext        INTEGER NOT NULL DEFAULT 1,
    highest_modseq INTEGER NOT NULL DEFAULT 1,
    UNIQUE (mailbox_id, name)
);

-- One row per stored message body; several folder rows may share it.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    blob_hash   TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX messages_blob_hash ON messages (blob_hash);

CREATE TABLE folder_messages (
    folder_id  INTEGER NOT NULL REFERENCES folders (id),
    uid        INTEGER NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages (id),
    flags      TEXT    NOT NULL DEFAULT '',
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;

CREATE TABLE whitelist_entries (
    id                  INTEGER PRIMARY KEY,
    domain              TEXT NOT NULL,
    operator_dn         TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    responsible_contact TEXT NOT NULL DEFAULT '',
    support_contact     TEXT NOT NULL DEFAULT '',
    updated_at          TEXT NOT NULL DEFAULT '',
    source              TEXT NOT NULL CHECK (source IN ('ans', 'manual'))
);
CREATE INDEX whitelist_entries_domain ON whitelist_entries (domain);

CREATE TABLE whitelist_imports (
    id           INTEGER PRIMARY KEY,
    generated_at TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    entry_count  INTEGER NOT NULL,
    imported_at  INTEGER NOT NULL
);
