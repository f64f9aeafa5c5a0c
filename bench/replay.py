"""Rebuild of the PLR from a log of N achievement events, through the projector's admin API.

An isolated log: the projector's topics under a private prefix (`PROJECTOR_TOPIC_PREFIX`), filled
with N `AchievementRecorded` events before the projector starts. The projector runs with
`PROJECTOR_RUN_CONSUMER=false`, so its live projection stays idle and the rebuild (POST
/v1/admin/rebuild: replay from offset 0 into a fresh schema) has the machine to itself. Measured:
from the POST until the rebuild reports `caught_up` (every event up to the log's end at the start
projected and committed). The baseline is plain aiokafka reading the same topic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from tests.support.system import ServiceProcess, free_port

from bench.baselines import delete_topics, kafka_consume
from bench.memory import sampling
from bench.system import ProfiledService, create_database, drop_database, issue_keys
from bench.workload import replay_events
from lrs_contracts import topics as contract_topics
from lrs_platform.kafka import ensure_topics, make_producer

PROJECTED = (contract_topics.PLR_EVENTS, contract_topics.LEARNER_EVENTS, contract_topics.CHALLENGE_EVENTS)
POLL_SECONDS = 0.25


async def fill_log(bootstrap: str, topic: str, events: int, learners: int) -> dict[str, Any]:
    """Produces the events as validation's producer would (idempotent, acks=all, gzip)."""
    producer = make_producer(bootstrap)
    await producer.start()
    started = time.perf_counter()
    size = 0
    try:
        pending = []
        for key, value in replay_events(events, learners_count=learners):
            size += len(value)
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return {
        "events": events,
        "mean_event_bytes": round(size / max(1, events)),
        "fill_s": round(time.perf_counter() - started, 1),
    }


async def rebuild_benchmark(
    bootstrap: str, server_database_url: str, log_dir: Path, *, events: int, learners: int, profile: bool = False
) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    topics = [dataclasses.replace(topic, name=prefix + topic.name) for topic in PROJECTED]
    await ensure_topics(bootstrap, topics)
    plr_topic = prefix + contract_topics.PLR_EVENTS.name
    name = f"bench_replay_{uuid.uuid4().hex[:8]}"
    database_url = await create_database(server_database_url, name)
    service: ServiceProcess | None = None
    try:
        filled = await fill_log(bootstrap, plr_topic, events, learners)
        baseline = await kafka_consume(bootstrap, plr_topic, events)
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DATABASE_URL": database_url,
            "PROJECTOR_PORT": str(port),
            "PROJECTOR_LOG_JSON": "true",
            "PROJECTOR_TOPIC_PREFIX": prefix,
            "PROJECTOR_RUN_CONSUMER": "false",
        }
        log = log_dir / "replay-plr-projector.log"
        service = (
            ProfiledService("plr-projector", port, env, log, profile_path=log_dir / "replay.pyinstrument.txt")
            if profile
            else ServiceProcess("plr-projector", port, env, log)
        )
        service.start()
        await service.wait_ready()
        key = (await issue_keys(database_url, ["operator:bench"]))["operator:bench"]
        assert service.process is not None
        async with (
            httpx.AsyncClient(base_url=service.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
            sampling({"plr-projector": service.process.pid}) as memory,
        ):
            started = time.perf_counter()
            response = await client.post("/v1/admin/rebuild")
            if response.status_code != 202:
                raise RuntimeError(f"rebuild start answered {response.status_code}: {response.text[:300]}")
            status = await _until_caught_up(client, within=1_800)
            seconds = time.perf_counter() - started
        rebuilt = await _rebuilt_rows(database_url, status["schema"])
        if rebuilt["parked"] or rebuilt["history"] < events * 0.999:  # (a random key may repeat)
            raise RuntimeError(f"the rebuild of {events:,} events wrote {rebuilt}")
        return {
            **filled,
            "rebuild_s": round(seconds, 2),
            "events_per_s": round(events / seconds),
            "service_events_per_s": status.get("events_per_second"),
            "projected_events": status.get("projected_events"),
            "last_error": status.get("last_error"),
            "peak_rss_mb": memory.peak_mb()["plr-projector"],
            "cpu_s": memory.cpu.get("plr-projector"),
            "rebuilt_rows": rebuilt,
            "baseline_consume": baseline,
        }
    finally:
        if service is not None:
            service.stop()
        await drop_database(server_database_url, name)
        await delete_topics(bootstrap, [t.name for t in topics] + [t.dead_letters for t in topics])


async def _rebuilt_rows(database_url: str, schema: str) -> dict[str, int]:
    """Every event must have become a history entry of the rebuilt model, none parked."""
    connection = await asyncpg.connect(database_url)
    try:
        counts = {
            table: int(await connection.fetchval(f'SELECT count(*) FROM "{schema}".{table}'))
            for table in ("achievements", "achievement_history", "parked")
        }
    finally:
        await connection.close()
    return {
        "achievements": counts["achievements"],
        "history": counts["achievement_history"],
        "parked": counts["parked"],
    }


async def _until_caught_up(client: httpx.AsyncClient, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        status: dict[str, Any] = (await client.get("/v1/admin/rebuild")).json()
        if status.get("state") == "caught_up":
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"rebuild not caught up within {within}s: {status}")
        await asyncio.sleep(POLL_SECONDS)
