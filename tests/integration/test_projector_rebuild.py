"""Rebuild from a log of 100,000+ events gives the live model row for row, also when a worker is
killed halfway; replay changes nothing that was right; the switch is atomic and the live API keeps
answering."""

from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Any

import asyncpg
import psutil
import pytest
from aiokafka.partitioner import DefaultPartitioner
from tests.support.projector import (
    LEARNERS,
    PLR,
    T0,
    Events,
    Record,
    create_topics,
    dump_model,
    envelope_bytes,
    linked,
    new_prefix,
    produce,
    registered,
    running_projector,
    stored_offsets,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.learner import LearnerErased, LearnerRegisteredV1
from lrs_contracts.plr import ResultStatus
from plr_projector.store import BULK_COLUMNS

pytestmark = pytest.mark.integration

LEARNER_COUNT = 25_000
WORKERS = 2
PLR_EVENTS_PER_PASS = 20_000  # 26,000 to 52,000 PLR events per worker: several passes each
OPERATOR = "operator:ops-tests"


def _log(base: int, learners: int = LEARNER_COUNT) -> list[Record]:
    """Four or more events per learner: registered (some in clear, as before sealing), provisional,
    final, and some providers' links, withdrawals and erasures."""
    records: list[Record] = []
    events = Events(ao_id="RN5133")
    for index in range(learners):
        uln = uln_for(base + index)
        sequence = index * 10
        registration = (
            LearnerRegisteredV1(uln=uln, given_name="Test", family_name="Learner")
            if index % 50 == 3
            else registered(uln)
        )
        records.append(Record(LEARNERS, uln, envelope_bytes(registration, sequence=sequence)))
        if index % 4 == 1:  # the provider that registered them (decision 0121)
            link = linked(uln, f"{10_000_000 + index % 7:08d}")
            records.append(Record(LEARNERS, uln, envelope_bytes(link, sequence=sequence + 6)))
        if index % 100 == 7:
            erased = LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by=OPERATOR, erased_at=T0)
            records.append(Record(LEARNERS, uln, envelope_bytes(erased, sequence=sequence + 5)))
        records.append(
            Record(
                PLR,
                uln,
                envelope_bytes(events.recorded(uln, grade="5", status=ResultStatus.PROVISIONAL), sequence=sequence + 1),
            )
        )
        records.append(Record(PLR, uln, envelope_bytes(events.superseded(uln, grade="6"), sequence=sequence + 2)))
        records.append(Record(PLR, uln, envelope_bytes(events.updated(uln, grade="7"), sequence=sequence + 3)))
        if index % 10 == 0:
            records.append(Record(PLR, uln, envelope_bytes(events.withdrawn(uln), sequence=sequence + 4)))
        if index % 1000 == 1:
            records.append(Record(PLR, uln, b"not an event"))
    return records


async def _ends(database_url: str, want: int, schema: str = "plr") -> bool:
    return sum((await stored_offsets(database_url, schema)).values()) >= want


