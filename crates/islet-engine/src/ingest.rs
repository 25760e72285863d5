//! The one ingest path: messages in, batches out (sans-IO).
//!
//! Every driver — file replay, the PostgreSQL load, `islet check`, the Kafka
//! consumer, HTTP ingest — hands its messages to a [`Batcher`] and gets
//! [`Batch`]es back: the decoded items in arrival order, the rejections (one
//! [`Rejection`] type, one serializer), the position each source partition
//! reaches, and the counts ([`Stats`]). Nothing here reads a file, a socket or
//! a clock; the driver owns all I/O and passes the decoding horizon in.
//!
//! **Positions.** A message comes from an [`Origin`]: (source, partition,
//! offset). Offsets of different partitions cannot be compared, so a batch
//! records the next offset of *each* partition it consumed
//! ([`Batch::positions`]), and a batch split in two (to isolate a message the
//! store refuses) gives each half exactly the positions it covers.

use islet_fhir::{Change, Decoded, Decoder};
use islet_guideline::Instant;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where messages come from. Positions are kept per (source, partition).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// An NDJSON file (or standard input): offsets are 1-based line numbers.
    /// The name is `file:<canonical path>` (or `stdin`).
    File(Arc<str>),
    /// A Kafka topic: offsets are Kafka offsets.
    Topic(Arc<str>),
    /// One HTTP request body (`POST /fhir`): no position is kept.
    Http,
}

impl Source {
    pub fn file(name: impl Into<Arc<str>>) -> Source {
        Source::File(name.into())
    }

    pub fn topic(name: impl Into<Arc<str>>) -> Source {
        Source::Topic(name.into())
    }

    /// The name positions are stored under.
    pub fn name(&self) -> &str {
        match self {
            Source::File(n) | Source::Topic(n) => n,
            Source::Http => "http",
        }
    }
}

/// Where one message came from: (source, partition, offset).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub source: Source,
    pub partition: i32,
    pub offset: i64,
}

impl Origin {
    /// Line `line` (1-based) of a file source.
    pub fn line(source: &Source, line: u64) -> Origin {
        Origin { source: source.clone(), partition: 0, offset: line as i64 }
    }
}

/// A file's identity at a position: the bytes consumed so far and their
/// SHA-256, so `--resume` can refuse a file that was replaced or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub bytes: u64,
    pub sha256: [u8; 32],
}

/// How far a source partition has been consumed: the next offset to read,
/// committed with the state it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePosition {
    pub source: String,
    pub partition: i32,
    pub next_offset: i64,
    /// For files: what the consumed prefix was.
    pub fingerprint: Option<Fingerprint>,
}

/// One message as the driver read it.
pub struct Message<'a> {
    pub origin: Origin,
    pub bytes: &'a [u8],
    /// For file sources: the file's fingerprint just after this message.
    pub fingerprint: Option<Fingerprint>,
    /// For Kafka records: the record's key (a dead letter keeps it).
    pub key: Option<&'a [u8]>,
    /// For Kafka records: the record's timestamp, ms since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl<'a> Message<'a> {
    pub fn new(origin: Origin, bytes: &'a [u8]) -> Message<'a> {
        Message { origin, bytes, fingerprint: None, key: None, timestamp_ms: None }
    }
}

/// A message that is not a message at all (the driver could not frame it):
/// it still consumes its offset and is rejected with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingError {
    pub code: &'static str,
    pub reason: String,
}

impl FramingError {
    pub fn invalid_utf8(valid_up_to: usize) -> FramingError {
        FramingError {
            code: "invalid-utf8",
            reason: format!("the line is not UTF-8 (invalid byte at byte {} of the line)", valid_up_to + 1),
        }
    }
}

/// One decoded message.
#[derive(Debug, Clone)]
pub struct Item {
    pub origin: Origin,
    pub fingerprint: Option<Fingerprint>,
    pub decoded: Decoded,
    /// The message as received, kept when the batcher is told to (durable
    /// drivers store rejected messages with their original bytes).
    pub bytes: Option<Arc<[u8]>>,
    /// Set when the driver could not frame the message (see [`FramingError`]).
    pub framing: Option<FramingError>,
    /// The Kafka record key, kept with the bytes.
    pub key: Option<Arc<[u8]>>,
    /// The Kafka record timestamp, ms since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl Item {
    /// A decoded message from `origin`.
    pub fn new(origin: Origin, decoded: Decoded) -> Item {
        Item { origin, fingerprint: None, decoded, bytes: None, framing: None, key: None, timestamp_ms: None }
    }

