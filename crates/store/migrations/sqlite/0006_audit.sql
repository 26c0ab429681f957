-- The audit trail: one row per authentication and per action, never message
-- content. Each row's hash covers the previous row's hash and its own
-- fields (BLAKE3), so an altered, inserted or removed row breaks the chain
-- from there on. Purging old rows keeps the hash of the last purged row as
-- the anchor the remaining chain starts from (counters 'audit_anchor_id'
-- and the anchors table).
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    result TEXT    NOT NULL,
    detail TEXT    NOT NULL DEFAULT '',
    hash   TEXT    NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target, id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_anchor (
    single  INTEGER PRIMARY KEY CHECK (single = 1),
    last_id INTEGER NOT NULL,
    hash    TEXT    NOT NULL
);
