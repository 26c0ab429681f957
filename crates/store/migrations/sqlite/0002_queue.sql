-- The outbound queue: one row per message to send, one per recipient with its
-- own status, so that a partial success is never retried for everyone.

CREATE TABLE queue_messages (
    id          INTEGER PRIMARY KEY,
    blob_hash   TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    -- Empty for the null reverse-path (a DSN is never answered by a DSN).
    sender      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE queue_recipients (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES queue_messages (id) ON DELETE CASCADE,
    recipient       TEXT    NOT NULL,
    domain          TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_reply      TEXT    NOT NULL DEFAULT '',
    updated_at      INTEGER NOT NULL
);
CREATE INDEX queue_recipients_due ON queue_recipients (status, next_attempt_at);
CREATE INDEX queue_recipients_message ON queue_recipients (message_id);
