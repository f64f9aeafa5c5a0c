"""Poison events: parked with the error, the learner's later events wait, other learners never do; an event
PostgreSQL refuses to store is parked alone while the rest of its batch is projected."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from tests.support.databases import migrated_connection
from tests.support.projector import (
    PLR,
    App,
    Events,
    Record,
    caught_up,
    create_topics,
    ends_of,
    envelope_bytes,
    new_prefix,
    produce,
    record,
    running_projector,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.dead_letters import DeadLetter
from lrs_platform.database import apply_migrations
from plr_projector.projection import stream_of
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"


def _malformed(valid: bytes) -> bytes:
    document = json.loads(valid)
    del document["data"]["data"]["grade"]  # an AchievementUpdated without its grade
    return json.dumps(document).encode()


async def _wait_projected(app: App, positions: list[tuple[int, int]]) -> None:
    ends = ends_of(positions)

    async def done() -> bool:
        return await caught_up(app.database_url, ends)

    await eventually(done, within=30, what="projection")


async def _dead_letter_messages(kafka: str, prefix: str, expected: int) -> list[object]:
    consumer = AIOKafkaConsumer(
        f"{prefix}{PLR}.dlq", bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[object] = []
    try:

        async def fetched() -> bool:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                found.extend(records)
            return len(found) >= expected

        await eventually(fetched, within=20, what="dead-letter messages")
    finally:
        await consumer.stop()
    return found


async def _metric(app: App, sample: str) -> float:
    """The value of one sample, e.g. `lrs_projector_dlq_depth{reason="error"}`; 0 when absent."""
    for line in (await app.get(None, "/metrics")).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_poison_event_parks_its_learner_until_retry_drains_in_order(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    consumer = 'consumer="plr-projector.plr"'
    outcomes = ("applied", "parked", "held")

    async def counted() -> dict[str, float]:  # the process's counters: earlier tests' projectors counted too
        return {
            each: await _metric(app, f'lrs_consumer_messages_total{{{consumer},outcome="{each}"}}') for each in outcomes
        }

    counted_before = await counted()
    poisons_before = await _metric(app, f'lrs_consumer_failures_total{{{consumer},kind="poison"}}')
    suffix = uuid.uuid4().int % 1_000_000
    poisoned, healthy = uln_for(suffix), uln_for(suffix + 1)
    events = Events()
    poison_valid = events.updated(poisoned, grade="8")
    # One partition for both learners: the poisoned one must not hold up the healthy one.
    records = [
        record(events.recorded(poisoned, grade="6"), poisoned, sequence=1, partition=0),
        Record(PLR, poisoned, _malformed(envelope_bytes(poison_valid, sequence=2)), 0),
        record(events.recorded(healthy, grade="5"), healthy, sequence=3, partition=0),
        record(events.withdrawn(poisoned), poisoned, sequence=4, partition=0),
        record(events.updated(healthy, grade="6"), healthy, sequence=5, partition=0),
        record(events.reinstated(poisoned), poisoned, sequence=6, partition=0),
    ]
    await _wait_projected(app, await produce(kafka_bootstrap, prefix, records))

    healthy_view = (await app.get(f"learner:{healthy}", f"/v1/learners/{healthy}/plr")).json()
    assert [event["grade"] for event in healthy_view["learning_events"]] == ["6"]
    poisoned_view = (
        await app.get(f"learner:{poisoned}", f"/v1/learners/{poisoned}/plr", include_history="true")
    ).json()
    assert [entry["change"] for entry in poisoned_view["learning_events"][0]["history"]] == ["recorded"]
    assert poisoned_view["events_held_in_dead_letters"] == 3

    parked = (await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"]
    # tries: the poison's one (its dead letter says the same), none for the events held behind it
    assert [(item["offset"], item["reason"], item["attempts"]) for item in parked] == [
        (1, "error", 1),
        (3, "blocked", 0),
        (5, "blocked", 0),
    ]
    assert "grade" in parked[0]["error"]
    (dead_letter,) = await _dead_letter_messages(kafka_bootstrap, prefix, 1)
    headers = dict(dead_letter.headers)  # type: ignore[attr-defined]
    assert b"grade" in headers["lrs-error"]
    assert headers["lrs-original-offset"] == b"1"
    assert headers["lrs-attempts"] == b"1"
    assert dead_letter.key == poisoned.encode()  # type: ignore[attr-defined]

    async def depth_is(expected: float) -> bool:
        return await _metric(app, 'lrs_projector_dlq_depth{reason="error"}') == expected

    await eventually(lambda: depth_is(1.0), within=10, what="DLQ depth metric")
    # and in the series every consumer has, under the name its dead letter gives (an alert on them sees it too)
    assert await _metric(app, f'lrs_consumer_parked_messages{{{consumer},reason="error"}}') == 1.0
    counted_after = await counted()
    added = {each: counted_after[each] - counted_before[each] for each in outcomes}
    assert (added["parked"], added["held"]) == (1.0, 2.0) and added["applied"] > 0, added
    # a poison its contract refuses is parked at first sight, and counted as the failure it is
    poisons = await _metric(app, f'lrs_consumer_failures_total{{{consumer},kind="poison"}}')
    assert poisons - poisons_before == 1.0

    # later events of the parked learner keep waiting, in order
    await _wait_projected(
        app,
        await produce(kafka_bootstrap, prefix, [record(events.withdrawn(poisoned), poisoned, sequence=7, partition=0)]),
    )
    assert len((await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"]) == 4

    unfixed = await app.post(OPERATOR, f"/v1/admin/dlq/{poisoned}/retry")
    assert unfixed.json()["results"][0]["still_parked"] == 4
    assert (await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"][0]["attempts"] == 2

    # a "corrected copy" about another learner would put an achievement on their record for good: refused
    elsewhere = json.loads(envelope_bytes(events.updated(healthy, grade="8"), sequence=2))
    refused = await app.post(OPERATOR, f"/v1/admin/dlq/{poisoned}/retry", {"replacement": elsewhere})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == "the replacement is not about the learner whose events are parked"
    assert len((await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"]) == 4

    fixed = json.loads(envelope_bytes(poison_valid, sequence=2))
    drained = await app.post(OPERATOR, f"/v1/admin/dlq/{poisoned}/retry", {"replacement": fixed})
    assert drained.status_code == 200, drained.text
    assert drained.json()["results"][0]["applied"] == 4
    assert (await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"] == []

    view = (
        await app.get(
            f"learner:{poisoned}", f"/v1/learners/{poisoned}/plr", include_history="true", include_withdrawn="true"
        )
    ).json()
    (event,) = view["learning_events"]
    assert [(entry["change"], entry["grade"]) for entry in event["history"]] == [
        ("recorded", "6"),
        ("updated", "8"),
        ("withdrawn", "8"),
        ("reinstated", "8"),
        ("withdrawn", "8"),
    ]
    assert view["events_held_in_dead_letters"] == 0
    await eventually(lambda: depth_is(0.0), within=10, what="DLQ depth back to zero")

    # new events of the learner flow again straight away
    await _wait_projected(
        app,
        await produce(
            kafka_bootstrap, prefix, [record(events.reinstated(poisoned), poisoned, sequence=8, partition=0)]
        ),
    )
    assert len((await app.get(f"learner:{poisoned}", f"/v1/learners/{poisoned}/plr")).json()["learning_events"]) == 1


async def test_skip_drops_the_poison_event_and_drains_the_rest(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    events = Events()
    records = [
        Record(PLR, uln, b"\x00 not json", None),
        record(events.recorded(uln, grade="4"), uln, sequence=1),
    ]
    await _wait_projected(app, await produce(kafka_bootstrap, prefix, records))
    assert len((await app.get(OPERATOR, "/v1/admin/dlq", learner=uln)).json()["parked"]) == 2
    assert (await app.post(f"learner:{uln}", f"/v1/admin/dlq/{uln}/skip")).status_code == 403

    skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", {"reason": "garbage from a test producer"})
    assert skipped.json()["results"][0] | {"error": None} == {
        "topic": PLR,
        "learner": uln,
        "applied": 1,
        "duplicates": 0,
        "skipped": 1,
        "still_parked": 0,
        "error": None,
    }
    (event,) = (await app.get(f"learner:{uln}", f"/v1/learners/{uln}/plr")).json()["learning_events"]
    assert event["grade"] == "4"
    assert (await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/retry")).status_code == 404


async def test_a_retry_or_skip_waits_until_the_poisons_copy_is_on_its_dead_letter_topic(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    """The copy is sent after the poison's commit: a skip before it is sent would delete the row, and the copy with it."""
    app, prefix = projector
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    events = Events()
    records = [Record(PLR, uln, b"\x00 not json", None), record(events.recorded(uln, grade="4"), uln, sequence=1)]
    await _wait_projected(app, await produce(kafka_bootstrap, prefix, records))
    connection = await asyncpg.connect(app.database_url)
    try:
        # as if Kafka had been away when the poison was parked: its copy still to send
        await connection.execute(f"UPDATE {LIVE_SCHEMA}.parked SET dlq_pending = true WHERE park_key = $1", uln)
        actions_before = (await app.get(OPERATOR, "/v1/admin/dlq/actions")).json()
        for action in ("skip", "retry"):
            refused = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/{action}", {"reason": "too soon"})
            assert refused.status_code == 409, refused.text
            assert f"{prefix}{PLR}.dlq" in refused.json()["detail"]
        assert len((await app.get(OPERATOR, "/v1/admin/dlq", learner=uln)).json()["parked"]) == 2
        assert (await app.get(OPERATOR, "/v1/admin/dlq/actions")).json() == actions_before  # none recorded
        await connection.execute(f"UPDATE {LIVE_SCHEMA}.parked SET dlq_pending = false WHERE park_key = $1", uln)
    finally:
        await connection.close()

    skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", {"reason": "garbage from a test producer"})
    assert skipped.status_code == 200, skipped.text
    assert skipped.json()["results"][0]["skipped"] == 1


