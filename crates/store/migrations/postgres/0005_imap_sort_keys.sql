-- What IMAP SORT SUBJECT, SORT FROM and SORT DATE compare (RFC 5256),
-- computed when the facts are written (NULL when their columns do not say)
-- and copied onto every folder row, so that an index per folder serves a
-- whole-folder SORT (byte order, COLLATE "C", as SQLite and Rust compare).
-- The date is the message's own (a parsed header's Date, else its
-- arrival). Facts written before this have none; the backfill of facts
-- version 9 writes them.
ALTER TABLE message_facts ADD COLUMN imap_subject_key TEXT COLLATE "C";
ALTER TABLE message_facts ADD COLUMN imap_from_key TEXT COLLATE "C";
ALTER TABLE folder_messages ADD COLUMN imap_subject_key TEXT COLLATE "C";
ALTER TABLE folder_messages ADD COLUMN imap_from_key TEXT COLLATE "C";
ALTER TABLE folder_messages ADD COLUMN imap_date_key BIGINT;
CREATE INDEX folder_messages_imap_subject_key ON folder_messages (folder_id, imap_subject_key, uid);
CREATE INDEX folder_messages_imap_from_key ON folder_messages (folder_id, imap_from_key, uid);
CREATE INDEX folder_messages_imap_date_key ON folder_messages (folder_id, imap_date_key, uid);

CREATE OR REPLACE FUNCTION message_facts_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET facts_id = NEW.id WHERE blob_hash = NEW.blob_hash;
    UPDATE folder_messages fm SET sender_key = NEW.sender_key, subject_key = NEW.subject_key,
                               imap_subject_key = NEW.imap_subject_key, imap_from_key = NEW.imap_from_key,
                               imap_date_key = CASE WHEN NEW.header THEN coalesce(NEW.sent_at, m.received_at) END,
                               patient_ins = coalesce(NEW.patient_ins, fm.patient_ins)
    FROM messages m WHERE m.id = fm.message_id AND m.blob_hash = NEW.blob_hash;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION message_facts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sender_key IS DISTINCT FROM OLD.sender_key OR NEW.subject_key IS DISTINCT FROM OLD.subject_key
       OR NEW.imap_subject_key IS DISTINCT FROM OLD.imap_subject_key
       OR NEW.imap_from_key IS DISTINCT FROM OLD.imap_from_key
       OR NEW.sent_at IS DISTINCT FROM OLD.sent_at OR NEW.header IS DISTINCT FROM OLD.header
       OR NEW.patient_ins IS DISTINCT FROM OLD.patient_ins THEN
        UPDATE folder_messages fm SET sender_key = NEW.sender_key, subject_key = NEW.subject_key,
                                   imap_subject_key = NEW.imap_subject_key, imap_from_key = NEW.imap_from_key,
                                   imap_date_key = CASE WHEN NEW.header THEN coalesce(NEW.sent_at, m.received_at) END,
                                   patient_ins = NEW.patient_ins
        FROM messages m WHERE m.id = fm.message_id AND m.blob_hash = NEW.blob_hash;
    END IF;
    RETURN NULL;
END $$;

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
    RETURN NEW;
END $$;
