"""Produces an NDJSON file of FHIR messages to a Kafka topic, one record per
line, keyed the way HAPI FHIR / Smile CDR key them: by the resource
(`Type/id`), not by patient. An independent client (confluent-kafka) for the
tests and the demo; a progress line on stderr.

Usage: $(scripts/ensure-kafka-client) scripts/kafka-produce.py --brokers B --topic T FILE
Exit status 0 when every record was acknowledged (acks=all), 2 otherwise.
"""
import argparse
import json
import sys
import time

from confluent_kafka import Producer


def key_of(line):
    """`Type/id` of the message's resource (a Bundle's own id when it has one)."""
    try:
        v = json.loads(line)
    except ValueError:
        return None
    if not isinstance(v, dict):
        return None
    if v.get("resourceType") and v.get("id"):
        return f'{v["resourceType"]}/{v["id"]}'.encode()
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--rate", type=float, default=0, help="records per second (0: as fast as possible)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("file")
    a = p.parse_args()
    failed = []
    producer = Producer({"bootstrap.servers": a.brokers, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "queue.buffering.max.messages": 1000000})

    def report(err, msg):
        if err is not None:
            failed.append(str(err))

    with open(a.file, "rb") as f:
        lines = [l.rstrip(b"\r\n") for l in f]
    started = time.monotonic()
    for n, line in enumerate(lines, 1):
        while True:
            try:
                producer.produce(a.topic, value=line, key=key_of(line), on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        if a.rate > 0:
            ahead = n / a.rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        if not a.quiet and (n % 2000 == 0 or n == len(lines)):
            rate = n / max(time.monotonic() - started, 1e-9)
            sys.stderr.write(f"\rproduced {n}/{len(lines)} records to {a.topic} ({rate:.0f}/s)")
            sys.stderr.flush()
    left = producer.flush(60)
    if not a.quiet:
        sys.stderr.write("\n")
    if left or failed:
        print(json.dumps({"undelivered": left, "failed": failed[:5]}), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
