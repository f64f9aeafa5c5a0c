"""Who reads whose reports: an AO its own (naming another AO is a 403, as for batches), an operator any AO's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from reporting.api import router

REPORTS = {
    "submissions": {"period": "2026-12"},
    "timeliness": {"period": "2026-12"},
    "plr-timeliness": {"from": "2026-12"},
    "rejections": {"from": "2026-12"},
    "challenges": {"from": "2026-12"},
}


class FakeStore:
    """Answers no rows, remembering which AO each read was for (None: every AO)."""

    def __init__(self) -> None:
        self.read_for: list[str | None] = []

    async def catching_up(self) -> dict[tuple[str, int], int]:
        return {}

    async def held_in_dead_letters(self, topics: object) -> None:
        return None

    async def aggregates(self, period: str, ao_id: str | None = None) -> list[Any]:
        self.read_for.append(ao_id)
        return []

    async def plr_timeliness(self, first: str, last: str, ao_id: str | None, lag_bound: timedelta) -> list[Any]:
        self.read_for.append(ao_id)
        return []

    async def rejections(self, first: str, last: str, ao_id: str | None) -> list[Any]:
        self.read_for.append(ao_id)
        return []

    async def challenges(self, first: str, last: str, ao_id: str | None) -> list[Any]:
        self.read_for.append(ao_id)
        return []


Read = Callable[[str, str, dict[str, str]], Any]


@pytest.fixture
async def reporting() -> AsyncIterator[tuple[FakeStore, Read]]:
    store = FakeStore()
    app = build_app("reporting", title="Reporting", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.reporting, app.state.projection_lag_bound = store, timedelta(minutes=5)
    caller: list[Principal] = []
    app.dependency_overrides[current_principal] = lambda: caller[0]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client:

        async def read(principal: str, report: str, query: dict[str, str]) -> httpx.Response:
            caller[:] = [Principal.parse(principal)]
            return await client.get(f"/v1/reports/{report}", params={**REPORTS[report], **query})

        yield store, read


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("report", REPORTS)
async def test_an_ao_naming_another_ao_is_refused_before_any_read(
    reporting: tuple[FakeStore, Read], report: str, fmt: str
) -> None:
    store, read = reporting

    answer = await read("ao:RN9093", report, {"ao_id": "RN9001", "format": fmt})

    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "An awarding organisation sees only its own reports."
    assert store.read_for == []


@pytest.mark.parametrize("report", REPORTS)
async def test_an_ao_reads_its_own_whether_it_names_itself_or_not(
    reporting: tuple[FakeStore, Read], report: str
) -> None:
    store, read = reporting

    assert (await read("ao:RN9093", report, {})).status_code == 200
    assert (await read("ao:RN9093", report, {"ao_id": "RN9093"})).status_code == 200

    assert store.read_for == ["RN9093", "RN9093"]


@pytest.mark.parametrize("report", REPORTS)
async def test_an_operator_reads_any_ao_or_every_ao(reporting: tuple[FakeStore, Read], report: str) -> None:
    store, read = reporting

    assert (await read("operator:mi", report, {"ao_id": "RN9001"})).status_code == 200
    assert (await read("operator:mi", report, {})).status_code == 200

    assert store.read_for == ["RN9001", None]


@pytest.mark.parametrize("report", REPORTS)
async def test_other_callers_read_no_report(reporting: tuple[FakeStore, Read], report: str) -> None:
    store, read = reporting

    for principal in ("learner:1000000043", "provider:10004567"):
        answer = await read(principal, report, {})
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"

    assert store.read_for == []


@pytest.mark.parametrize(
    ("report", "header"),
    [
        ("submissions", "ao_id,period,batches_completed,"),
        ("timeliness", "ao_id,period,"),
        ("plr-timeliness", "ao_id,period,projection_lag_bound_seconds,"),
        ("rejections", "ao_id,period,code,batches,records"),
        ("challenges", "ao_id,period,"),
    ],
)
async def test_a_csv_report_with_nothing_to_report_still_has_its_header(
    reporting: tuple[FakeStore, Read], report: str, header: str
) -> None:
    _, read = reporting

    answer = await read("operator:mi", report, {"format": "csv"})

    assert answer.status_code == 200
    assert answer.text.startswith(header) and answer.text.count("\n") == 1, answer.text
    assert "event_type" not in answer.text
