"""Issue 15's acceptance for erasure (crypto-shredding, decision 0080), end to end on the running system.

A learner with unmistakable details has achievements from two AOs in completed batches, an open challenge
whose reason names them and a resolved one whose note does. An operator erases them. Then no table, no API
answer, no rebuilt projection and no Kafka segment file holds their names or date of birth; their
achievements' non-personal facts and every count stay as they were; and their key is never made again.

The tests of this module share one erased learner (the `erased` fixture) and run in file order: the
later ones submit another batch for the learner, which changes the AOs' counts the earlier ones compare.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import codes_of, plr, record_outcomes, submit_and_wait
from tests.support.databases import tables_holding
from tests.support.kafka import broker_log_dirs, segment_contents
from tests.support.learners import json_batch, json_record, new_learner
from tests.support.waiting import eventually

from lrs_platform.keyring import ERASED, KEYRING_KEY_VARIABLE, Keyring, keyring_key_from
from lrs_platform.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.integration

GIVEN_NAME, FAMILY_NAME, DATE_OF_BIRTH = "Quenivere", "Zdravkowitzka", "1977-12-29"
PERSONAL = (GIVEN_NAME, FAMILY_NAME, DATE_OF_BIRTH)
AQA, PEARSON = "RN9008", "RN9093"
OPERATOR = "operator:dpo-tests"
PROVIDER = "provider:10004567"
REASON = f"I am {GIVEN_NAME} {FAMILY_NAME}, born {DATE_OF_BIRTH}: this grade is not the one on my certificate"
NOTE = f"Checked with {GIVEN_NAME} {FAMILY_NAME} ({DATE_OF_BIRTH}): the grade stands"
PERSONAL_IN_CHALLENGE = ("reason", "note", "personal_data_erased")
# the AO view's `learner_erased` and the operator's PLR `erased` (incident walk, finding 3): false before, true after
SAYS_ERASED = ("learner_erased", "erased")


@dataclass
class Erasure:
    """The erased learner, what the system answered about them just before the erasure, and the erasure."""

    learner: dict[str, str]
    batches: dict[str, str]  # AO → its completed batch
    challenges: dict[str, str]  # AO → the challenge on its achievement (AQA's open, Pearson's resolved)
    before: dict[str, Any]
    answer: dict[str, Any]
    period: str  # the month whose MI `before` holds, read again after: once, or a UK midnight could make it two

    @property
    def uln(self) -> str:
        return self.learner["uln"]


def _period() -> str:
    return datetime.now(ZoneInfo("Europe/London")).strftime("%Y-%m")


async def _get(system: SystemUnderTest, service: str, principal: str, path: str, **params: Any) -> Any:
    async with await system.client(service, principal) as client:
        response = await client.get(path, params=params)
    assert response.status_code == 200, f"{service} {path}: {response.status_code} {response.text}"
    return response.json()


async def _mi(system: SystemUnderTest, period: str) -> dict[str, Any]:
    """The two AOs' MI for the month `period`: submissions, rejections and challenges."""
    reports: dict[str, Any] = {}
    for ao_id in (AQA, PEARSON):
        reports[f"submissions {ao_id}"] = await _get(
            system, "reporting", OPERATOR, "/v1/reports/submissions", period=period, ao_id=ao_id
        )
        for report in ("rejections", "challenges"):
            reports[f"{report} {ao_id}"] = await _get(
                system, "reporting", OPERATOR, f"/v1/reports/{report}", **{"from": period, "ao_id": ao_id}
            )
    return reports


def _challenge_counts(reports: dict[str, Any], ao_id: str) -> tuple[int, int]:
    items = reports[f"challenges {ao_id}"]["items"]
    return (items[0]["raised"], items[0]["resolved"]) if items else (0, 0)


def _completed_batches(reports: dict[str, Any], ao_id: str) -> int:
    items = reports[f"submissions {ao_id}"]["items"]
    return int(items[0]["batches_completed"]) if items else 0


