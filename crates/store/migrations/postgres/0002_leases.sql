-- Leases of the work that runs on one node at a time (the daily
-- housekeeping, the liste blanche refresh): who holds each, until when
-- (see `src/leases.rs`).
CREATE TABLE leases (
    name       TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
