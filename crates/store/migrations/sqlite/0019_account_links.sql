-- Accounts of a second identity provider (the pharmacy software vendor's
-- own account system) linked to a person after a Pro Santé Connect or CPS
-- login: one account per person and provider, one person per account.
CREATE TABLE account_links (
    issuer      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    national_id TEXT    NOT NULL,
    first_name  TEXT    NOT NULL,
    last_name   TEXT    NOT NULL,
    linked_at   INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) WITHOUT ROWID;
CREATE UNIQUE INDEX account_links_by_person ON account_links (issuer, national_id);

-- Sessions opened by such an account: the method's CHECK widened (SQLite
-- rebuilds the table to change a constraint).
CREATE TABLE sessions_new (
    id           TEXT    PRIMARY KEY,
    national_id  TEXT    NOT NULL,
    first_name   TEXT    NOT NULL,
    last_name    TEXT    NOT NULL,
    method       TEXT    NOT NULL CHECK (method IN ('psc', 'cps', 'account')),
    finess       TEXT    NOT NULL DEFAULT '',
    refresh_hash TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
INSERT INTO sessions_new (id, national_id, first_name, last_name, method, finess, refresh_hash, created_at,
                          expires_at, revoked_at)
    SELECT id, national_id, first_name, last_name, method, finess, refresh_hash, created_at, expires_at, revoked_at
    FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_national_id ON sessions (national_id);