    /// Has this message (or one of its Bundle entries) been rejected?
    pub fn is_rejected(&self) -> bool {
        self.framing.is_some() || !self.decoded.rejections.is_empty()
    }

    /// The rejections of this message, with its origin.
    pub fn rejections(&self) -> impl Iterator<Item = Rejection> + '_ {
        let framing = self.framing.iter().map(|f| Rejection {
            origin: self.origin.clone(),
            entry: None,
            resource: None,
            code: f.code,
            reason: f.reason.clone(),
        });
        let decoded = self.decoded.rejections.iter().map(|r| Rejection {
            origin: self.origin.clone(),
            entry: r.entry,
            resource: r.resource.clone(),
            code: r.reason.code(),
            reason: r.reason.to_string(),
        });
        framing.chain(decoded)
    }
}

/// A message, or one Bundle entry of it, that cannot be used. The one
/// rejection type of every ingest path: stderr lines, the rejection table,
/// dead-letter headers and OperationOutcomes are all written from it.
///
/// Texts name elements and codes, never patient data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub origin: Origin,
    /// Bundle entry index, when one entry was rejected.
    pub entry: Option<usize>,
    /// `Type/id` when known.
    pub resource: Option<String>,
    /// Stable kebab-case reason code.
    pub code: &'static str,
    pub reason: String,
}

/// Serialized as one JSON object: `line` for files (as replay has always
/// printed it), `topic` / `partition` / `offset` for Kafka, then `entry`,
/// `resource`, `code`, `reason`.
impl Serialize for Rejection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match &self.origin.source {
            Source::File(_) => m.serialize_entry("line", &self.origin.offset)?,
            Source::Topic(topic) => {
                m.serialize_entry("topic", &**topic)?;
                m.serialize_entry("partition", &self.origin.partition)?;
                m.serialize_entry("offset", &self.origin.offset)?;
            }
            Source::Http => {}
        }
        if let Some(e) = self.entry {
            m.serialize_entry("entry", &e)?;
        }
        if let Some(r) = &self.resource {
            m.serialize_entry("resource", r)?;
        }
        m.serialize_entry("code", self.code)?;
        m.serialize_entry("reason", &self.reason)?;
        m.end()
    }
}

/// Counts of what ingest did: the one stats shape every driver prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Messages read (lines, records, request bodies), blank lines included.
    pub messages: u64,
    /// Resource versions decoded.
    pub resources: u64,
    /// New current versions (and retractions / deletions that took effect).
    pub stored: u64,
    /// Versions already stored (redeliveries, identical content).
    pub duplicates: u64,
    /// Versions older than the stored one.
    pub stale: u64,
    /// Resources of types or codes Islet does not use.
    pub skipped: u64,
    /// DELETEs naming a resource no patient holds.
    pub orphan_deletes: u64,
    /// Two different contents with one version key (contract.md v2).
    pub version_conflicts: u64,
    /// Messages with at least one rejection.
    pub rejected_messages: u64,
    /// Rejections (a Bundle can have several).
    pub rejections: u64,
    /// Patients re-evaluated.
    pub patients: u64,
    /// Alert changes (raised, updated, resolved).
    pub alert_changes: u64,
}

impl std::ops::AddAssign<&Stats> for Stats {
    fn add_assign(&mut self, o: &Stats) {
        self.messages += o.messages;
        self.resources += o.resources;
        self.stored += o.stored;
        self.duplicates += o.duplicates;
        self.stale += o.stale;
        self.skipped += o.skipped;
        self.orphan_deletes += o.orphan_deletes;
        self.version_conflicts += o.version_conflicts;
        self.rejected_messages += o.rejected_messages;
        self.rejections += o.rejections;
        self.patients += o.patients;
        self.alert_changes += o.alert_changes;
    }
}

/// Messages decoded and grouped for one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Every non-blank message, in arrival order.
    pub items: Vec<Item>,
    /// The next offset of every source partition this batch consumed (blank
    /// lines included), with the file fingerprint there.
    ends: BTreeMap<(Source, i32), (i64, Option<Fingerprint>)>,
    /// Messages read (blank ones included).
    pub messages: u64,
    /// The latest clinical time among the batch's resources (replay's default instant).
    pub latest_clinical_time: Option<Instant>,
}