async def test_rebuild_of_100k_events_matches_the_live_model_and_switches_over(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    records = _log(uuid.uuid4().int % 50_000_000)
    assert len(records) >= 100_000
    started = time.monotonic()
    await produce(kafka_bootstrap, prefix, records)
    produced_in = time.monotonic() - started

    async with running_projector(
        fresh_database_url,
        kafka_bootstrap,
        prefix,
        max_batch_records=5_000,
        rebuild_events_per_pass=PLR_EVENTS_PER_PASS,
    ) as app:
        started = time.monotonic()
        await eventually(lambda: _ends(fresh_database_url, len(records)), within=180, what="live projection")
        live_rate = len(records) / (time.monotonic() - started)

        # The bulk path: two worker processes, each reading its partitions in several passes.
        start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=WORKERS)
        assert start.status_code == 202, start.text
        assert start.json()["target_events"] == len(records)
        assert start.json()["phase"] == "loading"
        assert len(start.json()["workers"]) == WORKERS
        assert (await app.post(OPERATOR, "/v1/admin/rebuild")).status_code == 409
        seen: list[dict[str, Any]] = []

        async def rebuilt() -> bool:
            status = (await app.get(OPERATOR, "/v1/admin/rebuild")).json()
            seen.append(status)
            return bool(status["state"] == "caught_up")

        started = time.monotonic()
        await eventually(rebuilt, within=180, what="rebuild caught up")
        rebuild_rate = len(records) / (time.monotonic() - started)
        assert any(0 < status["progress"] < 1 and status["eta_seconds"] is not None for status in seen) or len(seen) < 3
        assert seen[-1]["progress"] == 1.0
        assert seen[-1]["phase"] == "following"
        passes = [worker["passes"].split("/") for worker in seen[-1]["workers"]]
        assert all(done == total for done, total in passes) and all(int(total) > 1 for _, total in passes), passes

        # The live model keeps serving (and changing) during the rebuild.
        extra_uln = uln_for(7)
        await produce(kafka_bootstrap, prefix, [Record(PLR, extra_uln, envelope_bytes(Events().recorded(extra_uln)))])

        # An operator's skip while the rebuild runs applies to both models.
        parked = (await app.get(OPERATOR, "/v1/admin/dlq")).json()["parked"]
        skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{parked[0]['learner']}/skip", {"reason": "test"})
        assert skipped.status_code == 200, skipped.text

        comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
        assert comparison["identical"] is True, comparison
        assert comparison["learners_compared"] >= LEARNER_COUNT
        assert comparison["counts"]["live"]["achievements"] == LEARNER_COUNT + 1
        live_rows = await dump_model(fresh_database_url, "plr")
        assert live_rows == await dump_model(fresh_database_url, "plr_rebuild_1")
        assert len(live_rows["parked"]) == LEARNER_COUNT // 1000 - 1
        assert len(live_rows["provider_links"]) == LEARNER_COUNT // 4

        connection = await asyncpg.connect(fresh_database_url)
        try:
            # the loaded tables have statistics before any reader meets them (not autovacuum's, later)
            analysed = await connection.fetch(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'plr_rebuild_1' AND analyze_count > 0"
            )
            assert {row["relname"] for row in analysed} >= set(BULK_COLUMNS)
        finally:
            await connection.close()

        rebuild_series = 'consumer="plr-projector.plr_rebuild_1"'
        assert rebuild_series in (await app.get(None, "/metrics")).text
        switched = await app.post(OPERATOR, "/v1/admin/rebuild/switch")
        assert switched.status_code == 200, switched.text
        # the rebuild's runner is gone: its series leave /metrics rather than read "idle" forever
        assert rebuild_series not in (await app.get(None, "/metrics")).text
        assert (await app.get(OPERATOR, "/v1/admin/rebuild")).json()["state"] == "idle"
        connection = await asyncpg.connect(fresh_database_url)
        try:
            schemas = {row["nspname"] for row in await connection.fetch("SELECT nspname FROM pg_namespace")}
        finally:
            await connection.close()
        assert {"plr", "plr_retired_1"} <= schemas
        assert "plr_rebuild_1" not in schemas

        # After the switch the live projection goes on from the rebuilt schema's offsets.
        later_uln = uln_for(11)
        await produce(kafka_bootstrap, prefix, [Record(PLR, later_uln, envelope_bytes(Events().recorded(later_uln)))])

        async def visible() -> bool:
            response = await app.get(f"learner:{later_uln}", f"/v1/learners/{later_uln}/plr")
            return response.status_code == 200 and len(response.json()["learning_events"]) == 1

        await eventually(visible, within=30, what="an event projected after the switch")

        # A targeted replay re-folds the learners touched since an offset and changes nothing here.
        before = await dump_model(fresh_database_url, "plr")
        replay = await app.post(OPERATOR, "/v1/admin/replay", **{"from": "20000"})
        assert replay.status_code == 202, replay.text

        async def replayed() -> dict[str, Any] | None:
            status = (await app.get(OPERATOR, "/v1/admin/replay")).json()
            return status if status["state"] != "running" else None

        finished = await eventually(replayed, within=120, what="replay finished")
        assert finished["state"] == "finished", finished
        assert finished["result"]["learners"] > 0
        assert await dump_model(fresh_database_url, "plr") == before

    print(
        f"\n{len(records)} events: produced in {produced_in:.1f}s, live {live_rate:,.0f} ev/s,"
        f" rebuild {rebuild_rate:,.0f} ev/s, replay {finished['result']}"
    )


def _partition_of(uln: str) -> int:
    """The partition the producer's default partitioner gives the key (the topics have 3)."""
    return int(DefaultPartitioner()(uln.encode(), [0, 1, 2], [0, 1, 2]))


def _worker_process(number: int) -> psutil.Process | None:
    for child in psutil.Process(os.getpid()).children(recursive=True):
        command = child.cmdline()
        if "plr_projector.rebuild" in command and command[-2:] == ["--worker", str(number)]:
            return child
    return None


_HOLD = 7_270_001  # the advisory lock the test holds while worker 0 must wait


