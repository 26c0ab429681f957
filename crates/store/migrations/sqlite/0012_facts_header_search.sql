-- What SORT and the header keys of SEARCH read without decoding the facts
-- (issue 14): whether the message's header parsed (else its columns say
-- nothing of what its bytes say, and readers go to the bytes), and the
-- texts SUBJECT, FROM, TO, CC and BCC look in, lowercased, each field's
-- occurrences joined by a line feed (NULL when not known). Written by facts
-- of version 4; rows of older versions keep the defaults until
-- `mss messages index` writes them again.
ALTER TABLE message_facts ADD COLUMN header INTEGER NOT NULL DEFAULT 0 CHECK (header IN (0, 1));
ALTER TABLE message_facts ADD COLUMN search_subject TEXT;
ALTER TABLE message_facts ADD COLUMN search_from TEXT;
ALTER TABLE message_facts ADD COLUMN search_to TEXT;
ALTER TABLE message_facts ADD COLUMN search_cc TEXT;
ALTER TABLE message_facts ADD COLUMN search_bcc TEXT;
