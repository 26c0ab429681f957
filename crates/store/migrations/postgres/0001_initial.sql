-- The PostgreSQL schema of mss, equal in meaning to the SQLite schema after
-- its migration 19 (crates/store/migrations/sqlite). Differences:
-- - ids are BIGINT identities; times are BIGINT Unix seconds; flags are BOOLEAN;
--   sort keys compare bytes (COLLATE "C"), as SQLite's do;
-- - what SQLite keeps with triggers (facts linked to messages, sort keys and
--   patient copied onto folder rows, delivery status and documents removed
--   with their message) is kept by PL/pgSQL triggers of the same names;
-- - the searchable text is a `tsvector` (GIN index) instead of an FTS5 table;
--   the text is folded (lower case, no diacritics) by mss before it is stored.

CREATE TABLE mailboxes (
    id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address           TEXT    NOT NULL UNIQUE,
    kind              TEXT    NOT NULL CHECK (kind IN ('PER', 'ORG', 'APP', 'CAB')),
    state             TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'suspended', 'deleted')),
    national_id       TEXT,
    finess            TEXT,
    first_name        TEXT,
    last_name         TEXT,
    display_name      TEXT    NOT NULL,
    service           TEXT,
    liste_rouge       BOOLEAN NOT NULL DEFAULT false,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    certificate_dn    TEXT,
    state_reason      TEXT,
    validation_due_at BIGINT
);
CREATE INDEX mailboxes_national_id ON mailboxes (national_id);
CREATE INDEX mailboxes_finess ON mailboxes (finess);
CREATE INDEX mailboxes_validation ON mailboxes (state, validation_due_at);
CREATE INDEX mailboxes_certificate_dn ON mailboxes (certificate_dn) WHERE certificate_dn IS NOT NULL;

CREATE TABLE folders (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id     BIGINT  NOT NULL REFERENCES mailboxes (id),
    name           TEXT    NOT NULL,
    uidvalidity    BIGINT  NOT NULL,
    uidnext        BIGINT  NOT NULL DEFAULT 1,
    highest_modseq BIGINT  NOT NULL DEFAULT 1,
    special_use    TEXT,
    subscribed     BOOLEAN NOT NULL DEFAULT true,
    UNIQUE (mailbox_id, name)
);

CREATE TABLE messages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    blob_hash   TEXT   NOT NULL,
    size        BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    facts_id    BIGINT
);
CREATE INDEX messages_blob_hash ON messages (blob_hash);

CREATE TABLE folder_messages (
    folder_id    BIGINT NOT NULL REFERENCES folders (id),
    uid          BIGINT NOT NULL,
    message_id   BIGINT NOT NULL REFERENCES messages (id),
    flags        TEXT   NOT NULL DEFAULT '',
    modseq       BIGINT NOT NULL,
    system_flags BIGINT NOT NULL DEFAULT 0,
    sender_key   TEXT   COLLATE "C" NOT NULL DEFAULT '',
    subject_key  TEXT   COLLATE "C" NOT NULL DEFAULT '',
    patient_ins  TEXT,
    PRIMARY KEY (folder_id, uid)
);
CREATE INDEX folder_messages_modseq ON folder_messages (folder_id, modseq);
CREATE INDEX folder_messages_message ON folder_messages (message_id);
CREATE INDEX folder_messages_unseen ON folder_messages (folder_id, uid) WHERE system_flags & 1 = 0;
CREATE INDEX folder_messages_sender_key ON folder_messages (folder_id, sender_key, uid DESC);
CREATE INDEX folder_messages_subject_key ON folder_messages (folder_id, subject_key, uid DESC);
CREATE INDEX folder_messages_patient ON folder_messages (folder_id, patient_ins) WHERE patient_ins IS NOT NULL;

CREATE TABLE expunged (
    folder_id BIGINT NOT NULL REFERENCES folders (id),
    uid       BIGINT NOT NULL,
    modseq    BIGINT NOT NULL,
    PRIMARY KEY (folder_id, uid)
);
CREATE INDEX expunged_modseq ON expunged (folder_id, modseq);

