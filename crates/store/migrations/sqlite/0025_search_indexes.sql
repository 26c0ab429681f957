-- Searches that read indexes, not rows (see `src/sqlite/listing.rs` and
-- `header_candidates` in `src/sqlite/facts.rs`).
--
-- The messages whose facts are these (an entry holds the message's id): a
-- search of the webmail goes from the full-text matches (rowids of
-- message_facts) to the messages and their folder rows through indexes
-- alone.
CREATE INDEX messages_facts_id ON messages (facts_id);
-- The texts IMAP SEARCH's header keys look in, beside what says whether
-- they answer: a SEARCH SUBJECT of a folder of 100,000 messages reads these
-- narrow entries instead of each message's facts row (its encoded facts,
-- its preview...), ten times the bytes.
CREATE INDEX message_facts_search ON message_facts
    (id, version, header, search_subject, search_from, search_to, search_cc, search_bcc);
