"""An AO user's landing page: recent batches, open challenges, this month's timeliness to learners' records."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from portal.backend import ServiceError
from portal.web.common import UK, AoUser, calls, render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def dashboard(request: Request, user: AoUser) -> HTMLResponse:
    service = calls(request, user)
    period = datetime.now(UK).strftime("%Y-%m")
    batches = (await service.batches(page=1, page_size=8))["items"]
    open_challenges = await service.open_challenges_count()
    try:
        items = await service.report_range("plr-timeliness", period, period)
        timeliness = items[0] if items else None
    except ServiceError:
        timeliness = None
    context = {
        "batches": batches,
        "open_challenges": open_challenges,
        "timeliness": timeliness,
        "period": period,
    }
    return render(request, "dashboard.html", context, user=user)
