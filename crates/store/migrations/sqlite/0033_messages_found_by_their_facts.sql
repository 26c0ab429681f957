-- A message's body is found through its facts: the index of every
-- message by body hash (`messages_blob_hash`) took an entry at a random
-- place of a large index on each delivery, a page the commit wrote and the
-- checkpointer wrote again, apart from the others (a third of a
-- checkpoint's scattered pages were the three indexes keyed by a hash).
-- The messages of body H are those whose facts_id names H's facts (indexed
-- by `messages_facts_id`, in facts order), and those without facts whose
-- hash is H (a partial index, empty once every body has facts): a message
-- names no facts but its own body's (facts_id is set from its hash only).
DROP INDEX messages_blob_hash;
CREATE INDEX messages_blob_hash_without_facts ON messages (blob_hash) WHERE facts_id IS NULL;

DROP TRIGGER message_facts_link;
CREATE TRIGGER message_facts_link AFTER INSERT ON message_facts
BEGIN
    UPDATE messages SET facts_id = new.id WHERE facts_id IS NULL AND blob_hash = new.blob_hash;
END;

DROP TRIGGER message_facts_unlink;
CREATE TRIGGER message_facts_unlink AFTER DELETE ON message_facts
BEGIN
    UPDATE messages SET facts_id = NULL WHERE facts_id = old.id;
END;

DROP TRIGGER message_facts_patient;
CREATE TRIGGER message_facts_patient AFTER INSERT ON message_facts
WHEN new.patient_ins IS NOT NULL
BEGIN
    UPDATE folder_messages SET patient_ins = new.patient_ins
    WHERE message_id IN (SELECT id FROM messages WHERE facts_id = new.id
                         UNION ALL SELECT id FROM messages WHERE facts_id IS NULL AND blob_hash = new.blob_hash);
END;

DROP TRIGGER message_facts_patient_changed;
CREATE TRIGGER message_facts_patient_changed AFTER UPDATE OF patient_ins ON message_facts
BEGIN
    UPDATE folder_messages SET patient_ins = new.patient_ins
    WHERE message_id IN (SELECT id FROM messages WHERE facts_id = new.id
                         UNION ALL SELECT id FROM messages WHERE facts_id IS NULL AND blob_hash = new.blob_hash);
END;

DROP TRIGGER message_facts_sort_keys;
CREATE TRIGGER message_facts_sort_keys AFTER INSERT ON message_facts
BEGIN
    UPDATE folder_messages SET sender_key = new.sender_key, subject_key = new.subject_key,
        imap_subject_key = new.imap_subject_key, imap_from_key = new.imap_from_key,
        imap_date_key = CASE WHEN new.header THEN
            coalesce(new.sent_at, (SELECT received_at FROM messages WHERE id = folder_messages.message_id)) END
    WHERE message_id IN (SELECT id FROM messages WHERE facts_id = new.id
                         UNION ALL SELECT id FROM messages WHERE facts_id IS NULL AND blob_hash = new.blob_hash);
END;

DROP TRIGGER message_facts_sort_keys_changed;
CREATE TRIGGER message_facts_sort_keys_changed
AFTER UPDATE OF sender_key, subject_key, imap_subject_key, imap_from_key, sent_at, header ON message_facts
BEGIN
    UPDATE folder_messages SET sender_key = new.sender_key, subject_key = new.subject_key,
        imap_subject_key = new.imap_subject_key, imap_from_key = new.imap_from_key,
        imap_date_key = CASE WHEN new.header THEN
            coalesce(new.sent_at, (SELECT received_at FROM messages WHERE id = folder_messages.message_id)) END
    WHERE message_id IN (SELECT id FROM messages WHERE facts_id = new.id
                         UNION ALL SELECT id FROM messages WHERE facts_id IS NULL AND blob_hash = new.blob_hash);
END;

DROP TRIGGER delivery_status_gone_with_messages;
CREATE TRIGGER delivery_status_gone_with_messages AFTER DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM messages WHERE facts_id = (SELECT id FROM message_facts WHERE blob_hash = old.blob_hash))
 AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id IS NULL AND blob_hash = old.blob_hash)
 AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE blob_hash = old.blob_hash)
BEGIN
    DELETE FROM delivery_status WHERE blob_hash = old.blob_hash;
END;

DROP TRIGGER delivery_status_gone_with_queue;
CREATE TRIGGER delivery_status_gone_with_queue AFTER DELETE ON queue_messages
WHEN NOT EXISTS (SELECT 1 FROM messages WHERE facts_id = (SELECT id FROM message_facts WHERE blob_hash = old.blob_hash))
 AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id IS NULL AND blob_hash = old.blob_hash)
 AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE blob_hash = old.blob_hash)
BEGIN
    DELETE FROM delivery_status WHERE blob_hash = old.blob_hash;
END;
