"""A batch validation gives up on is told to its AO (`abandoned`), and the AO's work goes on.

The whole system runs as processes. The fault is real: PostgreSQL refuses the decider's state for one
learner (a trigger, as a constraint an operator added by mistake would), so every attempt to decide
a batch with that learner fails the same way, and the decider parks it (decision 0103).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import decided, register, submit
from tests.integration.test_consumer_poison import outcomes_of
from tests.integration.test_ingest_api import Ingest, batch_file, publish_outcomes, running
from tests.integration.test_ingest_api import submit as submit_file
from tests.support.catalogue import pick
from tests.support.databases import create_key_store
from tests.support.learners import json_batch, json_record, new_learner
from tests.support.waiting import eventually

from ingest.config import IngestSettings
from lrs_cli import dlq_commands
from lrs_cli.client import Connection
from lrs_contracts.envelope import utc_now
from lrs_contracts.outcomes import BatchAbandoned, BatchRecordsDecided, RecordOutcome, RecordStatus
from lrs_contracts.registry import encode, wrap
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration


@asynccontextmanager
async def decisions_refused_for(database_url: str, uln: str) -> AsyncIterator[None]:
    """PostgreSQL refuses to store any achievement state of the learner until the block ends."""
    connection = await asyncpg.connect(database_url)
    name = f"refuse_{uuid.uuid4().hex[:12]}"
    try:
        await connection.execute(
            f"CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE EXCEPTION 'refused for this test' USING ERRCODE = 'check_violation'; END $$;"
            f" CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON validation.achievements FOR EACH ROW"
            f" WHEN (NEW.uln = '{uln}') EXECUTE FUNCTION public.{name}()"
        )
        yield
    finally:
        await connection.execute(
            f"DROP TRIGGER IF EXISTS {name} ON validation.achievements; DROP FUNCTION IF EXISTS public.{name}()"
        )
        await connection.close()


async def status_of(system: SystemUnderTest, ao_id: str, batch_id: str) -> dict[str, Any]:
    async with await system.client("ingest", f"ao:{ao_id}") as client:
        response = await client.get(f"/v1/batches/{batch_id}", params={"wait_until_decided": 5})
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view


async def test_a_batch_the_decider_gives_up_on_is_abandoned_and_the_same_file_sent_again_is_decided(
    system: SystemUnderTest,
) -> None:
    chosen = pick()
    refused, others = new_learner(), [new_learner() for _ in range(3)]
    await register(system, [refused, *others])
    stuck_file = json_batch(
        chosen.ao_id,
        [json_record(learner, chosen.qualification_number, chosen.passing_grade) for learner in [refused, others[0]]],
    )
    next_file = json_batch(
        chosen.ao_id,
        [json_record(learner, chosen.qualification_number, chosen.passing_grade) for learner in others[1:]],
    )

    async with decisions_refused_for(system.database_url, refused["uln"]):
        stuck = await submit(system, chosen.ao_id, stuck_file)

        async def given_up() -> dict[str, Any] | None:
            view = await status_of(system, chosen.ao_id, stuck)
            return view if view["status"] not in ("received", "accepted", "validating") else None

        view = await eventually(given_up, within=120, what="the batch the decider gave up on shown decided")
        assert view["status"] == "abandoned"
        assert "Submit the file again" in view["failure_reason"]
        assert refused["uln"] not in view["failure_reason"] and view["failure_code"] is None

        # the AO is emailed, as for a decided batch
        reference = stuck_file["header"]["batchReference"]
        subject = f"LRS could not process your batch, nothing recorded: {chosen.ao_id} {reference} (batch {stuck[:8]})"

        async def emailed() -> list[Any]:
            return [message for message in system.inbox.to("results@example.org") if message["Subject"] == subject]

        [email] = await eventually(emailed, within=60, what="the email of the abandoned batch")
        assert stuck in email.get_body(("plain",)).get_content()

        # the AO's queue goes on behind it
        following = await decided(system, chosen.ao_id, await submit(system, chosen.ao_id, next_file))
        assert (following["status"], following["counts"]["accepted"]) == ("completed", 2)

    # Operators see which batch it was; with the fault gone, the same file is a new batch, decided.
    operator = await system.key_for("operator:held-tests")
    os.environ["LRS_VALIDATION_URL"] = system.url("validation")
    try:
        listing = await asyncio.to_thread(dlq_commands.dlq_list, Connection(operator), "validation")
    finally:
        del os.environ["LRS_VALIDATION_URL"]
    assert f"batch {stuck} could not be decided" in listing

    again = await submit(system, chosen.ao_id, stuck_file)
    assert again != stuck
    resubmitted = await decided(system, chosen.ao_id, again)
    assert (resubmitted["status"], resubmitted["counts"]["accepted"]) == ("completed", 2)
    assert (await status_of(system, chosen.ao_id, stuck))["status"] == "abandoned"


def abandonment(batch_id: uuid.UUID, ao_id: str) -> bytes:
    abandoned = BatchAbandoned(batch_id=batch_id, ao_id=ao_id, reason="Submit the file again.", abandoned_at=utc_now())
    return encode(wrap(abandoned, source="validation", correlation_id=str(batch_id)))


async def test_an_abandoned_batch_gives_up_its_idempotency_key_and_a_late_copy_of_it_changes_nothing(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    await ensure_topics(kafka_bootstrap)
    await create_key_store(fresh_database_url)
    settings = IngestSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=fresh_database_url,
        outcomes_group_id=f"ingest-abandoned-{uuid.uuid4().hex[:8]}",
        log_json=True,
    )
    async with running(settings) as (app, client):
        ingest = Ingest(app, client, kafka_bootstrap)
        consumer = app.state.outcome_consumer
        await eventually(lambda: _true_or_none(consumer.caught_up), within=120, what="the outcome consumer caught up")
        ao_id, headers = await ingest.new_ao()
        content, keyed = batch_file(ao_id), {**headers, "Idempotency-Key": f"run-{uuid.uuid4().hex}"}
        first = await submit_file(ingest, keyed, content)
        assert first.status_code == 202, first.text
        stuck = uuid.UUID(first.json()["batch_id"])
        replay = await submit_file(ingest, keyed, content)
        assert (replay.json()["batch_id"], replay.headers.get("Idempotent-Replay")) == (str(stuck), "true")

        await publish_outcomes(kafka_bootstrap, stuck, abandonment(stuck, ao_id))

        async def status_is(batch_id: uuid.UUID, expected: str) -> bool:
            view = await client.get(f"/v1/batches/{batch_id}", params={"wait_until_decided": 5}, headers=headers)
            return bool(view.json()["status"] == expected)

        await eventually(lambda: status_is(stuck, "abandoned"), within=60, what="the batch abandoned")
        again = await submit_file(ingest, keyed, content)
        assert again.status_code == 202, again.text
        resent = uuid.UUID(again.json()["batch_id"])
        assert resent != stuck and again.headers.get("Idempotent-Replay") != "true"

        # A copy of the abandonment arriving after the batch's decision (a redelivery, the reconciler)
        # leaves the decision as it is; the chunk after it, on the same partition, shows it was read.
        late_chunk = BatchRecordsDecided(
            batch_id=resent,
            ao_id=ao_id,
            chunk_index=1,
            outcomes=(RecordOutcome(line=2, status=RecordStatus.ACCEPTED),),
        )
        late = encode(wrap(late_chunk, source="validation", correlation_id=str(resent)))
        await publish_outcomes(kafka_bootstrap, resent, *outcomes_of(resent, ao_id), abandonment(resent, ao_id), late)

        async def line_two_listed() -> bool:
            page = (await client.get(f"/v1/batches/{resent}/records", headers=headers)).json()
            return any(record["line"] == 2 for record in page["records"])

        await eventually(line_two_listed, within=60, what="the chunk published after the late abandonment")
        assert await status_is(resent, "completed")
        assert await status_is(stuck, "abandoned")


async def _true_or_none(value: bool) -> bool | None:
    return value or None
