//! The audit trail: who saw or changed what, for which patient, appended in
//! the same transaction as the read or action it records, hash-chained.
//!
//! **Chains.** The trail is [`LANES`] chains ("lanes"); each event goes to
//! one, so concurrent requests do not all queue on one head row. In each
//! lane, `hash(n) = SHA-256(hash(n−1) ‖ canonical(n))`, `hash(0)` = 32 zero
//! bytes, where `canonical(n)` is the compact JSON of [`Canonical`]: every
//! column of the row in a fixed order, absent values as `null` (the lane
//! too, except in lane 0, whose rows keep the form they had before lanes). Each
//! value round-trips through its column exactly (times are kept to the
//! microsecond, PostgreSQL's precision), so [`verify`] recomputes every hash
//! from what is stored.
//!
//! **Serialisation.** [`append`] locks the one `audit_head` row, inserts the
//! next row and moves the head. It must be the last statement of its
//! transaction before `COMMIT`: the head lock then lasts a few statements,
//! and it comes after every engine lock (ARCHITECTURE.md, lock order).

use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Row};
use time::OffsetDateTime;

/// FHIR AuditEvent.action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Create,
    Read,
    Update,
    Delete,
    Execute,
}

impl AuditAction {
    pub fn code(self) -> &'static str {
        match self {
            AuditAction::Create => "C",
            AuditAction::Read => "R",
            AuditAction::Update => "U",
            AuditAction::Delete => "D",
            AuditAction::Execute => "E",
        }
    }
}

/// FHIR AuditEvent.outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    Success = 0,
    MinorFailure = 4,
    SeriousFailure = 8,
    MajorFailure = 12,
}

/// One event to append (the row without its sequence number, time and hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// `app_user.key`, or `anonymous`.
    pub actor: String,
    pub actor_name: Option<String>,
    pub roles: Vec<String>,
    pub action: AuditAction,
    /// `read`, `search`, `login`, `logout`, `login-failed`, `forbidden`, …
    pub subtype: String,
    pub outcome: AuditOutcome,
    /// `Patient/123` when the event concerns one patient.
    pub patient_id: Option<String>,
    /// What was read or changed (a route with its ids; never data values).
    pub entity: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// How the actor proved who they are (`session:…`, `token:…`: hashes, never the secret).
    pub credential: Option<String>,
    /// Compact JSON (e.g. a search's filters).
    pub detail: Option<String>,
}

/// How many chains the trail has (`audit_head` rows, migration `…_audit_lanes`).
pub const LANES: i16 = 8;

/// A lane's end: its last row's sequence number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub lane: i16,
    pub seq: i64,
    pub hash: [u8; 32],
}

impl Head {
    pub fn hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `LANE:SEQ:HASH`, what `--anchor` takes back.
    pub fn anchor(&self) -> String {
        format!("{}:{}:{}", self.lane, self.seq, self.hex())
    }
}

/// What the hash of a row covers, in this order.
#[derive(serde::Serialize)]
struct Canonical<'a> {
    v: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    lane: Option<i16>,
    seq: i64,
    recorded: String,
    actor: &'a str,
    actor_name: Option<&'a str>,
    roles: &'a [String],
    action: &'a str,
    subtype: &'a str,
    outcome: i16,
    patient: Option<&'a str>,
    entity: Option<&'a str>,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    request_id: Option<&'a str>,
    credential: Option<&'a str>,
    detail: Option<&'a str>,
}

/// RFC 3339 in UTC with exactly six fraction digits: one text per stored instant.
fn instant_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// To the microsecond, as PostgreSQL keeps it.
fn to_micros(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.microsecond() * 1000).expect("microseconds fit")
}

