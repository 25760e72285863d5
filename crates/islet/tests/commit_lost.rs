//! A connection lost during COMMIT, against the real store: the loader
//! cannot know whether its batch committed, retries it, and must end with
//! the database and alerts of an undisturbed load either way — the batch
//! neither lost (COMMIT never reached the server) nor doubled (it did).
//!
//! How: a TCP proxy sits between `islet replay --database-url` and
//! PostgreSQL and reads the wire protocol (v3). After the client's untyped
//! startup message, every message in both directions is a type byte, a
//! big-endian i32 length that counts itself, and a body; the proxy relays
//! whole messages. From the client it watches for a simple query (`Q`, body:
//! the SQL text) or a Parse (`P`, body: statement name, then the SQL text)
//! whose SQL is `COMMIT` (sqlx sends COMMIT as a simple query; Parse is
//! watched so a client that prepares it is caught too). At the chosen
//! COMMIT, once per test, it either
//! - drops both connections without forwarding it: the server sees its
//!   client vanish inside the transaction and rolls it back; or
//! - forwards it (and whatever follows up to the server's answer), reads the
//!   server's reply up to ReadyForQuery (`Z`) without relaying it, records
//!   the reply's CommandComplete (`C`) tag — `COMMIT` proves the batch is
//!   durable — and then drops both connections: the client only sees its
//!   connection die.
//!
//! An SSLRequest is answered `N` by the proxy itself, so the stream stays
//! readable whatever the client's sslmode default.

mod common;

use common::{line_count, load_into, load_succeeded, run_to_end};
use islet_store::test_support::{server_url, TempDir, TestDb};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BATCH_SIZE: usize = 40;
/// The COMMIT to cut (1 = the first): a batch with batches committed before
/// it and still to come (the database is migrated before the loader starts,
/// so every COMMIT the loader sends ends a batch).
const CUT_COMMIT: usize = 4;
/// The startup packet's code for "SSLRequest" (protocol docs, "SSLRequest").
const SSL_REQUEST: [u8; 4] = 80877103u32.to_be_bytes();

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cut {
    /// COMMIT never reaches the server.
    BeforeForwarding,
    /// The server commits; its answer never reaches the client.
    AfterTheServerAnswered,
}

struct Proxy {
    address: SocketAddr,
    state: Arc<ProxyState>,
}

struct ProxyState {
    cut: Cut,
    commits_seen: AtomicUsize,
    /// What happened at the cut: "not forwarded", or the server's tag.
    outcome: Mutex<Option<String>>,
}

impl ProxyState {
    /// Counts a COMMIT; true for the one to cut.
    fn is_the_cut(&self) -> bool {
        self.commits_seen.fetch_add(1, Ordering::SeqCst) + 1 == CUT_COMMIT
    }

    fn record(&self, outcome: &str) {
        *self.outcome.lock().unwrap() = Some(outcome.to_string());
    }
}

impl Proxy {
    /// Listens on 127.0.0.1 at a free port; each client connection gets its
    /// own connection to `upstream` (host:port). Runs until the test's
    /// runtime ends.
    async fn start(upstream: String, cut: Cut) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let address = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState { cut, commits_seen: AtomicUsize::new(0), outcome: Mutex::new(None) });
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (state, upstream) = (Arc::clone(&shared), upstream.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        // An I/O error ends this connection pair, as a network fault would.
                        let _ = relay(client, server, &state).await;
                    }
                });
            }
        });
        Proxy { address, state }
    }

    fn outcome(&self) -> Option<String> {
        self.state.outcome.lock().unwrap().clone()
    }
}

