//! For tests of this and other crates: a fresh PostgreSQL database per test
//! (zero2prod's `spawn_app` idea), migrated from `migrations/`, dropped when
//! the test ends; a snapshot of its tables to compare two loads; a throwaway
//! PostgreSQL cluster for tests that must stop or restart the server (the
//! machine's own server is never restarted or reconfigured); temporary
//! directories that remove themselves.

use crate::{migrate, PgStore};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The application name of the tests' own sessions, to tell them from the
/// sessions of the program under test.
const TEST_APPLICATION: &str = "islet-test";

async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name(TEST_APPLICATION);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
}

/// The server the tests use: `ISLET_TEST_DATABASE_URL` or the local one.
pub fn server_url() -> String {
    // Without a database name: a test appends its own.
    std::env::var("ISLET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
    /// The server it lives on (without a database name), to drop it from.
    server: String,
}

impl TestDb {
    /// A fresh database on the tests' server ([`server_url`]).
    pub async fn new() -> TestDb {
        TestDb::on(&server_url()).await
    }

    /// A fresh database on `server` (a URL without a database name, e.g. a
    /// [`TempCluster::server_url`]).
    pub async fn on(server: &str) -> TestDb {
        let db = TestDb::unmigrated(server).await;
        migrate(&db.pool).await.expect("migrations apply");
        db
    }

    /// A fresh database on `server` with no table at all (for upgrade tests).
    pub async fn unmigrated(server: &str) -> TestDb {
        let name = format!("islet_test_{}_{}", std::process::id(), rand_suffix());
        let admin = connect(&format!("{server}/postgres"), 2).await.expect("connect to PostgreSQL (is it running?)");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create test database");
        admin.close().await;
        let url = format!("{server}/{name}");
        let pool = connect(&url, 8).await.expect("connect to the test database");
        TestDb { name, url, pool, server: server.to_string() }
    }

    pub fn store(&self) -> PgStore {
        PgStore::new(self.pool.clone())
    }

    /// The committed position of the one file loaded into this database: the
    /// next line a `--resume` reads (`None` before the first batch commits).
    pub async fn next_line(&self) -> Option<i64> {
        let offsets: Vec<i64> = sqlx::query_scalar("SELECT next_offset FROM source_position")
            .fetch_all(&self.pool)
            .await
            .expect("read source_position");
        assert!(offsets.len() <= 1, "one file per test database, found {} sources", offsets.len());
        offsets.first().copied()
    }

    /// Waits until no other client has a session on this database: a
    /// killed loader's sessions first finish what the server had received
    /// (a COMMIT sent just before the kill still commits), then end.
    pub async fn wait_for_other_clients(&self) {
        self.wait_for_clients("no other client is connected", "true", |n| n == 0).await;
    }

    /// Waits until another client's session waits for a lock on this
    /// database: it is inside a transaction (e.g. one [`TestDb::block_writes`]
    /// holds up).
    pub async fn wait_for_a_blocked_client(&self) {
        self.wait_for_clients("a client waits for a lock", "wait_event_type = 'Lock'", |n| n > 0).await;
    }

    /// Polls the number of other clients' sessions on this database that
    /// match `condition` (SQL over `pg_stat_activity`) until `done` says so.
    async fn wait_for_clients(&self, what: &str, condition: &str, done: impl Fn(i64) -> bool) {
        let query = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND backend_type = 'client backend' AND application_name IS DISTINCT FROM $1 AND ({condition})"
        );
        let started = Instant::now();
        loop {
            let sessions: i64 = sqlx::query_scalar(&query)
                .bind(TEST_APPLICATION)
                .fetch_one(&self.pool)
                .await
                .expect("read pg_stat_activity");
            if done(sessions) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "waited a minute for: {what} ({sessions} sessions)");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Holds `LOCK TABLE table IN EXCLUSIVE MODE` until the returned
    /// transaction ends (dropped: rolled back): other sessions' writes to the
    /// table wait inside their transactions, reads go on.
    pub async fn block_writes(&self, table: &str) -> sqlx::Transaction<'static, sqlx::Postgres> {
        let mut tx = self.pool.begin().await.expect("begin");
        sqlx::query(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE")).execute(&mut *tx).await.expect("lock table");
        tx
    }

    /// Every table that holds state, for comparing two loads.
    pub async fn snapshot(&self) -> Snapshot {
        let mut tables = Vec::with_capacity(SNAPSHOT.len());
        for &(table, query) in SNAPSHOT {
            let rows: Vec<String> = sqlx::query_scalar(query)
                .fetch_all(&self.pool)
                .await
                .unwrap_or_else(|e| panic!("snapshot of {table}: {e}"));
            tables.push((table, rows));
        }
        Snapshot { tables }
    }
}

/// One query per table: every column except those that say when a row was
/// written (`received_at`, `updated_at`, `committed_at`, `published_at`) or
/// number it (`seq` and `change_seq`, whose gaps depend on rolled-back inserts), one JSON
/// array per row, in an order that depends only on the data (the change log
/// and the rejections in commit order). `json` columns keep their text, `jsonb` its normal form.
const SNAPSHOT: &[(&str, &str)] = &[
    ("patient", "SELECT json_build_array(id, record, wake_at)::text FROM patient ORDER BY id"),
    (
        "resource_version",
        "SELECT json_build_array(resource_type, resource_id, version_key, patient_id, version_id, last_updated, \
         clinical_time, retracted, deleted, raw)::text FROM resource_version \
         ORDER BY resource_type, resource_id, version_key",
    ),
    (
        "alert",
        "SELECT json_build_array(a.id, a.patient_id, a.rule, a.kind, a.severity, a.state, a.due, c.alert)::text \
         FROM alert a JOIN alert_change c ON c.seq = a.change_seq ORDER BY a.id",
    ),
    (
        "alert_change",
        "SELECT json_build_array(at, patient_id, alert_id, rule, change, cause, alert)::text FROM alert_change \
         ORDER BY seq",
    ),
    (
        "rejection",
        "SELECT json_build_array(source, partition, \"offset\", entry, resource, code, reason, message, message_key)::text \
         FROM rejection ORDER BY seq",
    ),
    (
        "source_position",
        "SELECT json_build_array(source, partition, next_offset, consumed_bytes, consumed_sha256)::text \
         FROM source_position ORDER BY source, partition",
    ),
    (
        "shared_resource",
        "SELECT json_build_array(reference, stamp, definition, raw)::text FROM shared_resource ORDER BY reference",
    ),
    ("unheld_tombstone", "SELECT json_build_array(reference, stamp)::text FROM unheld_tombstone ORDER BY reference"),
    (
        "shared_reference",
        "SELECT json_build_array(reference, patient_id)::text FROM shared_reference ORDER BY reference, patient_id",
    ),
];

/// The rows of every table of [`SNAPSHOT`], as [`TestDb::snapshot`] read them.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    tables: Vec<(&'static str, Vec<String>)>,
}

