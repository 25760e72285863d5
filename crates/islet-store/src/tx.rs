//! One batch's PostgreSQL transaction: a handful of set-based statements
//! (arrays through `unnest`), whatever the batch size.

use crate::StoreError;
use islet_engine::core::{Shared, SharedEntry, SharedWrite, Unheld};
use islet_engine::record::PatientRecord;
use islet_engine::record::{ContentHash, VersionStamp};
use islet_engine::{AlertRecord, ChangeKind, PatientState, PatientWrite, RejectedMessage, SourcePosition, Written};
use islet_guideline::Instant;
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct PgTx {
    tx: Transaction<'static, Postgres>,
    /// The shared resources each locked patient's record pointed to when it
    /// was loaded: saving writes only the `shared_reference` rows that changed.
    loaded_needs: HashMap<String, BTreeSet<String>>,
}

impl PgTx {
    pub(crate) fn new(tx: Transaction<'static, Postgres>) -> Self {
        PgTx { tx, loaded_needs: HashMap::new() }
    }
}

/// How a version is deduplicated: `meta.versionId`, else `meta.lastUpdated`,
/// then the content hash (contract v2: two contents with one version key are
/// two rows; identical content with the same key is one).
fn version_key(version_id: Option<&str>, last_updated: Option<Instant>, content: &[u8; 32]) -> String {
    let hex: String = content.iter().map(|b| format!("{b:02x}")).collect();
    match (version_id, last_updated) {
        (Some(v), _) => format!("{v}#{}", &hex[..16]),
        (None, Some(t)) => format!("lastUpdated:{}#{}", t.unix_timestamp_nanos(), &hex[..16]),
        (None, None) => format!("sha256:{hex}"),
    }
}

fn kebab<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

impl islet_engine::Transaction for PgTx {
    type Error = StoreError;

    async fn lock_patients(&mut self, patients: &[String]) -> Result<Vec<PatientState>, StoreError> {
        if patients.is_empty() {
            return Ok(Vec::new());
        }
        // New patients get a row first, so the lock below covers them too.
        sqlx::query("INSERT INTO patient (id) SELECT unnest($1::text[]) ON CONFLICT (id) DO NOTHING")
            .bind(patients)
            .execute(&mut *self.tx)
            .await?;
        let rows = sqlx::query("SELECT id, record, wake_at FROM patient WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(patients)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut states: HashMap<String, PatientState> = HashMap::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let record: Json<PatientRecord> = row.try_get("record")?;
            let wake_at: Option<Instant> = row.try_get("wake_at")?;
            self.loaded_needs.insert(id.clone(), record.0.needs().map(str::to_owned).collect());
            states.insert(id, PatientState { record: record.0, alerts: BTreeMap::new(), wake_at });
        }
        let alerts = sqlx::query(
            // ARRAY(…): an index lookup per alert whatever the statistics say
            // (a join was planned as a scan of the whole change log).
            "SELECT patient_id, alert AS body FROM alert_change \
             WHERE seq = ANY(ARRAY(SELECT change_seq FROM alert WHERE patient_id = ANY($1)))",
        )
        .bind(patients)
        .fetch_all(&mut *self.tx)
        .await?;
        for row in alerts {
            let patient: String = row.try_get("patient_id")?;
            let body: Json<AlertRecord> = row.try_get("body")?;
            if let Some(state) = states.get_mut(&patient) {
                state.alerts.insert(body.0.id.clone(), body.0);
            }
        }
        patients
            .iter()
            .map(|p| {
                states.remove(p).ok_or_else(|| StoreError::Corrupt(format!("patient row {p} vanished under lock")))
            })
            .collect()
    }

