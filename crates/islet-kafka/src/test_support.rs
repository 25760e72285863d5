//! For tests of this and other crates: a tansu broker (the memory build,
//! installed by `scripts/ensure-broker`) of the test's own on a free loopback
//! port, stopped when dropped (also when the test panics); topics with
//! unique names; the librdkafka settings that keep group tests short.

use islet_store::test_support::TempDir;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `scripts/ensure-broker` of this checkout.
pub fn ensure_broker_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ensure-broker")
}

/// The tansu binary (installed and hash-checked by `ensure-broker install`).
pub fn tansu() -> PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY
        .get_or_init(|| {
            let out = Command::new(ensure_broker_script())
                .arg("install")
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/ensure-broker install");
            assert!(out.status.success(), "scripts/ensure-broker install failed ({})", out.status);
            PathBuf::from(String::from_utf8(out.stdout).expect("a UTF-8 path").trim())
        })
        .clone()
}

/// librdkafka settings for tests (shared/notes/kafka.md): a short session,
/// so a rebalance takes seconds, not 45.
pub fn fast_group_properties() -> BTreeMap<String, String> {
    [("session.timeout.ms", "6000"), ("heartbeat.interval.ms", "1000")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{nanos:x}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

pub struct TestBroker {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl TestBroker {
    /// Starts a memory broker on a free port and waits until it answers.
    pub fn start() -> TestBroker {
        let bin = tansu();
        let dir = TempDir::new("islet-tansu");
        let log_path = dir.path().join("tansu.log");
        // A port free a moment ago may be taken when tansu binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(&log_path).expect("create tansu.log");
            let url = format!("tcp://127.0.0.1:{port}");
            let mut child = Command::new(&bin)
                .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
                .args(["--storage-engine", "memory://tansu/"])
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("tansu.log"))
                .stderr(log)
                .spawn()
                .expect("start tansu");
            if wait_ready(&mut child, &url, Duration::from_secs(15)) {
                return TestBroker { child, port, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "tansu did not come up on port {port}:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        panic!("tansu did not start on any of 5 ports");
    }

    /// `bootstrap.servers` for clients.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Creates a topic (tansu creates none by itself for a consumer).
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let out = Command::new("timeout")
            .args(["10", tansu().to_str().expect("UTF-8 path"), "topic", "create", name])
            .args(["--partitions", &partitions.to_string(), "--broker", &self.url()])
            .output()
            .expect("run tansu topic create");
        assert!(
            out.status.success(),
            "creating topic {name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new topic with a unique name.
    pub fn topic(&self, prefix: &str, partitions: u32) -> String {
        let name = unique(prefix);
        self.create_topic(&name, partitions);
        name
    }

    /// The broker's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tansu.log")).unwrap_or_default()
    }

    /// Stops the broker now (a broker outage).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the broker at `url` answers, or `child` exits, or `limit` passes.
fn wait_ready(child: &mut Child, url: &str, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        // `topic list` hangs while the broker is not up yet, hence the timeout.
        let listed = Command::new("timeout")
            .args(["3", tansu().to_str().expect("UTF-8 path"), "topic", "list", "--broker", url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if listed.is_ok_and(|s| s.success()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("a bound address").port()
}
