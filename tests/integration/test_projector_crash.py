"""SIGKILL at random points during 20 batches: the PLR ends up row for row as an uninterrupted run's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.databases import create_database, unique_name
from tests.support.projector import (
    CHALLENGES,
    LEARNERS,
    PLR,
    Events,
    Record,
    create_topics,
    dump_model,
    merged,
    new_prefix,
    produce,
    record,
    registered,
    sharing,
    stored_offsets,
    uln_for,
)
from tests.support.system import issue_key
from tests.support.waiting import eventually

from lrs_cli import projector_commands
from lrs_cli.client import Connection
from lrs_contracts.challenge import ChallengeRaised
from lrs_contracts.learner import AbilityToShare
from lrs_contracts.plr import CentreAchievementReported, ResultStatus

pytestmark = pytest.mark.integration

BATCHES = 12  # a SIGKILL each, at a random point: `make faults` kills every service many times more
LEARNERS_PER_BATCH = 25
EXECUTABLE = Path(sys.executable).parent / "lrs-plr-projector"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProjectorProcess:
    """The real service as a subprocess, killed with SIGKILL and started again."""

    def __init__(self, database_url: str, kafka: str, prefix: str, log: Path) -> None:
        self.port = _free_port()
        self.log = log
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "PROJECTOR_PORT": str(self.port),
            "PROJECTOR_TOPIC_PREFIX": prefix,
            "PROJECTOR_MAX_BATCH_RECORDS": "10",
            "PROJECTOR_POLL_TIMEOUT_MS": "50",
            "PROJECTOR_LOG_LEVEL": "warning",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([str(EXECUTABLE)], env=self.env, stdout=out, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        self._spawn()

        async def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"projector exited: {self.log.read_text()[-2000:]}")
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(ready, within=60, what="projector process ready")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


def _batch(number: int, ulns: list[str], sequence_base: int) -> list[Record]:
    """One AO batch's worth of PLR events plus learner and challenge traffic around it."""
    events = Events(ao_id=f"RN{5000 + number % 3}")
    records: list[Record] = []
    sequence = sequence_base
    for index, uln in enumerate(ulns):
        sequence += 10
        records.append(record(registered(uln), uln, topic=LEARNERS, sequence=sequence))
        records.append(
            record(events.recorded(uln, grade="6", status=ResultStatus.PROVISIONAL), uln, sequence=sequence + 1)
        )
        records.append(record(events.superseded(uln, grade="7"), uln, sequence=sequence + 2))
        if index % 3 == 0:
            records.append(record(events.withdrawn(uln), uln, sequence=sequence + 3))
        if index % 6 == 0:
            records.append(record(events.reinstated(uln), uln, sequence=sequence + 4))
        if index % 4 == 1:
            records.append(
                record(
                    CentreAchievementReported(
                        report_id=uuid.uuid5(uuid.NAMESPACE_OID, uln),
                        uln=uln,
                        provider_ukprn="10007777",
                        qualification_number="6001166X",
                        grade="B",
                    ),
                    uln,
                    sequence=sequence + 5,
                )
            )
        if index % 5 == 2:
            records.append(
                record(sharing(uln, AbilityToShare.UNABLE_TO_SHARE), uln, topic=LEARNERS, sequence=sequence + 6)
            )
        if index % 7 == 3:
            achievement_id = events.achievement_id(uln)
            raised = ChallengeRaised(
                challenge_id=uuid.uuid5(uuid.NAMESPACE_OID, f"c{uln}"),
                achievement_id=achievement_id,
                ao_id=events.ao_id,
                uln=uln,
                reason_sealed="s1.c2VhbGVk",
            )
            records.append(record(raised, str(achievement_id), topic=CHALLENGES, sequence=sequence + 7))
    if number == 7:  # a poison event and one waiting behind it
        poisoned = ulns[1]
        records.append(Record(PLR, poisoned, b'{"broken": true}'))
        records.append(record(events.updated(poisoned, grade="9"), poisoned, sequence=sequence + 8))
    if number == BATCHES - 2:  # a merge late in the run, with batches after it
        records.append(record(merged(ulns[0], ulns[2]), ulns[0], topic=LEARNERS, sequence=sequence + 9))
    # an at-least-once producer's duplicate
    records.append(Record(records[1].topic, records[1].key, records[1].value))
    return records


