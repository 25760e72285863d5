//! What clinicians do with an alert: acknowledge (with a coded reason),
//! snooze until a date, assign, add a note — and what holds now.
//!
//! **Invariants.**
//! - An acknowledgement or snooze holds against the alert's *material*
//!   content (state, due date, evidence: `islet_alert_material` in the
//!   migration). When that changes, the alert is open again; the earlier
//!   acknowledgement stays in the history and is shown as such.
//! - Every action names the version it was taken on: the ETag
//!   `"{material prefix}-{version}"`. A stale ETag is refused, so nobody
//!   acknowledges an alert in a form they have not seen, and two people
//!   editing at once do not overwrite each other silently.
//! - The disposition row is locked (`FOR UPDATE`) for the action; patient
//!   rows are not (an engine batch changing the alert meanwhile only makes
//!   the new acknowledgement not match), so the engine's lock order holds.

use islet_engine::AlertRecord;
use sqlx::{PgConnection, Row};
use time::{Date, OffsetDateTime};

/// The coded reasons of an acknowledgement or snooze (contract.md v2's
/// `overrideReasons` of CDS Hooks, so the EHR's feedback maps onto them).
pub const REASONS: &[(&str, &str)] = &[
    ("not-applicable", "Not applicable to this patient"),
    ("patient-declined", "Patient declined"),
    ("tumour-board", "Decided by the tumour board"),
    ("already-addressed", "Already addressed"),
    ("other", "Other (see the note)"),
];

pub fn reason_label(code: &str) -> Option<&'static str> {
    REASONS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

/// Where an action comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionSource {
    Dashboard,
    Api,
    CdsHooks,
}

impl ActionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionSource::Dashboard => "dashboard",
            ActionSource::Api => "api",
            ActionSource::CdsHooks => "cds-hooks",
        }
    }
}

/// One action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Acknowledge {
        reason: String,
        text: Option<String>,
    },
    Snooze {
        until: Date,
        reason: String,
        text: Option<String>,
    },
    /// `None` unassigns.
    Assign {
        assignee: Option<String>,
    },
    Note {
        text: String,
    },
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Acknowledge { .. } => "acknowledge",
            Action::Snooze { .. } => "snooze",
            Action::Assign { .. } => "assign",
            Action::Note { .. } => "note",
        }
    }
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor<'a> {
    pub key: &'a str,
    pub name: Option<&'a str>,
    pub source: ActionSource,
}

/// A past action, as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PastAction {
    pub seq: i64,
    pub alert_id: String,
    pub kind: String,
    pub reason: Option<String>,
    pub text: Option<String>,
    #[serde(with = "date_opt")]
    pub snooze_until: Option<Date>,
    pub assignee: Option<String>,
    pub actor: String,
    pub actor_name: Option<String>,
    pub source: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The alert version it was taken on (its JSON is that change-log row).
    pub change_seq: i64,
}

mod date_opt {
    use serde::Serializer;
    pub fn serialize<S: Serializer>(d: &Option<time::Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&d.to_string()),
            None => s.serialize_none(),
        }
    }
}

/// What holds for an alert now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Disposition {
    /// Acknowledged in its current form.
    pub acknowledged: bool,
    /// The last acknowledgement, current or not (then the alert changed since).
    pub last_acknowledgement: Option<PastAction>,
    /// Snoozed until this date (only while it holds).
    #[serde(with = "date_opt")]
    pub snoozed_until: Option<Date>,
    pub assignee: Option<String>,
    /// `"{material prefix}-{version}"`: send it as `If-Match` with an action.
    pub etag: String,
}

pub fn etag(material: &[u8], version: i32) -> String {
    let prefix: String = material.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("\"{prefix}-{version}\"")
}

