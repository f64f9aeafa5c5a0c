"""`lrs.learner.provider.unlinked.v1` on real Kafka and PostgreSQL (decision 0121, later note of 2026-12-06): the
projector deletes the link, so the provider's PLR read is refused again, and a rebuild folds the same links."""

from __future__ import annotations

import uuid

import pytest
from tests.support.projector import (
    LEARNERS,
    App,
    dump_model,
    linked,
    merged,
    project,
    record,
    registered,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.learner import LearnerProviderUnlinked
from lrs_contracts.plr import CentreAchievementReported

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
SQUATTER, KEPT = "provider:10009998", "provider:10004567"


def _unlinked(uln: str, provider: str) -> LearnerProviderUnlinked:
    return LearnerProviderUnlinked(uln=uln, provider_ukprn=provider.removeprefix("provider:"))


def _new_uln() -> str:
    return uln_for(uuid.uuid4().int % 50_000_000)


async def _plr_read(app: App, provider: str, uln: str) -> tuple[int, str | None]:
    answer = await app.get(provider, f"/v1/learners/{uln}/plr")
    return answer.status_code, answer.json().get("code") if answer.status_code != 200 else None


async def test_an_ended_link_is_deleted_live_and_a_rebuild_folds_the_same_links(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    squatted, relinked, ended_at_once = _new_uln(), _new_uln(), _new_uln()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(squatted), squatted, topic=LEARNERS),
            record(linked(squatted, SQUATTER), squatted, topic=LEARNERS, sequence=1),
            record(linked(squatted, KEPT), squatted, topic=LEARNERS, sequence=2),
            record(registered(relinked), relinked, topic=LEARNERS),
            record(linked(relinked, SQUATTER), relinked, topic=LEARNERS, sequence=1),
        ],
    )
    assert await _plr_read(app, SQUATTER, squatted) == (200, None)

    # ended in a later batch than the link: the live model's row is deleted
    await project(app, kafka_bootstrap, prefix, [record(_unlinked(squatted, SQUATTER), squatted, topic=LEARNERS)])
    assert await _plr_read(app, SQUATTER, squatted) == (403, "PROVIDER_NOT_LINKED")
    assert await _plr_read(app, KEPT, squatted) == (200, None)

    # ended and linked again (an operator vouching for it), and linked and ended within one batch
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(_unlinked(relinked, SQUATTER), relinked, topic=LEARNERS, sequence=2),
            record(linked(relinked, SQUATTER), relinked, topic=LEARNERS, sequence=3),
            record(registered(ended_at_once), ended_at_once, topic=LEARNERS),
            record(linked(ended_at_once, SQUATTER), ended_at_once, topic=LEARNERS, sequence=1),
            record(_unlinked(ended_at_once, SQUATTER), ended_at_once, topic=LEARNERS, sequence=2),
        ],
    )
    assert await _plr_read(app, SQUATTER, relinked) == (200, None)
    assert await _plr_read(app, SQUATTER, ended_at_once) == (403, "PROVIDER_NOT_LINKED")
    live = await dump_model(app.database_url, "plr")
    ours = {squatted, relinked, ended_at_once}
    assert [row[:2] for row in live["provider_links"] if row[0] in ours] == sorted(
        [(squatted, KEPT[-8:]), (relinked, SQUATTER[-8:])]
    )

    started = await app.post(OPERATOR, "/v1/admin/rebuild", workers=1)
    assert started.status_code == 202, started.text

    async def caught_up() -> bool:
        return bool((await app.get(OPERATOR, "/v1/admin/rebuild")).json()["state"] == "caught_up")

    await eventually(caught_up, within=120, what="rebuild caught up")
    comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
    assert comparison["identical"] is True, comparison
    rebuilt = await dump_model(app.database_url, "plr_rebuild_1")
    assert rebuilt["provider_links"] == live["provider_links"]
    switched = await app.post(OPERATOR, "/v1/admin/rebuild/switch")
    assert switched.status_code == 200, switched.text
    assert await _plr_read(app, SQUATTER, squatted) == (403, "PROVIDER_NOT_LINKED")


def _report(uln: str, provider: str, qan: str = "6001167X") -> CentreAchievementReported:
    return CentreAchievementReported(
        report_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{uln}|{provider}|{qan}"),
        uln=uln,
        provider_ukprn=provider.removeprefix("provider:"),
        qualification_number=qan,
        grade="Pass",
    )


