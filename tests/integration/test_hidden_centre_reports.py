"""Decision 0121, what a squatter wrote, on real Kafka and PostgreSQL: a learner merged INTO a squatted ULN (the
squatted ULN the master) loses the squatter's centre reports from their PLR once validation ends the squatter's link
(`lrs.learner.provider.unlinked.v1` keyed by the master, before the merge), live and in a rebuild alike; and
operators find the reports hidden so (`GET /v1/admin/centre-reports/hidden`): which provider, under which learner
(ULNs masked), how many, until the provider is linked again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from tests.support.projector import LEARNERS, App, linked, merged, project, record, registered, uln_for
from tests.support.waiting import eventually

from lrs_contracts.learner import LearnerProviderUnlinked
from lrs_contracts.plr import CentreAchievementReported
from lrs_domain.identifiers import mask_uln

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"


def _new_uln() -> str:
    return uln_for(uuid.uuid4().int % 50_000_000)


def _provider() -> str:
    return f"{uuid.uuid4().int % 10**8:08d}"


def _unlinked(uln: str, ukprn: str) -> LearnerProviderUnlinked:
    return LearnerProviderUnlinked(uln=uln, provider_ukprn=ukprn)


def _report(uln: str, ukprn: str, qan: str = "6001167X") -> CentreAchievementReported:
    return CentreAchievementReported(
        report_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{uln}|{ukprn}|{qan}"),
        uln=uln,
        provider_ukprn=ukprn,
        qualification_number=qan,
        grade="Pass",
    )


async def _centre_reports(app: App, uln: str) -> list[tuple[str, str]]:
    """The centre reports on the learner's PLR as an operator reads it: (ULN, provider)."""
    answer = await app.get(OPERATOR, f"/v1/learners/{uln}/plr")
    assert answer.status_code == 200, answer.text
    return sorted(
        (event["uln"], event["achievement_provider_ukprn"])
        for event in answer.json()["learning_events"]
        if event["source"] == "ILR"
    )


async def _hidden(app: App, principal: str = OPERATOR, **params: Any) -> dict[str, Any]:
    answer = await app.get(principal, "/v1/admin/centre-reports/hidden", **params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _link(uln: str, master: str, ukprn: str, hidden: int) -> dict[str, Any]:
    return {"uln": mask_uln(uln), "master_uln": mask_uln(master), "provider_ukprn": ukprn, "hidden_reports": hidden}


async def test_a_squatted_masters_reports_leave_the_merged_learners_plr_and_operators_find_them(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    squatter, genuine = _provider(), _provider()
    squatted, real, emptied, relinked = _new_uln(), _new_uln(), _new_uln(), _new_uln()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(squatted), squatted, topic=LEARNERS),
            record(linked(squatted, f"provider:{squatter}"), squatted, topic=LEARNERS, sequence=1),
            record(linked(squatted, f"provider:{genuine}"), squatted, topic=LEARNERS, sequence=2),
            record(_report(squatted, squatter), squatted, sequence=3),
            record(_report(squatted, squatter, "6001166X"), squatted, sequence=4),
            record(_report(squatted, genuine), squatted, sequence=5),
            record(registered(real), real, topic=LEARNERS),
            record(registered(emptied), emptied, topic=LEARNERS),
            record(linked(emptied, f"provider:{squatter}"), emptied, topic=LEARNERS, sequence=1),
            record(registered(relinked), relinked, topic=LEARNERS),
            record(linked(relinked, f"provider:{squatter}"), relinked, topic=LEARNERS, sequence=1),
            record(_report(relinked, squatter), relinked, sequence=2),
        ],
    )
    assert await _hidden(app, ukprn=squatter) == {"links": [], "hidden_reports": 0, "more": False, "next": None}

    # the real learner merged into the squatted ULN: validation ends the squatter's link first, keyed by the master
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(_unlinked(squatted, squatter), squatted, topic=LEARNERS, sequence=6),
            record(merged(squatted, real), squatted, topic=LEARNERS, sequence=7),
            record(_unlinked(emptied, squatter), emptied, topic=LEARNERS, sequence=2),
            record(_unlinked(relinked, squatter), relinked, topic=LEARNERS, sequence=3),
            record(linked(relinked, f"provider:{squatter}"), relinked, topic=LEARNERS, sequence=4),
        ],
    )
    assert await _centre_reports(app, real) == [(squatted, genuine)]
    assert await _centre_reports(app, relinked) == [(relinked, squatter)]
    of_squatted, of_emptied = _link(squatted, squatted, squatter, 2), _link(emptied, emptied, squatter, 0)
    expected = [of_squatted, of_emptied] if squatted < emptied else [of_emptied, of_squatted]  # by UKPRN, then ULN
    assert await _hidden(app, ukprn=squatter) == {"links": expected, "hidden_reports": 2, "more": False, "next": None}
    assert await _hidden(app, uln=real) == {"links": [of_squatted], "hidden_reports": 2, "more": False, "next": None}
    first = await _hidden(app, ukprn=squatter, limit=1)
    assert (first["links"], first["more"]) == ([expected[0]], True)
    second = await _hidden(app, ukprn=squatter, limit=1, after=first["next"])  # the page after it
    assert (second["links"], second["more"], second["next"]) == ([expected[1]], False, None)
    stale = await app.get(OPERATOR, "/v1/admin/centre-reports/hidden", after="not-a-position")
    assert stale.status_code == 422, stale.text
    assert await _hidden(app, ukprn=genuine) == {"links": [], "hidden_reports": 0, "more": False, "next": None}
    refused = await app.get(f"provider:{squatter}", "/v1/admin/centre-reports/hidden")
    assert refused.status_code == 403, refused.text
    mistyped = await app.get(OPERATOR, "/v1/admin/centre-reports/hidden", uln=real[:-1] + str((int(real[-1]) + 1) % 10))
    assert mistyped.status_code == 422, mistyped.text

    started = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
    assert started.status_code == 202, started.text

    async def caught_up() -> bool:
        return bool((await app.get(OPERATOR, "/v1/admin/rebuild")).json()["state"] == "caught_up")

    await eventually(caught_up, within=120, what="rebuild caught up")
    comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
    assert comparison["identical"] is True, comparison
    switched = await app.post(OPERATOR, "/v1/admin/rebuild/switch")
    assert switched.status_code == 200, switched.text
    assert await _centre_reports(app, real) == [(squatted, genuine)]
    assert (await _hidden(app, ukprn=squatter))["links"] == expected

    # an operator links the squatter again (to the learner's other ULN): its reports are shown, and no longer listed
    await project(
        app, kafka_bootstrap, prefix, [record(linked(real, f"provider:{squatter}"), real, topic=LEARNERS, sequence=1)]
    )
    assert await _centre_reports(app, real) == sorted([(squatted, genuine), (squatted, squatter), (squatted, squatter)])
    assert await _hidden(app, uln=squatted) == {"links": [], "hidden_reports": 0, "more": False, "next": None}