/// A current alert with its disposition at `today` (snoozes end at their date).
pub async fn alert_with_disposition(
    conn: &mut PgConnection,
    alert_id: &str,
    today: Date,
) -> Result<Option<(AlertRecord, Disposition)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.alert, c.material, coalesce(s.version, 0) AS version, s.ack_material, s.ack_action, \
         s.snooze_until, s.snooze_material, s.assignee \
         FROM alert a JOIN alert_change c ON c.seq = a.change_seq LEFT JOIN alert_status s ON s.alert_id = a.id \
         WHERE a.id = $1",
    )
    .bind(alert_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let alert: sqlx::types::Json<AlertRecord> = r.try_get("alert")?;
    let material: Vec<u8> = r.try_get("material")?;
    let ack_material: Option<Vec<u8>> = r.try_get("ack_material")?;
    let ack_action: Option<i64> = r.try_get("ack_action")?;
    let snooze_until: Option<Date> = r.try_get("snooze_until")?;
    let snooze_material: Option<Vec<u8>> = r.try_get("snooze_material")?;
    let last_acknowledgement = match ack_action {
        Some(seq) => history_rows(conn, Which::One(seq)).await?.pop(),
        None => None,
    };
    let disposition = Disposition {
        acknowledged: ack_material.as_deref() == Some(&material[..]),
        last_acknowledgement,
        snoozed_until: snooze_until.filter(|until| *until > today && snooze_material.as_deref() == Some(&material[..])),
        assignee: r.try_get("assignee")?,
        etag: etag(&material, r.try_get("version")?),
    };
    Ok(Some((alert.0, disposition)))
}

/// An alert's actions, oldest first.
pub async fn history(conn: &mut PgConnection, alert_id: &str) -> Result<Vec<PastAction>, sqlx::Error> {
    history_rows(conn, Which::Alert(alert_id)).await
}

/// A patient's actions, oldest first.
pub async fn patient_history(conn: &mut PgConnection, patient_id: &str) -> Result<Vec<PastAction>, sqlx::Error> {
    history_rows(conn, Which::Patient(patient_id)).await
}

macro_rules! action_columns {
    () => {
        "SELECT seq, alert_id, kind, reason, text, snooze_until, assignee, actor, actor_name, source, at, change_seq \
         FROM alert_action"
    };
}

/// Which actions to read.
enum Which<'a> {
    One(i64),
    Alert(&'a str),
    Patient(&'a str),
}

async fn history_rows(conn: &mut PgConnection, which: Which<'_>) -> Result<Vec<PastAction>, sqlx::Error> {
    let query = match &which {
        Which::One(seq) => sqlx::query(concat!(action_columns!(), " WHERE seq = $1")).bind(*seq),
        Which::Alert(id) => sqlx::query(concat!(action_columns!(), " WHERE alert_id = $1 ORDER BY seq")).bind(*id),
        Which::Patient(id) => sqlx::query(concat!(action_columns!(), " WHERE patient_id = $1 ORDER BY seq")).bind(*id),
    };
    let rows = query.fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(PastAction {
                seq: r.try_get("seq")?,
                alert_id: r.try_get("alert_id")?,
                kind: r.try_get("kind")?,
                reason: r.try_get("reason")?,
                text: r.try_get("text")?,
                snooze_until: r.try_get("snooze_until")?,
                assignee: r.try_get("assignee")?,
                actor: r.try_get("actor")?,
                actor_name: r.try_get("actor_name")?,
                source: r.try_get("source")?,
                at: r.try_get("at")?,
                change_seq: r.try_get("change_seq")?,
            })
        })
        .collect()
}

/// Why an action was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActError {
    #[error("no alert has this id")]
    NotFound,
    #[error("this alert is no longer current (it was resolved)")]
    NotCurrent,
    #[error("{message}")]
    Stale { current_etag: String, message: String },
    #[error("{0} has never signed in to Islet; only a known user can be assigned")]
    UnknownAssignee(String),
}

