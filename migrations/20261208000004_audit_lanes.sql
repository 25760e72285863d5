-- Several audit chains ("lanes"), so that appends of concurrent requests do
-- not all wait on one head row through each other's commit. A request's
-- event goes to one lane; each lane is a complete chain of its own, verified
-- on its own. Rows written before this migration are lane 0.
ALTER TABLE audit_event ADD COLUMN lane smallint NOT NULL DEFAULT 0;
ALTER TABLE audit_event DROP CONSTRAINT audit_event_pkey;
ALTER TABLE audit_event ADD PRIMARY KEY (lane, seq);
INSERT INTO audit_head (lane, seq, hash)
    SELECT l, 0, decode(repeat('00', 32), 'hex') FROM generate_series(1, 7) AS l;
-- Export reads in time order across lanes.
DROP INDEX audit_event_recorded;
CREATE INDEX audit_event_export ON audit_event (recorded, lane, seq);
