"""Challenges against real Kafka and PostgreSQL: API, AO isolation, outbox relay, and the email it causes.

Each achievement challenged here is put on the PLR log first (`on_the_log`): the service checks a
challenge against its own copy of the log (tests/integration/test_challenge_verification.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from asgi_lifespan import LifespanManager
from tests.integration.test_notifier import bearer, notifier  # noqa: F401 - fixture
from tests.support.learners import random_uln
from tests.support.mail import Inbox
from tests.support.projector import LEARNERS, PLR, Events, Record, merged, produce, record
from tests.support.waiting import eventually

from challenges.bootstrap import create_app
from challenges.config import ChallengesSettings
from challenges.domain import event_ids_of
from lrs_contracts.envelope import deterministic_id
from lrs_contracts.learner import LearnerErased
from lrs_contracts.registry import decode_envelope, encode, wrap
from lrs_contracts.topics import CHALLENGE_EVENTS, LEARNER_EVENTS
from lrs_platform import keyring
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration


def random_ao() -> str:
    return f"RN{uuid.uuid4().int % 10**6}"


async def on_the_log(kafka_bootstrap: str, ao_id: str, uln: str) -> uuid.UUID:
    """Records an achievement of `uln` by `ao_id` on the PLR log, as validation would; returns its id."""
    events = Events(ao_id=ao_id)
    await produce(kafka_bootstrap, "", [record(events.recorded(uln), uln)])
    return events.achievement_id(uln)


async def later_batch(kafka_bootstrap: str, ao_id: str, uln: str) -> uuid.UUID:
    """A batch of `ao_id` decided now that updates the grade of `uln`'s achievement (as `on_the_log` recorded
    it, or of another learner's); returns its id."""
    events = Events(ao_id=ao_id)
    value = encode(wrap(events.updated(uln, grade="8"), source="validation", correlation_id=str(events.batch_id)))
    await produce(kafka_bootstrap, "", [Record(PLR, uln, value)])
    return events.batch_id


async def raise_once_known(client: httpx.AsyncClient, body: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    """POSTs the challenge, again while the service answers 503 (its copy of the log not caught up yet)."""

    async def answered() -> httpx.Response | None:
        response = await client.post("/v1/challenges", json=body, headers=headers)
        return None if response.status_code == 503 else response

    return await eventually(answered, within=60, what="the challenge answered")


@pytest.fixture
async def challenges_app(
    kafka_bootstrap: str, fresh_database_url: str, pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    await ensure_topics(kafka_bootstrap)
    await keyring.migrate(pool)  # validation's part at its start: the learners' key store
    settings = ChallengesSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=fresh_database_url)
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://challenges") as client,
    ):
        yield client


