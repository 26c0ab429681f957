-- Full-text search and the folder list read from the index (issue 14).
--
-- message_facts is rebuilt with an integer key, which names its row in the
-- full-text index, and two sort keys (sender, subject) folded by the writer;
-- rows of version 1 keep empty keys and no text until `mss messages index`
-- writes them again (version 2). Indexes serve the sorts of the list.
CREATE TABLE message_facts_2 (
    id           INTEGER PRIMARY KEY,
    blob_hash    TEXT    NOT NULL UNIQUE,
    version      INTEGER NOT NULL,
    encoded      BLOB    NOT NULL,
    sent_at      INTEGER,
    subject      TEXT,
    from_name    TEXT,
    from_address TEXT,
    to_addresses TEXT    NOT NULL DEFAULT '',
    cc_addresses TEXT    NOT NULL DEFAULT '',
    message_id   TEXT,
    in_reply_to  TEXT,
    patient_ins  TEXT,
    xdm          INTEGER NOT NULL DEFAULT 0 CHECK (xdm IN (0, 1)),
    attachments  INTEGER NOT NULL DEFAULT 0,
    sender_key   TEXT    NOT NULL DEFAULT '',
    subject_key  TEXT    NOT NULL DEFAULT ''
);
INSERT INTO message_facts_2 (blob_hash, version, encoded, sent_at, subject, from_name, from_address, to_addresses,
                             cc_addresses, message_id, in_reply_to, patient_ins, xdm, attachments)
SELECT blob_hash, version, encoded, sent_at, subject, from_name, from_address, to_addresses,
       cc_addresses, message_id, in_reply_to, patient_ins, xdm, attachments
FROM message_facts;
DROP TABLE message_facts;
ALTER TABLE message_facts_2 RENAME TO message_facts;
CREATE INDEX message_facts_sent_at ON message_facts (sent_at);
CREATE INDEX message_facts_sender_key ON message_facts (sender_key);
CREATE INDEX message_facts_subject_key ON message_facts (subject_key);

-- The searchable text of each row of message_facts (rowid = its id), not
-- kept (contentless): words are found, never read back. `remove_diacritics 2`
-- folds accents and case, so « Ordonnance » matches « ordonnance » and
-- « pharmacie » « Pharmacie ». The text goes with its facts.
CREATE VIRTUAL TABLE message_text USING fts5 (
    text,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER message_facts_text_gone AFTER DELETE ON message_facts
BEGIN
    DELETE FROM message_text WHERE rowid = old.id;
END;
