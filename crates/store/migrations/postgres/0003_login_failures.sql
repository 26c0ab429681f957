-- Failed logins per key (client address, account), shared by every node
-- of the store (see `src/login_failures.rs`); `last_failure` in ms.
CREATE TABLE login_failures (
    key          TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure BIGINT  NOT NULL
);
CREATE INDEX login_failures_by_time ON login_failures (last_failure);
