-- Small message bodies are kept in the database and written in the
-- transaction that links them to their folders: one commit (one fsync) per
-- delivery or APPEND, instead of a blob file, its directory and the commit.
-- Large bodies stay in blob files. A hash is in one place or the other; the
-- blob collection removes rows no message or queued message names.
CREATE TABLE inline_blobs (
    hash TEXT NOT NULL UNIQUE,
    data BLOB NOT NULL
);

-- The system flags as bits (\Seen 1, \Answered 2, \Flagged 4, \Deleted 8,
-- \Draft 16), kept with the flags text, for the searches clients make all
-- the time; unseen messages have their own index (UNSEEN, the unread count).
ALTER TABLE folder_messages ADD COLUMN system_flags INTEGER NOT NULL DEFAULT 0;
UPDATE folder_messages SET system_flags =
      (instr(lower(' ' || flags || ' '), ' \seen ') > 0)
    + (instr(lower(' ' || flags || ' '), ' \answered ') > 0) * 2
    + (instr(lower(' ' || flags || ' '), ' \flagged ') > 0) * 4
    + (instr(lower(' ' || flags || ' '), ' \deleted ') > 0) * 8
    + (instr(lower(' ' || flags || ' '), ' \draft ') > 0) * 16;
CREATE INDEX folder_messages_unseen ON folder_messages (folder_id, uid) WHERE system_flags & 1 = 0;

-- The collection asks whether a queued message names a blob.
CREATE INDEX queue_messages_blob_hash ON queue_messages (blob_hash);
