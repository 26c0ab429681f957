-- The facts of stored messages (see src/facts.rs): what mss-message read in
-- a message when it was stored, keyed by blob hash since facts depend on the
-- bytes only. `encoded` is opaque to the store, its format is `version`'s;
-- the other columns are what clients sort and search by, kept as columns for
-- the indexes to come. Rows of blobs no message names go with the blob.
CREATE TABLE message_facts (
    blob_hash    TEXT    PRIMARY KEY,
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
    attachments  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
