-- A small body with facts is kept under its facts' id (`facts_bodies`), no
-- longer in a table indexed by its hash: each delivery wrote an entry at a
-- random place of `inline_blobs`' index of hashes, a page its commit wrote
-- and the checkpointer wrote again apart from the others (with
-- `message_facts`' own index of hashes, the last two such pages of a
-- delivery; migration 0033 removed the third). Facts' ids grow with the
-- deliveries, so a new body lands at the table's end, as it did in
-- `inline_blobs`. A body is found through its facts (by hash, the one index
-- of hashes a delivery still writes), or in `inline_blobs` while it has
-- none: stored without facts, or named only by the queue once its facts
-- are gone. Facts written later take the body over; facts removed hand it
-- back. A body is in one table or the other, never both.
CREATE TABLE facts_bodies (
    facts_id INTEGER PRIMARY KEY,
    data     BLOB    NOT NULL
);
INSERT INTO facts_bodies (facts_id, data)
SELECT f.id, b.data FROM inline_blobs b JOIN message_facts f ON f.blob_hash = b.hash;
DELETE FROM inline_blobs WHERE hash IN (SELECT blob_hash FROM message_facts);

CREATE TRIGGER facts_take_their_body AFTER INSERT ON message_facts
BEGIN
    INSERT INTO facts_bodies (facts_id, data) SELECT new.id, data FROM inline_blobs WHERE hash = new.blob_hash;
    DELETE FROM inline_blobs WHERE hash = new.blob_hash;
END;

CREATE TRIGGER facts_hand_back_their_body AFTER DELETE ON message_facts
BEGIN
    INSERT INTO inline_blobs (hash, data) SELECT old.blob_hash, data FROM facts_bodies WHERE facts_id = old.id;
    DELETE FROM facts_bodies WHERE facts_id = old.id;
END;
