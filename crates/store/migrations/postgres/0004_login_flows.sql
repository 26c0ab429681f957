-- Logins half done (OpenID Connect flows, CPS challenges), so that their
-- second half may land on any node (see `src/login_flows.rs`).
CREATE TABLE login_flows (
    kind       TEXT   NOT NULL,
    key        TEXT   NOT NULL,
    secret     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX login_flows_by_expiry ON login_flows (kind, expires_at);
