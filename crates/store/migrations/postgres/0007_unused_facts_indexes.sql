-- The sort keys of message_facts were indexed for the webmail's sorted
-- pages; those pages read the keys copied on folder_messages (0001, 0005),
-- which their own indexes order per folder, and no query orders or filters
-- message_facts by these columns any more. Each was a page written per
-- message delivered.
DROP INDEX IF EXISTS message_facts_sent_at;
DROP INDEX IF EXISTS message_facts_sender_key;
DROP INDEX IF EXISTS message_facts_subject_key;