    async fn patients_of(&mut self, references: &[String]) -> Result<Vec<(String, String)>, StoreError> {
        let (types, ids): (Vec<&str>, Vec<&str>) = references.iter().filter_map(|r| r.split_once('/')).unzip();
        let rows = sqlx::query(
            "SELECT DISTINCT resource_type || '/' || resource_id AS reference, patient_id FROM resource_version \
             WHERE (resource_type, resource_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        )
        .bind(&types)
        .bind(&ids)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter().map(|r| Ok((r.try_get("reference")?, r.try_get("patient_id")?))).collect()
    }

    async fn save_patients(&mut self, writes: Vec<PatientWrite<'_>>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        // Resource versions.
        let mut rv = ResourceRows::default();
        for w in &writes {
            for written in &w.written {
                match written {
                    Written::Version(v) => rv.push(
                        v.resource_type.as_str(),
                        &v.id,
                        version_key(v.version_id.as_deref(), v.last_updated, &v.content_hash),
                        &w.patient,
                        v.version_id.clone(),
                        v.last_updated,
                        v.clinical_time,
                        v.retracted,
                        false,
                        (!v.raw.is_empty()).then(|| v.raw.clone()),
                    ),
                    Written::Deleted { resource_type, id, version_id } => rv.push(
                        resource_type,
                        id,
                        format!("deleted:{}", version_id.unwrap_or("")),
                        &w.patient,
                        version_id.map(String::from),
                        None,
                        None,
                        false,
                        true,
                        None,
                    ),
                }
            }
        }
        if !rv.types.is_empty() {
            sqlx::query(
                "INSERT INTO resource_version (resource_type, resource_id, version_key, patient_id, version_id, \
                 last_updated, clinical_time, retracted, deleted, raw) \
                 SELECT t, i, k, p, v, lu, ct, r, d, raw::json FROM unnest($1::text[], $2::text[], $3::text[], \
                 $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::bool[], $9::bool[], $10::text[]) \
                 AS u(t, i, k, p, v, lu, ct, r, d, raw) \
                 ON CONFLICT (resource_type, resource_id, version_key) DO NOTHING",
            )
            .bind(&rv.types)
            .bind(&rv.ids)
            .bind(&rv.keys)
            .bind(&rv.patients)
            .bind(&rv.version_ids)
            .bind(&rv.last_updated)
            .bind(&rv.clinical_times)
            .bind(&rv.retracted)
            .bind(&rv.deleted)
            .bind(&rv.raw)
            .execute(&mut *self.tx)
            .await?;
        }

        // Patient records and wake times.
        let mut ids = Vec::with_capacity(writes.len());
        let mut records = Vec::with_capacity(writes.len());
        let mut wakes = Vec::with_capacity(writes.len());
        for w in &writes {
            ids.push(w.patient.as_str());
            records.push(serde_json::to_string(&w.state.record).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            wakes.push(w.state.wake_at);
        }
        sqlx::query(
            "UPDATE patient p SET record = u.record::json, wake_at = u.wake_at, updated_at = now() \
             FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(id, record, wake_at) WHERE p.id = u.id",
        )
        .bind(&ids)
        .bind(&records)
        .bind(&wakes)
        .execute(&mut *self.tx)
        .await?;

        // Which shared resources each record points to: only the pairs that
        // changed since the record was loaded (almost always none).
        let mut added: (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        let mut removed: (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        for w in &writes {
            let now: BTreeSet<&str> = w.state.record.needs().collect();
            let before: BTreeSet<&str> = match self.loaded_needs.get(&w.patient) {
                Some(before) => before.iter().map(String::as_str).collect(),
                None => return Err(StoreError::Corrupt(format!("patient {} saved without being locked", w.patient))),
            };
            for target in now.difference(&before) {
                added.0.push(&w.patient);
                added.1.push(target);
            }
            for target in before.difference(&now) {
                removed.0.push(&w.patient);
                removed.1.push(target);
            }
        }
        if !removed.0.is_empty() {
            sqlx::query(
                "DELETE FROM shared_reference r USING unnest($1::text[], $2::text[]) AS u(p, t) \
                 WHERE r.patient_id = u.p AND r.reference = u.t",
            )
            .bind(&removed.0)
            .bind(&removed.1)
            .execute(&mut *self.tx)
            .await?;
        }
        if !added.0.is_empty() {
            sqlx::query(
                "INSERT INTO shared_reference (reference, patient_id) SELECT t, p FROM unnest($1::text[], $2::text[]) \
                 AS u(p, t) ON CONFLICT DO NOTHING",
            )
            .bind(&added.0)
            .bind(&added.1)
            .execute(&mut *self.tx)
            .await?;
        }
        for w in &writes {
            if let Some(needs) = self.loaded_needs.get_mut(&w.patient) {
                *needs = w.state.record.needs().map(str::to_owned).collect();
            }
        }

        // Alerts (final state per id) and the change log.
        let mut final_state: BTreeMap<&str, Option<&AlertRecord>> = BTreeMap::new();
        let mut log = ChangeRows::default();
        for w in &writes {
            for c in &w.changes {
                final_state.insert(&c.alert.id, (c.change != ChangeKind::Resolved).then_some(&c.alert));
                log.at.push(c.at);
                log.patients.push(c.alert.patient.clone());
                log.alert_ids.push(c.alert.id.clone());
                log.rules.push(c.alert.rule.clone());
                log.changes.push(kebab(&c.change));
                log.causes.push(serde_json::to_string(&c.cause).map_err(|e| StoreError::Corrupt(e.to_string()))?);
                log.alerts.push(serde_json::to_string(&c.alert).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            }
        }
        let resolved: Vec<&str> = final_state.iter().filter(|(_, a)| a.is_none()).map(|(id, _)| *id).collect();
        if !resolved.is_empty() {
            sqlx::query("DELETE FROM alert WHERE id = ANY($1)").bind(&resolved).execute(&mut *self.tx).await?;
        }
        let mut up = AlertRows::default();
        for a in final_state.values().flatten() {
            up.ids.push(a.id.as_str());
            up.patients.push(a.patient.as_str());
            up.rules.push(a.rule.as_str());
            up.kinds.push(kebab(&a.kind));
            up.severities.push(kebab(&a.severity));
            up.states.push(kebab(&a.state));
            up.dues.push(a.due);
        }
        if !log.at.is_empty() {
            // One statement: the change log rows, their outbox rows, and the
            // current alerts pointing to the last change of each (its JSON is
            // the alert's; seqs are drawn in `n` order, so the largest is the
            // batch's last change of that alert).
            sqlx::query(
                "WITH c AS (INSERT INTO alert_change (at, patient_id, alert_id, rule, change, cause, alert) \
                 SELECT at, p, a, r, c, cause::jsonb, alert::jsonb FROM unnest($1::timestamptz[], $2::text[], \
                 $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY \
                 AS u(at, p, a, r, c, cause, alert, n) ORDER BY n RETURNING seq, alert_id), \
                 o AS (INSERT INTO alert_change_outbox (seq) SELECT seq FROM c) \
                 INSERT INTO alert (id, patient_id, rule, kind, severity, state, due, change_seq) \
                 SELECT u.id, u.p, u.r, u.k, u.s, u.st, u.d, l.seq FROM unnest($8::text[], $9::text[], $10::text[], \
                 $11::text[], $12::text[], $13::text[], $14::date[]) AS u(id, p, r, k, s, st, d) \
                 JOIN (SELECT alert_id, max(seq) AS seq FROM c GROUP BY alert_id) l ON l.alert_id = u.id \
                 ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, severity = EXCLUDED.severity, \
                 state = EXCLUDED.state, due = EXCLUDED.due, change_seq = EXCLUDED.change_seq, updated_at = now()",
            )
            .bind(&log.at)
            .bind(&log.patients)
            .bind(&log.alert_ids)
            .bind(&log.rules)
            .bind(&log.changes)
            .bind(&log.causes)
            .bind(&log.alerts)
            .bind(&up.ids)
            .bind(&up.patients)
            .bind(&up.rules)
            .bind(&up.kinds)
            .bind(&up.severities)
            .bind(&up.states)
            .bind(&up.dues)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn patients_referring(&mut self, references: &[String]) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT reference, patient_id FROM shared_reference WHERE reference = ANY($1)")
            .bind(references)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.into_iter().map(|r| Ok((r.try_get("reference")?, r.try_get("patient_id")?))).collect()
    }

    async fn load_shared(&mut self, references: &[String]) -> Result<Shared, StoreError> {
        // An empty row first, so a resource seen for the first time is locked too.
        sqlx::query("INSERT INTO shared_resource (reference) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING")
            .bind(references)
            .execute(&mut *self.tx)
            .await?;
        let rows = sqlx::query(
            "SELECT reference, stamp, definition FROM shared_resource WHERE reference = ANY($1) \
             ORDER BY reference FOR UPDATE",
        )
        .bind(references)
        .fetch_all(&mut *self.tx)
        .await?;
        shared_of(rows)
    }

    async fn read_shared(&mut self, references: &[String]) -> Result<Shared, StoreError> {
        let rows = sqlx::query("SELECT reference, stamp, definition FROM shared_resource WHERE reference = ANY($1)")
            .bind(references)
            .fetch_all(&mut *self.tx)
            .await?;
        shared_of(rows)
    }

    async fn unheld(&mut self, references: &[String]) -> Result<Unheld, StoreError> {
        let rows = sqlx::query("SELECT reference, stamp FROM unheld_tombstone WHERE reference = ANY($1)")
            .bind(references)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.into_iter()
            .map(|r| {
                let stamp: Json<VersionStamp> = r.try_get("stamp")?;
                Ok((r.try_get("reference")?, stamp.0))
            })
            .collect()
    }

    async fn save_unheld(&mut self, unheld: &Unheld) -> Result<(), StoreError> {
        let references: Vec<&str> = unheld.keys().map(String::as_str).collect();
        let stamps = unheld
            .values()
            .map(|s| serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<Result<Vec<String>, StoreError>>()?;
        sqlx::query(
            "INSERT INTO unheld_tombstone (reference, stamp) SELECT r, s::jsonb FROM unnest($1::text[], $2::text[]) \
             AS u(r, s) ON CONFLICT (reference) DO UPDATE SET stamp = EXCLUDED.stamp, updated_at = now()",
        )
        .bind(&references)
        .bind(&stamps)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn save_shared(&mut self, writes: &[SharedWrite<'_>]) -> Result<(), StoreError> {
        let mut references = Vec::with_capacity(writes.len());
        let mut stamps = Vec::with_capacity(writes.len());
        let mut definitions = Vec::with_capacity(writes.len());
        let mut raws = Vec::with_capacity(writes.len());
        for w in writes {
            let v = w.version;
            let stamp = VersionStamp {
                version_id: v.version_id.clone(),
                last_updated: v.last_updated,
                content: ContentHash(v.content_hash),
            };
            references.push(v.reference.as_str());
            stamps.push(serde_json::to_string(&stamp).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            definitions.push(serde_json::to_string(&v.definition).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            raws.push((!v.raw.is_empty()).then_some(v.raw.as_str()));
        }
        sqlx::query(
            "UPDATE shared_resource s SET stamp = u.stamp::jsonb, definition = u.definition::jsonb, \
             raw = u.raw::json, updated_at = now() \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(reference, stamp, definition, raw) \
             WHERE s.reference = u.reference",
        )
        .bind(&references)
        .bind(&stamps)
        .bind(&definitions)
        .bind(&raws)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn claim_due(&mut self, now: Instant, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM patient WHERE wake_at <= $1 ORDER BY wake_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&mut *self.tx)
        .await?;
        ids.sort();
        Ok(ids)
    }

    async fn fence_positions(
        &mut self,
        partitions: &[(String, i32)],
    ) -> Result<std::collections::BTreeMap<(String, i32), i64>, StoreError> {
        let (sources, numbers): (Vec<&str>, Vec<i32>) = partitions.iter().map(|(s, p)| (s.as_str(), *p)).unzip();
        // A row first (next offset 0: nothing committed), so a new partition is locked too.
        sqlx::query(
            "INSERT INTO source_position (source, partition, next_offset) \
             SELECT s, p, 0 FROM unnest($1::text[], $2::int[]) AS u(s, p) ON CONFLICT DO NOTHING",
        )
        .bind(&sources)
        .bind(&numbers)
        .execute(&mut *self.tx)
        .await?;
        let rows = sqlx::query(
            "SELECT source, partition, next_offset FROM source_position \
             WHERE (source, partition) IN (SELECT * FROM unnest($1::text[], $2::int[])) \
             ORDER BY source, partition FOR UPDATE",
        )
        .bind(&sources)
        .bind(&numbers)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter()
            .map(|r| Ok(((r.try_get("source")?, r.try_get("partition")?), r.try_get("next_offset")?)))
            .collect()
    }

    async fn save_positions(&mut self, positions: &[SourcePosition]) -> Result<(), StoreError> {
        let sources: Vec<&str> = positions.iter().map(|p| p.source.as_str()).collect();
        let partitions: Vec<i32> = positions.iter().map(|p| p.partition).collect();
        let offsets: Vec<i64> = positions.iter().map(|p| p.next_offset).collect();
        let bytes: Vec<Option<i64>> = positions.iter().map(|p| p.fingerprint.map(|f| f.bytes as i64)).collect();
        let hashes: Vec<Option<Vec<u8>>> = positions.iter().map(|p| p.fingerprint.map(|f| f.sha256.to_vec())).collect();
        sqlx::query(
            "INSERT INTO source_position (source, partition, next_offset, consumed_bytes, consumed_sha256) \
             SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::bytea[]) \
             ON CONFLICT (source, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, \
             consumed_bytes = EXCLUDED.consumed_bytes, consumed_sha256 = EXCLUDED.consumed_sha256, updated_at = now()",
        )
        .bind(&sources)
        .bind(&partitions)
        .bind(&offsets)
        .bind(&bytes)
        .bind(&hashes)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn save_rejections(&mut self, rejected: &[RejectedMessage]) -> Result<(), StoreError> {
        let mut rows = RejectionRows::default();
        for r in rejected {
            let j = &r.rejection;
            rows.sources.push(j.origin.source.name());
            rows.partitions.push(j.origin.partition);
            rows.offsets.push(j.origin.offset);
            rows.entries.push(j.entry.map(|e| e as i32));
            rows.resources.push(j.resource.as_deref());
            rows.codes.push(j.code);
            rows.reasons.push(j.reason.as_str());
            rows.messages.push(r.message.as_deref());
            rows.keys.push(r.key.as_deref());
            rows.times.push(
                r.timestamp_ms
                    .and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()),
            );
        }
        // A rejection stored before (a message read again) gets no second outbox row.
        sqlx::query(
            "WITH r AS (INSERT INTO rejection (source, partition, \"offset\", entry, resource, code, reason, message, \
             message_key, source_time) \
             SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::int[], $5::text[], $6::text[], \
             $7::text[], $8::bytea[], $9::bytea[], $10::timestamptz[]) \
             ON CONFLICT (source, partition, \"offset\", coalesce(entry, -1), code, coalesce(resource, '')) DO NOTHING \
             RETURNING seq) \
             INSERT INTO rejection_outbox (seq) SELECT seq FROM r",
        )
        .bind(&rows.sources)
        .bind(&rows.partitions)
        .bind(&rows.offsets)
        .bind(&rows.entries)
        .bind(&rows.resources)
        .bind(&rows.codes)
        .bind(&rows.reasons)
        .bind(&rows.messages)
        .bind(&rows.keys)
        .bind(&rows.times)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[derive(Default)]
struct ResourceRows {
    types: Vec<String>,
    ids: Vec<String>,
    keys: Vec<String>,
    patients: Vec<String>,
    version_ids: Vec<Option<String>>,
    last_updated: Vec<Option<Instant>>,
    clinical_times: Vec<Option<Instant>>,
    retracted: Vec<bool>,
    deleted: Vec<bool>,
    raw: Vec<Option<String>>,
}

impl ResourceRows {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        resource_type: &str,
        id: &str,
        key: String,
        patient: &str,
        version_id: Option<String>,
        last_updated: Option<Instant>,
        clinical_time: Option<Instant>,
        retracted: bool,
        deleted: bool,
        raw: Option<String>,
    ) {
        self.types.push(resource_type.to_string());
        self.ids.push(id.to_string());
        self.keys.push(key);
        self.patients.push(patient.to_string());
        self.version_ids.push(version_id);
        self.last_updated.push(last_updated);
        self.clinical_times.push(clinical_time);
        self.retracted.push(retracted);
        self.deleted.push(deleted);
        self.raw.push(raw);
    }
}

#[derive(Default)]
struct RejectionRows<'a> {
    sources: Vec<&'a str>,
    partitions: Vec<i32>,
    offsets: Vec<i64>,
    entries: Vec<Option<i32>>,
    resources: Vec<Option<&'a str>>,
    codes: Vec<&'a str>,
    reasons: Vec<&'a str>,
    messages: Vec<Option<&'a [u8]>>,
    keys: Vec<Option<&'a [u8]>>,
    times: Vec<Option<Instant>>,
}

#[derive(Default)]
struct ChangeRows {
    at: Vec<Instant>,
    patients: Vec<String>,
    alert_ids: Vec<String>,
    rules: Vec<String>,
    changes: Vec<String>,
    causes: Vec<String>,
    alerts: Vec<String>,
}

#[derive(Default)]
struct AlertRows<'a> {
    ids: Vec<&'a str>,
    patients: Vec<&'a str>,
    rules: Vec<&'a str>,
    kinds: Vec<String>,
    severities: Vec<String>,
    states: Vec<String>,
    dues: Vec<Option<time::Date>>,
}

/// The shared resources among `rows` (`reference`, `stamp`, `definition`)
/// that were received (a row created only to be locked has neither).
fn shared_of(rows: Vec<sqlx::postgres::PgRow>) -> Result<Shared, StoreError> {
    let mut shared = Shared::new();
    for row in rows {
        let stamp: Option<Json<VersionStamp>> = row.try_get("stamp")?;
        let definition: Option<Json<islet_fhir::Definition>> = row.try_get("definition")?;
        if let (Some(stamp), Some(definition)) = (stamp, definition) {
            shared.insert(row.try_get("reference")?, SharedEntry { stamp: stamp.0, definition: definition.0 });
        }
    }
    Ok(shared)
}
