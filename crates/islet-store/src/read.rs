//! The queries behind the API and the dashboard: the worklist (current
//! alerts, filtered and keyset-paged), one alert, a patient, the change feed.
//! Each takes a connection so a handler runs it in the transaction that also
//! appends its audit event.
//!
//! **Feed order.** The change feed reads `alert_change` in `(tx, seq)` order
//! and only rows of transactions older than every running one (`tx <` the
//! snapshot's xmin): a cursor then only moves forward and never passes a
//! change that commits later (see the migration `…_identity_audit_feed`).

use islet_engine::{AlertChange, AlertRecord};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

/// Which current alerts, and in which order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub kinds: Vec<String>,
    pub severities: Vec<String>,
    pub states: Vec<String>,
    pub rules: Vec<String>,
    /// Inclusive bounds on the due date (alerts without one are left out when set).
    pub due_from: Option<time::Date>,
    pub due_to: Option<time::Date>,
    pub patient: Option<String>,
    /// Acknowledged in the alert's current form (or not).
    pub acknowledged: Option<bool>,
    /// Snoozed and still holding at `today` (or not).
    pub snoozed: Option<bool>,
    /// Assigned to this user key.
    pub assignee: Option<String>,
    /// The date snoozes are judged at (the service clock's date).
    pub today: Option<time::Date>,
}

/// The worklist's orders. Each is a total order (the alert id breaks ties),
/// so a keyset cursor never skips or repeats a row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AlertSort {
    /// Overdue, then due, then active, then scheduled; within that the most
    /// severe first, then the earliest due date.
    #[default]
    Worklist,
    /// Earliest due date first (undated last).
    Due,
    /// Most severe first.
    Severity,
    /// Longest standing first (the alert's `since`).
    Age,
}

impl AlertSort {
    pub fn parse(text: &str) -> Option<AlertSort> {
        match text {
            "default" | "worklist" => Some(AlertSort::Worklist),
            "due" => Some(AlertSort::Due),
            "severity" => Some(AlertSort::Severity),
            "age" => Some(AlertSort::Age),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlertSort::Worklist => "default",
            AlertSort::Due => "due",
            AlertSort::Severity => "severity",
            AlertSort::Age => "age",
        }
    }

    /// Three integer keys (then the id), as SQL over the `alert` table.
    fn keys(self) -> [&'static str; 3] {
        match self {
            AlertSort::Worklist => [STATE_RANK, SEVERITY_RANK, DUE_DAYS],
            AlertSort::Due => [DUE_DAYS, STATE_RANK, SEVERITY_RANK],
            AlertSort::Severity => [SEVERITY_RANK, STATE_RANK, DUE_DAYS],
            AlertSort::Age => [SINCE_SECONDS, STATE_RANK, SEVERITY_RANK],
        }
    }
}

const STATE_RANK: &str =
    "(CASE a.state WHEN 'overdue' THEN 0 WHEN 'due' THEN 1 WHEN 'active' THEN 2 WHEN 'scheduled' THEN 3 ELSE 4 END)";
const SEVERITY_RANK: &str = "(CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END)";
/// When the alert started to hold, in seconds since 1970 (from its JSON).
const SINCE_SECONDS: &str = "extract(epoch FROM (c.alert->>'since')::timestamptz)::bigint";
/// Days since 1970-01-01; undated alerts sort last.
const DUE_DAYS: &str = "coalesce(a.due - DATE '1970-01-01', 2147483647)";

/// Where a page ended: the last row's sort keys and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCursor {
    pub keys: [i64; 3],
    pub id: String,
}

impl AlertCursor {
    /// Opaque to clients: `k1.k2.k3.id`.
    pub fn encode(&self) -> String {
        format!("{}.{}.{}.{}", self.keys[0], self.keys[1], self.keys[2], self.id)
    }

    pub fn decode(text: &str) -> Option<AlertCursor> {
        let mut parts = text.splitn(4, '.');
        let mut keys = [0i64; 3];
        for k in &mut keys {
            *k = parts.next()?.parse().ok()?;
        }
        let id = parts.next()?;
        (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .then(|| AlertCursor { keys, id: id.to_owned() })
    }
}

/// One row of the worklist: the alert and what clinicians did with it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkItem {
    pub alert: AlertRecord,
    pub acknowledged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    pub etag: String,
}

/// The worklist's joins: the alert, its JSON and material, its disposition.
const WORKLIST_FROM: &str = "FROM alert a JOIN alert_change c ON c.seq = a.change_seq \
     LEFT JOIN alert_status s ON s.alert_id = a.id";
