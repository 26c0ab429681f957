-- What IMAP SORT SUBJECT and SORT FROM compare (RFC 5256), computed when the
-- facts are written (NULL when their columns do not say) and copied onto
-- every folder row, so that an index per folder serves a whole-folder SORT
-- (byte order, COLLATE "C", as SQLite and Rust compare). Facts written
-- before this have none; the backfill of facts version 9 writes them.
ALTER TABLE message_facts ADD COLUMN imap_subject_key TEXT COLLATE "C";
ALTER TABLE message_facts ADD COLUMN imap_from_key TEXT COLLATE "C";
ALTER TABLE folder_messages ADD COLUMN imap_subject_key TEXT COLLATE "C";
ALTER TABLE folder_messages ADD COLUMN imap_from_key TEXT COLLATE "C";
CREATE INDEX folder_messages_imap_subject_key ON folder_messages (folder_id, imap_subject_key, uid);
CREATE INDEX folder_messages_imap_from_key ON folder_messages (folder_id, imap_from_key, uid);

CREATE OR REPLACE FUNCTION message_facts_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET facts_id = NEW.id WHERE blob_hash = NEW.blob_hash;
    UPDATE folder_messages SET sender_key = NEW.sender_key, subject_key = NEW.subject_key,
                               imap_subject_key = NEW.imap_subject_key, imap_from_key = NEW.imap_from_key,
                               patient_ins = coalesce(NEW.patient_ins, patient_ins)
    WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = NEW.blob_hash);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION message_facts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sender_key IS DISTINCT FROM OLD.sender_key OR NEW.subject_key IS DISTINCT FROM OLD.subject_key
       OR NEW.imap_subject_key IS DISTINCT FROM OLD.imap_subject_key
       OR NEW.imap_from_key IS DISTINCT FROM OLD.imap_from_key
       OR NEW.patient_ins IS DISTINCT FROM OLD.patient_ins THEN
        UPDATE folder_messages SET sender_key = NEW.sender_key, subject_key = NEW.subject_key,
                                   imap_subject_key = NEW.imap_subject_key, imap_from_key = NEW.imap_from_key,
                                   patient_ins = NEW.patient_ins
        WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = NEW.blob_hash);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION folder_messages_facts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    f RECORD;
BEGIN
    SELECT mf.sender_key, mf.subject_key, mf.imap_subject_key, mf.imap_from_key, mf.patient_ins INTO f
    FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash WHERE m.id = NEW.message_id;
    IF FOUND THEN
        NEW.sender_key := f.sender_key;
        NEW.subject_key := f.subject_key;
        NEW.imap_subject_key := f.imap_subject_key;
        NEW.imap_from_key := f.imap_from_key;
        NEW.patient_ins := coalesce(f.patient_ins, NEW.patient_ins);
    END IF;
    RETURN NEW;
END $$;