/// Relays one client connection; returning drops (closes) both sockets.
async fn relay(mut client: TcpStream, mut server: TcpStream, state: &ProxyState) -> std::io::Result<()> {
    // Small request/response messages: without this, Nagle's algorithm and
    // delayed ACKs hold each one back ~40 ms.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
    let mut started = false; // past the untyped startup message
    let mut withholding = false; // the cut COMMIT went through: the server's answer stays here
    let mut tag = String::new();
    loop {
        tokio::select! {
            read = client.read_buf(&mut from_client) => {
                if read? == 0 {
                    return Ok(());
                }
                // One write for what one read brought: the client's pipelining
                // (Parse, Bind, Execute, Sync) reaches the server as it was sent.
                let mut forward = Vec::new();
                while let Some(length) = complete_message(&from_client, started) {
                    let message: Vec<u8> = from_client.drain(..length).collect();
                    if !started {
                        if message.get(4..8) == Some(&SSL_REQUEST[..]) {
                            client.write_all(b"N").await?;
                            continue;
                        }
                        started = true;
                    } else if sql_of(&message).is_some_and(is_commit) && state.is_the_cut() {
                        match state.cut {
                            Cut::BeforeForwarding => {
                                server.write_all(&forward).await?; // what came before it, if anything
                                state.record("not forwarded");
                                return Ok(());
                            }
                            Cut::AfterTheServerAnswered => withholding = true,
                        }
                    }
                    forward.extend_from_slice(&message);
                }
                server.write_all(&forward).await?;
            }
            read = server.read_buf(&mut from_server) => {
                if read? == 0 {
                    return Ok(());
                }
                let mut forward = Vec::new();
                while let Some(length) = complete_message(&from_server, true) {
                    let message: Vec<u8> = from_server.drain(..length).collect();
                    if !withholding {
                        forward.extend_from_slice(&message);
                        continue;
                    }
                    match message[0] {
                        // CommandComplete: the command tag, NUL-terminated.
                        b'C' => tag = String::from_utf8_lossy(&message[5..]).trim_end_matches('\0').to_string(),
                        // ReadyForQuery: the server has answered everything.
                        b'Z' => {
                            state.record(&tag);
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                client.write_all(&forward).await?;
            }
        }
    }
}

/// The length of the first whole message in `buffer`, if it holds one.
/// `typed`: false for the startup phase, whose messages have no type byte.
fn complete_message(buffer: &[u8], typed: bool) -> Option<usize> {
    let header = usize::from(typed);
    let length = u32::from_be_bytes(buffer.get(header..header + 4)?.try_into().unwrap()) as usize;
    let total = header + length;
    (buffer.len() >= total).then_some(total)
}

/// The SQL text of a simple query or a Parse message.
fn sql_of(message: &[u8]) -> Option<&str> {
    let body = &message[5..];
    let text = match message[0] {
        b'Q' => body,
        b'P' => &body[body.iter().position(|&b| b == 0)? + 1..],
        _ => return None,
    };
    std::str::from_utf8(&text[..text.iter().position(|&b| b == 0)?]).ok()
}

fn is_commit(sql: &str) -> bool {
    sql.trim().trim_end_matches(';').trim_end().eq_ignore_ascii_case("COMMIT")
}

/// host:port of a `postgres://user@host:port` URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split('/').next().unwrap()
}

fn load(url: &str, file: &Path) -> std::process::Command {
    let mut cmd = load_into(url, BATCH_SIZE);
    cmd.args(["--at", "2025-06-01"]).arg(file).env("RUST_LOG", "warn");
    cmd
}

async fn a_cut_commit_is_retried_to_the_undisturbed_result(cut: Cut, expected_outcome: &str) {
    let dir = TempDir::new("islet-commit-lost");
    let file = common::cohort(dir.path(), 150, 3);
    assert!(line_count(&file) / BATCH_SIZE as i64 > CUT_COMMIT as i64 + 2, "the cut COMMIT should be mid-load");

    let reference = TestDb::new().await;
    let expected = run_to_end(load(&reference.url, &file)).await;
    assert!(load_succeeded(expected.status), "undisturbed load failed: {}", String::from_utf8_lossy(&expected.stderr));
    let expected_tables = reference.snapshot().await;
    assert!(expected_tables.empty_tables().is_empty(), "the cohort should fill every table");

    let db = TestDb::new().await;
    let upstream = authority(&server_url()).to_string();
    let proxy = Proxy::start(upstream.clone(), cut).await;
    let proxied_url = db.url.replacen(&upstream, &proxy.address.to_string(), 1);
    assert_ne!(proxied_url, db.url, "the loader must go through the proxy");
    let out = run_to_end(load(&proxied_url, &file)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert_eq!(proxy.outcome().as_deref(), Some(expected_outcome), "the proxy should have cut COMMIT {CUT_COMMIT}");
    assert!(load_succeeded(out.status), "the loader gave up after the lost COMMIT ({:?}):\n{stderr}", out.status);
    if let Some(difference) = db.snapshot().await.difference(&expected_tables) {
        panic!("the database differs from an undisturbed load:\n{difference}");
    }
    assert!(out.stdout == expected.stdout, "the printed alerts differ from an undisturbed load");
    assert!(stderr.contains("retrying"), "the loader should have retried the batch:\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_is_neither_lost_nor_doubled() {
    a_cut_commit_is_retried_to_the_undisturbed_result(Cut::AfterTheServerAnswered, "COMMIT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_never_reached_the_server_is_redone() {
    a_cut_commit_is_retried_to_the_undisturbed_result(Cut::BeforeForwarding, "not forwarded").await;
}
