-- What IMAP needs beyond delivery: folder attributes (RFC 6154 special use,
-- subscriptions), the expunge history that lets sessions and QRESYNC
-- clients learn which UIDs went away since a MODSEQ, and a counter that
-- keeps UIDVALIDITY strictly increasing even when a folder is deleted and
-- re-created within the same second.
ALTER TABLE folders ADD COLUMN special_use TEXT;
ALTER TABLE folders ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 1 CHECK (subscribed IN (0, 1));
UPDATE folders SET special_use = '\Sent' WHERE name = 'Sent';

CREATE INDEX folder_messages_modseq ON folder_messages (folder_id, modseq);
CREATE INDEX folder_messages_message ON folder_messages (message_id);

CREATE TABLE expunged (
    folder_id INTEGER NOT NULL REFERENCES folders (id),
    uid       INTEGER NOT NULL,
    modseq    INTEGER NOT NULL,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged (folder_id, modseq);

CREATE TABLE counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);

-- Every mailbox gets the RFC 6154 special-use folders (new ones at creation).
INSERT INTO folders (mailbox_id, name, uidvalidity, special_use)
SELECT m.id, s.name, CAST(strftime('%s', 'now') AS INTEGER) + m.id, s.special_use
FROM mailboxes m
CROSS JOIN (SELECT 'Sent' AS name, '\Sent' AS special_use
            UNION ALL SELECT 'Drafts', '\Drafts'
            UNION ALL SELECT 'Trash', '\Trash'
            UNION ALL SELECT 'Junk', '\Junk'
            UNION ALL SELECT 'Archive', '\Archive') s
WHERE true
ON CONFLICT (mailbox_id, name) DO NOTHING;
