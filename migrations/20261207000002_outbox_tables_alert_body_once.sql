-- Less written per alert change (issue 8's throughput; measured with
-- pg_stat_statements in scripts/bench-serve, see docs/benchmarks.md).

-- 1. What the relays have published moves out of the wide rows. Marking a
-- change log row published rewrote the whole row (about 1.2 kB with its alert
-- JSON) and its three index entries: the partial index on `published_at`
-- made every mark a non-HOT update. An outbox row is the row's `seq` and when
-- it was published: written in the batch's transaction beside the row it
-- names, marked by the relay after the broker's delivery report.
CREATE TABLE alert_change_outbox (
    seq          bigint PRIMARY KEY,              -- alert_change.seq
    published_at timestamptz
);
CREATE INDEX alert_change_outbox_unpublished ON alert_change_outbox (seq) WHERE published_at IS NULL;
INSERT INTO alert_change_outbox (seq, published_at) SELECT seq, published_at FROM alert_change;
DROP INDEX alert_change_unpublished;
ALTER TABLE alert_change DROP COLUMN published_at;

CREATE TABLE rejection_outbox (
    seq          bigint PRIMARY KEY,              -- rejection.seq
    published_at timestamptz
);
CREATE INDEX rejection_outbox_unpublished ON rejection_outbox (seq) WHERE published_at IS NULL;
INSERT INTO rejection_outbox (seq, published_at) SELECT seq, published_at FROM rejection;
DROP INDEX rejection_unpublished;
ALTER TABLE rejection DROP COLUMN published_at;

-- 2. A current alert's JSON is stored once: in the change log row that made
-- it what it is (every write of `alert` comes with such a row, and a resolved
-- alert's last JSON must stay in the log anyway). `alert` keeps the columns
-- that select and sort, and points to that row.
ALTER TABLE alert ADD COLUMN change_seq bigint;
UPDATE alert a SET change_seq = (SELECT max(c.seq) FROM alert_change c WHERE c.alert_id = a.id);
ALTER TABLE alert ALTER COLUMN change_seq SET NOT NULL;
ALTER TABLE alert DROP COLUMN body;