class TopicTail:
    """Reads the challenge topic from the offsets it had when the tail was opened."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        self.records: list[tuple[bytes, bytes]] = []

    async def __aenter__(self) -> TopicTail:
        await self._consumer.start()
        partitions = [TopicPartition(CHALLENGE_EVENTS.name, p) for p in range(CHALLENGE_EVENTS.partitions)]
        self._consumer.assign(partitions)
        for partition, offset in (await self._consumer.end_offsets(partitions)).items():
            self._consumer.seek(partition, offset)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def poll(self) -> list[tuple[bytes, bytes]]:
        for records in (await self._consumer.getmany(timeout_ms=200)).values():
            self.records += [(record.key or b"", record.value or b"") for record in records]
        return self.records


async def test_learner_raises_owning_ao_acknowledges_and_resolves_and_each_change_is_published(
    kafka_bootstrap: str, challenges_app: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    ao_a, ao_b = random_ao(), random_ao()
    learner_uln = random_uln()
    learner = await bearer(pool, f"learner:{learner_uln}")
    as_a, as_b = await bearer(pool, f"ao:{ao_a}"), await bearer(pool, f"ao:{ao_b}")
    achievement_id = await on_the_log(kafka_bootstrap, ao_a, learner_uln)
    async with TopicTail(kafka_bootstrap) as tail:
        created = await raise_once_known(
            challenges_app,
            {"achievement_id": str(achievement_id), "ao_id": ao_a, "reason": "Grade should be B"},
            learner,
        )
        assert created.status_code == 201, created.text
        challenge = created.json()
        challenge_id = challenge["challenge_id"]
        ack_url = f"/v1/challenges/{challenge_id}/acknowledge"
        assert (challenge["state"], challenge["uln"], challenge["ao_id"]) == ("raised", learner_uln, ao_a)
        assert challenge["achievement"] == {
            "qualification_number": "6001166X",
            "subject_code": "600/1166/X",
            "title": "GCSE Mathematics",
            "award_date": "2024-05-20",
            "grade": "7",
            "uln": learner_uln,
            "status": "F",
            "pathway": None,
            "achievement_provider_ukprn": None,
            "language_for_assessment": None,
            "credits": None,
        }
        assert created.headers["location"] == f"/v1/challenges/{challenge_id}"

        again = await challenges_app.post(
            "/v1/challenges",
            json={"achievement_id": str(achievement_id), "ao_id": ao_a, "reason": "again"},
            headers=learner,
        )
        assert again.status_code == 409
        # a reason of invisible characters alone says nothing to the AO, and is refused in words, as one too long is
        for blank in ("\u200b\u200b", "   ", "\ufeff \u2060"):
            unsaid = await challenges_app.post(
                "/v1/challenges", json={"achievement_id": str(achievement_id), "reason": blank}, headers=learner
            )
            assert (unsaid.status_code, unsaid.json()["code"]) == (422, "INVALID_REQUEST"), unsaid.text
            assert unsaid.json()["detail"] == "body.reason: Say what is wrong with the data: the reason is empty"
        too_long = await challenges_app.post(
            "/v1/challenges", json={"achievement_id": str(achievement_id), "reason": "x" * 2001}, headers=learner
        )
        assert too_long.json()["detail"] == "body.reason: Write at most 2,000 characters: the reason has 2,001"

        # AO B sees nothing of AO A's challenge and cannot act on it.
        assert (await challenges_app.get("/v1/challenges", headers=as_b)).json()["items"] == []
        elsewhere = await challenges_app.get(f"/v1/challenges?ao_id={ao_a}", headers=as_b)
        assert elsewhere.status_code == 403, elsewhere.text  # as another AO's batches and reports: not "none"
        assert "sees only the challenges to its own achievements" in elsewhere.json()["detail"]
        counted = await challenges_app.get(f"/v1/challenges/open-counts?ao_id={ao_a}", headers=as_b)
        assert counted.status_code == 403, counted.text
        assert (await challenges_app.get(f"/v1/challenges/{challenge_id}", headers=as_b)).status_code == 404
        assert (await challenges_app.post(ack_url, headers=as_b)).status_code == 404
        # A learner may not manage challenges; an AO may not raise them.
        not_theirs = await challenges_app.post(ack_url, headers=learner)
        assert not_theirs.status_code == 403
        assert not_theirs.json()["detail"] == "Only the awarding organisation acknowledges and resolves challenges."
        forged = await challenges_app.post(
            "/v1/challenges", json={"achievement_id": str(uuid.uuid4()), "ao_id": ao_a, "reason": "x"}, headers=as_a
        )
        assert forged.status_code == 403
        bad = await challenges_app.post(
            "/v1/challenges", json={"achievement_id": "nope", "ao_id": "AQA", "reason": ""}, headers=learner
        )
        assert bad.status_code == 422

        listed = (await challenges_app.get("/v1/challenges?state=raised", headers=as_a)).json()["items"]
        assert [item["challenge_id"] for item in listed] == [challenge_id]
        acknowledged = await challenges_app.post(ack_url, headers=as_a)
        assert acknowledged.json()["state"] == "acknowledged"
        twice = await challenges_app.post(ack_url, headers=as_a)
        assert twice.status_code == 409
        # the state it is in, for a client (the portal) to tell a second click from a refusal
        assert twice.json()["code"] == "CHALLENGE_NOT_IN_THAT_STATE"
        assert twice.json()["state"] == "acknowledged"
        assert twice.json()["detail"].startswith(
            "An acknowledged challenge cannot be acknowledged. It is acknowledged already"
        )
        resolve_url = f"/v1/challenges/{challenge_id}/resolve"
        # Corrected names the batch that corrected the data (decision 0142): not any later batch of the AO.
        unnamed = await challenges_app.post(resolve_url, json={"resolution": "corrected"}, headers=as_a)
        assert (unnamed.status_code, unnamed.json()["code"]) == (422, "CORRECTING_BATCH_REQUIRED")
        # Upheld and rejected change nothing on the PLR: the note is all the learner is told of why, so one is needed
        for unexplained in ({"resolution": "rejected"}, {"resolution": "upheld", "note": " \u200b "}):
            refused = await challenges_app.post(resolve_url, json=unexplained, headers=as_a)
            assert (refused.status_code, refused.json()["code"]) == (422, "RESOLUTION_NOTE_REQUIRED"), refused.text
            assert refused.json()["detail"].startswith("Say why in the note, in words the learner will understand")
        other_learners = await later_batch(kafka_bootstrap, ao_a, random_uln())
        correcting = await later_batch(kafka_bootstrap, ao_a, learner_uln)

        async def offered() -> list[str] | None:
            found = await challenges_app.get(f"/v1/challenges/{challenge_id}/correcting-batches", headers=as_a)
            batches = [item["batch_id"] for item in found.json()["items"]]
            return batches or None

        assert await eventually(offered, within=30, what="the correcting batch known") == [str(correcting)]
        unrelated = await challenges_app.post(
            resolve_url, json={"resolution": "corrected", "correcting_batch_id": str(other_learners)}, headers=as_a
        )
        assert (unrelated.status_code, unrelated.json()["code"]) == (422, "CORRECTING_BATCH_DOES_NOT_FIT")
        assert unrelated.json()["reason"] == "not_for_this_achievement"
        resolved = await challenges_app.post(
            resolve_url,
            json={"resolution": "corrected", "note": "fixed in the next batch", "correcting_batch_id": str(correcting)},
            headers=as_a,
        )
        assert resolved.json()["state"] == "resolved"
        assert resolved.json()["resolution"] == "corrected"
        assert resolved.json()["correcting_batch_id"] == str(correcting)
        assert (await challenges_app.get("/v1/challenges?state=raised", headers=as_a)).json()["items"] == []
        mine = (await challenges_app.get("/v1/challenges", headers=learner)).json()["items"]
        assert challenge_id in [item["challenge_id"] for item in mine]
        # who acted, kept: an operator reads the key's principal, the learner the kind of actor
        operator = await bearer(pool, "operator:audit")
        seen = (await challenges_app.get(f"/v1/challenges/{challenge_id}", headers=operator)).json()
        assert (seen["acknowledged_by"], seen["resolved_by"]) == (f"ao:{ao_a}", f"ao:{ao_a}")
        told = next(item for item in mine if item["challenge_id"] == challenge_id)
        assert (told["acknowledged_by"], told["resolved_by"]) == ("the awarding organisation",) * 2

        async def ours() -> list[tuple[bytes, bytes]]:
            return [
                (key, value)
                for key, value in await tail.poll()
                if challenge_id in decode_envelope(value).correlation_id
            ]

        published = await eventually(lambda: _at_least(ours, 3), within=30, what="three challenge events")
    envelopes = [decode_envelope(value) for _, value in published]
    assert {key for key, _ in published} == {str(achievement_id).encode()}
    assert [envelope.event_type for envelope in envelopes] == [
        "lrs.challenge.raised.v2",
        "lrs.challenge.acknowledged.v1",
        "lrs.challenge.resolved.v1",
    ]
    assert envelopes[-1].data["correcting_batch_id"] == str(correcting)
    assert [envelope.event_id for envelope in envelopes] == [
        deterministic_id("lrs.challenge", challenge_id, envelope.event_type) for envelope in envelopes
    ]

    async def every_row_marked_published() -> bool | None:
        # the relay marks its rows once the broker has them: a consumer may see them a moment before
        return await pool.fetchval("SELECT count(*) FROM challenges.outbox WHERE published_at IS NULL") == 0 or None

    await eventually(every_row_marked_published, within=30, what="the outbox's rows marked published")


async def test_a_raised_challenge_reaches_the_aos_contact_by_email(
    kafka_bootstrap: str,
    challenges_app: httpx.AsyncClient,
    notifier: tuple[httpx.AsyncClient, asyncpg.Pool],  # noqa: F811
    inbox: Inbox,
    pool: asyncpg.Pool,
) -> None:
    notifier_client, notifier_pool = notifier
    ao = random_ao()
    contact = {"given_name": "Grace", "family_name": "Hopper", "telephone": "0161 496 0000", "email": "c@ao.example"}
    put = await notifier_client.put(
        f"/v1/ao/{ao}/challenge-contact", json=contact, headers=await bearer(notifier_pool, f"ao:{ao}")
    )
    assert put.status_code == 200
    learner_uln = random_uln()
    achievement_id = await on_the_log(kafka_bootstrap, ao, learner_uln)
    created = await raise_once_known(
        challenges_app,
        {"achievement_id": str(achievement_id), "reason": "Not my qualification"},
        await bearer(pool, f"learner:{learner_uln}"),
    )
    assert created.status_code == 201, created.text
    challenge_id = created.json()["challenge_id"]
    message_id = f"<{deterministic_id('lrs.challenge', challenge_id, 'lrs.challenge.raised.v2')}@lrs.local>"

    async def delivered() -> list[EmailMessage]:
        return list(inbox.with_message_id(message_id))

    [email] = await eventually(delivered, within=30, what="the challenge email")
    assert email["To"] == "c@ao.example"
    body = email.get_body(("plain",))
    assert body is not None
    text = str(body.get_content())
    assert challenge_id in text
    assert "Not my qualification" in text, "the notifier opened the sealed reason"


async def test_an_erased_learners_challenges_keep_their_facts_and_lose_their_words(
    kafka_bootstrap: str, challenges_app: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    ao = random_ao()
    erased_uln, other_uln = random_uln(), random_uln()
    reason, note = f"Not mine: I am Ada Lovelace {uuid.uuid4().hex[:8]}", f"Checked with Ada {uuid.uuid4().hex[:8]}"
    as_ao = await bearer(pool, f"ao:{ao}")
    achievements = [await on_the_log(kafka_bootstrap, ao, uln) for uln in (erased_uln, erased_uln, other_uln)]
    async with TopicTail(kafka_bootstrap) as tail:
        created = [
            await raise_once_known(
                challenges_app,
                {"achievement_id": str(achievement_id), "reason": reason},
                await bearer(pool, f"learner:{uln}"),
            )
            for achievement_id, uln in zip(achievements[::2], (erased_uln, other_uln), strict=True)
        ]
        assert [response.status_code for response in created] == [201, 201], [r.text for r in created]
        challenge_id, other_id = (response.json()["challenge_id"] for response in created)
        resolved = await challenges_app.post(
            f"/v1/challenges/{challenge_id}/resolve", json={"resolution": "upheld", "note": note}, headers=as_ao
        )
        assert resolved.status_code == 200, resolved.text
        before = resolved.json()
        assert (before["reason"], before["note"], before["personal_data_erased"]) == (reason, note, False)

        async def published() -> list[tuple[bytes, bytes]] | None:
            ours = [(k, v) for k, v in await tail.poll() if challenge_id in decode_envelope(v).correlation_id]
            return ours if len(ours) == 2 else None

        raw = [value for _, value in await eventually(published, within=30, what="the raise and the resolution")]
    assert not any(reason.encode() in value or note.encode() in value for value in raw), "texts only sealed"
    assert all(erased_uln.encode() in value for value in raw), "both events name the learner whose key seals them"

    # what validation does when an operator erases the learner: the key goes, then the event
    async with pool.acquire() as connection, connection.transaction():
        key = keyring.keyring_key_from(os.environ.get(keyring.KEYRING_KEY_VARIABLE))
        assert await keyring.Keyring(pool, key).erase(connection, erased_uln)
    erasure = LearnerErased(
        uln=erased_uln, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=datetime.now(UTC)
    )
    await produce(kafka_bootstrap, "", [record(erasure, erased_uln, topic=LEARNER_EVENTS.name)])

    async def redacted() -> dict[str, Any] | None:
        answer: dict[str, Any] = (await challenges_app.get(f"/v1/challenges/{challenge_id}", headers=as_ao)).json()
        return answer if answer["personal_data_erased"] else None

    after = await eventually(redacted, within=30, what="the challenge redacted")
    assert (after["reason"], after["note"]) == (None, None)
    kept = ("state", "resolution", "raised_at", "resolved_at", "uln", "ao_id", "achievement_id")
    assert {name: after[name] for name in kept} == {name: before[name] for name in kept}
    other = (await challenges_app.get(f"/v1/challenges/{other_id}", headers=as_ao)).json()
    assert (other["reason"], other["personal_data_erased"]) == (reason, False), "another learner's stays"
    listed = (await challenges_app.get("/v1/challenges", headers=as_ao)).json()["items"]
    assert len(listed) == 2, "every challenge still counts"

    for table in ("challenges", "outbox", "erased_learners", "achievements_on_record", "learner_merges"):
        holding = await pool.fetchval(
            f"SELECT count(*) FROM challenges.{table} t WHERE t::text LIKE $1 OR t::text LIKE $2",
            f"%{reason}%",
            f"%{note}%",
        )
        # the other learner's challenge, with the same reason, is the one row left holding it
        assert holding == (1 if table == "challenges" else 0), f"challenges.{table}: {holding} rows with the texts"
    assert not await pool.fetchval(
        "SELECT count(*) FROM challenges.outbox WHERE event_id = ANY($1::uuid[])",
        event_ids_of(uuid.UUID(challenge_id)),
    ), "the relayed events of the erased learner's challenge are gone from the outbox"

    refused = await challenges_app.post(
        "/v1/challenges",
        json={"achievement_id": str(achievements[1]), "reason": "again"},
        headers=await bearer(pool, f"learner:{erased_uln}"),
    )
    assert refused.status_code == 410, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "LEARNER_ERASED"


async def _at_least(probe: object, count: int) -> list[tuple[bytes, bytes]] | None:
    found: list[tuple[bytes, bytes]] = await probe()  # type: ignore[operator]
    return found if len(found) >= count else None


async def test_a_merged_learner_is_one_person_for_challenges_whichever_uln_they_use(
    kafka_bootstrap: str, challenges_app: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Raised under the merged ULN, the challenge is the master ULN's to see, and the achievement has one open
    challenge whichever of the person's ULNs raises the next."""
    ao_id, master, merged_uln = random_ao(), random_uln(), random_uln()
    events = Events(ao_id=ao_id)
    await produce(
        kafka_bootstrap,
        "",
        [record(merged(master, merged_uln), master, topic=LEARNERS), record(events.recorded(merged_uln), merged_uln)],
    )
    body = {"achievement_id": str(events.achievement_id(merged_uln)), "reason": "My grade is wrong"}
    as_merged, as_master = await bearer(pool, f"learner:{merged_uln}"), await bearer(pool, f"learner:{master}")

    raised = await raise_once_known(challenges_app, body, as_merged)
    again = await raise_once_known(challenges_app, body, as_master)
    listed = await challenges_app.get("/v1/challenges", headers=as_master)
    counted = await challenges_app.get("/v1/challenges/open-counts", headers=as_master)
    by_id = await challenges_app.get(f"/v1/challenges/{raised.json()['challenge_id']}", headers=as_master)
    by_uln = await challenges_app.get("/v1/challenges", params={"uln": merged_uln}, headers=as_master)
    stranger = await challenges_app.get(
        "/v1/challenges", params={"uln": merged_uln}, headers=await bearer(pool, f"learner:{random_uln()}")
    )

    assert raised.status_code == 201, raised.text
    assert again.status_code == 409, again.text
    assert raised.json()["challenge_id"] in again.json()["detail"]
    assert (again.json()["code"], again.json()["challenge_id"]) == (
        "CHALLENGE_ALREADY_OPEN",
        raised.json()["challenge_id"],
    )
    assert [item["challenge_id"] for item in listed.json()["items"]] == [raised.json()["challenge_id"]]
    assert counted.json()["open"] == 1
    assert by_id.status_code == 200
    assert [item["challenge_id"] for item in by_uln.json()["items"]] == [raised.json()["challenge_id"]]
    assert stranger.status_code == 403 and "sees only the challenges they raised" in stranger.json()["detail"]