const ACKNOWLEDGED: &str = "(s.ack_material IS NOT NULL AND s.ack_material = c.material)";
/// The same conditions as uncorrelated subqueries, for filtering: the few
/// alerts with a disposition row are found once (a hashed set), so a filter
/// costs no join of every alert with its change-log row (measured: 35 ms
/// instead of 220 ms for the counts of 100k alerts).
const ACKNOWLEDGED_IDS: &str = "(SELECT sa.alert_id FROM alert_status sa JOIN alert aa ON aa.id = sa.alert_id \
     JOIN alert_change ca ON ca.seq = aa.change_seq WHERE sa.ack_material = ca.material)";
const SNOOZED_IDS: &str = "(SELECT ss.alert_id FROM alert_status ss JOIN alert asn ON asn.id = ss.alert_id \
     JOIN alert_change cs ON cs.seq = asn.change_seq WHERE ss.snooze_material = cs.material AND ss.snooze_until > ";

/// One page of the worklist.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPage {
    pub items: Vec<WorkItem>,
    /// Set when more rows follow.
    pub next: Option<AlertCursor>,
    /// Current alerts per state under the filter's other conditions.
    pub counts: Vec<(String, i64)>,
}

fn push_filter(q: &mut QueryBuilder<'_, Postgres>, f: &AlertFilter, with_states: bool) {
    q.push(" WHERE true");
    let lists: [(&str, &Vec<String>); 4] =
        [("a.kind", &f.kinds), ("a.severity", &f.severities), ("a.state", &f.states), ("a.rule", &f.rules)];
    for (column, values) in lists {
        if values.is_empty() || (!with_states && column == "a.state") {
            continue;
        }
        q.push(format_args!(" AND {column} = ANY(")).push_bind(values.clone()).push(")");
    }
    if let Some(d) = f.due_from {
        q.push(" AND a.due >= ").push_bind(d);
    }
    if let Some(d) = f.due_to {
        q.push(" AND a.due <= ").push_bind(d);
    }
    if let Some(p) = &f.patient {
        q.push(" AND a.patient_id = ").push_bind(p.clone());
    }
    // alert_status.alert_id is the primary key (never NULL): NOT IN is exact.
    match f.acknowledged {
        Some(true) => q.push(format_args!(" AND a.id IN {ACKNOWLEDGED_IDS}")),
        Some(false) => q.push(format_args!(" AND a.id NOT IN {ACKNOWLEDGED_IDS}")),
        None => q.push(""),
    };
    if let Some(wanted) = f.snoozed {
        q.push(if wanted { " AND a.id IN " } else { " AND a.id NOT IN " })
            .push(SNOOZED_IDS)
            .push_bind(f.today.unwrap_or(time::Date::MIN))
            .push(")");
    }
    if let Some(who) = &f.assignee {
        q.push(" AND a.id IN (SELECT sw.alert_id FROM alert_status sw WHERE sw.assignee = ")
            .push_bind(who.clone())
            .push(")");
    }
}

/// Up to `limit` current alerts after `after`, in `sort` order (the counts
/// per state are [`state_counts`], or [`CountsCache`]).
pub async fn alert_rows(
    conn: &mut PgConnection,
    filter: &AlertFilter,
    sort: AlertSort,
    after: Option<&AlertCursor>,
    limit: i64,
) -> Result<(Vec<WorkItem>, Option<AlertCursor>), sqlx::Error> {
    let [k1, k2, k3] = sort.keys();
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "SELECT c.alert, a.id, {k1}::bigint AS k1, {k2}::bigint AS k2, {k3}::bigint AS k3, \
         c.material, coalesce(s.version, 0) AS version, {ACKNOWLEDGED} AS acknowledged, s.assignee, \
         CASE WHEN s.snooze_material = c.material THEN s.snooze_until END AS snooze_until {WORKLIST_FROM}"
    ));
    push_filter(&mut q, filter, true);
    if let Some(c) = after {
        q.push(format_args!(" AND ({k1}::bigint, {k2}::bigint, {k3}::bigint, a.id) > ("))
            .push_bind(c.keys[0])
            .push(", ")
            .push_bind(c.keys[1])
            .push(", ")
            .push_bind(c.keys[2])
            .push(", ")
            .push_bind(c.id.clone())
            .push(")");
    }
    q.push(" ORDER BY 3, 4, 5, a.id LIMIT ").push_bind(limit + 1);
    // Columns 3–5 are k1–k3 (1-based, after alert and id).
    let sql_rows = q.build().fetch_all(&mut *conn).await?;
    let mut items = Vec::with_capacity(sql_rows.len().min(limit as usize));
    let mut next = None;
    for (i, r) in sql_rows.iter().enumerate() {
        if i as i64 == limit {
            break;
        }
        let body: sqlx::types::Json<AlertRecord> = r.try_get("alert")?;
        let material: Vec<u8> = r.try_get("material")?;
        let snoozed: Option<time::Date> = r.try_get("snooze_until")?;
        let today = filter.today.unwrap_or(time::Date::MIN);
        items.push(WorkItem {
            alert: body.0,
            acknowledged: r.try_get("acknowledged")?,
            snoozed_until: snoozed.filter(|d| *d > today).map(|d| d.to_string()),
            assignee: r.try_get("assignee")?,
            etag: crate::action::etag(&material, r.try_get("version")?),
        });
        if i as i64 == limit - 1 && sql_rows.len() as i64 > limit {
            next = Some(AlertCursor {
                keys: [r.try_get("k1")?, r.try_get("k2")?, r.try_get("k3")?],
                id: r.try_get("id")?,
            });
        }
    }
    Ok((items, next))
}

