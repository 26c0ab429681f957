-- A delivery and an APPEND write a new message's facts first, then its
-- `messages` row naming them and its folder rows with the columns they copy
-- from the facts (sort keys, patient), all in their INSERTs
-- (`mss_store::sqlite::new_rows`). The triggers that copy those columns
-- after an insert now run only for a row inserted without them (a COPY, a
-- message whose facts are written later): for a delivery they rewrote the
-- row just inserted, moving each copied column's index entry from its
-- empty value to its real one (five more index pages written per message).
DROP TRIGGER messages_facts_link;
CREATE TRIGGER messages_facts_link AFTER INSERT ON messages
WHEN new.facts_id IS NULL AND EXISTS (SELECT 1 FROM message_facts WHERE blob_hash = new.blob_hash)
BEGIN
    UPDATE messages SET facts_id = (SELECT id FROM message_facts WHERE blob_hash = new.blob_hash) WHERE id = new.id;
END;

DROP TRIGGER folder_messages_sort_keys;
CREATE TRIGGER folder_messages_sort_keys AFTER INSERT ON folder_messages
WHEN new.imap_date_key IS NULL
     AND EXISTS (SELECT 1 FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash WHERE m.id = new.message_id)
BEGIN
    UPDATE folder_messages SET
        (sender_key, subject_key, imap_subject_key, imap_from_key, imap_date_key) =
            (SELECT mf.sender_key, mf.subject_key, mf.imap_subject_key, mf.imap_from_key,
                    CASE WHEN mf.header THEN coalesce(mf.sent_at, m.received_at) END
             FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash WHERE m.id = new.message_id)
    WHERE folder_id = new.folder_id AND uid = new.uid;
END;

DROP TRIGGER folder_messages_patient;
CREATE TRIGGER folder_messages_patient AFTER INSERT ON folder_messages
WHEN new.patient_ins IS NULL
     AND EXISTS (SELECT 1 FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash
                 WHERE m.id = new.message_id AND mf.patient_ins IS NOT NULL)
BEGIN
    UPDATE folder_messages SET
        patient_ins = (SELECT mf.patient_ins FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash
                       WHERE m.id = new.message_id)
    WHERE folder_id = new.folder_id AND uid = new.uid;
END;
