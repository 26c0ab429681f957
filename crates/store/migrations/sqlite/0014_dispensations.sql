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