async def _ilr(app: App, uln: str) -> list[tuple[str, str, str]]:
    """The centre reports on the learner's PLR as an operator reads it: (ULN, provider, QAN)."""
    answer = await app.get(OPERATOR, f"/v1/learners/{uln}/plr")
    assert answer.status_code == 200, answer.text
    return sorted(
        (event["uln"], event["achievement_provider_ukprn"], event["subject_code"])
        for event in answer.json()["learning_events"]
        if event["source"] == "ILR"
    )


async def test_an_ended_links_centre_reports_are_hidden_until_linked_again_live_and_in_a_rebuild(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    """The centre reports a provider made while its registration linked it to a ULN that turned out to be another
    learner's are not shown on that learner's PLR (whichever of their ULNs they are under), whether projected before
    or after the link ended, until an operator links the provider to the learner again; another provider's stay. The
    reports are kept, so a rebuild folds the same model and shows the same PLR."""
    app, prefix = projector
    squatted, master, merged_away, relinked = _new_uln(), _new_uln(), _new_uln(), _new_uln()
    squatter = SQUATTER.removeprefix("provider:")
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(squatted), squatted, topic=LEARNERS),
            record(linked(squatted, SQUATTER), squatted, topic=LEARNERS, sequence=1),
            record(linked(squatted, KEPT), squatted, topic=LEARNERS, sequence=2),
            record(_report(squatted, SQUATTER), squatted, sequence=3),
            record(_report(squatted, KEPT), squatted, sequence=4),
            record(registered(master), master, topic=LEARNERS),
            record(registered(merged_away), merged_away, topic=LEARNERS),
            record(linked(merged_away, SQUATTER), merged_away, topic=LEARNERS, sequence=1),
            record(_report(merged_away, SQUATTER), merged_away, sequence=2),
            record(registered(relinked), relinked, topic=LEARNERS),
            record(linked(relinked, SQUATTER), relinked, topic=LEARNERS, sequence=1),
            record(_report(relinked, SQUATTER), relinked, sequence=2),
        ],
    )
    assert await _ilr(app, squatted) == sorted(
        [(squatted, squatter, "600/1167/X"), (squatted, KEPT[-8:], "600/1167/X")]
    )

    # a learner file ends one link, and a report it made while linked is read only now; a merge ends another; the
    # third is ended and made again by an operator
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(_unlinked(squatted, SQUATTER), squatted, topic=LEARNERS, sequence=5),
            record(_report(squatted, SQUATTER, "6001166X"), squatted, sequence=6),
            record(_unlinked(merged_away, SQUATTER), merged_away, topic=LEARNERS, sequence=3),
            record(merged(master, merged_away), master, topic=LEARNERS, sequence=4),
            record(_unlinked(relinked, SQUATTER), relinked, topic=LEARNERS, sequence=3),
            record(linked(relinked, SQUATTER), relinked, topic=LEARNERS, sequence=4),
        ],
    )
    assert await _ilr(app, squatted) == [(squatted, KEPT[-8:], "600/1167/X")]
    assert await _ilr(app, master) == []
    assert await _ilr(app, merged_away) == []
    assert await _ilr(app, relinked) == [(relinked, squatter, "600/1167/X")]
    live_before = await dump_model(app.database_url, "plr")
    assert len([row for row in live_before["centre_achievements"] if row[0] == squatted]) == 3  # kept, not shown

    # an operator links the provider to the master: a link to any of the learner's ULNs shows its reports again
    await project(app, kafka_bootstrap, prefix, [record(linked(master, SQUATTER), master, topic=LEARNERS, sequence=5)])
    assert await _ilr(app, master) == [(merged_away, squatter, "600/1167/X")]
    live = await dump_model(app.database_url, "plr")
    ours = {squatted, master, merged_away, relinked}
    assert [row for row in live["provider_links_ended"] if row[0] in ours] == sorted(
        (uln, squatter) for uln in (squatted, merged_away, relinked)
    )

    started = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
    assert started.status_code == 202, started.text

    async def caught_up() -> bool:
        return bool((await app.get(OPERATOR, "/v1/admin/rebuild")).json()["state"] == "caught_up")

    await eventually(caught_up, within=120, what="rebuild caught up")
    comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
    assert comparison["identical"] is True, comparison
    rebuilt = await dump_model(app.database_url, "plr_rebuild_1")
    for table in ("provider_links_ended", "provider_links", "centre_achievements"):
        assert rebuilt[table] == live[table], table
    switched = await app.post(OPERATOR, "/v1/admin/rebuild/switch")
    assert switched.status_code == 200, switched.text
    assert await _ilr(app, squatted) == [(squatted, KEPT[-8:], "600/1167/X")]
    assert await _ilr(app, master) == [(merged_away, squatter, "600/1167/X")]
