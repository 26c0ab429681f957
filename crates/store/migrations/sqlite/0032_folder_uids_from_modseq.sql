-- A folder's UIDs are read from folder_messages_modseq, which holds them
-- as narrowly as folder_messages_uids did (an index of a WITHOUT ROWID
-- table carries the primary key: (folder_id, modseq, uid)); the reader
-- sorts them. One index fewer written per message delivered.
DROP INDEX IF EXISTS folder_messages_uids;