impl Batch {
    /// A batch of already decoded items (tests, and CDS Hooks' draft orders):
    /// each item's offset is consumed.
    pub fn of_items(items: Vec<Item>) -> Batch {
        let mut ends = BTreeMap::new();
        let mut latest = None;
        for item in &items {
            ends.insert(
                (item.origin.source.clone(), item.origin.partition),
                (item.origin.offset + 1, item.fingerprint),
            );
            latest = latest_of(latest, &item.decoded);
        }
        Batch { messages: items.len() as u64, items, ends, latest_clinical_time: latest }
    }

    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// The rejections of every item, in arrival order.
    pub fn rejections(&self) -> impl Iterator<Item = Rejection> + '_ {
        self.items.iter().flat_map(Item::rejections)
    }

    /// What to store as "consumed": one position per source partition (HTTP has none).
    pub fn positions(&self) -> Vec<SourcePosition> {
        self.ends
            .iter()
            .filter(|((source, _), _)| *source != Source::Http)
            .map(|((source, partition), (next, fingerprint))| SourcePosition {
                source: source.name().to_owned(),
                partition: *partition,
                next_offset: *next,
                fingerprint: *fingerprint,
            })
            .collect()
    }

    /// The Kafka partitions this batch consumes (what a transaction fences on).
    pub fn topic_partitions(&self) -> Vec<(String, i32)> {
        self.ends
            .keys()
            .filter(|(source, _)| matches!(source, Source::Topic(_)))
            .map(|(source, partition)| (source.name().to_owned(), *partition))
            .collect()
    }

    /// This batch without the records below `committed` (the next offset
    /// already committed per (topic, partition), read under lock in the
    /// batch's transaction): another consumer that owned the partition during
    /// a rebalance applied them. `None` when nothing is dropped.
    pub fn fenced(&self, committed: &BTreeMap<(String, i32), i64>) -> Option<Batch> {
        let below = |o: &Origin| {
            matches!(o.source, Source::Topic(_))
                && committed.get(&(o.source.name().to_owned(), o.partition)).is_some_and(|next| o.offset < *next)
        };
        if !self.items.iter().any(|i| below(&i.origin)) {
            return None;
        }
        let mut fenced = self.clone();
        fenced.items.retain(|i| !below(&i.origin));
        for ((source, partition), (next, _)) in fenced.ends.iter_mut() {
            if let Some(done) = committed.get(&(source.name().to_owned(), *partition)) {
                *next = (*next).max(*done);
            }
        }
        Some(fenced)
    }

    /// Counts known before the store: messages, resources, rejections.
    pub fn ingest_stats(&self) -> Stats {
        let mut s = Stats { messages: self.messages, ..Stats::default() };
        for item in &self.items {
            s.resources += item.decoded.changes.iter().filter(|c| matches!(c, Change::Upsert(_))).count() as u64;
            if item.is_rejected() {
                s.rejected_messages += 1;
                s.rejections += item.decoded.rejections.len() as u64 + u64::from(item.framing.is_some());
            }
        }
        s
    }

    /// Splits off the items from `at` on (at least one item stays on each
    /// side): the first half's positions end just after its last item, the
    /// second half keeps this batch's ends (and the blank lines between).
    pub fn split_off(&mut self, at: usize) -> Batch {
        assert!(0 < at && at < self.items.len(), "split inside the batch");
        let tail_items = self.items.split_off(at);
        let mut head_ends = BTreeMap::new();
        for item in &self.items {
            let key = (item.origin.source.clone(), item.origin.partition);
            head_ends.insert(key, (item.origin.offset + 1, item.fingerprint));
        }
        let tail = Batch {
            items: tail_items,
            ends: std::mem::replace(&mut self.ends, head_ends),
            messages: 0,
            latest_clinical_time: self.latest_clinical_time,
        };
        // Message counts stay with the head; the tail's items are counted there.
        tail
    }

    /// Rejects the item at `index` as a whole (a message the store refused):
    /// its changes and earlier rejections are dropped for this one reason,
    /// and its offset stays consumed.
    pub fn reject_item(&mut self, index: usize, code: &'static str, reason: String) {
        let item = &mut self.items[index];
        item.decoded = Decoded::default();
        item.framing = Some(FramingError { code, reason });
    }
}

/// Batch limits.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Messages per batch (blank lines count: they consume offsets).
    pub max_messages: usize,
}

/// The largest batch a driver may ask for: a batch is one transaction and
/// lives in memory whole.
pub const MAX_BATCH_MESSAGES: usize = 100_000;

