"""An LRS operator (the service desk) may acknowledge or resolve an AO's challenge for it. Its events name the
operator in `causation_id`: reporting keeps whether the desk acted, so the MI counts the desk's answers apart
(`acknowledged_by_service_desk`, `resolved_by_service_desk`) and does not measure them as the AO's working days
(walk report "challenges", finding 3; decision 0194)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
import orjson
from services.reporting.tests.unit.test_projector import AO, RAISED_AT
from services.reporting.tests.unit.test_report_access import FakeStore

from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Contract
from lrs_contracts.registry import wrap
from lrs_contracts.reporting import AoMonthlyChallenges
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from reporting.aggregates import challenges_of
from reporting.api import router
from reporting.projector import ReportingProjector
from reporting.store import ChallengeChange

ACHIEVEMENT = uuid.uuid4()


class RecordingStore:
    """Keeps each change the projector records; answers one month with nothing in it."""

    def __init__(self) -> None:
        self.changes: list[ChallengeChange] = []

    async def record_challenge(self, change: ChallengeChange) -> tuple[str, str] | None:
        self.changes.append(change)
        return None

    async def challenges(self, first: str, last: str, ao_id: str | None) -> list[AoMonthlyChallenges]:
        return []


async def applied(store: RecordingStore, payload: Contract, by: str | None) -> ChallengeChange:
    projector = ReportingProjector(store, timedelta(minutes=5))  # type: ignore[arg-type]
    envelope = wrap(payload, source="challenges", correlation_id="c", causation_id=by, occurred_at=RAISED_AT)
    await projector.apply(envelope, payload)
    return store.changes[-1]


def resolved(challenge_id: uuid.UUID, resolution: ChallengeResolution) -> ChallengeResolved:
    return ChallengeResolved(
        challenge_id=challenge_id,
        achievement_id=ACHIEVEMENT,
        ao_id=AO,
        resolution=resolution,
        correcting_batch_id=uuid.uuid4() if resolution is ChallengeResolution.CORRECTED else None,
    )


async def test_the_projector_keeps_whether_the_service_desk_acknowledged_or_resolved_a_challenge() -> None:
    store = RecordingStore()
    challenge = uuid.uuid4()
    acknowledged = ChallengeAcknowledged(challenge_id=challenge, achievement_id=ACHIEVEMENT, ao_id=AO)
    raised = ChallengeRaised(
        challenge_id=challenge, achievement_id=ACHIEVEMENT, ao_id=AO, uln="1000000043", reason_sealed="s1.c2Vh"
    )

    by_the_desk = await applied(store, acknowledged, "operator:desk")
    by_the_ao = await applied(store, acknowledged, f"ao:{AO}")
    desk_resolution = await applied(store, resolved(challenge, ChallengeResolution.REJECTED), "operator:desk")
    ao_resolution = await applied(store, resolved(challenge, ChallengeResolution.UPHELD), f"ao:{AO}")
    unnamed = await applied(store, resolved(challenge, ChallengeResolution.UPHELD), None)
    raise_seen = await applied(store, raised, "learner:1000000043")

    assert (by_the_desk.acknowledged_by_desk, by_the_desk.resolved_by_desk) == (True, None)
    assert (by_the_ao.acknowledged_by_desk, by_the_ao.resolved_by_desk) == (False, None)
    assert (desk_resolution.resolved_by_desk, desk_resolution.acknowledged_by_desk) == (True, None)
    assert ao_resolution.resolved_by_desk is False
    assert unnamed.resolved_by_desk is False  # an event naming nobody (before principals were named): the AO's
    assert (raise_seen.acknowledged_by_desk, raise_seen.resolved_by_desk) == (None, None)


def test_the_months_figures_say_the_desks_answers_and_old_readers_still_read_them() -> None:
    month = challenges_of(
        AO,
        "2024-05",
        raised=4,
        acknowledged=3,
        resolutions={"rejected": 1, "upheld": 1},
        median_days_to_resolve=2,
        worst_days_to_resolve=2,
        acknowledged_by_service_desk=1,
        resolved_by_service_desk=1,
    )
    body: dict[str, Any] = orjson.loads(month.model_dump_json())
    assert (body["acknowledged_by_service_desk"], body["resolved_by_service_desk"]) == (1, 1)
    assert (body["resolved"], body["still_open"]) == (2, 2)
    # a message published before the counts were added reads as none by the desk
    del body["acknowledged_by_service_desk"], body["resolved_by_service_desk"]
    earlier = AoMonthlyChallenges.model_validate(body)
    assert (earlier.acknowledged_by_service_desk, earlier.resolved_by_service_desk) == (0, 0)


async def test_the_challenges_csv_has_a_column_for_each_count_of_the_desk() -> None:
    month = challenges_of(AO, "2026-12", 2, 1, {"corrected": 1}, 3, 3, resolved_by_service_desk=1)

    class OneMonth(FakeStore):
        async def challenges(self, first: str, last: str, ao_id: str | None) -> list[Any]:
            return [month]

    app = build_app("reporting", title="Reporting", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.reporting, app.state.projection_lag_bound = OneMonth(), timedelta(minutes=5)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:mi")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client:
        answer = await client.get("/v1/reports/challenges", params={"from": "2026-12", "format": "csv"})

    [row] = list(csv.DictReader(io.StringIO(answer.text)))
    assert (row["acknowledged_by_service_desk"], row["resolved_by_service_desk"]) == ("0", "1")
    assert list(row)[-1] == "resolutions"  # the new columns come before it, after the ones readers know