async def _answers(
    system: SystemUnderTest, learner: dict[str, str], batches: dict[str, str], challenges: dict[str, str]
) -> dict[str, Any]:
    """Every API answer about the learner that the acceptance names, by a label."""
    uln = learner["uln"]
    answers: dict[str, Any] = {
        "plr": await plr(system, uln, include_history=True),
        "plr as operator": await _get(
            system,
            "plr-projector",
            OPERATOR,
            f"/v1/learners/{uln}/plr",
            include_history="true",
            include_withdrawn="true",
        ),
        "challenges of the learner": await _get(system, "challenges", f"learner:{uln}", "/v1/challenges"),
    }
    for ao_id, batch_id in batches.items():
        answers[f"batch {ao_id}"] = await _get(system, "ingest", f"ao:{ao_id}", f"/v1/batches/{batch_id}")
        answers[f"records {ao_id}"] = await record_outcomes(system, ao_id, batch_id)
        answers[f"ao achievements {ao_id}"] = await _get(
            system, "plr-projector", f"ao:{ao_id}", "/v1/ao/achievements", uln=uln
        )
    for ao_id, challenge_id in challenges.items():
        answers[f"challenge {ao_id}"] = await _get(
            system, "challenges", f"ao:{ao_id}", f"/v1/challenges/{challenge_id}"
        )
        answers[f"challenges of {ao_id}"] = [
            item
            for item in (await _get(system, "challenges", f"ao:{ao_id}", "/v1/challenges", limit=1000))["items"]
            if item["uln"] == uln
        ]
    return answers


def _without_personal(answer: Any) -> Any:
    """An answer with the challenge fields that erasure empties left out: what must not change."""
    if isinstance(answer, dict):
        return {
            key: _without_personal(value)
            for key, value in answer.items()
            if key not in PERSONAL_IN_CHALLENGE + SAYS_ERASED
        }
    if isinstance(answer, list):
        return [_without_personal(item) for item in answer]
    return answer


def _holding(text: str) -> list[str]:
    return [value for value in PERSONAL if value.casefold() in text.casefold()]


async def _raise(system: SystemUnderTest, uln: str, achievement_id: str) -> str:
    async with await system.client("challenges", f"learner:{uln}") as client:

        async def answered() -> httpx.Response | None:
            response = await client.post("/v1/challenges", json={"achievement_id": achievement_id, "reason": REASON})
            return None if response.status_code == 503 else response

        created = await eventually(answered, within=60, what="the challenge raised")
    assert created.status_code == 201, created.text
    return str(created.json()["challenge_id"])


async def _achievement_of(system: SystemUnderTest, ao_id: str, record: dict[str, Any]) -> tuple[str, str]:
    """The record submitted alone by the AO: its completed batch and the achievement it recorded."""
    view = await submit_and_wait(system, ao_id, json_batch(ao_id, [record]))
    assert (view["status"], view["counts"]["accepted"]) == ("completed", 1), view
    [outcome] = await record_outcomes(system, ao_id, view["batch_id"])
    return str(view["batch_id"]), str(outcome["achievement_id"])


@pytest.fixture(scope="module")
async def erased(system: SystemUnderTest) -> Erasure:
    learner = new_learner(given_name=GIVEN_NAME, family_name=FAMILY_NAME, date_of_birth=DATE_OF_BIRTH)
    uln = learner["uln"]
    async with await system.client("validation", PROVIDER) as client:
        registered = await client.post(
            "/v1/learners",
            json={
                "uln": uln,
                "given_name": GIVEN_NAME,
                "family_name": FAMILY_NAME,
                "date_of_birth": DATE_OF_BIRTH,
                "gender": 2,
                "ability_to_share": 1,
            },
        )
    assert registered.status_code == 201, registered.text
    period = _period()
    mi_before_ours = await _mi(system, period)

    aqa_batch, aqa_achievement = await _achievement_of(system, AQA, json_record(learner, "100/5001/2", "C"))
    pearson_batch, pearson_achievement = await _achievement_of(
        system, PEARSON, json_record(learner, "500/0002/0", "Distinction", awardDate="2013-07-02")
    )
    open_challenge = await _raise(system, uln, aqa_achievement)
    resolved_challenge = await _raise(system, uln, pearson_achievement)
    async with await system.client("challenges", f"ao:{PEARSON}") as client:
        acknowledged = await client.post(f"/v1/challenges/{resolved_challenge}/acknowledge")
        assert acknowledged.status_code == 200, acknowledged.text
        resolved = await client.post(
            f"/v1/challenges/{resolved_challenge}/resolve", json={"resolution": "rejected", "note": NOTE}
        )
        assert resolved.status_code == 200, resolved.text

    async def projected() -> dict[str, Any] | None:
        document = await plr(system, uln, include_history=True)
        challenged = sorted(event["under_data_challenge"] for event in document["learning_events"])
        return document if challenged == ["N", "Y"] else None

    await eventually(projected, within=60, what="both achievements on the PLR, one under challenge")

    async def counted() -> dict[str, Any] | None:
        reports = await _mi(system, period)
        for ao_id, resolved_count in ((AQA, 0), (PEARSON, 1)):
            raised_then, resolved_then = _challenge_counts(mi_before_ours, ao_id)
            raised_now, resolved_now = _challenge_counts(reports, ao_id)
            if raised_now < raised_then + 1 or resolved_now < resolved_then + resolved_count:
                return None
            if _completed_batches(reports, ao_id) < _completed_batches(mi_before_ours, ao_id) + 1:
                return None
        return reports

    mi = await eventually(counted, within=60, what="MI counting the batches and challenges")
    batches = {AQA: aqa_batch, PEARSON: pearson_batch}
    challenges = {AQA: open_challenge, PEARSON: resolved_challenge}
    before = await _answers(system, learner, batches, challenges)
    assert before[f"challenge {AQA}"]["reason"] == REASON  # the names really were there to be erased
    assert before[f"challenge {PEARSON}"]["note"] == NOTE
    before["mi"] = mi
    # the table scan sees them where they are held in clear until the erasure
    assert {"validation.learners", "challenges.challenges"} <= (
        await tables_holding(system.database_url, PERSONAL)
    ).keys()

    async with await system.client("validation", OPERATOR) as client:
        erasure = await client.post(
            f"/v1/admin/learners/{uln}/erasure", json={"reason": "a test learner loaded into production"}
        )
    assert erasure.status_code == 201, erasure.text
    # the erasure ended the learner's own key: the PLR service stops taking it within its key cache
    old_key = system.keys.pop(f"learner:{uln}")

    async def old_key_refused() -> bool:
        async with httpx.AsyncClient(
            base_url=system.url("plr-projector"), headers={"Authorization": f"Bearer {old_key}"}
        ) as client:
            return (await client.get(f"/v1/learners/{uln}/plr")).status_code == 401

    await eventually(old_key_refused, within=60, what="the erased learner's key refused")
    # what the learner is answered if an operator gives them a key again is checked below with a new one
    return Erasure(learner, batches, challenges, before, erasure.json(), period)


