"""Analyst quickstart: the LRS reporting topics into DuckDB, then questions in SQL.

    python docs/analyst_quickstart.py localhost:9092 ~/lrs-mi.duckdb     # load the topics, ask three questions
    python docs/analyst_quickstart.py ~/lrs-mi.duckdb --sql "SELECT ..."  # your own question of the loaded file

It reaches the brokers as the LRS services do, told by the same environment: plain text when
KAFKA_SECURITY_PROTOCOL is unset (`make up`), else TLS with the client certificate KAFKA_SSL_CERTFILE and
KAFKA_SSL_KEYFILE name (the KafkaUser lrs-analysts) and the cluster CA in KAFKA_SSL_CAFILE.

Each reporting topic is compacted and keyed `AO|yyyy-mm`: the last message of a key is the current
aggregate, so reading a topic from its beginning to its end gives one row per AO and month.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context

TABLES = {
    "submissions": "lrs.reporting.submissions.v1",
    "timeliness": "lrs.reporting.timeliness.v1",
    "plr_timeliness": "lrs.reporting.plr_timeliness.v1",
    "rejections": "lrs.reporting.rejections.v1",
    "challenges": "lrs.reporting.challenges.v1",
}
COUNTS_BY_NAME = {"submissions": "rejections_by_code", "challenges": "resolutions"}  # objects: name -> count
LISTS_OF_STRUCTS = {  # table -> (its list of objects, the fields of each)
    "rejections": ("by_code", "STRUCT(code VARCHAR, batches BIGINT, records BIGINT)"),
    "plr_timeliness": (
        "by_qualification_type",
        "STRUCT(qualification_type VARCHAR, batches_measured BIGINT, batches_within_10_working_days BIGINT,"
        " median_working_days BIGINT, worst_working_days BIGINT)",
    ),
}

REJECTIONS_BY_CODE_PER_MONTH = """
    SELECT ao_id, period, rejection.code, rejection.batches, rejection.records
    FROM (SELECT ao_id, period, unnest(by_code) AS rejection FROM rejections)
    ORDER BY ao_id, period, rejection.code
"""

PLR_TIMELINESS_BY_QUALIFICATION_TYPE = """
    SELECT ao_id, period, part.qualification_type, part.batches_measured,
           part.batches_within_10_working_days, part.median_working_days, part.worst_working_days
    FROM (SELECT ao_id, period, unnest(by_qualification_type) AS part FROM plr_timeliness)
    ORDER BY ao_id, period, part.qualification_type
"""

CHALLENGES_RESOLVED_PER_MONTH = """
    SELECT ao_id, period, raised, resolved, still_open, median_working_days_to_resolve
    FROM challenges ORDER BY ao_id, period
"""


def kafka_security(environment: Mapping[str, str]) -> dict[str, Any]:
    """The clients' security options from the settings the LRS services read (KAFKA_SECURITY_PROTOCOL and
    KAFKA_SSL_*): none for a plain-text broker, else TLS, trusting the cluster CA, with your certificate."""
    protocol = environment.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    if protocol == "PLAINTEXT":
        return {}
    context = create_ssl_context(
        cafile=environment.get("KAFKA_SSL_CAFILE"),
        certfile=environment.get("KAFKA_SSL_CERTFILE"),
        keyfile=environment.get("KAFKA_SSL_KEYFILE"),
    )
    return {"security_protocol": protocol, "ssl_context": context}


async def read_topic(bootstrap_servers: str, topic: str, security: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The current aggregate of every key, read from the topic's beginning up to its end now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **security)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"]:  # no such topic (yet)
        return []
    partitions = [TopicPartition(topic, partition["partition"]) for partition in described["partitions"]]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        **security,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        latest: dict[bytes | None, dict[str, Any] | None] = {}
        while [partition for partition in partitions if await consumer.position(partition) < ends[partition]]:
            for records in (await consumer.getmany(timeout_ms=1_000)).values():
                for record in records:
                    # A message is an envelope (event id, type, time, ...) around the aggregate in `data`.
                    latest[record.key] = json.loads(record.value)["data"] if record.value is not None else None
        return [row for row in latest.values() if row is not None]
    finally:
        await consumer.stop()


def load(connection: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Replaces `table` with the rows; nested lists (by_code, by_qualification_type) become lists of structs, even
    when every list is empty, and objects of counts (rejections_by_code, resolutions) maps, whichever names the rows
    hold. No rows (a topic with nothing on it now): no table, not the one an earlier run loaded."""
    if not rows:
        connection.execute(f"DROP TABLE IF EXISTS {table}")
        return
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"{table}.json"
        path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
        connection.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_json_auto(?, map_inference_threshold=0)",
            [str(path)],
        )
    columns = {row[0]: row[1] for row in connection.execute(f"DESCRIBE {table}").fetchall()}
    if COUNTS_BY_NAME.get(table) in columns:  # counts even when every map is empty (DuckDB would make them JSON)
        connection.execute(f"ALTER TABLE {table} ALTER {COUNTS_BY_NAME[table]} TYPE MAP(VARCHAR, BIGINT)")
    if table in LISTS_OF_STRUCTS:
        column, fields = LISTS_OF_STRUCTS[table]
        if column in columns and not columns[column].startswith("STRUCT("):  # every list empty: DuckDB made JSON[]
            connection.execute(f"ALTER TABLE {table} ALTER {column} TYPE {fields}[]")


