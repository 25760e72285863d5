-- What clinicians do with an alert (issue 9): acknowledge with a reason,
-- snooze until a date, assign, add a note. Kept beside the alerts, keyed by
-- alert id: reconciling replaces an alert's row, and its JSON lives in the
-- change log, so a flag inside either would be lost or rewritten.

-- An alert's "material" content: what an acknowledgement holds against.
-- State, due date and evidence (references and the facts as read, in
-- guideline order); not the wording, `since`, or the severity (fixed per
-- rule). jsonb's text form is canonical, so equal content hashes equal.
-- IMMUTABLE: convert_to is only STABLE because it takes an encoding name,
-- and the database's encoding never changes.
CREATE FUNCTION islet_alert_material(a jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sha256(convert_to('islet.material.v1' || chr(10) || coalesce(a->>'state', '') || chr(10)
    || coalesce(a->>'due', '') || chr(10) || coalesce((a->'evidence')::text, '[]'), 'UTF8'))
$$;
ALTER TABLE alert_change ADD COLUMN material bytea GENERATED ALWAYS AS (islet_alert_material(alert)) STORED;

-- An alert's current disposition. No foreign key: an alert row is deleted
-- when it resolves and may come back; its disposition stays with its id.
CREATE TABLE alert_status (
    alert_id        text PRIMARY KEY,
    patient_id      text NOT NULL,
    version         integer NOT NULL DEFAULT 0,   -- +1 per action: the ETag's second half
    ack_material    bytea,                        -- acknowledged ⇔ this equals the current material
    ack_action      bigint,                       -- the acknowledging alert_action
    snooze_until    date,                         -- snoozed ⇔ until > today and material unchanged
    snooze_material bytea,
    snooze_action   bigint,
    assignee        text REFERENCES app_user (key),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_status_assignee ON alert_status (assignee) WHERE assignee IS NOT NULL;

-- Every action, append-only: the alert's history on the dashboard.
CREATE TABLE alert_action (
    seq          bigserial PRIMARY KEY,
    tx           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    alert_id     text NOT NULL,
    patient_id   text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('acknowledge', 'snooze', 'assign', 'note')),
    reason       text,                            -- the coded reason (acknowledge, snooze)
    text         text,                            -- free text a clinician wrote
    snooze_until date,
    assignee     text,
    change_seq   bigint NOT NULL,                 -- the alert version the user acted on
    material     bytea NOT NULL,
    actor        text NOT NULL,
    actor_name   text,
    source       text NOT NULL CHECK (source IN ('dashboard', 'api', 'cds-hooks')),
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_action_alert ON alert_action (alert_id, seq);
CREATE INDEX alert_action_feed ON alert_action (tx, seq);