fn row_hash(prev: &[u8; 32], lane: i16, seq: i64, recorded: OffsetDateTime, e: &StoredFields<'_>) -> [u8; 32] {
    let canonical = Canonical {
        v: if lane == 0 { 1 } else { 2 },
        lane: (lane != 0).then_some(lane),
        seq,
        recorded: instant_text(recorded),
        actor: e.actor,
        actor_name: e.actor_name,
        roles: e.roles,
        action: e.action,
        subtype: e.subtype,
        outcome: e.outcome,
        patient: e.patient_id,
        entity: e.entity,
        source_ip: e.source_ip,
        user_agent: e.user_agent,
        request_id: e.request_id,
        credential: e.credential,
        detail: e.detail,
    };
    let mut h = Sha256::new();
    h.update(prev);
    h.update(serde_json::to_vec(&canonical).expect("plain data serialises"));
    h.finalize().into()
}

/// A row's fields as stored (borrowed from an entry or from a fetched row).
#[derive(Clone, Copy)]
struct StoredFields<'a> {
    actor: &'a str,
    actor_name: Option<&'a str>,
    roles: &'a [String],
    action: &'a str,
    subtype: &'a str,
    outcome: i16,
    patient_id: Option<&'a str>,
    entity: Option<&'a str>,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    request_id: Option<&'a str>,
    credential: Option<&'a str>,
    detail: Option<&'a str>,
}

/// A stored row's columns (as the export and the verification read them).
fn stored_event(r: &sqlx::postgres::PgRow) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        lane: r.try_get("lane")?,
        seq: r.try_get("seq")?,
        recorded: r.try_get("recorded")?,
        actor: r.try_get("actor")?,
        actor_name: r.try_get("actor_name")?,
        roles: r.try_get("roles")?,
        action: r.try_get("action")?,
        subtype: r.try_get("subtype")?,
        outcome: r.try_get("outcome")?,
        patient_id: r.try_get("patient_id")?,
        entity: r.try_get("entity")?,
        source_ip: r.try_get("source_ip")?,
        user_agent: r.try_get("user_agent")?,
        request_id: r.try_get("request_id")?,
        credential: r.try_get("credential")?,
        detail: r.try_get("detail")?,
    })
}

impl<'a> StoredFields<'a> {
    fn of_stored(e: &'a StoredEvent) -> Self {
        StoredFields {
            actor: &e.actor,
            actor_name: e.actor_name.as_deref(),
            roles: &e.roles,
            action: &e.action,
            subtype: &e.subtype,
            outcome: e.outcome,
            patient_id: e.patient_id.as_deref(),
            entity: e.entity.as_deref(),
            source_ip: e.source_ip.as_deref(),
            user_agent: e.user_agent.as_deref(),
            request_id: e.request_id.as_deref(),
            credential: e.credential.as_deref(),
            detail: e.detail.as_deref(),
        }
    }

    fn of(e: &'a AuditEntry) -> Self {
        StoredFields {
            actor: &e.actor,
            actor_name: e.actor_name.as_deref(),
            roles: &e.roles,
            action: e.action.code(),
            subtype: &e.subtype,
            outcome: e.outcome as i16,
            patient_id: e.patient_id.as_deref(),
            entity: e.entity.as_deref(),
            source_ip: e.source_ip.as_deref(),
            user_agent: e.user_agent.as_deref(),
            request_id: e.request_id.as_deref(),
            credential: e.credential.as_deref(),
            detail: e.detail.as_deref(),
        }
    }
}

