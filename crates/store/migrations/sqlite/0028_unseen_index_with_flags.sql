-- A search of unseen messages (UNSEEN, alone or with other flags) reads the
-- index of unseen messages alone once it holds the flag bits: without them
-- SQLite looked each of its entries up in the folder's rows to test the
-- bit it already knows (10,000 lookups for a folder of 100,000 messages,
-- one in ten unseen).
DROP INDEX folder_messages_unseen;
CREATE INDEX folder_messages_unseen ON folder_messages (folder_id, uid, system_flags) WHERE system_flags & 1 = 0;
