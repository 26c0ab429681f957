-- Patient conversations (issue 15).
--
-- Whether a message ends a patient conversation (`X-MSS-MES: FIN` or the
-- subject `[FIN]`), as its facts of version 5 say; older rows keep 0 until
-- the backfill writes them again.
ALTER TABLE message_facts ADD COLUMN closes_conversation INTEGER NOT NULL DEFAULT 0
    CHECK (closes_conversation IN (0, 1));
-- For a read receipt (RFC 8098), the id of the message it is about: a
-- conversation shows it on that message, not as a message of its own.
ALTER TABLE message_facts ADD COLUMN receipt_for TEXT;
CREATE INDEX message_facts_receipt_for ON message_facts (receipt_for) WHERE receipt_for IS NOT NULL;

-- The patient of each folder row, copied from the facts like the sort keys
-- (migration 0012), so that a mailbox's conversations are read from an
-- index of its folders, not from every message of the mailbox nor every
-- patient message of the operator.
ALTER TABLE folder_messages ADD COLUMN patient_ins TEXT;
UPDATE folder_messages SET patient_ins =
    (SELECT mf.patient_ins FROM messages m JOIN message_facts mf ON mf.id = m.facts_id
     WHERE m.id = folder_messages.message_id);
CREATE INDEX folder_messages_patient ON folder_messages (folder_id, patient_ins) WHERE patient_ins IS NOT NULL;

CREATE TRIGGER folder_messages_patient AFTER INSERT ON folder_messages
WHEN EXISTS (SELECT 1 FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash
             WHERE m.id = new.message_id AND mf.patient_ins IS NOT NULL)
BEGIN
    UPDATE folder_messages SET
        patient_ins = (SELECT mf.patient_ins FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash
                       WHERE m.id = new.message_id)
    WHERE folder_id = new.folder_id AND uid = new.uid;
END;
CREATE TRIGGER message_facts_patient AFTER INSERT ON message_facts
WHEN new.patient_ins IS NOT NULL
BEGIN
    UPDATE folder_messages SET patient_ins = new.patient_ins
    WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = new.blob_hash);
END;
CREATE TRIGGER message_facts_patient_changed AFTER UPDATE OF patient_ins ON message_facts
BEGIN
    UPDATE folder_messages SET patient_ins = new.patient_ins
    WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = new.blob_hash);
END;

-- The patients a mailbox wrote to, recorded when the message is stored for
-- sending, whether or not a copy is kept in Sent: a patient may answer
-- whoever wrote to them (Mon espace santé's rule), and the operator lets
-- that answer in.
CREATE TABLE patient_contacts (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id),
    ins        TEXT    NOT NULL,
    first_at   INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, ins)
) WITHOUT ROWID;

-- A mailbox's quick answers to patients, in order; a mailbox without a row
-- in quick_answer_sets never chose its own (the defaults apply), one with
-- a row and no answers chose to have none.
CREATE TABLE quick_answer_sets (
    mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes (id),
    updated_at INTEGER NOT NULL
);
CREATE TABLE quick_answers (
    mailbox_id INTEGER NOT NULL REFERENCES quick_answer_sets (mailbox_id),
    position   INTEGER NOT NULL,
    text       TEXT    NOT NULL,
    PRIMARY KEY (mailbox_id, position)
) WITHOUT ROWID;

-- What a read or processing receipt says (RFC 8098 `Disposition`, e.g.
-- `manual-action/MDN-sent-manually; displayed`, or the ANS integration
-- acknowledgement `automatic-action/MDN-sent-automatically; processed/Error: 902^…`).
ALTER TABLE message_facts ADD COLUMN receipt_disposition TEXT;

-- What became of each recipient of a message our users sent (issue 16):
-- queued, accepted by the recipient's operator, delivered here, failed; by
-- the message's bytes, which its Sent copy shares. Rows go with the last
-- message or queue entry of their blob (triggers).
CREATE TABLE delivery_status (
    blob_hash  TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('queued', 'accepted', 'delivered', 'failed')),
    reply      TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (blob_hash, recipient)
) WITHOUT ROWID;
CREATE TRIGGER delivery_status_gone_with_messages AFTER DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob_hash = old.blob_hash)
 AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE blob_hash = old.blob_hash)
BEGIN
    DELETE FROM delivery_status WHERE blob_hash = old.blob_hash;
END;
CREATE TRIGGER delivery_status_gone_with_queue AFTER DELETE ON queue_messages
WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob_hash = old.blob_hash)
 AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE blob_hash = old.blob_hash)
BEGIN
    DELETE FROM delivery_status WHERE blob_hash = old.blob_hash;
END;

-- What a sender asked of delivery status notifications (RFC 3461), kept for
-- the next hop and for the reports we write: RET and ENVID of the message,
-- NOTIFY and ORCPT of each recipient, as given (NULL: not given).
ALTER TABLE queue_messages ADD COLUMN dsn_ret TEXT;
ALTER TABLE queue_messages ADD COLUMN dsn_envid TEXT;
ALTER TABLE queue_recipients ADD COLUMN notify TEXT;
ALTER TABLE queue_recipients ADD COLUMN orcpt TEXT;
