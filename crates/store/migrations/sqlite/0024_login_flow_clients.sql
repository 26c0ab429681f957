-- Who started each login half done: the client's address group (an IPv4
-- address, or an IPv6 /64), so that one client cannot take every place of
-- a kind (see `src/login_flows.rs`), and the order the client started
-- them in (its oldest make room first). Flows kept before have neither.
ALTER TABLE login_flows ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE login_flows ADD COLUMN turn BIGINT NOT NULL DEFAULT 0;
CREATE INDEX login_flows_by_client ON login_flows (kind, client, turn);