async def test_a_skip_confirmed_on_other_poisons_than_the_first_parked_now_drops_nothing(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    """The portal sends the places of the poisons it showed: one parked or retried since is not dropped unseen."""
    app, prefix = projector
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    events = Events()
    records = [Record(PLR, uln, b"\x00 not json", None), record(events.recorded(uln, grade="4"), uln, sequence=1)]
    await _wait_projected(app, await produce(kafka_bootstrap, prefix, records))
    (poison, _) = (await app.get(OPERATOR, "/v1/admin/dlq", learner=uln)).json()["parked"]
    shown = {"topic": poison["topic"], "partition": poison["partition"], "offset": poison["offset"]}

    other = await app.post(
        OPERATOR, f"/v1/admin/dlq/{uln}/skip", {"reason": "r", "heads": [shown | {"offset": poison["offset"] + 1}]}
    )
    also = await app.post(
        OPERATOR, f"/v1/admin/dlq/{uln}/skip", {"reason": "r", "heads": [shown, shown | {"topic": "x"}]}
    )
    still = (await app.get(OPERATOR, "/v1/admin/dlq", learner=uln)).json()["parked"]
    confirmed = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", {"reason": "garbage", "heads": [shown]})

    assert (other.status_code, also.status_code) == (409, 409), other.text
    assert "not those confirmed" in other.json()["detail"]
    assert len(still) == 2
    assert confirmed.status_code == 200 and confirmed.json()["results"][0]["skipped"] == 1


def with_nul_grade(value: bytes) -> bytes:
    """Valid for every model (a grade is any text), refused by PostgreSQL (text holds no NUL)."""
    document = json.loads(value)
    document["data"]["data"]["grade"] = "6\x00"
    return json.dumps(document).encode()


# How each kind of refused event is parked: one the projection itself sees it cannot store (decision 0182), and
# one PostgreSQL refuses at the write (here a constraint the test adds for the learner), which the platform's
# one-event-at-a-time fallback finds and parks.
_REFUSALS = {"unstorable": "unstorable: data.grade holds NUL", "refused by postgresql": "CheckViolationError"}


@pytest.mark.parametrize("refusal", list(_REFUSALS))
async def test_an_event_postgresql_refuses_is_parked_and_the_rest_of_the_batch_is_projected(
    projector: tuple[App, str], kafka_bootstrap: str, refusal: str
) -> None:
    app, prefix = projector
    suffix = uuid.uuid4().int % 1_000_000
    poisoned, healthy = uln_for(suffix), uln_for(suffix + 1)
    events = Events()
    first_event = envelope_bytes(events.recorded(poisoned, grade="6"), sequence=1)
    if refusal == "unstorable":
        first_event = with_nul_grade(first_event)
    else:
        connection = await asyncpg.connect(app.database_url)
        try:
            await connection.execute(
                f"ALTER TABLE {LIVE_SCHEMA}.achievements ADD CONSTRAINT refused_{suffix} CHECK (uln <> '{poisoned}')"
            )
        finally:
            await connection.close()
    records = [
        Record(PLR, poisoned, first_event, 0),
        record(events.recorded(healthy, grade="5"), healthy, sequence=2, partition=0),
        record(events.withdrawn(poisoned), poisoned, sequence=3, partition=0),
        record(events.updated(healthy, grade="6"), healthy, sequence=4, partition=0),
    ]
    positions = await produce(kafka_bootstrap, prefix, records)
    await _wait_projected(app, positions)

    healthy_view = (await app.get(f"learner:{healthy}", f"/v1/learners/{healthy}/plr")).json()
    assert [event["grade"] for event in healthy_view["learning_events"]] == ["6"]
    parked = (await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"]
    first, withdrawn = positions[0][1], positions[2][1]
    assert [(item["offset"], item["reason"]) for item in parked] == [(first, "error"), (withdrawn, "blocked")]
    assert parked[0]["error"].startswith(_REFUSALS[refusal])

    [message] = await _dead_letter_messages(kafka_bootstrap, prefix, expected=1)
    letter = DeadLetter.from_headers(message.headers)  # type: ignore[attr-defined]
    assert (letter.consumer, letter.original_topic, letter.original_offset) == ("plr-projector.plr", PLR, first)
    assert letter.error.startswith(_REFUSALS[refusal])

    async def ready_says_parked() -> bool:
        ready = (await app.get(None, "/readyz")).json()
        return bool(ready["ready"]) and ready["checks"].get("consumer plr-projector.plr", "").startswith("ok: 1 parked")

    await eventually(ready_says_parked, within=30, what="/readyz naming the parked event")

    # retried, it still cannot be stored: the operator is told so, and nothing of the learner's moves
    retried = await app.post(OPERATOR, f"/v1/admin/dlq/{poisoned}/retry", {"reason": "the grade looks fixed"})
    assert retried.status_code == 200, retried.text
    [result] = retried.json()["results"]
    assert (result["applied"], result["still_parked"]) == (0, 2)
    assert result["error"].startswith(_REFUSALS[refusal])
    still = (await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"]
    assert [(item["offset"], item["reason"], item["attempts"]) for item in still] == [
        (first, "error", parked[0]["attempts"] + 1),
        (withdrawn, "blocked", parked[1]["attempts"]),
    ]
    skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{poisoned}/skip", {"reason": "it cannot be stored"})
    assert (skipped.status_code, skipped.json()["results"][0]["skipped"]) == (200, 1), skipped.text
    remaining = (await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"]
    assert first not in [item["offset"] for item in remaining]  # (the withdrawal has nothing left to withdraw)

    # both decisions are kept, each with its reason and what followed: a rebuild honours only the skip
    actions = (await app.get(OPERATOR, "/v1/admin/dlq/actions", limit="1000")).json()["actions"]
    taken = [action for action in actions if action["event_id"] == parked[0]["event_id"]]
    assert [
        (action["action"], action["reason"], action["offset"], action["applied"], action["still_parked"])
        for action in taken
    ] == [("skip", "it cannot be stored", first, 0, len(remaining)), ("retry", "the grade looks fixed", first, 0, 2)]
    assert {action["consumer"] for action in taken} == {"plr-projector"} and poisoned not in str(taken)
    assert (await app.get(f"learner:{poisoned}", "/v1/admin/dlq/actions")).status_code == 403


async def test_a_poison_without_a_key_holds_no_other_keyless_event_live_or_after_a_restart(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    """Keyless messages were one stream per topic: one keyless poison held every later keyless event."""
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    suffix = uuid.uuid4().int % 1_000_000
    first, second, third = uln_for(suffix), uln_for(suffix + 1), uln_for(suffix + 2)
    events = Events()
    third_valid = envelope_bytes(events.recorded(third, grade="7"), sequence=4)
    keyless = [
        Record(PLR, None, b"not an event", 0),
        Record(PLR, None, envelope_bytes(events.recorded(first, grade="5"), sequence=2), 0),
        Record(PLR, None, _malformed(third_valid), 0),
    ]

    async def grades(app: App, uln: str) -> list[str]:
        answer = await app.get(f"learner:{uln}", f"/v1/learners/{uln}/plr")
        if answer.status_code == 404:  # nothing projected for the learner
            return []
        return [event["grade"] for event in answer.json()["learning_events"]]

    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        positions = await produce(kafka_bootstrap, prefix, keyless)
        await _wait_projected(app, positions)
        assert await grades(app, first) == ["5"]
        listed = (await app.get(OPERATOR, "/v1/admin/dlq", topic=PLR)).json()["parked"]
        garbage, malformed = (stream_of(PLR, partition, offset, None)[1] for partition, offset in positions[::2])
        assert [(item["learner"], item["reason"]) for item in listed] == [(garbage, "error"), (malformed, "error")]

    # parked streams read back from the table hold no later keyless event either
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        later = Record(PLR, None, envelope_bytes(events.recorded(second, grade="6"), sequence=3), 0)
        await _wait_projected(app, await produce(kafka_bootstrap, prefix, [later]))
        assert await grades(app, second) == ["6"]

        skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{garbage}/skip", {"reason": "a keyless test record"})
        assert skipped.status_code == 200, skipped.text
        assert [(result["skipped"], result["still_parked"]) for result in skipped.json()["results"]] == [(1, 0)]
        retried = await app.post(OPERATOR, f"/v1/admin/dlq/{malformed}/retry", {"replacement": json.loads(third_valid)})
        assert retried.status_code == 200, retried.text
        assert [(result["applied"], result["still_parked"]) for result in retried.json()["results"]] == [(1, 0)]
        assert await grades(app, third) == ["7"]
        assert (await app.get(OPERATOR, "/v1/admin/dlq", topic=PLR)).json()["parked"] == []


async def test_keyless_events_parked_before_the_upgrade_are_each_named_after_their_position(
    fresh_database_url: str,
) -> None:
    """They were all parked under '', which no operator could name to retry or skip (migration 0006)."""
    async with migrated_connection(fresh_database_url, LIVE_SCHEMA, MIGRATIONS) as connection:
        await connection.execute(
            f'INSERT INTO "{LIVE_SCHEMA}".parked (topic, partition, "offset", park_key, reason, message_key,'
            " kafka_timestamp_ms) VALUES ($1, 2, 17, '', 'error', NULL, 0), ($1, 2, 18, '', 'blocked', NULL, 0),"
            " ($1, 2, 19, '1000000043', 'error', '1000000043', 0)",
            PLR,
        )
        await connection.execute(f'DELETE FROM "{LIVE_SCHEMA}".schema_migrations WHERE version = 6')
        await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
        rows = await connection.fetch(f'SELECT "offset", park_key FROM "{LIVE_SCHEMA}".parked ORDER BY "offset"')
    assert [(row["offset"], row["park_key"]) for row in rows] == [
        (17, stream_of(PLR, 2, 17, None)[1]),
        (18, stream_of(PLR, 2, 18, None)[1]),
        (19, "1000000043"),
    ]


async def test_a_reader_refuses_retry_skip_replay_and_rebuild_which_only_the_writer_may_do(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    """A reader's live projection does not run: a skip there would drain a learner's parked events into the model
    while the writer still holds the learner as parked, and their later events would wait behind nothing. A rebuild
    started there was the reader's alone: the writer knew of none, its switch did not pause the writer, and its
    runner was left following a retired schema."""
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, run_consumer=False) as reader:
        uln = uln_for(uuid.uuid4().int % 1_000_000)
        answers = [
            await reader.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", json={"reason": "fixed"}),
            await reader.post(OPERATOR, f"/v1/admin/dlq/{uln}/retry"),
            await reader.post(OPERATOR, "/v1/admin/replay", **{"from": "0"}),
            await reader.post(OPERATOR, "/v1/admin/rebuild", workers=1),
            await reader.get(OPERATOR, "/v1/admin/rebuild"),
            await reader.post(OPERATOR, "/v1/admin/rebuild/compare"),
            await reader.post(OPERATOR, "/v1/admin/rebuild/switch"),
        ]
        async with await reader.client(OPERATOR) as client:
            answers.append(await client.delete("/v1/admin/rebuild"))
        listed = await reader.get(OPERATOR, "/v1/admin/dlq")
    for answer in answers:
        assert answer.status_code == 409, answer.text
        assert "This projector only reads" in answer.json()["detail"]
    assert listed.status_code == 200  # what is parked may still be read anywhere


async def test_a_learner_read_again_applies_the_events_before_its_poison_and_skip_drops_the_poison(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    """Events before a parked head were applied before it was parked: read again (offsets set back, or parked
    as `blocked` copies by a release before decision 0163) they are applied again, and skip drops the poison."""
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    events = Events()
    records = [
        record(events.recorded(uln, grade="4"), uln, sequence=1),
        Record(PLR, uln, b"\x00 not json", None),
        record(events.recorded(uln, qan="60012345", grade="5"), uln, sequence=3),
    ]

    async def parked(app: App) -> list[tuple[int, str]]:
        listed = (await app.get(OPERATOR, "/v1/admin/dlq", learner=uln)).json()["parked"]
        return [(item["offset"], item["reason"]) for item in listed]

    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        positions = await produce(kafka_bootstrap, prefix, records)
        await _wait_projected(app, positions)
    first, poison, later = (offset for _, offset in positions)
    expected = [(poison, "error"), (later, "blocked")]
    connection = await asyncpg.connect(fresh_database_url)
    try:
        assert (await connection.execute(f'UPDATE "{LIVE_SCHEMA}".offsets SET next_offset = 0')) != "UPDATE 0"
        async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
            await _wait_projected(app, positions)
            assert await parked(app) == expected  # the first event applied again, not held behind the poison
            # as a release before decision 0163 left a re-read learner: a copy of the first event parked first
            await connection.execute(
                f'INSERT INTO "{LIVE_SCHEMA}".parked (topic, partition, "offset", park_key, reason, message_key,'
                " value, kafka_timestamp_ms) VALUES ($1, $2, $3, $4, 'blocked', $5, $6, 0)",
                PLR,
                positions[0][0],
                first,
                uln,
                uln.encode(),
                records[0].value,
            )
        async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
            skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", {"reason": "garbage from a test producer"})
            assert skipped.status_code == 200, skipped.text
            assert [(result["skipped"], result["still_parked"]) for result in skipped.json()["results"]] == [(1, 0)]
            plr = (await app.get(f"learner:{uln}", f"/v1/learners/{uln}/plr")).json()["learning_events"]
            assert sorted(event["grade"] for event in plr) == ["4", "5"]
    finally:
        await connection.close()