async def test_the_erasure_is_answered_and_audited(system: SystemUnderTest, erased: Erasure) -> None:
    assert erased.answer["uln"] == erased.uln
    assert erased.answer["erased_by"] == OPERATOR
    async with await system.client("validation", OPERATOR) as client:
        again = await client.post(f"/v1/admin/learners/{erased.uln}/erasure", json={"reason": "asked twice"})
        audit = await client.get("/v1/admin/erasures", params={"uln": erased.uln})
    assert again.status_code == 200, again.text
    assert again.json()["erasure_id"] == erased.answer["erasure_id"]
    assert audit.status_code == 200, audit.text
    assert erased.answer["erasure_id"] in audit.text
    assert "a test learner loaded into production" in audit.text
    assert _holding(audit.text) == []


async def test_no_api_answer_holds_their_personal_data_and_every_fact_and_count_stays(
    system: SystemUnderTest, erased: Erasure
) -> None:
    async def redacted() -> dict[str, Any] | None:
        answers = await _answers(system, erased.learner, erased.batches, erased.challenges)
        return answers if answers[f"challenge {AQA}"]["personal_data_erased"] else None

    after = await eventually(redacted, within=60, what="the challenges service applying the erasure")
    after["mi"] = await _mi(system, erased.period)

    assert {label: _holding(str(answer)) for label, answer in after.items()} == {label: [] for label in after}
    for challenge in (
        after[f"challenge {AQA}"],
        after[f"challenge {PEARSON}"],
        *after["challenges of the learner"]["items"],
    ):
        assert (challenge["reason"], challenge["note"], challenge["personal_data_erased"]) == (None, None, True)
    assert after[f"challenge {AQA}"]["state"] == "raised"
    assert after[f"challenge {PEARSON}"]["resolution"] == "rejected"
    assert len(after["plr"]["learning_events"]) == 2
    assert (erased.before["plr as operator"]["erased"], after["plr as operator"]["erased"]) == (False, True)
    assert "erased" not in after["plr"]  # the learner's own answer is as it was
    assert _without_personal(after) == _without_personal(erased.before)
    # each AO that recorded something for them is told, so that its portal offers no change it cannot make (RV004)
    told = {ao: (erased.before[f"ao achievements {ao}"], after[f"ao achievements {ao}"]) for ao in erased.batches}
    assert {ao: (old["learner_erased"], new["learner_erased"]) for ao, (old, new) in told.items()} == {
        ao: (False, True) for ao in erased.batches
    }
    # never to an AO with no record of them: it could otherwise probe ULNs for erasures
    stranger = await _get(system, "plr-projector", "ao:RN9123", "/v1/ao/achievements", uln=erased.uln)
    assert (stranger["learning_events"], stranger["learner_erased"]) == ([], False)

    # no credential is signed for them any more, for them or an operator: it is made to be handed on
    for principal in (f"learner:{erased.uln}", OPERATOR):
        async with await system.client("plr-projector", principal) as client:
            exported = await client.get(f"/v1/learners/{erased.uln}/plr/credential")
        assert exported.status_code == 410, exported.text
        assert exported.json()["code"] == "LEARNER_ERASED"
        assert _holding(exported.text) == []