/// Appends `entry` recorded at `recorded` (wall clock) to lane `lane`
/// (taken modulo [`LANES`]). Call it last in the transaction, just before
/// `COMMIT` (see the module's notes). Returns the lane's new head.
pub async fn append(
    conn: &mut PgConnection,
    entry: &AuditEntry,
    recorded: OffsetDateTime,
    lane: u32,
) -> Result<Head, sqlx::Error> {
    let lane = (lane % LANES as u32) as i16;
    let recorded = to_micros(recorded);
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE lane = $1 FOR UPDATE")
        .bind(lane)
        .fetch_one(&mut *conn)
        .await?;
    let prev_seq: i64 = head.try_get("seq")?;
    let prev: Vec<u8> = head.try_get("hash")?;
    let prev: [u8; 32] =
        prev.try_into().map_err(|_| sqlx::Error::Protocol("audit_head.hash is not 32 bytes".into()))?;
    let seq = prev_seq + 1;
    let hash = row_hash(&prev, lane, seq, recorded, &StoredFields::of(entry));
    sqlx::query(
        "INSERT INTO audit_event (seq, recorded, actor, actor_name, roles, action, subtype, outcome, patient_id, \
         entity, source_ip, user_agent, request_id, credential, detail, prev_hash, hash, lane) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(seq)
    .bind(recorded)
    .bind(&entry.actor)
    .bind(&entry.actor_name)
    .bind(&entry.roles)
    .bind(entry.action.code())
    .bind(&entry.subtype)
    .bind(entry.outcome as i16)
    .bind(&entry.patient_id)
    .bind(&entry.entity)
    .bind(&entry.source_ip)
    .bind(&entry.user_agent)
    .bind(&entry.request_id)
    .bind(&entry.credential)
    .bind(&entry.detail)
    .bind(&prev[..])
    .bind(&hash[..])
    .bind(lane)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE lane = $3")
        .bind(seq)
        .bind(&hash[..])
        .bind(lane)
        .execute(&mut *conn)
        .await?;
    Ok(Head { lane, seq, hash })
}

/// Why the chain does not verify, at the first row where it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("lane {lane} row {seq}: expected sequence number {expected} (a row is missing or was inserted)")]
    Gap { lane: i16, seq: i64, expected: i64 },
    #[error("lane {lane} row {seq}: its prev_hash is not the hash of the row before it")]
    Link { lane: i16, seq: i64 },
    #[error("lane {lane} row {seq}: its content does not match its hash (it was changed)")]
    Content { lane: i16, seq: i64 },
    #[error(
        "lane {lane}: the head says seq {head_seq}, but the chain ends at {last_seq} (rows at the end were removed or added)"
    )]
    Head { lane: i16, head_seq: i64, last_seq: i64 },
    #[error("lane {lane}: the head's hash is not the last row's hash")]
    HeadHash { lane: i16 },
    #[error("lane {lane}: no head row")]
    NoHead { lane: i16 },
    #[error("row {seq} of lane {lane}, outside the lanes there are")]
    UnknownLane { lane: i16, seq: i64 },
    #[error("the anchor {lane}:{seq} is not in the chain with hash {expected} (found {found})")]
    Anchor { lane: i16, seq: i64, expected: String, found: String },
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the audit trail is broken: {0}")]
    Broken(Broken),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Reads every lane's chain in order and checks every link, every hash and
/// the heads; with `anchor`, also that an earlier head (lane, seq, hash) is
/// still in its chain (the one defence against rewriting a chain and its
/// head together). Returns the heads, lane by lane.
pub async fn verify(pool: &PgPool, anchor: Option<Head>) -> Result<Vec<Head>, VerifyError> {
    let stray: Option<(i16, i64)> =
        sqlx::query_as("SELECT lane, seq FROM audit_event WHERE lane < 0 OR lane >= $1 ORDER BY lane, seq LIMIT 1")
            .bind(LANES)
            .fetch_optional(pool)
            .await?;
    if let Some((lane, seq)) = stray {
        return Err(VerifyError::Broken(Broken::UnknownLane { lane, seq }));
    }
    let mut heads = Vec::new();
    for lane in 0..LANES {
        heads.push(verify_lane(pool, lane, anchor.filter(|a| a.lane == lane)).await?);
    }
    if let Some(a) = anchor.filter(|a| !(0..LANES).contains(&a.lane)) {
        return Err(VerifyError::Broken(Broken::Anchor {
            lane: a.lane,
            seq: a.seq,
            expected: a.hex(),
            found: "no such lane".into(),
        }));
    }
    Ok(heads)
}

