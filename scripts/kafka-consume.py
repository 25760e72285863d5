"""Reads a topic from the beginning with an independent client
(confluent-kafka, no consumer group offsets kept) and prints one JSON line
per record: partition, offset, key, headers, value (UTF-8 text).

Usage: $(scripts/ensure-kafka-client) scripts/kafka-consume.py --brokers B --topic T [--count N] [--idle SECONDS]
Stops after N records, or when nothing arrived for --idle seconds (default 5).
Exit status 0; 2 when fewer than --count records arrived.
"""
import argparse
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError


def text(b):
    return None if b is None else b.decode("utf-8", errors="replace")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--idle", type=float, default=5.0)
    a = p.parse_args()
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": f"islet-check-{uuid.uuid4()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000})
    c.subscribe([a.topic])
    seen, last = 0, time.monotonic()
    try:
        while True:
            if a.count and seen >= a.count:
                break
            if time.monotonic() - last > a.idle:
                break
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                print(json.dumps({"error": str(m.error())}), file=sys.stderr)
                continue
            last = time.monotonic()
            seen += 1
            headers = {k: text(v) for k, v in (m.headers() or [])}
            print(json.dumps({"partition": m.partition(), "offset": m.offset(), "key": text(m.key()),
                              "headers": headers, "value": text(m.value())}), flush=True)
    finally:
        c.close()
    sys.exit(2 if a.count and seen < a.count else 0)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        # The reader went away (`| head`): end quietly, like any filter.
        sys.stderr.close()
        sys.exit(0)