async def test_the_provider_linked_to_them_reads_their_plr_no_more(system: SystemUnderTest, erased: Erasure) -> None:
    """The provider that registered them stays linked (links are never undone, decision 0121) and no one can change
    their sharing any more (410): the PLR read refuses the provider itself, as validation's routes do."""
    async with await system.client("plr-projector", PROVIDER) as client:

        async def refused() -> httpx.Response | None:
            response = await client.get(f"/v1/learners/{erased.uln}/plr")
            return None if response.status_code == 200 else response

        gone = await eventually(refused, within=60, what="the linked provider refused the erased learner's PLR")
    assert gone.status_code == 410, gone.text
    assert gone.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert gone.json()["code"] == "LEARNER_ERASED"
    assert erased.before["plr"]["learning_events"][0]["subject_code"] not in gone.text


async def test_no_table_holds_their_personal_data(system: SystemUnderTest, erased: Erasure) -> None:
    found: dict[str, list[str]] = {}

    async def clean() -> bool:
        found.clear()
        found.update(await tables_holding(system.database_url, PERSONAL))
        return not found

    with contextlib.suppress(AssertionError):
        await eventually(clean, within=60, what="every table without the learner's personal data")
    assert found == {}


async def test_their_key_is_never_made_again(system: SystemUnderTest, erased: Erasure) -> None:
    learner = erased.learner
    view = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(learner, "100/5002/4", "B")]))
    [outcome] = await record_outcomes(system, AQA, view["batch_id"])
    assert codes_of(outcome) == ["RV004"], outcome

    async with await system.client("validation", PROVIDER) as client:
        again = await client.post(
            "/v1/learners",
            json={
                "uln": learner["uln"],
                "given_name": GIVEN_NAME,
                "family_name": FAMILY_NAME,
                "date_of_birth": DATE_OF_BIRTH,
                "ability_to_share": 1,
            },
        )
    assert again.status_code == 410, again.text
    assert again.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert again.json()["code"] == "LEARNER_ERASED"
    assert _holding(again.text) == []

    pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=1)
    try:
        keyring = Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE]))
        rows = await pool.fetch(
            "SELECT wrapped_key, erased_at FROM learner_keys.keys WHERE learner_ref = $1",
            keyring.learner_ref(erased.uln),
        )
        assert [(row["wrapped_key"], row["erased_at"] is not None) for row in rows] == [(None, True)]
        assert await keyring.issue([erased.uln]) == {erased.uln: ERASED}
    finally:
        await pool.close()


async def test_a_rebuild_after_the_erasure_holds_none_of_it_and_gives_the_same_plr(
    system: SystemUnderTest, erased: Erasure
) -> None:
    async with await system.client("plr-projector", OPERATOR) as client:
        started = await client.post("/v1/admin/rebuild", params={"workers": 2})
        assert started.status_code == 202, started.text
        schema = started.json()["schema"]

        async def caught_up() -> bool:
            return bool((await client.get("/v1/admin/rebuild")).json()["state"] == "caught_up")

        await eventually(caught_up, within=300, what="the rebuild caught up")
        comparison = (await client.post("/v1/admin/rebuild/compare")).json()
        assert comparison["identical"] is True, comparison
        rebuilt_holding = {
            table: needles
            for table, needles in (await tables_holding(system.database_url, PERSONAL)).items()
            if table.startswith(f"{schema}.")
        }
        assert rebuilt_holding == {}
        switched = await client.post("/v1/admin/rebuild/switch")
        assert switched.status_code == 200, switched.text

    after = await plr(system, erased.uln, include_history=True)
    assert after == erased.before["plr"]
    assert await tables_holding(system.database_url, PERSONAL) == {}


async def test_the_kafka_segments_hold_no_name_or_date_of_birth_in_any_topic(
    system: SystemUnderTest, erased: Erasure
) -> None:
    segments = [
        path for directory in await broker_log_dirs(system.kafka_bootstrap) for path in directory.rglob("*.log")
    ]
    holding: dict[str, list[str]] = {}
    holding_the_uln: set[str] = set()
    for path in segments:
        contents = segment_contents(path)
        found = [value for value in PERSONAL if value.encode() in contents]
        if found:
            holding[str(path)] = found
        if erased.uln.encode() in contents:
            holding_the_uln.add(path.parent.name.rsplit("-", 1)[0])
    assert holding == {}
    # the search sees the topics: the ULN, in clear as the learner's key, is found where the learner went
    assert {"lrs.batch.submitted.v1", "lrs.plr.events.v1", "lrs.learner.events.v1", "lrs.challenge.events.v1"} <= (
        holding_the_uln
    )