impl Snapshot {
    /// Tables with no row at all: a comparison with them proves little.
    pub fn empty_tables(&self) -> Vec<&'static str> {
        self.tables.iter().filter(|(_, rows)| rows.is_empty()).map(|(t, _)| *t).collect()
    }

    /// `None` when equal; else, per differing table, the row counts and the
    /// first differing row around its first differing character (a full
    /// dump would drown the message).
    pub fn difference(&self, expected: &Snapshot) -> Option<String> {
        let mut report = String::new();
        for ((table, got), (_, want)) in self.tables.iter().zip(&expected.tables) {
            if got == want {
                continue;
            }
            let row = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)).unwrap_or(0);
            let (got_row, want_row) =
                (got.get(row).map_or("", String::as_str), want.get(row).map_or("", String::as_str));
            let at = got_row.bytes().zip(want_row.bytes()).take_while(|(a, b)| a == b).count();
            report += &format!(
                "table {table}: {} rows, expected {}; first difference in row {row}, at character {at}:\n  \
                 got      {}\n  expected {}\n",
                got.len(),
                want.len(),
                excerpt(got_row, at),
                excerpt(want_row, at),
            );
        }
        (!report.is_empty()).then_some(report)
    }
}

/// Up to ~300 characters of `row` around byte `at`, marked where cut.
fn excerpt(row: &str, at: usize) -> String {
    if row.is_empty() {
        return "(no row)".to_string();
    }
    let start = row.floor_char_boundary(at.saturating_sub(100));
    let end = row.floor_char_boundary(at + 200);
    let before = if start > 0 { "…" } else { "" };
    let after = if end < row.len() { "…" } else { "" };
    format!("{before}{}{after}", &row[start..end])
}