/// Current alerts per state under the filter's other conditions. A count
/// reads every matching alert: callers serving many users cache it briefly
/// ([`CountsCache`]).
pub async fn state_counts(conn: &mut PgConnection, filter: &AlertFilter) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut q = QueryBuilder::<Postgres>::new("SELECT a.state, count(*) AS n FROM alert a");
    push_filter(&mut q, filter, false);
    q.push(" GROUP BY a.state ORDER BY a.state");
    q.build().fetch_all(&mut *conn).await?.iter().map(|r| Ok((r.try_get("state")?, r.try_get("n")?))).collect()
}

/// Counts per state, kept for a moment per filter: fifty clinicians paging
/// the same worklist share one count every [`CountsCache::FRESH`].
#[derive(Default)]
pub struct CountsCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, CountsAt>>,
}

/// Counts per state, and when they were read.
type CountsAt = (std::time::Instant, Vec<(String, i64)>);

impl CountsCache {
    pub const FRESH: std::time::Duration = std::time::Duration::from_secs(2);

    /// The counts for `filter` (states excluded, as counts are per state).
    pub async fn get(&self, conn: &mut PgConnection, filter: &AlertFilter) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let key = format!("{:?}", AlertFilter { states: Vec::new(), ..filter.clone() });
        if let Some((at, counts)) = self.entries.lock().expect("not poisoned").get(&key) {
            if at.elapsed() < Self::FRESH {
                return Ok(counts.clone());
            }
        }
        let counts = state_counts(conn, filter).await?;
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() > 1000 {
            entries.retain(|_, (at, _)| at.elapsed() < Self::FRESH);
        }
        entries.insert(key, (std::time::Instant::now(), counts.clone()));
        Ok(counts)
    }
}

/// One current alert.
pub async fn alert(conn: &mut PgConnection, id: &str) -> Result<Option<AlertRecord>, sqlx::Error> {
    let row = sqlx::query("SELECT c.alert FROM alert a JOIN alert_change c ON c.seq = a.change_seq WHERE a.id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get::<sqlx::types::Json<AlertRecord>, _>("alert").map(|j| j.0)).transpose()
}

/// What Islet holds about a patient, in brief.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PatientSummary {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_evaluation: Option<time::OffsetDateTime>,
    pub current_alerts: i64,
    /// Resources received for this patient, per type (current versions).
    pub resources: Vec<ResourceCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceCount {
    pub resource_type: String,
    pub count: i64,
}

pub async fn patient(conn: &mut PgConnection, id: &str) -> Result<Option<PatientSummary>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT p.id, p.updated_at, p.wake_at, (SELECT count(*) FROM alert a WHERE a.patient_id = p.id) AS alerts \
         FROM patient p WHERE p.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let resources = sqlx::query(
        "SELECT resource_type, count(DISTINCT resource_id) AS n FROM resource_version \
         WHERE patient_id = $1 AND NOT deleted GROUP BY resource_type ORDER BY resource_type",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Ok(ResourceCount { resource_type: r.try_get("resource_type")?, count: r.try_get("n")? }))
    .collect::<Result<_, sqlx::Error>>()?;
    Ok(Some(PatientSummary {
        id: row.try_get("id")?,
        updated_at: row.try_get("updated_at")?,
        next_evaluation: row.try_get("wake_at")?,
        current_alerts: row.try_get("alerts")?,
        resources,
    }))
}

/// A patient's current alerts in worklist order, with their dispositions at `today`.
pub async fn patient_alerts(
    conn: &mut PgConnection,
    id: &str,
    today: time::Date,
) -> Result<Vec<WorkItem>, sqlx::Error> {
    let filter = AlertFilter { patient: Some(id.to_owned()), today: Some(today), ..AlertFilter::default() };
    Ok(alert_rows(conn, &filter, AlertSort::Worklist, None, 10_000).await?.0)
}

