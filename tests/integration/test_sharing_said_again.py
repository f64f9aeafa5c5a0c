"""The whole system: a sharing choice sent again by whoever made it already changes nothing (200 `changed: false`,
where a change is 204, so that `lrs learners sharing` says "already … nothing changed"): nothing is
recorded in the learner's sharing history, whose latest 50 changes the learner reads (operators page through all of
them), and nothing is published. The same choice from someone else is recorded, as theirs: who made a choice is what decision 0121 reads
to set aside one that only a provider whose registration named another learner made, and a learner's confirmation of
such a provider's choice makes it the learner's. And a linked provider asking who is linked to an erased learner is
told of links, not of PLR reads."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.support.learners import learners_csv, new_learner

from lrs_contracts.learner import LearnerSharingChanged
from lrs_contracts.registry import decode

pytestmark = pytest.mark.integration

NOT_SEEN, SHARES, OPTED_OUT = 0, 1, 2


def _provider() -> str:
    return f"provider:{uuid.uuid4().int % 10**8:08d}"


async def _registered_by(system: SystemUnderTest, provider: str, learner: dict[str, str]) -> None:
    registration = {key: learner[key] for key in ("uln", "given_name", "family_name", "date_of_birth")}
    async with await system.client("validation", provider) as client:
        answer = await client.post("/v1/learners", json={**registration, "ability_to_share": NOT_SEEN})
    assert answer.status_code == 201, answer.text


async def _send(system: SystemUnderTest, principal: str, uln: str, ability: int, *, changed: bool = True) -> None:
    async with await system.client("validation", principal) as client:
        answer = await client.post(f"/v1/learners/{uln}/sharing", json={"ability_to_share": ability})
    if changed:
        assert (answer.status_code, answer.content) == (204, b""), answer.text
    else:
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"uln": uln, "ability_to_share": ability, "changed": False}


async def _history(system: SystemUnderTest, uln: str) -> list[tuple[int, str]]:
    """Every change recorded, oldest first, with who made it (as an operator reads it)."""
    async with await system.client("validation", "operator:support") as operator:
        answer = await operator.get(f"/v1/admin/learners/{uln}/sharing-changes")
    assert answer.status_code == 200, answer.text
    return [(change["ability_to_share"], change["changed_by"]) for change in reversed(answer.json()["changes"])]


async def _published(system: SystemUnderTest, uln: str) -> list[int]:
    """The choices queued for the learner log under the ULN, in order."""
    connection = await asyncpg.connect(system.database_url)
    try:
        rows = await connection.fetch(
            "SELECT envelope FROM validation.learner_outbox WHERE partition_key = $1 ORDER BY id", uln
        )
    finally:
        await connection.close()
    changes = [decode(row["envelope"])[1] for row in rows]
    return [int(change.ability_to_share) for change in changes if isinstance(change, LearnerSharingChanged)]


async def test_the_same_choice_again_from_whoever_made_it_records_and_publishes_nothing(
    system: SystemUnderTest,
) -> None:
    learner, provider = new_learner(), _provider()
    uln = learner["uln"]
    await _registered_by(system, provider, learner)
    themself = f"learner:{uln}"

    for attempt in range(3):
        await _send(system, themself, uln, OPTED_OUT, changed=attempt == 0)

    assert await _history(system, uln) == [(OPTED_OUT, themself)]
    assert await _published(system, uln) == [OPTED_OUT]

    # a real change in between, then the first choice again: each is a change
    await _send(system, themself, uln, SHARES)
    await _send(system, themself, uln, OPTED_OUT)
    await _send(system, themself, uln, OPTED_OUT, changed=False)
    assert await _history(system, uln) == [(OPTED_OUT, themself), (SHARES, themself), (OPTED_OUT, themself)]
    assert await _published(system, uln) == [OPTED_OUT, SHARES, OPTED_OUT]


async def test_the_same_choice_from_someone_else_is_recorded_as_theirs_once(system: SystemUnderTest) -> None:
    """The learner confirms the choice their registering provider made, then the provider sends it again: the
    learner's confirmation is recorded (once), the provider's repeat is not: it made that choice already."""
    learner, provider = new_learner(), _provider()
    uln = learner["uln"]
    await _registered_by(system, provider, learner)
    themself = f"learner:{uln}"

    await _send(system, provider, uln, SHARES)
    await _send(system, themself, uln, SHARES)
    await _send(system, themself, uln, SHARES, changed=False)
    await _send(system, provider, uln, SHARES, changed=False)

    assert await _history(system, uln) == [(SHARES, provider), (SHARES, themself)]
    assert await _published(system, uln) == [SHARES, SHARES]
    async with await system.client("validation", themself) as client:
        read = await client.get(f"/v1/learners/{uln}/sharing")
    assert read.status_code == 200, read.text
    assert [change["changed_by"] for change in read.json()["changes"]] == [
        "you",
        f"learning provider {provider.split(':')[1]}, linked to you",
    ]

    # a learner file then naming the ULN under other details ends the provider's link, but the choice is the
    # learner's too now: nothing is set aside (decision 0121, later note of 2026-12-06)
    async with await system.client("validation", "operator:tests") as operator:
        imported = await operator.post(
            "/v1/learners/import",
            content=learners_csv([{**learner, "given_name": "Other", "ability_to_share": str(SHARES)}]),
            headers={"Content-Type": "text/csv"},
        )
    assert imported.status_code == 201, imported.text
    assert (imported.json()["provider_links_ended"], imported.json()["sharing_choices_reset"]) == (1, 0)
    assert await _history(system, uln) == [(SHARES, provider), (SHARES, themself)]


async def test_a_linked_provider_asking_who_is_linked_to_an_erased_learner_is_told_of_links(
    system: SystemUnderTest,
) -> None:
    learner, provider = new_learner(), _provider()
    uln = learner["uln"]
    await _registered_by(system, provider, learner)
    async with await system.client("validation", "operator:dpo") as operator:
        erased = await operator.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "they asked"})
    assert erased.status_code == 201, erased.text

    async with await system.client("validation", provider) as client:
        answer: httpx.Response = await client.get(f"/v1/learners/{uln}/providers")

    assert answer.status_code == 410, answer.text
    assert answer.json()["code"] == "LEARNER_ERASED"
    detail = answer.json()["detail"]
    assert "providers linked to them are not listed" in detail
    assert "PLR of theirs" not in detail
