-- What SORT, the header keys of SEARCH and the webmail's sorted pages read
-- without decoding the facts (issue 14).
--
-- In message_facts: whether the message's header parsed (else its columns
-- say nothing of what its bytes say, and readers go to the bytes), and the
-- texts SUBJECT, FROM, TO, CC and BCC look in, lowercased, each field's
-- occurrences joined by a line feed (NULL when not known). Written by facts
-- of version 4; rows of older versions keep the defaults until the backfill
-- (`mss serve` at start, `mss messages index`) writes them again.
ALTER TABLE message_facts ADD COLUMN header INTEGER NOT NULL DEFAULT 0 CHECK (header IN (0, 1));
ALTER TABLE message_facts ADD COLUMN search_subject TEXT;
ALTER TABLE message_facts ADD COLUMN search_from TEXT;
ALTER TABLE message_facts ADD COLUMN search_to TEXT;
ALTER TABLE message_facts ADD COLUMN search_cc TEXT;
ALTER TABLE message_facts ADD COLUMN search_bcc TEXT;
-- The messages of a patient conversation (issue 15): did this mailbox write
-- to this patient?
CREATE INDEX message_facts_patient_ins ON message_facts (patient_ins) WHERE patient_ins IS NOT NULL;

-- Each message names the row of its facts (an integer: readers join by it
-- instead of comparing blob hashes). Triggers keep the link: facts written
-- name themselves on every message of their blob, and a message stored
-- when its blob already has facts takes them.
ALTER TABLE messages ADD COLUMN facts_id INTEGER;
UPDATE messages SET facts_id = (SELECT mf.id FROM message_facts mf WHERE mf.blob_hash = messages.blob_hash);
CREATE TRIGGER message_facts_link AFTER INSERT ON message_facts
BEGIN
    UPDATE messages SET facts_id = new.id WHERE blob_hash = new.blob_hash;
END;
CREATE TRIGGER messages_facts_link AFTER INSERT ON messages
WHEN EXISTS (SELECT 1 FROM message_facts WHERE blob_hash = new.blob_hash)
BEGIN
    UPDATE messages SET facts_id = (SELECT id FROM message_facts WHERE blob_hash = new.blob_hash) WHERE id = new.id;
END;
CREATE TRIGGER message_facts_unlink AFTER DELETE ON message_facts
BEGIN
    UPDATE messages SET facts_id = NULL WHERE blob_hash = old.blob_hash;
END;

-- The webmail's sort keys (issue 14), copied from the facts onto each row of
-- folder_messages so that an index per folder serves a page sorted by
-- sender or subject at any folder size ('' without facts: such messages
-- sort first, as an empty key). Triggers keep the copies: a row linked to
-- a message whose facts exist takes their keys, and facts written or
-- rewritten give theirs to every row of their blob.
ALTER TABLE folder_messages ADD COLUMN sender_key TEXT NOT NULL DEFAULT '';
ALTER TABLE folder_messages ADD COLUMN subject_key TEXT NOT NULL DEFAULT '';
UPDATE folder_messages SET
    sender_key = coalesce((SELECT mf.sender_key FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash
                           WHERE m.id = folder_messages.message_id), ''),
    subject_key = coalesce((SELECT mf.subject_key FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash
                            WHERE m.id = folder_messages.message_id), '');
-- In the order of the list (by key, newest first among equals).
CREATE INDEX folder_messages_sender_key ON folder_messages (folder_id, sender_key, uid DESC);
CREATE INDEX folder_messages_subject_key ON folder_messages (folder_id, subject_key, uid DESC);

CREATE TRIGGER folder_messages_sort_keys AFTER INSERT ON folder_messages
WHEN EXISTS (SELECT 1 FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash WHERE m.id = new.message_id)
BEGIN
    UPDATE folder_messages SET
        sender_key = (SELECT mf.sender_key FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash
                      WHERE m.id = new.message_id),
        subject_key = (SELECT mf.subject_key FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash
                       WHERE m.id = new.message_id)
    WHERE folder_id = new.folder_id AND uid = new.uid;
END;
CREATE TRIGGER message_facts_sort_keys AFTER INSERT ON message_facts
BEGIN
    UPDATE folder_messages SET sender_key = new.sender_key, subject_key = new.subject_key
    WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = new.blob_hash);
END;
CREATE TRIGGER message_facts_sort_keys_changed AFTER UPDATE OF sender_key, subject_key ON message_facts
BEGIN
    UPDATE folder_messages SET sender_key = new.sender_key, subject_key = new.subject_key
    WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = new.blob_hash);
END;