/// Messages → batches. Decodes each message as it is pushed.
pub struct Batcher {
    decoder: Decoder,
    limits: BatchLimits,
    /// Clinical times after this (plus slack) are implausible (see [`Decoder::decode_received`]).
    horizon: Instant,
    keep_bytes: bool,
    current: Batch,
}

impl Batcher {
    pub fn new(decoder: Decoder, limits: BatchLimits, horizon: Instant) -> Batcher {
        let max_messages = limits.max_messages.clamp(1, MAX_BATCH_MESSAGES);
        Batcher { decoder, limits: BatchLimits { max_messages }, horizon, keep_bytes: false, current: Batch::default() }
    }

    /// Keep every message's bytes in its item (durable drivers: a message the
    /// store refuses is stored as rejected with its original bytes).
    pub fn keep_bytes(mut self, keep: bool) -> Batcher {
        self.keep_bytes = keep;
        self
    }

    /// The instant after which clinical times are implausible; a service moves it with its clock.
    pub fn set_horizon(&mut self, horizon: Instant) {
        self.horizon = horizon;
    }

    /// Adds one message. Returns a full batch when this message filled it.
    pub fn push(&mut self, message: Message<'_>) -> Option<Batch> {
        let framing = match std::str::from_utf8(message.bytes) {
            Ok(_) => None,
            Err(e) => Some(FramingError::invalid_utf8(e.valid_up_to())),
        };
        self.push_framed(message, framing)
    }

    /// Adds one message the driver could not frame (e.g. a line that does not
    /// end): it is rejected with `error`, and its offset is consumed.
    pub fn push_unframed(&mut self, message: Message<'_>, error: FramingError) -> Option<Batch> {
        self.push_framed(message, Some(error))
    }

    fn push_framed(&mut self, message: Message<'_>, framing: Option<FramingError>) -> Option<Batch> {
        let batch = &mut self.current;
        batch.messages += 1;
        let key = (message.origin.source.clone(), message.origin.partition);
        batch.ends.insert(key, (message.origin.offset + 1, message.fingerprint));
        let blank = message.bytes.iter().all(u8::is_ascii_whitespace);
        if !blank || framing.is_some() {
            let decoded = match framing {
                Some(_) => Decoded::default(),
                None => self.decoder.decode_received(message.bytes, self.horizon),
            };
            batch.latest_clinical_time = latest_of(batch.latest_clinical_time, &decoded);
            batch.items.push(Item {
                origin: message.origin,
                fingerprint: message.fingerprint,
                decoded,
                bytes: self.keep_bytes.then(|| Arc::from(message.bytes)),
                framing,
                key: message.key.filter(|_| self.keep_bytes).map(Arc::from),
                timestamp_ms: message.timestamp_ms,
            });
        }
        (batch.messages as usize >= self.limits.max_messages).then(|| self.take())
    }

    /// The batch so far (possibly empty), leaving an empty one.
    pub fn take(&mut self) -> Batch {
        std::mem::take(&mut self.current)
    }

    pub fn pending(&self) -> &Batch {
        &self.current
    }
}

