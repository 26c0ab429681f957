-- Identity and mailbox life cycle: why a mailbox is in its state (an ANS
-- refusal, a suspension), when its validation is due, the CGU acceptances
-- recorded at creation, and the login sessions (only a hash of each
-- refresh token is kept).
ALTER TABLE mailboxes ADD COLUMN state_reason TEXT;
ALTER TABLE mailboxes ADD COLUMN validation_due_at INTEGER;
CREATE INDEX mailboxes_validation ON mailboxes (state, validation_due_at);

CREATE TABLE cgu_acceptances (
    id          INTEGER PRIMARY KEY,
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes (id),
    national_id TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    accepted_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    national_id  TEXT    NOT NULL,
    first_name   TEXT    NOT NULL,
    last_name    TEXT    NOT NULL,
    method       TEXT    NOT NULL CHECK (method IN ('psc', 'cps')),
    finess       TEXT    NOT NULL DEFAULT '',
    refresh_hash TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX sessions_national_id ON sessions (national_id);
