//! `scripts/ensure-broker`: start (idempotent), topics, stop — and it never
//! touches a port it did not start.

use islet_kafka::test_support::{ensure_broker_script, unique};
use islet_store::test_support::TempDir;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use std::process::{Command, Output};
use std::time::Duration;

fn script(args: &[&str]) -> Output {
    Command::new(ensure_broker_script()).args(args).output().expect("run scripts/ensure-broker")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Running, and not a zombie (the script's children are reparented to an
/// init that may reap late).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

#[test]
fn start_topics_and_stop() {
    let dir = TempDir::new("ensure-broker");
    let data = dir.path().to_str().unwrap();
    let port = free_port().to_string();
    let started = script(&["start", "--port", &port, "--data", data]);
    assert!(started.status.success(), "{}", text(&started));
    let stdout = String::from_utf8(started.stdout.clone()).unwrap();
    assert!(stdout.lines().any(|l| l == format!("broker=127.0.0.1:{port}")), "{stdout}");
    let pidfile = dir.path().join("tansu.pid");
    assert!(stdout.lines().any(|l| l == format!("pidfile={}", pidfile.display())), "{stdout}");
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_string();
    assert!(alive(&pid));

    let again = script(&["start", "--port", &port, "--data", data]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap().trim(), pid, "the running broker is kept");

    let topic = unique("script");
    let spec = format!("{topic}:3");
    let created = script(&["topics", "--port", &port, &spec, &spec]);
    assert!(created.status.success(), "{}", text(&created));
    assert!(text(&created).contains(&format!("topic {topic} exists")), "the second is left alone: {}", text(&created));
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", format!("127.0.0.1:{port}")).create().unwrap();
    let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 3);
    let bad = script(&["topics", "--port", &port, "nopartitions"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    let stopped = script(&["stop", "--data", data]);
    assert!(stopped.status.success(), "{}", text(&stopped));
    assert!(!alive(&pid), "tansu {pid} stopped");
    assert!(!pidfile.exists());
}

#[test]
fn ports_it_did_not_start_are_left_alone() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = TempDir::new("ensure-broker");
    let data = dir.path().to_str().unwrap();
    let refused = script(&["start", "--port", &port, "--data", data]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("in use by a process this script did not start"), "{}", text(&refused));
    // A pid file naming another process is not obeyed.
    std::fs::write(dir.path().join("tansu.pid"), std::process::id().to_string()).unwrap();
    let stop = script(&["stop", "--data", data]);
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(text(&stop).contains("is not running"), "{}", text(&stop));
    let kafka = script(&["start", "--port", "9092"]);
    assert_eq!(kafka.status.code(), Some(2), "{}", text(&kafka));
    assert!(text(&kafka).contains("9092 is left alone"));
}

/// The SQLite build keeps records across a broker restart. (The first run
/// on a machine builds tansu: 9–15 minutes, cached under /var/tmp.)
#[test]
fn the_durable_broker_keeps_records_across_a_restart() {
    use rdkafka::message::Message as _;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::{Offset, TopicPartitionList};

    let dir = TempDir::new("ensure-broker-durable");
    let data = dir.path().to_str().unwrap();
    let port = free_port().to_string();
    let brokers = format!("127.0.0.1:{port}");
    let start = || {
        let out = script(&["start", "--durable", "--port", &port, "--data", data]);
        assert!(out.status.success(), "{}", text(&out));
    };
    let stop = || {
        let out = script(&["stop", "--data", data]);
        assert!(out.status.success(), "{}", text(&out));
    };
    start();
    assert!(dir.path().join("tansu.db").exists(), "the SQLite file is in --data");
    let topic = unique("durable");
    let created = script(&["topics", "--port", &port, &format!("{topic}:1")]);
    assert!(created.status.success(), "{}", text(&created));
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
    for i in 0..3 {
        let value = format!("kept-{i}");
        producer.send(BaseRecord::<str, str>::to(&topic).key("k").payload(&value)).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    drop(producer);
    stop();
    start();

    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &brokers).set("group.id", unique("reader")).create().unwrap();
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(&topic, 0, Offset::Beginning).unwrap();
    consumer.assign(&list).unwrap();
    let mut values = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while values.len() < 3 && std::time::Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            values.push(String::from_utf8(m.unwrap().payload().unwrap().to_vec()).unwrap());
        }
    }
    drop(consumer);
    stop();
    assert_eq!(values, ["kept-0", "kept-1", "kept-2"]);
}