async fn verify_lane(pool: &PgPool, lane: i16, anchor: Option<Head>) -> Result<Head, VerifyError> {
    const PAGE: i64 = 10_000;
    let mut running = Head { lane, seq: 0, hash: [0; 32] };
    let mut anchor_found = anchor.map(|a| a.seq == 0 && a.hash == [0; 32]).unwrap_or(true);
    loop {
        let rows = sqlx::query(
            "SELECT lane, seq, recorded, actor, actor_name, roles, action, subtype, outcome, patient_id, entity, \
             source_ip, user_agent, request_id, credential, detail, prev_hash, hash \
             FROM audit_event WHERE lane = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(lane)
        .bind(running.seq)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let seq: i64 = r.try_get("seq")?;
            let expected = running.seq + 1;
            if seq != expected {
                return Err(VerifyError::Broken(Broken::Gap { lane, seq, expected }));
            }
            let prev: Vec<u8> = r.try_get("prev_hash")?;
            if prev != running.hash {
                return Err(VerifyError::Broken(Broken::Link { lane, seq }));
            }
            let event = stored_event(r)?;
            let fields = StoredFields::of_stored(&event);
            let computed = row_hash(&running.hash, lane, seq, event.recorded, &fields);
            let stored: Vec<u8> = r.try_get("hash")?;
            if stored != computed {
                return Err(VerifyError::Broken(Broken::Content { lane, seq }));
            }
            running = Head { lane, seq, hash: computed };
            if let Some(a) = anchor.filter(|a| a.seq == seq) {
                if a.hash != computed {
                    return Err(VerifyError::Broken(Broken::Anchor {
                        lane,
                        seq,
                        expected: a.hex(),
                        found: running.hex(),
                    }));
                }
                anchor_found = true;
            }
        }
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE lane = $1").bind(lane).fetch_optional(pool).await?;
    let Some(head) = head else {
        return Err(VerifyError::Broken(Broken::NoHead { lane }));
    };
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: Vec<u8> = head.try_get("hash")?;
    if head_seq != running.seq {
        return Err(VerifyError::Broken(Broken::Head { lane, head_seq, last_seq: running.seq }));
    }
    if head_hash != running.hash {
        return Err(VerifyError::Broken(Broken::HeadHash { lane }));
    }
    if !anchor_found {
        let a = anchor.expect("only unset with an anchor");
        return Err(VerifyError::Broken(Broken::Anchor {
            lane,
            seq: a.seq,
            expected: a.hex(),
            found: "no such row".into(),
        }));
    }
    Ok(running)
}

/// `LANE:SEQ:HEX` (what `verify` prints for each lane) as an anchor;
/// `SEQ:HEX` means lane 0.
pub fn parse_anchor(text: &str) -> Result<Head, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (lane, seq, hex) = match parts[..] {
        [lane, seq, hex] => (lane.trim().parse::<i16>().map_err(|_| format!("{lane:?} is not a lane"))?, seq, hex),
        [seq, hex] => (0, seq, hex),
        _ => return Err(format!("{text:?} is not LANE:SEQ:HEX")),
    };
    let seq: i64 = seq.trim().parse().map_err(|_| format!("{seq:?} is not a sequence number"))?;
    let hex = hex.trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the hash must be 64 hexadecimal digits".into());
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex");
    }
    Ok(Head { lane, seq, hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_have_one_text() {
        let t = time::macros::datetime!(2027-01-02 03:04:05.1234567 UTC);
        assert_eq!(instant_text(to_micros(t)), "2027-01-02T03:04:05.123456Z");
        let t = time::macros::datetime!(2027-01-02 03:04:05 +02:00);
        assert_eq!(instant_text(t), "2027-01-02T01:04:05.000000Z");
    }

    #[test]
    fn anchors_parse_and_print_the_same() {
        let h = Head { lane: 0, seq: 12, hash: [0xab; 32] };
        assert_eq!(parse_anchor(&format!("12:{}", h.hex())), Ok(h));
        let h = Head { lane: 3, seq: 12, hash: [0xab; 32] };
        assert_eq!(parse_anchor(&h.anchor()), Ok(h));
        assert!(parse_anchor("12").is_err());
        assert!(parse_anchor("x:00").is_err());
        assert!(parse_anchor(&format!("1:{}", "g".repeat(64))).is_err());
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let roles = vec!["viewer".to_owned()];
        let base = StoredFields {
            actor: "a",
            actor_name: None,
            roles: &roles,
            action: "R",
            subtype: "read",
            outcome: 0,
            patient_id: Some("Patient/1"),
            entity: None,
            source_ip: None,
            user_agent: None,
            request_id: None,
            credential: None,
            detail: None,
        };
        let t = time::macros::datetime!(2027-01-01 00:00 UTC);
        let h = row_hash(&[0; 32], 0, 1, t, &base);
        assert_ne!(h, row_hash(&[1; 32], 0, 1, t, &base), "the previous hash");
        assert_ne!(h, row_hash(&[0; 32], 0, 2, t, &base), "the sequence number");
        assert_ne!(h, row_hash(&[0; 32], 1, 1, t, &base), "the lane");
        assert_ne!(row_hash(&[0; 32], 1, 1, t, &base), row_hash(&[0; 32], 2, 1, t, &base), "the lane");
        assert_ne!(h, row_hash(&[0; 32], 0, 1, t + time::Duration::microseconds(1), &base), "the time");
        assert_ne!(h, row_hash(&[0; 32], 0, 1, t, &StoredFields { patient_id: Some("Patient/2"), ..base }));
        // None and an empty string are different values.
        assert_ne!(h, row_hash(&[0; 32], 0, 1, t, &StoredFields { entity: Some(""), ..base }), "None is not \"\"");
        assert_ne!(h, row_hash(&[0; 32], 0, 1, t, &StoredFields { roles: &[], ..base }), "the roles");
    }
}

/// One stored event, as read back for export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub lane: i16,
    pub seq: i64,
    pub recorded: OffsetDateTime,
    pub actor: String,
    pub actor_name: Option<String>,
    pub roles: Vec<String>,
    /// `C`, `R`, `U`, `D` or `E`.
    pub action: String,
    pub subtype: String,
    pub outcome: i16,
    pub patient_id: Option<String>,
    pub entity: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub credential: Option<String>,
    pub detail: Option<String>,
}