async def load_reporting_topics(
    bootstrap_servers: str, connection: duckdb.DuckDBPyConnection, security: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Every reporting topic into its table; answers the rows loaded per table."""
    loaded = {}
    for table, topic in TABLES.items():
        rows = await read_topic(bootstrap_servers, topic, security or {})
        load(connection, table, rows)
        loaded[table] = len(rows)
    return loaded


QUESTIONS = {
    "rejections": REJECTIONS_BY_CODE_PER_MONTH,
    "plr_timeliness": PLR_TIMELINESS_BY_QUALIFICATION_TYPE,
    "challenges": CHALLENGES_RESOLVED_PER_MONTH,
}


def ask_the_questions(connection: duckdb.DuckDBPyConnection) -> None:
    """Each question whose table is loaded: a topic with nothing on it yet (no challenge raised, say) has none."""
    tables = {row[0] for row in connection.sql("SHOW TABLES").fetchall()}
    for table, query in QUESTIONS.items():
        if table in tables:
            connection.sql(query).show()
        else:
            print(f"{table}: nothing on {TABLES[table]} yet")


def main(bootstrap_servers: str, database: str = ":memory:") -> None:
    connection = duckdb.connect(database)
    print(asyncio.run(load_reporting_topics(bootstrap_servers, connection, kafka_security(os.environ))))
    ask_the_questions(connection)


def ask(database: str, query: str) -> None:
    """Your own SQL against a file `main` loaded, read only: the Python package is all it needs, no DuckDB CLI."""
    if not Path(database).is_file():
        raise SystemExit(f"{database} does not exist: load the topics into it first")
    try:
        duckdb.connect(database, read_only=True).sql(query).show()
    except duckdb.Error as error:  # a table whose topic was empty when loaded is not there, say
        raise SystemExit(str(error)) from error


def command_line(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        usage="%(prog)s BOOTSTRAP_SERVERS [DATABASE] | %(prog)s DATABASE --sql QUERY",
        description="Loads the LRS reporting topics into DATABASE (a file of yours; without it, memory only), or"
        " answers QUERY from a DATABASE loaded before.",
    )
    parser.add_argument("places", nargs="+", metavar="BOOTSTRAP_SERVERS|DATABASE")
    parser.add_argument("--sql", metavar="QUERY", help="SQL to run against DATABASE instead of loading it")
    arguments = parser.parse_args(argv)
    if arguments.sql is None and len(arguments.places) <= 2:
        main(*arguments.places)
    elif arguments.sql is not None and len(arguments.places) == 1:
        ask(arguments.places[0], arguments.sql)
    else:
        parser.error("give BOOTSTRAP_SERVERS and DATABASE, or DATABASE and --sql QUERY")


if __name__ == "__main__":
    command_line()
