"""`lrs dlq show` gives an operator the bytes of a parked message to mend into a corrected copy, from the service's
admin API (`GET /v1/admin/dlq/.../value`): before, only a Kafka client reading `<topic>.dlq` could, and `make up`
installs none; a copy sent without its value (too large) had them nowhere but the table. Operators only, with the
listing's scope. `lrs dlq history` names the message by partition and offset, and says what a projector retry whose
corrected copy was applied already did (a duplicate), where it read "0 applied, 0 skipped, 0 still parked".

Run against a consumer of a topic of this test's own (the poison left on the outcomes topic would be read by every
later test's consumer starting from its beginning) and a PLR projector on topics of its own, served over real HTTP
for the `lrs` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from tests.integration.test_consumer_poison import dead_letters_from_now
from tests.integration.test_notifier import batch_completed, envelope
from tests.support.kafka import pin_group_at_end, private_copy, running, send
from tests.support.projector import PLR, App, Events, Record, caught_up, ends_of, envelope_bytes, produce, uln_for
from tests.support.serving import served
from tests.support.system import issue_key
from tests.support.waiting import eventually

from lrs_contracts.dead_letters import DeadLetter
from lrs_contracts.registry import decode, encode
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.consumer import ConsumerLoop, Message, PoisonGuard, RetryPolicy
from lrs_platform.credential_store import CredentialStore
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.kafka import ensure_topics, make_consumer, make_producer
from lrs_platform.parking import DEAD_LETTER_MARGIN_BYTES, DeadLetterOffice, ParkedMessages, producer_publisher
from lrs_platform.parking_api import router

pytestmark = pytest.mark.integration

LRS = str(Path(sys.executable).parent / "lrs")
OK, FAILED, KEY_REFUSED = 0, 1, 5
CONSUMER = "dlqshow.outcomes"
PARTITION = 2
OUTCOMES = private_copy(BATCH_OUTCOMES, "dlqshow")
QUICK = RetryPolicy(base_seconds=0.05, max_seconds=0.5)


async def lrs(url_variable: str, url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`lrs ARGS` with `key`, its one service at `url` (every other nowhere)."""
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("LRS_")},
        "LRS_API_KEY": key,
        url_variable: url,
    }
    return await asyncio.to_thread(
        subprocess.run, [LRS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def issue(credentials: CredentialStore, principal: str, *scopes: str) -> str:
    return (await credentials.issue(Principal.parse(principal, frozenset(scopes)), label="dlq-show-tests")).token


@contextlib.asynccontextmanager
async def consuming_service(
    kafka_bootstrap: str, pool: asyncpg.Pool, applied: list[bytes]
) -> AsyncIterator[tuple[str, DeadLetterOffice, CredentialStore]]:
    """A consumer of this test's outcomes topic from its end, parking what it cannot decode, with the shared
    dead-letter routes served over HTTP (as ingest, the notifier and the others serve them). Its dead-letter copies
    hold no value beyond a few hundred bytes, as a copy too large to send has none."""
    await ensure_topics(kafka_bootstrap, [OUTCOMES])
    group = f"dlqshow-{uuid.uuid4().hex[:8]}"
    await pin_group_at_end(kafka_bootstrap, group, (OUTCOMES,))
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    store = ParkedMessages(pool, "dlqshow_parked")
    await store.migrate()
    office = DeadLetterOffice(store, producer_publisher(producer), max_message_bytes=DEAD_LETTER_MARGIN_BYTES + 300)

    async def handle(messages: Sequence[Message]) -> None:
        for message in messages:
            decode(message.value or b"")
            applied.append(message.value or b"")

    loop = ConsumerLoop(
        PoisonGuard(CONSUMER, handle, office, QUICK),
        [OUTCOMES.name],
        lambda: make_consumer(kafka_bootstrap, group_id=group),
    )
    credentials = CredentialStore(pool)
    await credentials.migrate()
    app = build_app("dlqshow", title="Dead letters", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.credentials = credentials
    app.state.dead_letter_office = office
    try:
        async with running(loop), served(app, lifespan="off") as url:
            yield url, office, credentials
    finally:
        await producer.stop()


async def _first_dead_letter(reader: AIOKafkaConsumer) -> tuple[bytes | None, DeadLetter]:
    async def arrived() -> tuple[bytes | None, DeadLetter] | None:
        for records in (await reader.getmany(timeout_ms=200)).values():
            for record in records:
                return record.value, DeadLetter.from_headers(record.headers)
        return None

    return await eventually(arrived, within=30, what="the dead letter")


async def test_an_operator_saves_a_parked_messages_bytes_mends_them_and_retries_with_them(
    kafka_bootstrap: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    batch_id = uuid.uuid4()
    valid = encode(envelope(batch_completed(batch_id, "results@ao-show.example")))
    broken = json.loads(valid)
    del broken["data"]["counts"]  # a BatchCompleted without its counts: no consumer can apply it
    poison = json.dumps(broken).encode()
    applied: list[bytes] = []
    async with (
        consuming_service(kafka_bootstrap, pool, applied) as (url, office, credentials),
        dead_letters_from_now(kafka_bootstrap, OUTCOMES) as dlq,
    ):
        await send(kafka_bootstrap, OUTCOMES.name, [(str(batch_id).encode(), poison)], partition=PARTITION)
        copied, letter = await _first_dead_letter(dlq)
        assert (copied, letter.value_omitted_bytes) == (b"", len(poison))  # the copy on the DLQ has no bytes
        [parked] = (await office.listing(CONSUMER))[0]
        operator = await issue(credentials, "operator:ops")
        saved = tmp_path / "fixed.json"

        shown = await lrs("LRS_INGEST_URL", url, operator, "dlq", "show", str(parked.id), "--service", "ingest")
        written = await lrs(
            "LRS_INGEST_URL",
            url,
            operator,
            "dlq",
            "show",
            str(parked.id),
            "--service",
            "ingest",
            "--output",
            str(saved),
        )

        assert shown.returncode == OK, shown.stderr
        assert shown.stdout.startswith(f"parked message {parked.id} of ingest: consumer {CONSUMER}\n")
        assert f"  read from  {OUTCOMES.name} partition {PARTITION} offset {parked.offset}, key {batch_id}" in (
            shown.stdout
        )
        assert "counts: Field required" in shown.stdout and "results@ao-show.example" in shown.stdout
        assert written.returncode == OK, written.stderr
        assert f"value: {len(poison)} bytes of JSON, written to {saved} (indented)" in written.stdout
        retry = f"lrs dlq retry {parked.id} --service ingest --replacement {saved}"
        assert retry in written.stdout
        assert json.loads(saved.read_bytes()) == broken
        assert oct(saved.stat().st_mode & 0o777) == "0o600"

        mended = json.loads(saved.read_bytes())
        mended["data"]["counts"] = json.loads(valid)["data"]["counts"]
        saved.write_text(json.dumps(mended, indent=2))
        retried = await lrs("LRS_INGEST_URL", url, operator, *retry.split()[1:])
        assert retried.returncode == OK, retried.stderr
        assert applied and decode(applied[-1]) == decode(valid)
        assert (await office.listing(CONSUMER))[0] == []

        history = await lrs("LRS_INGEST_URL", url, operator, "dlq", "history", "--service", "ingest")
        assert history.returncode == OK, history.stderr
        header, row = history.stdout.splitlines()[:2]
        assert "partition:offset" in header
        assert f" {PARTITION}:{parked.offset}  1 applied, 0 skipped, 0 still parked" in row


async def test_a_parked_value_is_read_with_the_support_scope_and_by_nobody_else(
    kafka_bootstrap: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    batch_id = uuid.uuid4()
    applied: list[bytes] = []
    async with (
        consuming_service(kafka_bootstrap, pool, applied) as (url, office, credentials),
        dead_letters_from_now(kafka_bootstrap, OUTCOMES) as dlq,
    ):
        await send(kafka_bootstrap, OUTCOMES.name, [(str(batch_id).encode(), b"\x00\xff not json")], partition=0)
        await _first_dead_letter(dlq)
        [parked] = (await office.listing(CONSUMER))[0]
        show = ("dlq", "show", str(parked.id), "--service", "ingest")
        support = await issue(credentials, "operator:support-desk", "dead-letters", "support")
        on_call = await issue(credentials, "operator:on-call", "dead-letters")  # lists, retries, skips; reads no value
        rebuilder = await issue(credentials, "operator:rebuilder", "rebuild")
        ao = await issue(credentials, "ao:RN5133")
        saved = tmp_path / "garbage.bin"

        scoped = await lrs("LRS_INGEST_URL", url, support, *show, "--output", str(saved))
        refused_scope = await lrs("LRS_INGEST_URL", url, rebuilder, *show)
        refused_ao = await lrs("LRS_INGEST_URL", url, ao, *show)
        unknown = await lrs("LRS_INGEST_URL", url, support, "dlq", "show", str(parked.id + 1000), "--service", "ingest")
        async with httpx.AsyncClient(
            base_url=url
        ) as http:  # the value route itself, not the listing `show` reads first
            answers = {
                caller: await http.get(f"/v1/admin/dlq/{parked.id}/value", headers={"Authorization": f"Bearer {key}"})
                for caller, key in (("support", support), ("on-call", on_call), ("rebuilder", rebuilder), ("ao", ao))
            }

    assert scoped.returncode == OK, scoped.stderr
    assert saved.read_bytes() == b"\x00\xff not json"  # not JSON: its bytes as they are
    assert f"value: 11 bytes of application/octet-stream, written to {saved}" in scoped.stdout
    assert refused_scope.returncode == KEY_REFUSED and "OPERATOR_SCOPE_MISSING" in refused_scope.stderr
    assert (
        refused_ao.returncode == KEY_REFUSED
        and "HTTP 403: Forbidden: dead letters are for operators" in refused_ao.stderr
    )
    assert {caller: answer.status_code for caller, answer in answers.items()} == {
        "support": 200,
        "on-call": 403,
        "rebuilder": 403,
        "ao": 403,
    }
    assert answers["support"].content == b"\x00\xff not json"
    assert answers["support"].headers["content-type"] == "application/octet-stream"
    assert answers["support"].headers["cache-control"] == "no-store"
    assert answers["on-call"].json()["code"] == "OPERATOR_SCOPE_MISSING"
    assert answers["rebuilder"].json()["code"] == "OPERATOR_SCOPE_MISSING"
    assert answers["ao"].json()["detail"] == "Dead letters are for operators."
    assert unknown.returncode == FAILED and f"no parked message {parked.id + 1000}" in unknown.stderr


async def _projected(app: App, positions: list[tuple[int, int]]) -> None:
    ends = ends_of(positions)

    async def done() -> bool:
        return await caught_up(app.database_url, ends)

    await eventually(done, within=30, what="projection")


async def test_the_projectors_parked_event_is_shown_and_a_corrected_copy_applied_already_reads_as_a_duplicate(
    projector: tuple[App, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The learner's event is applied; a copy of it that lost its grade is parked (as a buggy producer's resend
    would be). Mended, the copy is the event applied already: the retry applies nothing, and says so."""
    app, prefix = projector
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    events = Events()
    recorded = events.recorded(uln, grade="6")
    updated = envelope_bytes(events.updated(uln, grade="8"), sequence=2)
    broken = json.loads(updated)
    del broken["data"]["data"]["grade"]
    positions = await produce(
        kafka_bootstrap,
        prefix,
        [
            Record(PLR, uln, envelope_bytes(recorded, sequence=1), 0),
            Record(PLR, uln, updated, 0),
            Record(PLR, uln, json.dumps(broken).encode(), 0),
        ],
    )
    await _projected(app, positions)
    poison_partition, poison_offset = positions[-1]
    operator = await issue_key(app.database_url, "operator:ops")
    ao = await issue_key(app.database_url, "ao:RN5133")
    saved = tmp_path / "fixed.json"
    async with served(app.app, lifespan="off") as url:
        written = await lrs("LRS_PLR_PROJECTOR_URL", url, operator, "dlq", "show", uln, "--output", str(saved))
        refused = await lrs("LRS_PLR_PROJECTOR_URL", url, ao, "dlq", "show", uln)
        kept = json.loads(saved.read_bytes())
        mended = json.loads(saved.read_bytes())
        mended["data"]["data"]["grade"] = "8"
        saved.write_text(json.dumps(mended))
        retried = await lrs("LRS_PLR_PROJECTOR_URL", url, operator, "dlq", "retry", uln, "--replacement", str(saved))
        history = await lrs("LRS_PLR_PROJECTOR_URL", url, operator, "dlq", "history")
        nothing = await lrs("LRS_PLR_PROJECTOR_URL", url, operator, "dlq", "show", uln)

    assert written.returncode == OK, written.stderr
    assert written.stdout.startswith(f"first parked event of {uln} in plr-projector\n")
    assert f"  read from  {PLR} partition {poison_partition} offset {poison_offset}\n" in written.stdout
    assert f"`lrs dlq retry {uln} --replacement {saved}`" in written.stdout
    assert kept == broken and mended == json.loads(updated)
    assert refused.returncode == KEY_REFUSED and "403" in refused.stderr
    assert retried.returncode == OK, retried.stderr
    assert "applied 0, duplicates 1, skipped 0, still parked 0" in retried.stdout
    assert history.returncode == OK, history.stderr
    assert re.search(  # the batch of the event acted on (a column of its own, or "-") between place and result
        rf" {poison_partition}:{poison_offset}  \S+  0 applied, 1 duplicate, 0 skipped, 0 still parked",
        history.stdout.splitlines()[1],
    ), history.stdout
    assert nothing.returncode == FAILED and "Nothing parked" in nothing.stderr
