-- An applicative mailbox may be bound to the subject DN of an organisation
-- certificate: software presenting that certificate authenticates as the
-- mailbox with SASL EXTERNAL.
ALTER TABLE mailboxes ADD COLUMN certificate_dn TEXT;