fn rand_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    format!("{:x}", h.finish())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (name, server) = (self.name.clone(), self.server.clone());
        // Drop runs outside any runtime guarantee: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Ok(admin) = connect(&format!("{server}/postgres"), 2).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await;
                }
            });
        })
        .join();
    }
}

/// A directory under the system temporary directory (`TMPDIR`, which
/// `scripts/test` points at one folder per run), removed with everything in
/// it when dropped, also when the test panics.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("{label}-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A PostgreSQL cluster of its own (`initdb` into a [`TempDir`]), listening
/// on 127.0.0.1 at a free port with its Unix socket in that directory, for
/// tests that stop or restart the server. Dropping it stops the server and
/// deletes the directory, also when the test panics.
///
/// PostgreSQL refuses to run as root: under root, the directory is given to
/// the `postgres` user and `initdb`/`pg_ctl` run as that user (the per-run
/// temporary folder must then be searchable by it; `scripts/test` sees to it).
pub struct TempCluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    /// (uid, gid) to run the server as, when the tests run as root.
    run_as: Option<(u32, u32)>,
    running: bool,
}

impl TempCluster {
    /// `initdb` and start. fsync stays on: a restart test must see what a
    /// real server keeps.
    pub fn start() -> TempCluster {
        let dir = TempDir::new("islet-pg");
        let run_as = if numeric_id(&["-u"]) == 0 {
            let ids = (numeric_id(&["-u", "postgres"]), numeric_id(&["-g", "postgres"]));
            std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1))
                .expect("give the cluster folder to postgres");
            Some(ids)
        } else {
            None
        };
        let mut cluster = TempCluster { dir, bin: newest_postgres_bin(), port: 0, run_as, running: false };
        let data = cluster.data();
        let initdb = cluster
            .command("initdb", &["-D", path_str(&data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
            .output()
            .expect("run initdb");
        assert!(
            initdb.status.success(),
            "initdb failed ({}):\n{}{}",
            initdb.status,
            String::from_utf8_lossy(&initdb.stdout),
            String::from_utf8_lossy(&initdb.stderr)
        );
        let settings = format!(
            "\n# islet test cluster\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             max_connections = 30\nshared_buffers = 32MB\n",
            cluster.dir.path().display()
        );
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text += &settings;
        std::fs::write(&conf, text).expect("write postgresql.conf");

        // A port free a moment ago may be taken by the time the server binds
        // it: try a few.
        for _ in 0..5 {
            cluster.port = free_port();
            let port_option = format!("-p {}", cluster.port);
            if cluster.pg_ctl(&["start", "-o", &port_option]) {
                cluster.running = true;
                return cluster;
            }
        }
        panic!("the test cluster did not start:\n{}", cluster.log_tail());
    }

    /// The server's URL without a database name (for [`TestDb::on`]).
    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    pub fn url(&self, database: &str) -> String {
        format!("{}/{database}", self.server_url())
    }

    /// A fast restart: sessions are terminated (57P01), as when an operator
    /// restarts the server; returns when it accepts connections again.
    pub fn restart(&self) {
        assert!(self.pg_ctl(&["restart", "-m", "fast"]), "restarting the test cluster failed:\n{}", self.log_tail());
    }

    pub fn stop(&mut self) {
        assert!(self.pg_ctl(&["stop", "-m", "fast"]), "stopping the test cluster failed:\n{}", self.log_tail());
        self.running = false;
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `pg_ctl ARGS`, waiting for it to take effect; whether it did. The
    /// server logs to `server.log` (`-l`, which `restart` does not remember);
    /// pg_ctl's own output goes to `pg_ctl.log`, not to a pipe: a server
    /// started by pg_ctl inherits its stdout and stderr, and would hold a
    /// pipe open until it stops.
    fn pg_ctl(&self, args: &[&str]) -> bool {
        let (data, server_log) = (self.data(), self.dir.path().join("server.log"));
        let mut all = vec!["-D", path_str(&data), "-l", path_str(&server_log), "-w", "-t", "60"];
        all.extend_from_slice(args);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("pg_ctl.log"))
            .expect("open pg_ctl.log");
        let errors = log.try_clone().expect("open pg_ctl.log");
        let status = self.command("pg_ctl", &all).stdout(log).stderr(errors).status().expect("run pg_ctl");
        status.success()
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        // The postgres user may not be allowed into the test's folder.
        cmd.args(args).current_dir(self.dir.path());
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            // std also drops root's supplementary groups when the uid changes.
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// The end of pg_ctl's and the server's logs, for a failure message.
    fn log_tail(&self) -> String {
        let tail = |name: &str| {
            let log = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            format!("== {name}\n{}\n", lines[lines.len().saturating_sub(20)..].join("\n"))
        };
        tail("pg_ctl.log") + &tail("server.log")
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if self.running {
            // The data is about to be deleted: no checkpoint needed.
            let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
        }
    }
}

/// `id ARGS` as a number (`id -u`, `id -u postgres`, …).
fn numeric_id(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().expect("run id");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().unwrap_or_else(|_| panic!("`id {}` gave {text:?}: {}", args.join(" "), out.status))
}

/// Debian keeps each major version's binaries in /usr/lib/postgresql/<major>/bin.
fn newest_postgres_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|major| root.join(major.to_string()).join("bin/initdb").exists())
        .max();
    let major = newest
        .unwrap_or_else(|| panic!("no PostgreSQL under {} (scripts/ensure-postgres installs it)", root.display()));
    root.join(major.to_string()).join("bin")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A resource version with these facts, for engine and store tests (the
/// content hash is made from patient, reference and version).
pub fn version(
    patient: &str,
    reference: &str,
    v: u32,
    at: islet_guideline::Instant,
    kinds: Vec<islet_guideline::FactKind>,
) -> islet_fhir::Change {
    let (rt, id) = reference.split_once('/').expect("Type/id");
    islet_fhir::Change::Upsert(islet_fhir::ResourceVersion {
        resource_type: islet_fhir::ResourceType::parse(rt).expect("a supported type"),
        id: id.into(),
        patient: format!("Patient/{patient}"),
        version_id: Some(v.to_string()),
        last_updated: Some(at),
        clinical_time: Some(at),
        retracted: false,
        facts: kinds
            .into_iter()
            .map(|kind| islet_guideline::Fact {
                source: islet_guideline::SourceRef(reference.into()),
                at,
                preliminary: false,
                kind,
            })
            .collect(),
        raw: format!(r#"{{"resourceType":"{rt}","id":"{id}"}}"#),
        content_hash: islet_fhir::canonical::content_sha256(&format!("{patient}{reference}{v}")),
        pending: Vec::new(),
        definition: None,
    })
}

/// A small incidental non-functioning tumour (surveillance with follow-ups)
/// per patient, as one item per resource from partition 3 of `topic-a`.
pub fn small_tumour_cohort(patients: usize) -> Vec<islet_engine::Item> {
    use islet_guideline::facts::{FactKind, Millimetres, TumourSite};
    let topic = islet_engine::Source::topic("topic-a");
    let mut items = Vec::new();
    for p in 0..patients {
        let pid = format!("p{p:04}");
        let base = time::macros::datetime!(2024-01-10 00:00 UTC) + time::Duration::days((p % 5) as i64);
        let size = FactKind::TumourSize { site: TumourSite::Primary, largest: Millimetres::new(14.0).expect("14 mm") };
        let changes = [
            version(&pid, &format!("Condition/dx-{p}"), 1, base, vec![FactKind::PnetDiagnosis]),
            version(&pid, &format!("Observation/size-{p}"), 1, base, vec![size]),
        ];
        for c in changes {
            let origin = islet_engine::Origin { source: topic.clone(), partition: 3, offset: items.len() as i64 };
            items.push(islet_engine::Item::new(origin, islet_fhir::Decoded { changes: vec![c], rejections: vec![] }));
        }
    }
    items
}
