-- The dashboard and API (issue 9): who signs in, their sessions, the audit
-- trail of every read and action, and a change-feed order that never skips.

-- A person or machine client Islet has seen. `key` is '{issuer}|{subject}'
-- for OIDC, 'dev|{name}' for the development sign-in.
CREATE TABLE app_user (
    key         text PRIMARY KEY,
    name        text,
    roles       text[] NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz
);

-- A browser session. The cookie holds a random token; only its SHA-256 is
-- stored, so a copy of this table signs nobody in.
CREATE TABLE web_session (
    id_hash     bytea PRIMARY KEY,
    user_key    text NOT NULL REFERENCES app_user (key),
    roles       text[] NOT NULL,
    csrf        bytea NOT NULL,                   -- the synchronizer token of every form
    created_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL              -- the absolute limit; idle expiry is last_seen-based
);
CREATE INDEX web_session_expires ON web_session (expires_at);

-- A sign-in on its way through the identity provider (state → PKCE
-- verifier and nonce); removed when the callback comes, or after 10 minutes.
CREATE TABLE auth_pending (
    state_hash    bytea PRIMARY KEY,
    pkce_verifier text NOT NULL,
    nonce         text NOT NULL,
    return_to     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Who saw or changed what, for which patient: appended in the same
-- transaction as the read or action, hash-chained (each row's hash covers
-- the previous row's), so an edited, removed or inserted row is detected by
-- `islet audit verify`. Columns are exactly what the hash covers.
CREATE TABLE audit_event (
    seq         bigint PRIMARY KEY,              -- 1, 2, 3 … with no gap (assigned under the head lock)
    recorded    timestamptz NOT NULL,            -- wall clock, microseconds
    actor       text NOT NULL,                   -- app_user.key, or 'anonymous'
    actor_name  text,
    roles       text[] NOT NULL,
    action      char(1) NOT NULL CHECK (action IN ('C', 'R', 'U', 'D', 'E')),  -- FHIR AuditEvent.action
    subtype     text NOT NULL,                   -- read | search | login | logout | login-failed | forbidden | …
    outcome     smallint NOT NULL CHECK (outcome IN (0, 4, 8, 12)),            -- FHIR AuditEvent.outcome
    patient_id  text,                            -- 'Patient/123' when the event concerns one patient
    entity      text,                            -- what was read or changed: a path without patient data values
    source_ip   text,
    user_agent  text,
    request_id  text,
    credential  text,                            -- how the actor proved who they are: 'session:…' or 'token:…' (hashes)
    detail      text,                            -- compact JSON, kept as written (jsonb would reorder keys)
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL
);
CREATE INDEX audit_event_patient ON audit_event (patient_id, recorded);
CREATE INDEX audit_event_recorded ON audit_event (recorded);

-- The chain's end. Appending locks this row last in its transaction, so
-- appends are serial and gap-free, and a deleted tail no longer matches it.
CREATE TABLE audit_head (
    lane  smallint PRIMARY KEY,
    seq   bigint NOT NULL,
    hash  bytea NOT NULL
);
INSERT INTO audit_head VALUES (0, 0, decode(repeat('00', 32), 'hex'));

-- Append-only: the service's own role cannot rewrite history. (A database
-- owner can disable the triggers; the chain and `verify --anchor` catch that.)
CREATE FUNCTION islet_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION islet_audit_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION islet_audit_append_only();

-- The change feed's order. `seq` is drawn before commit, so change 100 can
-- commit after 101 and a reader past 101 would never see 100. Reading only
-- transactions older than every running one (tx < the snapshot's xmin) in
-- (tx, seq) order gives a cursor that only moves forward. Rows written
-- before this migration are tx 0: all of them come first, by seq.
ALTER TABLE alert_change ADD COLUMN tx xid8 NOT NULL DEFAULT '0';
ALTER TABLE alert_change ALTER COLUMN tx SET DEFAULT pg_current_xact_id();
CREATE INDEX alert_change_feed ON alert_change (tx, seq);
