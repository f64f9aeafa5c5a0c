"""A report's months are ones a date can be read from: year 0 or the month after 9999-12 is a 422, not a 500."""

from __future__ import annotations

import httpx
import pytest

from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal, current_principal
from reporting.api import router


@pytest.mark.parametrize(
    "query",
    [{"from": "0000-01"}, {"from": "9999-12"}, {"from": "9999-11", "to": "9999-12"}, {"from": "2026-13"}],
)
@pytest.mark.parametrize("report", ["challenges", "rejections", "plr-timeliness"])
async def test_a_month_no_report_can_hold_is_refused_before_any_read(report: str, query: dict[str, str]) -> None:
    app = build_app("reporting", title="Reporting", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("ao:RN5133")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client:
        answer = await client.get(f"/v1/reports/{report}", params=query)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "query.from" in answer.json()["detail"] or "query.to" in answer.json()["detail"]
