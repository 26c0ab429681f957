-- The searchable text of a new message (delivery, APPEND) is indexed after
-- its acknowledgement, by the text indexer (sqlite/text_index.rs): its
-- FTS5 pages leave the commit a delivery waits for. Until its text is in
-- message_text, its facts are named here, in the transaction that wrote
-- them. A row left here (the process stopped first) is requeued at the
-- next backfill: its facts written again, with their text.
CREATE TABLE text_pending (facts_id INTEGER PRIMARY KEY);

DROP TRIGGER message_facts_text_gone;
CREATE TRIGGER message_facts_text_gone AFTER DELETE ON message_facts
BEGIN
    DELETE FROM message_text WHERE rowid = old.id;
    DELETE FROM text_pending WHERE facts_id = old.id;
END;