/// The later of `latest` and the clinical times in `decoded`.
pub fn latest_of(latest: Option<Instant>, decoded: &Decoded) -> Option<Instant> {
    decoded
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(v) => v.clinical_time,
            _ => None,
        })
        .fold(latest, |l, t| Some(l.map_or(t, |l| l.max(t))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use islet_fhir::SiteMapping;
    use time::macros::datetime;

    const KI67: &str = r#"{"resourceType":"Observation","id":"k1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29593-1"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-10","valueQuantity":{"value":4.5,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}"#;

    fn batcher(max: usize) -> Batcher {
        Batcher::new(
            Decoder::new(SiteMapping::empty()),
            BatchLimits { max_messages: max },
            datetime!(2026-01-01 0:00 UTC),
        )
    }

    fn line<'a>(source: &Source, n: u64, text: &'a str) -> Message<'a> {
        Message::new(Origin::line(source, n), text.as_bytes())
    }

    #[test]
    fn batches_fill_by_messages_and_record_positions_per_partition() {
        let file = Source::file("file:/x.ndjson");
        let mut b = batcher(3);
        assert!(b.push(line(&file, 1, KI67)).is_none());
        assert!(b.push(line(&file, 2, "")).is_none());
        let batch = b.push(line(&file, 3, "[1, 2]")).expect("full after 3 messages");
        assert_eq!(batch.messages, 3);
        assert_eq!(batch.items.len(), 2, "the blank line is consumed, not an item");
        let positions = batch.positions();
        assert_eq!(positions.len(), 1);
        assert_eq!(positions[0].next_offset, 4);
        let rejections: Vec<_> = batch.rejections().collect();
        assert_eq!(rejections.len(), 1);
        assert_eq!(
            serde_json::to_string(&rejections[0]).unwrap(),
            r#"{"line":3,"code":"not-an-object","reason":"a message must be a JSON object (a FHIR resource, a Bundle or a delivery envelope), found an array"}"#
        );
        assert_eq!(batch.latest_clinical_time, Some(datetime!(2024-01-10 0:00 UTC)));
    }

    #[test]
    fn partitions_keep_their_own_positions() {
        let topic = Source::topic("fhir");
        let mut b = batcher(10);
        for (partition, offset) in [(0, 7), (1, 3), (0, 8)] {
            let m = Message::new(Origin { source: topic.clone(), partition, offset }, KI67.as_bytes());
            b.push(m);
        }
        let ends: Vec<(i32, i64)> = b.take().positions().iter().map(|p| (p.partition, p.next_offset)).collect();
        assert_eq!(ends, [(0, 9), (1, 4)]);
    }

    #[test]
    fn invalid_utf8_is_one_rejected_message() {
        let file = Source::file("f");
        let mut b = batcher(10);
        b.push(Message::new(Origin::line(&file, 1), b"{\"a\":\"\xff\"}"));
        let batch = b.take();
        let r: Vec<_> = batch.rejections().collect();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].code, "invalid-utf8");
        assert_eq!(batch.positions()[0].next_offset, 2);
    }

    #[test]
    fn a_split_gives_each_half_the_positions_it_covers() {
        let file = Source::file("f");
        let mut b = batcher(10);
        b.push(line(&file, 1, KI67));
        b.push(line(&file, 2, KI67));
        b.push(line(&file, 3, ""));
        b.push(line(&file, 4, KI67));
        let mut head = b.take();
        let tail = head.split_off(2);
        assert_eq!(head.positions()[0].next_offset, 3);
        assert_eq!(tail.positions()[0].next_offset, 5, "the tail covers the blank line too");
        assert_eq!(tail.items.len(), 1);
    }

    #[test]
    fn fencing_drops_what_another_consumer_committed() {
        let topic = Source::topic("fhir");
        let mut b = batcher(10);
        for offset in [5, 6, 7] {
            b.push(Message::new(Origin { source: topic.clone(), partition: 0, offset }, KI67.as_bytes()));
        }
        b.push(Message::new(Origin { source: topic.clone(), partition: 1, offset: 3 }, KI67.as_bytes()));
        let batch = b.take();
        let none: BTreeMap<(String, i32), i64> = BTreeMap::new();
        assert!(batch.fenced(&none).is_none(), "nothing committed yet: the batch stands");
        let committed = BTreeMap::from([(("fhir".to_string(), 0), 7)]);
        let fenced = batch.fenced(&committed).expect("offsets 5 and 6 were applied elsewhere");
        let kept: Vec<(i32, i64)> = fenced.items.iter().map(|i| (i.origin.partition, i.origin.offset)).collect();
        assert_eq!(kept, [(0, 7), (1, 3)]);
        let ends: Vec<(i32, i64)> = fenced.positions().iter().map(|p| (p.partition, p.next_offset)).collect();
        assert_eq!(ends, [(0, 8), (1, 4)]);
        // Everything already applied: nothing left but the position.
        let all = BTreeMap::from([(("fhir".to_string(), 0), 9), (("fhir".to_string(), 1), 4)]);
        let fenced = batch.fenced(&all).unwrap();
        assert!(fenced.items.is_empty());
        assert_eq!(fenced.positions().iter().map(|p| p.next_offset).collect::<Vec<_>>(), [9, 4]);
    }

    #[test]
    fn topic_rejections_name_topic_partition_and_offset() {
        let r = Rejection {
            origin: Origin { source: Source::topic("fhir.events"), partition: 2, offset: 41 },
            entry: Some(1),
            resource: Some("Observation/x".into()),
            code: "no-patient",
            reason: "no patient".into(),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"topic":"fhir.events","partition":2,"offset":41,"entry":1,"resource":"Observation/x","code":"no-patient","reason":"no patient"}"#
        );
    }
}
