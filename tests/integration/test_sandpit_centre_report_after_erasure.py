"""A centre report after a learner's erasure, on the running system, live and in the Sandpit: live refuses one sent
as soon as the erasure has answered 201 (the projector asks validation's registry, not only its read model); the
Sandpit's projector asks the Sandpit's own copy of the registry, which marks the learner erased as it copies the
live erasure, and refuses their reports from then on. Neither answers 503: each projector may ask its registry."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.test_sandpit import sandpit, sandpit_inbox  # noqa: F401 - the Sandpit's fixtures
from tests.support.learners import new_learner
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
CENTRE = "/v1/centre/achievements"


async def _report(target: SystemUnderTest, provider: str, body: dict[str, Any]) -> httpx.Response:
    async with await target.client("plr-projector", provider) as client:
        return await client.post(CENTRE, json=body, headers={"Idempotency-Key": f"centre-{uuid.uuid4()}"})


async def test_a_report_after_the_erasure_is_refused_live_at_once_and_in_the_sandpit_once_it_copied_it(
    system: SystemUnderTest,
    sandpit: SystemUnderTest,  # noqa: F811 - the fixture imported above
) -> None:
    learner = new_learner()
    uln = learner["uln"]
    provider = f"provider:1{uuid.uuid4().int % 10**7:07d}"
    async with await system.client("validation", provider) as client:
        registration = {key: learner[key] for key in ("uln", "given_name", "family_name", "date_of_birth")}
        assert (await client.post("/v1/learners", json=registration)).status_code == 201
    report = {"uln": uln, "qualification_number": "600/1166/X", "subject": "Maths (college)", "grade": "B"}

    async def taken(target: SystemUnderTest) -> bool | None:
        answer = await _report(target, provider, report)
        assert answer.status_code in (202, 403), answer.text  # 403 until the link is read
        return answer.status_code == 202 or None

    for target in (system, sandpit):  # both take the linked provider's reports while the learner is not erased
        await eventually(partial(taken, target), within=60, what="a report taken")

    async with await system.client("validation", OPERATOR) as client:
        erasure = await client.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "asked"})
    assert erasure.status_code == 201, erasure.text
    at_once = await _report(system, provider, report)
    assert at_once.status_code == 410, at_once.text
    assert at_once.json()["code"] == "LEARNER_ERASED"

    async def refused_in_the_sandpit() -> bool | None:
        answer = await _report(sandpit, provider, report)
        assert answer.status_code in (202, 410), answer.text  # 202 until the Sandpit copied the erasure
        return (answer.status_code == 410 and answer.json()["code"] == "LEARNER_ERASED") or None

    await eventually(refused_in_the_sandpit, within=60, what="the Sandpit refusing the erased learner's report")
