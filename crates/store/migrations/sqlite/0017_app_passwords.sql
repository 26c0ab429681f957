-- Application passwords (mss_store::app_passwords): a hash of the secret,
-- for one mailbox, made by one person whose rights it carries.
CREATE TABLE app_passwords (
    id           INTEGER PRIMARY KEY,
    mailbox_id   INTEGER NOT NULL REFERENCES mailboxes (id),
    national_id  TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    scope        TEXT    NOT NULL CHECK (scope IN ('imap', 'submission', 'both')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX app_passwords_by_mailbox ON app_passwords (mailbox_id, national_id);
CREATE INDEX app_passwords_by_person ON app_passwords (national_id) WHERE revoked_at IS NULL;
