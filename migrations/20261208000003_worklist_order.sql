-- The worklist's first page without sorting every current alert: indexes on
-- the exact sort keys of islet-store's read.rs (AlertSort::Worklist and
-- AlertSort::Due; the expressions must stay identical to the ORDER BY).
CREATE INDEX alert_worklist_order ON alert (
    ((CASE state WHEN 'overdue' THEN 0 WHEN 'due' THEN 1 WHEN 'active' THEN 2 WHEN 'scheduled' THEN 3 ELSE 4 END)::bigint),
    ((CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END)::bigint),
    ((coalesce(due - DATE '1970-01-01', 2147483647))::bigint),
    id);
CREATE INDEX alert_due_order ON alert (
    ((coalesce(due - DATE '1970-01-01', 2147483647))::bigint),
    ((CASE state WHEN 'overdue' THEN 0 WHEN 'due' THEN 1 WHEN 'active' THEN 2 WHEN 'scheduled' THEN 3 ELSE 4 END)::bigint),
    ((CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END)::bigint),
    id);
