-- The directory publication outbox: what the Annuaire Santé must learn
-- about our mailboxes (publish, update, withdraw), in order per mailbox,
-- kept until the ANS acknowledges it (or refuses it for good: failed, with
-- the reason). The FHIR payload is rebuilt from the mailbox row when sent:
-- the address, type and national id / FINESS never change, and the rest
-- (name, service, liste rouge) is sent as it is at that moment.
CREATE TABLE directory_outbox (
    id              INTEGER PRIMARY KEY,
    mailbox_id      INTEGER NOT NULL REFERENCES mailboxes (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('publish', 'update', 'withdraw')),
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'acknowledged', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    acknowledged_at INTEGER
);
CREATE INDEX directory_outbox_due ON directory_outbox (status, next_attempt_at);
CREATE INDEX directory_outbox_mailbox ON directory_outbox (mailbox_id, status, id);
