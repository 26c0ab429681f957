-- The first words of a message's text (facts version 7), shown under its
-- subject in the webmail's list without reading the message.
ALTER TABLE message_facts ADD COLUMN preview TEXT NOT NULL DEFAULT '';
