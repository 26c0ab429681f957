-- What IMAP SORT SUBJECT, SORT FROM and SORT DATE compare (RFC 5256),
-- computed when the facts are written (NULL when their columns do not say)
-- and copied onto every folder row, so that an index per folder serves a
-- whole-folder SORT as it serves the webmail's sorted pages (see 0012). The
-- date is the message's own (a parsed header's Date, else its arrival).
-- Facts written before this have none; the backfill of facts version 9
-- writes them.
ALTER TABLE message_facts ADD COLUMN imap_subject_key TEXT;
ALTER TABLE message_facts ADD COLUMN imap_from_key TEXT;
ALTER TABLE folder_messages ADD COLUMN imap_subject_key TEXT;
ALTER TABLE folder_messages ADD COLUMN imap_from_key TEXT;
ALTER TABLE folder_messages ADD COLUMN imap_date_key INTEGER;
CREATE INDEX folder_messages_imap_subject_key ON folder_messages (folder_id, imap_subject_key, uid);
CREATE INDEX folder_messages_imap_from_key ON folder_messages (folder_id, imap_from_key, uid);
CREATE INDEX folder_messages_imap_date_key ON folder_messages (folder_id, imap_date_key, uid);

DROP TRIGGER folder_messages_sort_keys;
DROP TRIGGER message_facts_sort_keys;
DROP TRIGGER message_facts_sort_keys_changed;
CREATE TRIGGER folder_messages_sort_keys AFTER INSERT ON folder_messages
WHEN EXISTS (SELECT 1 FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash WHERE m.id = new.message_id)
BEGIN
    UPDATE folder_messages SET
        (sender_key, subject_key, imap_subject_key, imap_from_key, imap_date_key) =
            (SELECT mf.sender_key, mf.subject_key, mf.imap_subject_key, mf.imap_from_key,
                    CASE WHEN mf.header THEN coalesce(mf.sent_at, m.received_at) END
             FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash WHERE m.id = new.message_id)
    WHERE folder_id = new.folder_id AND uid = new.uid;
END;
CREATE TRIGGER message_facts_sort_keys AFTER INSERT ON message_facts
BEGIN
    UPDATE folder_messages SET sender_key = new.sender_key, subject_key = new.subject_key,
        imap_subject_key = new.imap_subject_key, imap_from_key = new.imap_from_key,
        imap_date_key = CASE WHEN new.header THEN
            coalesce(new.sent_at, (SELECT received_at FROM messages WHERE id = folder_messages.message_id)) END
    WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = new.blob_hash);
END;
CREATE TRIGGER message_facts_sort_keys_changed
AFTER UPDATE OF sender_key, subject_key, imap_subject_key, imap_from_key, sent_at, header ON message_facts
BEGIN
    UPDATE folder_messages SET sender_key = new.sender_key, subject_key = new.subject_key,
        imap_subject_key = new.imap_subject_key, imap_from_key = new.imap_from_key,
        imap_date_key = CASE WHEN new.header THEN
            coalesce(new.sent_at, (SELECT received_at FROM messages WHERE id = folder_messages.message_id)) END
    WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = new.blob_hash);
END;