/// Which events to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub patient: Option<String>,
    pub actor: Option<String>,
}

/// Where an export page ended: the last event's (recorded, lane, seq).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    pub recorded: OffsetDateTime,
    pub lane: i16,
    pub seq: i64,
}

impl EventCursor {
    pub fn of(e: &StoredEvent) -> EventCursor {
        EventCursor { recorded: e.recorded, lane: e.lane, seq: e.seq }
    }

    /// `MICROS.LANE.SEQ`.
    pub fn encode(&self) -> String {
        format!("{}.{}.{}", self.recorded.unix_timestamp_nanos() / 1000, self.lane, self.seq)
    }

    pub fn decode(text: &str) -> Option<EventCursor> {
        let mut parts = text.split('.');
        let micros: i128 = parts.next()?.parse().ok()?;
        let lane = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        let recorded = OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1000)?).ok()?;
        parts.next().is_none().then_some(EventCursor { recorded, lane, seq })
    }
}

/// Up to `limit` events after `after`, in time order (then lane, then seq).
pub async fn events(
    conn: &mut PgConnection,
    filter: &EventFilter,
    after: Option<EventCursor>,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let start = after.unwrap_or(EventCursor { recorded: OffsetDateTime::UNIX_EPOCH, lane: -1, seq: 0 });
    let rows = sqlx::query(
        "SELECT lane, seq, recorded, actor, actor_name, roles, action, subtype, outcome, patient_id, entity, source_ip, \
         user_agent, request_id, credential, detail FROM audit_event \
         WHERE (recorded, lane, seq) > ($1, $7, $8) \
           AND ($2::timestamptz IS NULL OR recorded >= $2) AND ($3::timestamptz IS NULL OR recorded < $3) \
           AND ($4::text IS NULL OR patient_id = $4) AND ($5::text IS NULL OR actor = $5) \
         ORDER BY recorded, lane, seq LIMIT $6",
    )
    .bind(start.recorded)
    .bind(filter.from)
    .bind(filter.to)
    .bind(&filter.patient)
    .bind(&filter.actor)
    .bind(limit)
    .bind(start.lane)
    .bind(start.seq)
    .fetch_all(conn)
    .await?;
    rows.iter().map(stored_event).collect()
}