async def _wait_for_ends(database_url: str, ends: dict[tuple[str, int], int], within: float = 90) -> None:
    async def done() -> bool:
        stored = await stored_offsets(database_url)
        return all(stored.get(key, 0) >= end for key, end in ends.items())

    await eventually(done, within=within, what="projection up to the log's end")


async def _operator_commands_answer(process: ProjectorProcess, database_url: str) -> None:
    """The `lrs projector` / `lrs dlq` command functions against the real process."""
    token = await issue_key(database_url, "operator:crash-tests")
    os.environ["LRS_PLR_PROJECTOR_URL"] = f"http://127.0.0.1:{process.port}"
    try:
        connection = Connection(token)
        listing = await asyncio.to_thread(projector_commands.dlq_list, connection)
        reasons = [line.split()[4] for line in listing.splitlines()[1:]]
        assert reasons == ["error", "blocked"], listing
        status = await asyncio.to_thread(projector_commands.projector_status, connection)
        assert "dead letters: 1 poison, 1 waiting" in status, status
        assert await asyncio.to_thread(projector_commands.rebuild, connection, "status") == "no rebuild running"
    finally:
        del os.environ["LRS_PLR_PROJECTOR_URL"]


async def test_sigkill_at_random_points_leaves_the_same_plr_as_an_uninterrupted_run(
    fresh_database_url: str, database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("PROJECTOR_CRASH_SEED", str(int(time.time()))))
    chance = random.Random(seed)
    print(f"crash test seed {seed}")
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    base = uuid.uuid4().int % 10_000_000
    interrupted = ProjectorProcess(fresh_database_url, kafka_bootstrap, prefix, tmp_path / "interrupted.log")
    ends: dict[tuple[str, int], int] = {}
    kills = 0
    await interrupted.start()
    try:
        for number in range(BATCHES):
            ulns = [uln_for(base + number * LEARNERS_PER_BATCH + index) for index in range(LEARNERS_PER_BATCH)]
            batch = _batch(number, ulns, number * 1000)
            positions = await produce(kafka_bootstrap, prefix, batch)
            for item, (partition, offset) in zip(batch, positions, strict=True):
                key = (item.topic, partition)
                ends[key] = max(ends.get(key, 0), offset + 1)
            # Kill once this batch is part-way through (the point is drawn at random), or right away.
            target = chance.randint(0, len(batch))
            before = sum((await stored_offsets(fresh_database_url)).values())

            async def progressed(target: int = target, before: int = before) -> bool:
                return sum((await stored_offsets(fresh_database_url)).values()) - before >= target

            # below the target when the wait ends (slow projector): kill anyway
            with contextlib.suppress(AssertionError):
                await eventually(progressed, within=2.0, what="part of the batch projected")
            interrupted.kill()
            kills += 1
            await interrupted.start()
        await _wait_for_ends(fresh_database_url, ends)
    finally:
        interrupted.kill()

    reference_url = await create_database(database_url, unique_name("t"))
    reference = ProjectorProcess(reference_url, kafka_bootstrap, prefix, tmp_path / "reference.log")
    await reference.start()
    try:
        await _wait_for_ends(reference_url, ends)
        await _operator_commands_answer(reference, reference_url)
    finally:
        reference.kill()

    after_kills: dict[str, Any] = await dump_model(fresh_database_url)
    uninterrupted: dict[str, Any] = await dump_model(reference_url)
    assert kills == BATCHES
    assert len(after_kills["achievements"]) == BATCHES * LEARNERS_PER_BATCH
    assert len(after_kills["parked"]) == 2
    for table, rows in uninterrupted.items():
        assert after_kills[table] == rows, f"{table} differs after {kills} kills (seed {seed})"