/// Applies `action` to the current alert `alert_id` if `if_match` is its
/// current ETag. Returns the patient and the new ETag. Runs in the caller's
/// transaction (which also appends the audit event).
pub async fn act(
    conn: &mut PgConnection,
    alert_id: &str,
    if_match: &str,
    action: &Action,
    actor: &Actor<'_>,
) -> Result<Result<(String, String), ActError>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO alert_status (alert_id, patient_id) SELECT id, patient_id FROM alert WHERE id = $1 \
         ON CONFLICT (alert_id) DO NOTHING",
    )
    .bind(alert_id)
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query(
        "SELECT a.patient_id, a.change_seq, c.material, s.version, s.ack_action FROM alert a \
         JOIN alert_change c ON c.seq = a.change_seq JOIN alert_status s ON s.alert_id = a.id \
         WHERE a.id = $1 FOR UPDATE OF s",
    )
    .bind(alert_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else {
        let ever: Option<i64> = sqlx::query_scalar("SELECT seq FROM alert_change WHERE alert_id = $1 LIMIT 1")
            .bind(alert_id)
            .fetch_optional(&mut *conn)
            .await?;
        return Ok(Err(if ever.is_some() { ActError::NotCurrent } else { ActError::NotFound }));
    };
    let patient: String = r.try_get("patient_id")?;
    let change_seq: i64 = r.try_get("change_seq")?;
    let material: Vec<u8> = r.try_get("material")?;
    let version: i32 = r.try_get("version")?;
    let current = etag(&material, version);
    if if_match.trim() != current {
        let message = stale_message(conn, alert_id, if_match, &current).await?;
        return Ok(Err(ActError::Stale { current_etag: current, message }));
    }
    if let Action::Assign { assignee: Some(key) } = action {
        let known: Option<String> =
            sqlx::query_scalar("SELECT key FROM app_user WHERE key = $1").bind(key).fetch_optional(&mut *conn).await?;
        if known.is_none() {
            return Ok(Err(ActError::UnknownAssignee(key.clone())));
        }
    }
    let (reason, text, until, assignee) = match action {
        Action::Acknowledge { reason, text } => (Some(reason.as_str()), text.as_deref(), None, None),
        Action::Snooze { until, reason, text } => (Some(reason.as_str()), text.as_deref(), Some(*until), None),
        Action::Assign { assignee } => (None, None, None, assignee.as_deref()),
        Action::Note { text } => (None, Some(text.as_str()), None, None),
    };
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO alert_action (alert_id, patient_id, kind, reason, text, snooze_until, assignee, change_seq, \
         material, actor, actor_name, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq",
    )
    .bind(alert_id)
    .bind(&patient)
    .bind(action.kind())
    .bind(reason)
    .bind(text)
    .bind(until)
    .bind(assignee)
    .bind(change_seq)
    .bind(&material)
    .bind(actor.key)
    .bind(actor.name)
    .bind(actor.source.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let update = match action {
        Action::Acknowledge { .. } => sqlx::query(
            "UPDATE alert_status SET ack_material = $2, ack_action = $3, version = version + 1, updated_at = now() \
             WHERE alert_id = $1",
        )
        .bind(alert_id)
        .bind(&material)
        .bind(seq),
        Action::Snooze { until, .. } => sqlx::query(
            "UPDATE alert_status SET snooze_material = $2, snooze_action = $3, snooze_until = $4, \
             version = version + 1, updated_at = now() WHERE alert_id = $1",
        )
        .bind(alert_id)
        .bind(&material)
        .bind(seq)
        .bind(*until),
        Action::Assign { assignee } => sqlx::query(
            "UPDATE alert_status SET assignee = $2, version = version + 1, updated_at = now() WHERE alert_id = $1",
        )
        .bind(alert_id)
        .bind(assignee.clone()),
        Action::Note { .. } => {
            sqlx::query("UPDATE alert_status SET version = version + 1, updated_at = now() WHERE alert_id = $1")
                .bind(alert_id)
        }
    };
    update.execute(&mut *conn).await?;
    Ok(Ok((patient, etag(&material, version + 1))))
}

/// Says what changed since the version the user saw: someone's action, or the alert itself.
async fn stale_message(
    conn: &mut PgConnection,
    alert_id: &str,
    seen: &str,
    current: &str,
) -> Result<String, sqlx::Error> {
    let material_part = |e: &str| e.trim_matches('"').split('-').next().unwrap_or("").to_owned();
    if material_part(seen) != material_part(current) {
        return Ok("This alert changed since you loaded it (its state, due date or evidence). \
                   Reload it and decide again."
            .into());
    }
    let last = history_rows(conn, Which::Alert(alert_id)).await?.pop();
    Ok(match last {
        Some(a) => format!(
            "This alert changed since you loaded it: {} {} it at {:02}:{:02} UTC. Reload and try again.",
            a.actor_name.as_deref().unwrap_or(&a.actor),
            past_tense(&a.kind),
            a.at.hour(),
            a.at.minute()
        ),
        None => "This alert changed since you loaded it. Reload and try again.".into(),
    })
}

fn past_tense(kind: &str) -> &'static str {
    match kind {
        "acknowledge" => "acknowledged",
        "snooze" => "snoozed",
        "assign" => "assigned",
        _ => "added a note to",
    }
}
