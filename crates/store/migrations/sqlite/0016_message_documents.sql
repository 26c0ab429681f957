-- The health documents each message's facts name (facts version 6), by
-- their id and the id of the one they replace: the webmail finds the same
-- document received twice, and a document replaced by a later one.
CREATE TABLE message_documents (
    facts_id    INTEGER NOT NULL,
    document_id TEXT    NOT NULL,
    replaces    TEXT,
    PRIMARY KEY (facts_id, document_id)
) WITHOUT ROWID;
CREATE INDEX message_documents_by_id ON message_documents (document_id);
CREATE INDEX message_documents_by_replaced ON message_documents (replaces) WHERE replaces IS NOT NULL;
CREATE TRIGGER message_facts_documents_gone AFTER DELETE ON message_facts
BEGIN
    DELETE FROM message_documents WHERE facts_id = old.id;
END;
