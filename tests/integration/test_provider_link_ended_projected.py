"""`lrs.learner.provider.unlinked.v1` on real Kafka and PostgreSQL (decision 0121, later note of 2026-12-06): the
projector deletes the link, so the provider's PLR read is refused again, and a rebuild folds the same links."""

from __future__ import annotations

import uuid

import pytest
from tests.support.projector import LEARNERS, App, dump_model, linked, project, record, registered, uln_for
from tests.support.waiting import eventually

from lrs_contracts.learner import LearnerProviderUnlinked

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
