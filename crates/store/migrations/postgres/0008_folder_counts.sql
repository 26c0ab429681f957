-- Each folder's counts kept on its row: messages, unseen, \Deleted, bytes
-- (see the embedded store's 0030_folder_counts.sql). Kept by triggers on
-- folder_messages, in the transaction of each change, on the row a
-- delivery or an expunge already locks (UIDNEXT, HIGHESTMODSEQ). A copy of
-- the tables (`mss store copy`) counts again once its rows are in
-- (`RECOUNT_FOLDERS`).
ALTER TABLE folders ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN unseen_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN deleted_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN total_size BIGINT NOT NULL DEFAULT 0;

UPDATE folders f SET (message_count, unseen_count, deleted_count, total_size) =
    (SELECT count(*), count(*) FILTER (WHERE fm.system_flags & 1 = 0), count(*) FILTER (WHERE fm.system_flags & 8 <> 0),
            coalesce(sum(m.size), 0)
     FROM folder_messages fm JOIN messages m ON m.id = fm.message_id WHERE fm.folder_id = f.id);

CREATE FUNCTION folder_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE folders SET
            message_count = message_count + 1,
            unseen_count = unseen_count + (NEW.system_flags & 1 = 0)::INT,
            deleted_count = deleted_count + (NEW.system_flags & 8 <> 0)::INT,
            total_size = total_size + coalesce((SELECT size FROM messages WHERE id = NEW.message_id), 0)
        WHERE id = NEW.folder_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE folders SET
            message_count = message_count - 1,
            unseen_count = unseen_count - (OLD.system_flags & 1 = 0)::INT,
            deleted_count = deleted_count - (OLD.system_flags & 8 <> 0)::INT,
            total_size = total_size - coalesce((SELECT size FROM messages WHERE id = OLD.message_id), 0)
        WHERE id = OLD.folder_id;
    ELSIF OLD.system_flags <> NEW.system_flags THEN
        -- Flags change in place; a row never changes folder or message.
        UPDATE folders SET
            unseen_count = unseen_count + (NEW.system_flags & 1 = 0)::INT - (OLD.system_flags & 1 = 0)::INT,
            deleted_count = deleted_count + (NEW.system_flags & 8 <> 0)::INT - (OLD.system_flags & 8 <> 0)::INT
        WHERE id = NEW.folder_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER folder_counts_insert_delete AFTER INSERT OR DELETE ON folder_messages
    FOR EACH ROW EXECUTE FUNCTION folder_counts_changed();
CREATE TRIGGER folder_counts_flags AFTER UPDATE OF system_flags ON folder_messages
    FOR EACH ROW EXECUTE FUNCTION folder_counts_changed();