CREATE TABLE counters (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE inline_blobs (
    hash TEXT  NOT NULL UNIQUE,
    data BYTEA NOT NULL
);

CREATE TABLE whitelist_entries (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain              TEXT NOT NULL,
    operator_dn         TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    responsible_contact TEXT NOT NULL DEFAULT '',
    support_contact     TEXT NOT NULL DEFAULT '',
    updated_at          TEXT NOT NULL DEFAULT '',
    source              TEXT NOT NULL CHECK (source IN ('ans', 'manual'))
);
CREATE INDEX whitelist_entries_domain ON whitelist_entries (domain);

CREATE TABLE whitelist_imports (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    generated_at TEXT   NOT NULL,
    sha256       TEXT   NOT NULL,
    entry_count  BIGINT NOT NULL,
    imported_at  BIGINT NOT NULL
);

CREATE TABLE queue_messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    blob_hash  TEXT   NOT NULL,
    size       BIGINT NOT NULL,
    sender     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    dsn_ret    TEXT,
    dsn_envid  TEXT
);
CREATE INDEX queue_messages_blob_hash ON queue_messages (blob_hash);

CREATE TABLE queue_recipients (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      BIGINT NOT NULL REFERENCES queue_messages (id) ON DELETE CASCADE,
    recipient       TEXT   NOT NULL,
    domain          TEXT   NOT NULL,
    status          TEXT   NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_reply      TEXT   NOT NULL DEFAULT '',
    updated_at      BIGINT NOT NULL,
    notify          TEXT,
    orcpt           TEXT
);
CREATE INDEX queue_recipients_due ON queue_recipients (status, next_attempt_at);
CREATE INDEX queue_recipients_message ON queue_recipients (message_id);

CREATE TABLE mailbox_roles (
    mailbox_id  BIGINT NOT NULL REFERENCES mailboxes (id),
    national_id TEXT   NOT NULL,
    role        TEXT   NOT NULL CHECK (role IN ('administrateur', 'gestionnaire', 'utilisateur')),
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, national_id)
);
CREATE INDEX mailbox_roles_national_id ON mailbox_roles (national_id);

