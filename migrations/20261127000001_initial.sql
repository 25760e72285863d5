-- Islet's state in PostgreSQL. One writer per patient: every write locks the
-- patient row first (SELECT … FOR UPDATE); the scheduler claims rows with
-- FOR UPDATE SKIP LOCKED.

-- The per-patient record: the current version of each resource with its
-- clinical facts (the engine's PatientRecord as JSON), and when to look again.
CREATE TABLE patient (
    id          text PRIMARY KEY,                 -- 'Patient/123'
    -- Engine-internal: json (not jsonb) and lz4 keep it cheap to rewrite.
    record      json COMPRESSION lz4 NOT NULL DEFAULT '{"resources":{}}',
    wake_at     timestamptz,                      -- next re-evaluation without new data
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patient_wake_at ON patient (wake_at) WHERE wake_at IS NOT NULL;

-- Every resource version Islet used, as received (audit, re-processing).
-- (type, id, version_key) deduplicates redeliveries.
CREATE TABLE resource_version (
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    version_key   text NOT NULL,                  -- meta.versionId, else 'lastUpdated:…', else 'sha256:…' of the JSON
    patient_id    text NOT NULL,
    version_id    text,
    last_updated  timestamptz,
    clinical_time timestamptz,
    retracted     boolean NOT NULL DEFAULT false, -- entered-in-error / refuted
    deleted       boolean NOT NULL DEFAULT false, -- DELETE (raw is NULL)
    raw           json COMPRESSION lz4,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resource_type, resource_id, version_key)
);

-- The current alerts (the contract's alert JSON in body).
CREATE TABLE alert (
    id          text PRIMARY KEY,                 -- stable hash of patient, rule, schedule item
    patient_id  text NOT NULL REFERENCES patient (id),
    rule        text NOT NULL,
    kind        text NOT NULL,
    severity    text NOT NULL,
    state       text NOT NULL,
    due         date,
    body        jsonb COMPRESSION lz4 NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_patient ON alert (patient_id);
CREATE INDEX alert_rule_state ON alert (rule, state);

-- The change log; also the outbox of the alert topic (published_at).
CREATE TABLE alert_change (
    seq          bigserial PRIMARY KEY,
    at           timestamptz NOT NULL,            -- the evaluation instant ("now")
    patient_id   text NOT NULL,
    alert_id     text NOT NULL,
    rule         text NOT NULL,
    change       text NOT NULL CHECK (change IN ('raised', 'updated', 'resolved')),
    cause        jsonb NOT NULL,
    alert        jsonb COMPRESSION lz4 NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX alert_change_patient ON alert_change (patient_id, seq);
CREATE INDEX alert_change_unpublished ON alert_change (seq) WHERE published_at IS NULL;

-- How far each source was consumed (Kafka topic partition, replay file):
-- committed in the same transaction as the state it produced.
CREATE TABLE source_position (
    source      text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, partition)
);
