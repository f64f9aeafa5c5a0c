"""A drill's Kafka messages, where no Kafka console tools are installed (docs/operations.md, "Dead letters", Drill).

Usage (after `source .run/env`, from the repository's directory):
  .venv/bin/python scripts/dev/kafka_drill.py produce TOPIC KEY VALUE       one message: VALUE as typed ('-': stdin)
  .venv/bin/python scripts/dev/kafka_drill.py produce TOPIC KEY --hex FFFE6E6F   one message of those bytes
  .venv/bin/python scripts/dev/kafka_drill.py read TOPIC [--last 10] [--key KEY]   the last messages of each partition

`produce` prints where the message went (`TOPIC partition:offset`). `read` prints one JSON object a message, oldest
first in each partition: partition, offset, its time (UTC), key, headers (the `lrs-*` headers of a `<topic>.dlq`
copy) and value (`value` when it is UTF-8 text, else `value_hex`), then stops at the end of the log. A message's value
may hold personal data, as `lrs dlq show` does: keep what it prints where the data may be.

Kafka is `KAFKA_BOOTSTRAP_SERVERS`, with `KAFKA_SECURITY_PROTOCOL` and `KAFKA_SSL_*` as the services read them. Put
test messages only on a system that is yours to drill (`make up`, a test cluster): a message on a live topic is
read by every service that reads it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import deque
from datetime import UTC, datetime
from typing import Any

from lrs_platform.kafka import make_consumer, make_producer, stop_within, topic_partitions


def _text_or_hex(data: bytes | None, name: str) -> dict[str, Any]:
    if data is None:
        return {name: None}
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_hex": data.hex()}


async def produce(bootstrap: str, topic: str, key: str, value: bytes) -> str:
    if not await topic_partitions(bootstrap, topic):  # else the producer logs its metadata misses, then a traceback
        raise SystemExit(f"kafka_drill.py: no topic {topic!r} on {bootstrap}")
    producer = make_producer(bootstrap, request_timeout_ms=10_000)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value, key=key.encode("utf-8"))
    finally:
        await stop_within(producer.stop(), "drill producer")
    return f"{topic} {sent.partition}:{sent.offset}"


async def read(bootstrap: str, topic: str, last: int, key: str | None) -> list[dict[str, Any]]:
    wanted = await topic_partitions(bootstrap, topic)
    if not wanted:
        raise SystemExit(f"kafka_drill.py: no topic {topic!r} on {bootstrap}")
    consumer = make_consumer(bootstrap, group_id=None, request_timeout_ms=10_000)
    await consumer.start()
    try:
        consumer.assign(wanted)
        begins = await consumer.beginning_offsets(wanted)
        ends = await consumer.end_offsets(wanted)
        records: list[dict[str, Any]] = []
        for tp in wanted:
            # a transaction's commit marker takes an offset but is no message, and --key skips others' messages:
            # read back from the end in wider windows until the last N messages (of the key) are in hand
            window = last
            while True:
                start = max(begins[tp], ends[tp] - window)
                found = await _newest(consumer, tp, start, ends[tp], key, last)
                if len(found) >= last or start == begins[tp]:
                    break
                window *= 4
            records += [_shown(record) for record in found]
        return records
    finally:
        await stop_within(consumer.stop(), "drill consumer")


async def _newest(consumer: Any, tp: Any, start: int, end: int, key: str | None, last: int) -> list[Any]:
    """The newest `last` messages (of `key`, if given) at offsets start..end-1 of one partition, oldest first: only
    those are kept while the rest is read past."""
    wanted = None if key is None else key.encode("utf-8")
    newest: deque[Any] = deque(maxlen=last)
    if end <= start:
        return []
    consumer.seek(tp, start)
    while await consumer.position(tp) < end:
        fetched = await consumer.getmany(tp, timeout_ms=1_000)
        newest.extend(
            record for record in fetched.get(tp, []) if record.offset < end and (wanted is None or record.key == wanted)
        )
    return list(newest)


def _shown(record: Any) -> dict[str, Any]:
    return {
        "partition": record.partition,
        "offset": record.offset,
        "time": datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(),
        **_text_or_hex(record.key, "key"),
        "headers": {name: value.decode("utf-8", "replace") for name, value in record.headers},
        **_text_or_hex(record.value, "value"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kafka_drill.py",
        description="A drill's Kafka messages: put one on a topic, or read a topic with its headers.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("produce", help="put one message on TOPIC under KEY")
    put.add_argument("topic")
    put.add_argument("key")
    given = put.add_mutually_exclusive_group(required=True)
    given.add_argument("value", nargs="?", help="the value as UTF-8 text; '-' reads it from standard input")
    given.add_argument("--hex", help="the value as hexadecimal bytes, e.g. fffe6e6f74206a736f6e (not UTF-8)")
    show = commands.add_parser("read", help="print the last messages of each partition of TOPIC, headers included")
    show.add_argument("topic")
    show.add_argument(
        "--last",
        type=int,
        default=10,
        help="messages per partition (10), of KEY with --key; commit markers do not count",
    )
    show.add_argument("--key", help="only the messages of this key")
    arguments = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        parser.error("KAFKA_BOOTSTRAP_SERVERS is not set: `source .run/env` first")
    if arguments.command == "produce":
        if arguments.hex is not None:
            try:
                value = bytes.fromhex(arguments.hex)
            except ValueError:
                parser.error(f"--hex {arguments.hex!r} is not hexadecimal bytes")
        elif arguments.value == "-":
            value = sys.stdin.buffer.read()
        else:
            value = arguments.value.encode("utf-8")
        print(asyncio.run(produce(bootstrap, arguments.topic, arguments.key, value)))
        return 0
    if arguments.last < 1:
        parser.error("--last is 1 or more")
    for record in asyncio.run(read(bootstrap, arguments.topic, arguments.last, arguments.key)):
        print(json.dumps(record, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