async def _held_at_second_pass(connection: asyncpg.Connection, rebuild_id: int) -> psutil.Process:
    """Worker 0, stopped where its second pass commits: one pass kept, the rest still to do.

    A pass's rows and its `passes_done` are one transaction; a trigger makes that update wait for a
    lock this connection holds, so the kill cannot come too early or too late however fast the pass.
    """
    await connection.execute("SELECT pg_advisory_lock($1)", _HOLD)
    await connection.execute(
        f"""
        CREATE FUNCTION public.hold_worker_zero() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock({_HOLD}); RETURN NEW; END $$;
        CREATE TRIGGER hold_worker_zero BEFORE UPDATE OF passes_done ON plr_ops.rebuild_workers FOR EACH ROW
            WHEN (NEW.worker = 0 AND NEW.passes_done = 2 AND OLD.passes_done < 2) EXECUTE FUNCTION public.hold_worker_zero();
        """
    )

    async def waiting_at_second_pass() -> psutil.Process | None:
        waiting = await connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1", _HOLD
        )
        if not waiting:
            return None
        row = await connection.fetchrow(
            "SELECT passes_done, passes FROM plr_ops.rebuild_workers WHERE rebuild_id = $1 AND worker = 0", rebuild_id
        )
        assert (row["passes_done"], row["passes"] > 2) == (1, True), dict(row)
        return _worker_process(0)

    return await eventually(waiting_at_second_pass, within=120, what="worker 0 waiting to commit its second pass")


async def test_a_worker_killed_halfway_starts_again_at_its_unfinished_pass_and_the_rebuild_is_exact(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    base = uuid.uuid4().int % 50_000_000
    records = _log(base, learners=4_000)
    # A poison record in worker 1's partition (worker 0 is the one killed): skipped while loading below.
    skipped_uln = next(uln for uln in map(uln_for, range(base + 2, base + 1_000)) if _partition_of(uln) == 1)
    records.append(Record(PLR, skipped_uln, b"not an event"))
    records.append(Record(PLR, skipped_uln, envelope_bytes(Events().withdrawn(skipped_uln), sequence=40_000)))
    await produce(kafka_bootstrap, prefix, records)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, rebuild_events_per_pass=1_000) as app:
        await eventually(lambda: _ends(fresh_database_url, len(records)), within=120, what="live projection")
        start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
        assert start.status_code == 202, start.text
        connection = await asyncpg.connect(fresh_database_url)
        try:
            worker = await _held_at_second_pass(connection, start.json()["rebuild_id"])
            # Skipped on the live model while the workers load: worker 1 read the operator actions
            # before, so it parks the record; the rebuild applies the skip when it starts following.
            skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{skipped_uln}/skip", {"reason": "test"}, topic=PLR)
            assert skipped.status_code == 200, skipped.text
            assert (await app.get(OPERATOR, "/v1/admin/rebuild")).json()["phase"] == "loading"
            worker.send_signal(signal.SIGKILL)
            await connection.execute("SELECT pg_advisory_unlock($1)", _HOLD)

            async def rebuilt() -> bool:
                return bool((await app.get(OPERATOR, "/v1/admin/rebuild")).json()["state"] == "caught_up")

            await eventually(rebuilt, within=180, what="rebuild caught up")
            assert not worker.is_running()
            rows = await connection.fetch(
                "SELECT passes_done, passes, state FROM plr_ops.rebuild_workers WHERE rebuild_id = $1",
                start.json()["rebuild_id"],
            )
        finally:
            await connection.close()
        assert [(row["state"], row["passes_done"] == row["passes"]) for row in rows] == [("done", True)] * 2
        comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
        assert comparison["identical"] is True, comparison
        live = await dump_model(fresh_database_url, "plr")
        assert live == await dump_model(fresh_database_url, "plr_rebuild_1")
        assert not [row for row in live["parked"] if row[3] == skipped_uln]


async def test_a_rebuild_begun_by_an_older_release_is_failed_at_restart_not_resumed(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    """docs/deploy.md, Upgrade: a rebuild's schema is migrated only when it starts, so a projector that
    restarts on a newer release fails a rebuild whose schema lacks a migration rather than switch in a
    model of the old release; the operator abandons it and starts again."""
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    records = _log(uuid.uuid4().int % 50_000_000, learners=200)
    await produce(kafka_bootstrap, prefix, records)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        await eventually(lambda: _ends(fresh_database_url, len(records)), within=120, what="live projection")
        start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=1)
        assert start.status_code == 202, start.text
    connection = await asyncpg.connect(fresh_database_url)
    try:  # as if the old release had begun it: its schema one migration short
        await connection.execute(
            "DELETE FROM plr_rebuild_1.schema_migrations"
            " WHERE version = (SELECT max(version) FROM plr_rebuild_1.schema_migrations)"
        )
    finally:
        await connection.close()

    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        status = (await app.get(OPERATOR, "/v1/admin/rebuild")).json()
        switch = await app.post(OPERATOR, "/v1/admin/rebuild/switch")
        async with await app.client(OPERATOR) as client:
            abandoned = await client.delete("/v1/admin/rebuild")
        again = await app.post(OPERATOR, "/v1/admin/rebuild", workers=1)

    assert status["state"] == "failed" and "older release" in status["last_error"], status
    assert switch.status_code == 409
    assert switch.json()["detail"] == (
        "The rebuild has not caught up with the log, so it cannot be switched to yet. It has failed: abandon it and start a new one."
    )
    assert abandoned.status_code == 200, abandoned.text
    assert again.status_code == 202, again.text
