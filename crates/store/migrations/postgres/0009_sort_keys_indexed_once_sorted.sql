-- A folder's sort keys are indexed once the folder is sorted (see the
-- embedded store's 0032_sort_keys_indexed_once_sorted.sql). A new row takes
-- its folder's mark in the trigger that copies its keys: every insert into
-- folder_messages comes after its folder's row is locked (UIDNEXT), so the
-- mark it reads is the one committed last, and the marking's first step
-- (`sort_index` 0 -> 1, on that row) waits for the deliveries under way.
ALTER TABLE folders ADD COLUMN sort_index INTEGER NOT NULL DEFAULT 0 CHECK (sort_index IN (0, 1, 2));
ALTER TABLE folder_messages ADD COLUMN sorted BOOLEAN NOT NULL DEFAULT FALSE;

DROP INDEX folder_messages_sender_key;
DROP INDEX folder_messages_subject_key;
DROP INDEX folder_messages_imap_subject_key;
DROP INDEX folder_messages_imap_from_key;
DROP INDEX folder_messages_imap_date_key;
CREATE INDEX folder_messages_sender_key ON folder_messages (folder_id, sender_key, uid DESC) WHERE sorted = TRUE;
CREATE INDEX folder_messages_subject_key ON folder_messages (folder_id, subject_key, uid DESC) WHERE sorted = TRUE;
CREATE INDEX folder_messages_imap_subject_key ON folder_messages (folder_id, imap_subject_key, uid) WHERE sorted = TRUE;
CREATE INDEX folder_messages_imap_from_key ON folder_messages (folder_id, imap_from_key, uid) WHERE sorted = TRUE;
CREATE INDEX folder_messages_imap_date_key ON folder_messages (folder_id, imap_date_key, uid) WHERE sorted = TRUE;

CREATE OR REPLACE FUNCTION folder_messages_facts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    f RECORD;
BEGIN
    SELECT mf.sender_key, mf.subject_key, mf.imap_subject_key, mf.imap_from_key, mf.patient_ins,
           CASE WHEN mf.header THEN coalesce(mf.sent_at, m.received_at) END AS date_key INTO f
    FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash WHERE m.id = NEW.message_id;
    IF FOUND THEN
        NEW.sender_key := f.sender_key;
        NEW.subject_key := f.subject_key;
        NEW.imap_subject_key := f.imap_subject_key;
        NEW.imap_from_key := f.imap_from_key;
        NEW.imap_date_key := f.date_key;
        NEW.patient_ins := coalesce(f.patient_ins, NEW.patient_ins);
    END IF;
    NEW.sorted := coalesce((SELECT sort_index > 0 FROM folders WHERE id = NEW.folder_id), FALSE);
    RETURN NEW;
END $$;