/// The newest stored version of a resource of `patient`, as received (FHIR
/// JSON text). `None` also when the newest version belongs to another
/// patient (a wrong-patient correction moved it): an older version filed
/// under this patient is not shown.
pub async fn patient_resource(
    conn: &mut PgConnection,
    patient: &str,
    resource_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, sqlx::Error> {
    Ok(resource(conn, resource_type, id).await?.filter(|s| s.patient_id == patient))
}

/// The newest stored version of a resource, as received (FHIR JSON text).
async fn resource(
    conn: &mut PgConnection,
    resource_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT patient_id, version_key, raw::text AS raw, deleted, retracted FROM resource_version \
         WHERE resource_type = $1 AND resource_id = $2 ORDER BY received_at DESC, version_key DESC LIMIT 1",
    )
    .bind(resource_type)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(StoredResource {
            patient_id: r.try_get("patient_id")?,
            version_key: r.try_get("version_key")?,
            raw: r.try_get("raw")?,
            deleted: r.try_get("deleted")?,
            retracted: r.try_get("retracted")?,
        })
    })
    .transpose()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResource {
    pub patient_id: String,
    pub version_key: String,
    /// None when the newest version is a deletion.
    pub raw: Option<String>,
    pub deleted: bool,
    pub retracted: bool,
}

/// A position in the change feed: (transaction id, seq); `(0, 0)` is the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCursor {
    pub tx: u64,
    pub seq: i64,
}

impl FeedCursor {
    pub fn encode(&self) -> String {
        format!("{}-{}", self.tx, self.seq)
    }

    pub fn decode(text: &str) -> Option<FeedCursor> {
        let (tx, seq) = text.split_once('-')?;
        Some(FeedCursor { tx: tx.parse().ok()?, seq: seq.parse().ok()? })
    }
}

/// One change-log row as the feed gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    pub cursor: FeedCursor,
    pub committed_at: time::OffsetDateTime,
    pub change: AlertChange,
}

/// Up to `limit` committed changes after `after` (all patients, or one).
/// With fewer than `limit`, the feed is at its horizon for now.
pub async fn changes(
    conn: &mut PgConnection,
    after: FeedCursor,
    patient: Option<&str>,
    limit: i64,
) -> Result<Vec<FeedItem>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT tx::text::bigint AS tx, seq, at, change, cause, alert, committed_at FROM alert_change \
         WHERE (tx, seq) > ($1::text::xid8, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
           AND ($3::text IS NULL OR patient_id = $3) \
         ORDER BY tx, seq LIMIT $4",
    )
    .bind(after.tx.to_string())
    .bind(after.seq)
    .bind(patient)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let tx: i64 = r.try_get("tx")?;
            Ok(FeedItem {
                cursor: FeedCursor { tx: tx as u64, seq: r.try_get("seq")? },
                committed_at: r.try_get("committed_at")?,
                change: crate::outbox::alert_change(r).map_err(|e| sqlx::Error::Decode(e.to_string().into()))?,
            })
        })
        .collect()
}

/// The feed's current end: a cursor past every change committed so far
/// (`since=now`).
pub async fn feed_horizon(conn: &mut PgConnection) -> Result<FeedCursor, sqlx::Error> {
    let row = sqlx::query(
        "SELECT coalesce(max(tx)::text::bigint, 0) AS tx, coalesce(max(seq), 0) AS seq FROM alert_change \
         WHERE tx = (SELECT max(tx) FROM alert_change WHERE tx < pg_snapshot_xmin(pg_current_snapshot()))",
    )
    .fetch_one(conn)
    .await?;
    let tx: i64 = row.try_get("tx")?;
    Ok(FeedCursor { tx: tx as u64, seq: row.try_get("seq")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let c = AlertCursor { keys: [0, 2, 19_800], id: "9f0a".into() };
        assert_eq!(AlertCursor::decode(&c.encode()), Some(c));
        assert_eq!(AlertCursor::decode("1.2.3"), None);
        assert_eq!(AlertCursor::decode("1.2.x.abc"), None);
        assert_eq!(AlertCursor::decode("1.2.3.a'b"), None, "ids are plain");
        let f = FeedCursor { tx: 881, seq: 1042 };
        assert_eq!(FeedCursor::decode(&f.encode()), Some(f));
        assert_eq!(FeedCursor::decode("881"), None);
        assert_eq!(FeedCursor::decode("-1-2"), None);
    }
}