async def test_the_ao_finds_a_merged_learners_challenge_by_the_uln_it_recorded_the_achievement_under(
    kafka_bootstrap: str, challenges_app: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Decision 0162: the master ULN raises a challenge on what the AO recorded under the ULN merged into it. The AO
    knows its record by the merged ULN: its `?uln=` finds the challenge by either ULN, and the challenge and its
    event say which ULN the AO recorded it under; the learner's own list and filter keep the raising ULN's meaning."""
    ao_id, master, merged_uln = random_ao(), random_uln(), random_uln()
    events = Events(ao_id=ao_id)
    await produce(
        kafka_bootstrap,
        "",
        [record(merged(master, merged_uln), master, topic=LEARNERS), record(events.recorded(merged_uln), merged_uln)],
    )
    as_master, as_ao = await bearer(pool, f"learner:{master}"), await bearer(pool, f"ao:{ao_id}")
    as_other_ao = await bearer(pool, f"ao:{random_ao()}")
    body = {"achievement_id": str(events.achievement_id(merged_uln)), "reason": "My grade is wrong"}

    async with TopicTail(kafka_bootstrap) as tail:
        raised = await raise_once_known(challenges_app, body, as_master)
        challenge_id = raised.json()["challenge_id"]

        async def ours() -> list[tuple[bytes, bytes]]:
            return [
                (key, value)
                for key, value in await tail.poll()
                if challenge_id in decode_envelope(value).correlation_id
            ]

        published = await eventually(lambda: _at_least(ours, 1), within=30, what="the raise on the topic")
    by_recorded = await challenges_app.get("/v1/challenges", params={"uln": merged_uln}, headers=as_ao)
    by_raising = await challenges_app.get("/v1/challenges", params={"uln": master}, headers=as_ao)
    by_another = await challenges_app.get("/v1/challenges", params={"uln": random_uln()}, headers=as_ao)
    counted = await challenges_app.get("/v1/challenges/open-counts", params={"uln": merged_uln}, headers=as_ao)
    other_ao = await challenges_app.get("/v1/challenges", params={"uln": merged_uln}, headers=as_other_ao)
    learners = await challenges_app.get("/v1/challenges", params={"uln": master}, headers=as_master)
    stored = await pool.fetchrow(
        "SELECT uln, recorded_uln FROM challenges.challenges WHERE challenge_id = $1", uuid.UUID(challenge_id)
    )

    assert raised.status_code == 201, raised.text
    assert (raised.json()["uln"], raised.json()["achievement"]["uln"]) == (master, merged_uln)
    assert [item["challenge_id"] for item in by_recorded.json()["items"]] == [challenge_id], by_recorded.text
    [shown] = by_recorded.json()["items"]
    assert (shown["uln"], shown["achievement"]["uln"]) == (merged_uln, merged_uln)  # the AO's ULN (decision 0162)
    assert [item["challenge_id"] for item in by_raising.json()["items"]] == [challenge_id]
    assert by_another.json()["items"] == []
    assert counted.json()["open"] == 1
    assert other_ao.json()["items"] == []
    assert [item["challenge_id"] for item in learners.json()["items"]] == [challenge_id]
    assert (stored["uln"], stored["recorded_uln"]) == (master, merged_uln)
    [raised_event] = [decode_envelope(value) for _, value in published]
    assert raised_event.event_type == "lrs.challenge.raised.v2"
    assert (raised_event.data["uln"], raised_event.data["achievement"]["uln"]) == (master, merged_uln)


async def test_the_ao_finds_by_the_master_uln_a_challenge_raised_and_recorded_under_a_uln_merged_into_it(
    kafka_bootstrap: str, challenges_app: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Decision 0162: a challenge keeps the ULNs it was raised and recorded under. The AO's filter by the learner's
    master ULN finds it all the same, among the AO's own challenges only."""
    ao_id, master, merged_uln = random_ao(), random_uln(), random_uln()
    events = Events(ao_id=ao_id)
    await produce(
        kafka_bootstrap,
        "",
        [record(merged(master, merged_uln), master, topic=LEARNERS), record(events.recorded(merged_uln), merged_uln)],
    )
    body = {"achievement_id": str(events.achievement_id(merged_uln)), "reason": "My grade is wrong"}
    raised = await raise_once_known(challenges_app, body, await bearer(pool, f"learner:{merged_uln}"))
    as_ao, as_other_ao = await bearer(pool, f"ao:{ao_id}"), await bearer(pool, f"ao:{random_ao()}")

    by_master = await challenges_app.get("/v1/challenges", params={"uln": master}, headers=as_ao)
    counted = await challenges_app.get("/v1/challenges/open-counts", params={"uln": master}, headers=as_ao)
    other_ao = await challenges_app.get("/v1/challenges", params={"uln": master}, headers=as_other_ao)

    assert raised.status_code == 201, raised.text
    assert (raised.json()["uln"], raised.json()["achievement"]["uln"]) == (merged_uln, merged_uln)
    assert [item["challenge_id"] for item in by_master.json()["items"]] == [raised.json()["challenge_id"]]
    assert counted.json()["open"] == 1
    assert other_ao.json()["items"] == []


async def test_a_database_restored_to_an_earlier_point_gets_back_the_challenges_raised_since(
    kafka_bootstrap: str, fresh_database_url: str, pool: asyncpg.Pool
) -> None:
    """The PLR shows them all along (projected from the same events); the service reads its own events back from
    where the restored database says it had got to (challenges.recovery)."""
    await ensure_topics(kafka_bootstrap)
    await keyring.migrate(pool)
    settings = ChallengesSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=fresh_database_url)
    ao_id, learner_uln = random_ao(), random_uln()
    learner, as_ao = await bearer(pool, f"learner:{learner_uln}"), await bearer(pool, f"ao:{ao_id}")
    achievement_id = await on_the_log(kafka_bootstrap, ao_id, learner_uln)

    async def own_positions() -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await pool.fetch(
            "SELECT * FROM challenges.log_positions WHERE topic = $1 ORDER BY partition", CHALLENGE_EVENTS.name
        )
        return rows

    @asynccontextmanager
    async def running() -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings)
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://challenges") as client,
        ):
            yield client

    async with running() as client:
        await eventually(lambda: _some(own_positions()), within=60, what="its place on its own events stored")
        backup = await own_positions()  # where the backup says the service was
        raised = await raise_once_known(
            client, {"achievement_id": str(achievement_id), "reason": "Grade should be B"}, learner
        )
        challenge_id = raised.json()["challenge_id"]
        acknowledged = await client.post(f"/v1/challenges/{challenge_id}/acknowledge", headers=as_ao)
        assert acknowledged.status_code == 200, acknowledged.text
        await eventually(lambda: _outbox_empty(pool), within=30, what="the challenge's events on the topic")

    # the restore: the backup's rows (without the challenge, its outbox rows) and the backup's positions
    await pool.execute("DELETE FROM challenges.outbox")
    await pool.execute("DELETE FROM challenges.challenges WHERE challenge_id = $1", uuid.UUID(challenge_id))
    await pool.execute("DELETE FROM challenges.log_positions WHERE topic = $1", CHALLENGE_EVENTS.name)
    await pool.executemany(
        "INSERT INTO challenges.log_positions (topic, partition, next_offset) VALUES ($1, $2, $3)",
        [(row["topic"], row["partition"], row["next_offset"]) for row in backup],
    )

    async with running() as client:

        async def back() -> dict[str, Any] | None:
            """Its raise and then its acknowledgement are restored, each in its own transaction: the state the
            last of them left."""
            answer = await client.get(f"/v1/challenges/{challenge_id}", headers=as_ao)
            found: dict[str, Any] | None = answer.json() if answer.status_code == 200 else None
            return found if found is not None and found["state"] != "raised" else None

        restored = await eventually(back, within=60, what="the challenge back from its own events, acknowledged")
        resolved = await client.post(
            f"/v1/challenges/{challenge_id}/resolve",
            json={"resolution": "rejected", "note": "The grade is as the centre sent it."},
            headers=as_ao,
        )
    assert (restored["state"], restored["reason"], restored["ao_id"]) == ("acknowledged", "Grade should be B", ao_id)
    assert restored["acknowledged_by"] == "the awarding organisation"  # the event's causation_id: `ao:<ao_id>`
    assert resolved.status_code == 200, resolved.text  # the AO can close it: the PLR's "under challenge" ends


async def _some(rows: Awaitable[list[asyncpg.Record]]) -> bool | None:
    return bool(await rows) or None


async def _outbox_empty(pool: asyncpg.Pool) -> bool | None:
    waiting = await pool.fetchval("SELECT count(*) FROM challenges.outbox WHERE published_at IS NULL")
    return waiting == 0 or None
