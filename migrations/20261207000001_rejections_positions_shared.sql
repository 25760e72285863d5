-- Messages (or Bundle entries) that could not be used: kept with their
-- source coordinates, reason and original bytes, in the same transaction as
-- the position that consumed them, so a crash neither loses nor doubles one.
-- Also the outbox of the dead-letter topic (published_at).
CREATE TABLE rejection (
    seq          bigserial PRIMARY KEY,
    source       text NOT NULL,                   -- 'file:/path', a Kafka topic, 'http'
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,                 -- line number for files, Kafka offset
    entry        integer,                         -- Bundle entry index, when one entry was rejected
    resource     text,                            -- 'Type/id' when known
    code         text NOT NULL,                   -- stable reason code
    reason       text NOT NULL,                   -- names elements and codes, never patient data
    message      bytea,                           -- the message exactly as received
    message_key  bytea,                           -- the Kafka record's key (the dead letter keeps it)
    source_time  timestamptz,                     -- the Kafka record's timestamp
    received_at  timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
-- A message re-read (a load without --resume, a redelivered batch) is not rejected twice.
CREATE UNIQUE INDEX rejection_once ON rejection (source, partition, "offset", coalesce(entry, -1), code, coalesce(resource, ''));
CREATE INDEX rejection_unpublished ON rejection (seq) WHERE published_at IS NULL;

-- A file source's identity at its position: the bytes consumed and their
-- SHA-256, so a resume refuses a file that was replaced or rewritten.
ALTER TABLE source_position
    ADD COLUMN consumed_bytes  bigint,
    ADD COLUMN consumed_sha256 bytea;

-- Resources that belong to no patient but that patients' resources point to
-- (a Medication named by medicationReference, sent in another message):
-- kept once, versioned like any resource; `definition` is what the pointing
-- facts need from it. A row is created (empty) before it is locked, so two
-- writers of a new resource serialize on it.
CREATE TABLE shared_resource (
    reference   text PRIMARY KEY,                 -- 'Medication/m1'
    stamp       jsonb,                            -- version, lastUpdated, content hash
    definition  jsonb,
    raw         json COMPRESSION lz4,             -- as received
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Which patients' records point to which shared resource: when one changes,
-- exactly these patients are locked and re-evaluated.
CREATE TABLE shared_reference (
    reference   text NOT NULL,
    patient_id  text NOT NULL REFERENCES patient (id),
    PRIMARY KEY (reference, patient_id)
);
CREATE INDEX shared_reference_patient ON shared_reference (patient_id);

-- Versions of resources no patient holds that a later-arriving older
-- version must not undo: a DELETE that found no holder (a Bundle DELETE names
-- no patient, and across partitions it may arrive before the resource), and
-- a versioned resource whose code Islet does not use (a diagnosis re-coded to
-- something else, arriving before the version that still had the old code).
-- Only the strongest stamp per resource is kept.
CREATE TABLE unheld_tombstone (
    reference   text PRIMARY KEY,                 -- 'Observation/x'
    stamp       jsonb NOT NULL,                   -- version stamp (a deletion's, or the unused version's)
    updated_at  timestamptz NOT NULL DEFAULT now()
);
