-- The pharmacy's 5 % indicator (issue 17): dispensations its software
-- declares, by FINESS and the software's own id (a correction replaces),
-- with only what the indicator needs: when, and the patient's INS when
-- known (no product, no prescriber).
CREATE TABLE dispensations (
    finess       TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    dispensed_at INTEGER NOT NULL,
    patient_ins  TEXT,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (finess, id)
) WITHOUT ROWID;
-- A period's dispensations are read from this index alone (it covers
-- what is read): no lookup in the table per row.
CREATE INDEX dispensations_by_time ON dispensations (finess, dispensed_at, id, patient_ins);

-- Exchanges linked to a dispensation by hand (from the API): the message
-- by its Message-ID, as its facts keep it; such a dispensation counts
-- whatever the patient and the time.
CREATE TABLE dispensation_links (
    finess          TEXT    NOT NULL,
    dispensation_id TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    linked_at       INTEGER NOT NULL,
    PRIMARY KEY (finess, dispensation_id, message_id),
    FOREIGN KEY (finess, dispensation_id) REFERENCES dispensations (finess, id)
) WITHOUT ROWID;
