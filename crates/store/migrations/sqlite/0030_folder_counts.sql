-- Each folder's counts kept on its row: messages, unseen, \Deleted, bytes.
-- STATUS, the webmail's folder pane and its poll read them on every
-- request; counted from the rows they cost a read of every message of the
-- folder (240 ms for a folder of a million). Kept by triggers on
-- folder_messages, in the transaction of each change; the row they update
-- is the one a delivery or an expunge already updates (UIDNEXT,
-- HIGHESTMODSEQ). A copy of the tables (`mss store copy`, a snapshot of
-- PostgreSQL) counts again once its rows are in (`RECOUNT_FOLDERS`).
ALTER TABLE folders ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN unseen_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN deleted_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN total_size INTEGER NOT NULL DEFAULT 0;

UPDATE folders SET (message_count, unseen_count, deleted_count, total_size) =
    (SELECT count(*), coalesce(sum(fm.system_flags & 1 = 0), 0), coalesce(sum(fm.system_flags & 8 <> 0), 0),
            coalesce(sum(m.size), 0)
     FROM folder_messages fm JOIN messages m ON m.id = fm.message_id WHERE fm.folder_id = folders.id);

CREATE TRIGGER folder_counts_insert AFTER INSERT ON folder_messages
BEGIN
    UPDATE folders SET
        message_count = message_count + 1,
        unseen_count = unseen_count + (new.system_flags & 1 = 0),
        deleted_count = deleted_count + (new.system_flags & 8 <> 0),
        total_size = total_size + coalesce((SELECT size FROM messages WHERE id = new.message_id), 0)
    WHERE id = new.folder_id;
END;

CREATE TRIGGER folder_counts_delete AFTER DELETE ON folder_messages
BEGIN
    UPDATE folders SET
        message_count = message_count - 1,
        unseen_count = unseen_count - (old.system_flags & 1 = 0),
        deleted_count = deleted_count - (old.system_flags & 8 <> 0),
        total_size = total_size - coalesce((SELECT size FROM messages WHERE id = old.message_id), 0)
    WHERE id = old.folder_id;
END;

-- Flags change in place; a row never changes folder or message.
CREATE TRIGGER folder_counts_flags AFTER UPDATE OF system_flags ON folder_messages
WHEN old.system_flags <> new.system_flags
BEGIN
    UPDATE folders SET
        unseen_count = unseen_count + (new.system_flags & 1 = 0) - (old.system_flags & 1 = 0),
        deleted_count = deleted_count + (new.system_flags & 8 <> 0) - (old.system_flags & 8 <> 0)
    WHERE id = new.folder_id;
END;