CREATE TABLE audit_log (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT   NOT NULL,
    action TEXT   NOT NULL,
    target TEXT   NOT NULL,
    result TEXT   NOT NULL,
    detail TEXT   NOT NULL DEFAULT '',
    hash   TEXT   NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target, id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_anchor (
    single  INTEGER PRIMARY KEY CHECK (single = 1),
    last_id BIGINT  NOT NULL,
    hash    TEXT    NOT NULL
);

CREATE TABLE cgu_acceptances (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id  BIGINT NOT NULL REFERENCES mailboxes (id),
    national_id TEXT   NOT NULL,
    version     TEXT   NOT NULL,
    accepted_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id           TEXT   PRIMARY KEY,
    national_id  TEXT   NOT NULL,
    first_name   TEXT   NOT NULL,
    last_name    TEXT   NOT NULL,
    method       TEXT   NOT NULL CHECK (method IN ('psc', 'cps', 'account')),
    finess       TEXT   NOT NULL DEFAULT '',
    refresh_hash TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX sessions_national_id ON sessions (national_id);

CREATE TABLE directory_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id      BIGINT NOT NULL REFERENCES mailboxes (id),
    kind            TEXT   NOT NULL CHECK (kind IN ('publish', 'update', 'withdraw')),
    status          TEXT   NOT NULL CHECK (status IN ('pending', 'acknowledged', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    acknowledged_at BIGINT
);
CREATE INDEX directory_outbox_due ON directory_outbox (status, next_attempt_at);
CREATE INDEX directory_outbox_mailbox ON directory_outbox (mailbox_id, status, id);

CREATE TABLE message_facts (
    id                  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    blob_hash           TEXT    NOT NULL UNIQUE,
    version             BIGINT  NOT NULL,
    encoded             BYTEA   NOT NULL,
    sent_at             BIGINT,
    subject             TEXT,
    from_name           TEXT,
    from_address        TEXT,
    to_addresses        TEXT    NOT NULL DEFAULT '',
    cc_addresses        TEXT    NOT NULL DEFAULT '',
    message_id          TEXT,
    in_reply_to         TEXT,
    patient_ins         TEXT,
    xdm                 BOOLEAN NOT NULL DEFAULT false,
    attachments         BIGINT  NOT NULL DEFAULT 0,
    sender_key          TEXT    COLLATE "C" NOT NULL DEFAULT '',
    subject_key         TEXT    COLLATE "C" NOT NULL DEFAULT '',
    header              BOOLEAN NOT NULL DEFAULT false,
    search_subject      TEXT,
    search_from         TEXT,
    search_to           TEXT,
    search_cc           TEXT,
    search_bcc          TEXT,
    closes_conversation BOOLEAN NOT NULL DEFAULT false,
    receipt_for         TEXT,
    receipt_disposition TEXT,
    preview             TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX message_facts_sent_at ON message_facts (sent_at);
CREATE INDEX message_facts_sender_key ON message_facts (sender_key);
CREATE INDEX message_facts_subject_key ON message_facts (subject_key);
CREATE INDEX message_facts_patient_ins ON message_facts (patient_ins) WHERE patient_ins IS NOT NULL;
CREATE INDEX message_facts_receipt_for ON message_facts (receipt_for) WHERE receipt_for IS NOT NULL;

-- The searchable text of a facts row, gone with it.
CREATE TABLE message_text (
    facts_id BIGINT   PRIMARY KEY REFERENCES message_facts (id) ON DELETE CASCADE,
    words    TSVECTOR NOT NULL
);
CREATE INDEX message_text_words ON message_text USING GIN (words);

CREATE TABLE message_documents (
    facts_id    BIGINT NOT NULL REFERENCES message_facts (id) ON DELETE CASCADE,
    document_id TEXT   NOT NULL,
    replaces    TEXT,
    PRIMARY KEY (facts_id, document_id)
);
CREATE INDEX message_documents_by_id ON message_documents (document_id);
CREATE INDEX message_documents_by_replaced ON message_documents (replaces) WHERE replaces IS NOT NULL;

CREATE TABLE patient_contacts (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes (id),
    ins        TEXT   NOT NULL,
    first_at   BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, ins)
);

CREATE TABLE quick_answer_sets (
    mailbox_id BIGINT PRIMARY KEY REFERENCES mailboxes (id),
    updated_at BIGINT NOT NULL
);
CREATE TABLE quick_answers (
    mailbox_id BIGINT NOT NULL REFERENCES quick_answer_sets (mailbox_id),
    position   BIGINT NOT NULL,
    text       TEXT   NOT NULL,
    PRIMARY KEY (mailbox_id, position)
);

CREATE TABLE delivery_status (
    blob_hash  TEXT   NOT NULL,
    recipient  TEXT   NOT NULL,
    status     TEXT   NOT NULL CHECK (status IN ('queued', 'accepted', 'delivered', 'failed')),
    reply      TEXT   NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (blob_hash, recipient)
);

CREATE TABLE dispensations (
    finess       TEXT   NOT NULL,
    id           TEXT   NOT NULL,
    dispensed_at BIGINT NOT NULL,
    patient_ins  TEXT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (finess, id)
);
CREATE INDEX dispensations_by_time ON dispensations (finess, dispensed_at, id, patient_ins);

CREATE TABLE dispensation_links (
    finess          TEXT   NOT NULL,
    dispensation_id TEXT   NOT NULL,
    message_id      TEXT   NOT NULL,
    linked_at       BIGINT NOT NULL,
    PRIMARY KEY (finess, dispensation_id, message_id),
    FOREIGN KEY (finess, dispensation_id) REFERENCES dispensations (finess, id)
);
CREATE INDEX dispensation_links_by_message ON dispensation_links (finess, message_id);

CREATE TABLE app_passwords (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id   BIGINT NOT NULL REFERENCES mailboxes (id),
    national_id  TEXT   NOT NULL,
    label        TEXT   NOT NULL,
    hash         TEXT   NOT NULL UNIQUE,
    scope        TEXT   NOT NULL CHECK (scope IN ('imap', 'submission', 'both')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX app_passwords_by_mailbox ON app_passwords (mailbox_id, national_id);
CREATE INDEX app_passwords_by_person ON app_passwords (national_id) WHERE revoked_at IS NULL;

CREATE TABLE account_links (
    issuer      TEXT   NOT NULL,
    subject     TEXT   NOT NULL,
    national_id TEXT   NOT NULL,
    first_name  TEXT   NOT NULL,
    last_name   TEXT   NOT NULL,
    linked_at   BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE UNIQUE INDEX account_links_by_person ON account_links (issuer, national_id);

-- A new message row takes the facts already stored for its blob.
CREATE FUNCTION messages_facts_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.facts_id := (SELECT id FROM message_facts WHERE blob_hash = NEW.blob_hash);
    RETURN NEW;
END $$;
CREATE TRIGGER messages_facts_link BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_facts_link();

-- New facts are linked to the messages of their blob, and their sort keys and
-- patient copied onto those messages' folder rows.
CREATE FUNCTION message_facts_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET facts_id = NEW.id WHERE blob_hash = NEW.blob_hash;
    UPDATE folder_messages SET sender_key = NEW.sender_key, subject_key = NEW.subject_key,
                               patient_ins = coalesce(NEW.patient_ins, patient_ins)
    WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = NEW.blob_hash);
    RETURN NULL;
END $$;
CREATE TRIGGER message_facts_link AFTER INSERT ON message_facts
    FOR EACH ROW EXECUTE FUNCTION message_facts_link();

-- Changed sort keys or patient follow onto the folder rows.
CREATE FUNCTION message_facts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sender_key IS DISTINCT FROM OLD.sender_key OR NEW.subject_key IS DISTINCT FROM OLD.subject_key
       OR NEW.patient_ins IS DISTINCT FROM OLD.patient_ins THEN
        UPDATE folder_messages SET sender_key = NEW.sender_key, subject_key = NEW.subject_key,
                                   patient_ins = NEW.patient_ins
        WHERE message_id IN (SELECT id FROM messages WHERE blob_hash = NEW.blob_hash);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER message_facts_changed AFTER UPDATE ON message_facts
    FOR EACH ROW EXECUTE FUNCTION message_facts_changed();

-- Facts removed: their messages no longer name them.
CREATE FUNCTION message_facts_unlink() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET facts_id = NULL WHERE blob_hash = OLD.blob_hash;
    RETURN NULL;
END $$;
CREATE TRIGGER message_facts_unlink AFTER DELETE ON message_facts
    FOR EACH ROW EXECUTE FUNCTION message_facts_unlink();

-- A folder row takes its message's sort keys and patient.
CREATE FUNCTION folder_messages_facts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    f RECORD;
BEGIN
    SELECT mf.sender_key, mf.subject_key, mf.patient_ins INTO f
    FROM messages m JOIN message_facts mf ON mf.blob_hash = m.blob_hash WHERE m.id = NEW.message_id;
    IF FOUND THEN
        NEW.sender_key := f.sender_key;
        NEW.subject_key := f.subject_key;
        NEW.patient_ins := coalesce(f.patient_ins, NEW.patient_ins);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER folder_messages_facts BEFORE INSERT ON folder_messages
    FOR EACH ROW EXECUTE FUNCTION folder_messages_facts();

-- Delivery status goes once neither a stored nor a queued message has its blob.
CREATE FUNCTION delivery_status_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM messages WHERE blob_hash = OLD.blob_hash)
       AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE blob_hash = OLD.blob_hash) THEN
        DELETE FROM delivery_status WHERE blob_hash = OLD.blob_hash;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER delivery_status_gone_with_messages AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION delivery_status_gone();
CREATE TRIGGER delivery_status_gone_with_queue AFTER DELETE ON queue_messages
    FOR EACH ROW EXECUTE FUNCTION delivery_status_gone();
