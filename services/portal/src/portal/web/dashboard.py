"""An AO user's landing page: recent batches, open challenges, this month's timeliness to learners' records."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lrs_contracts.text import MONTH_NAMES
from portal.backend import KeyRejected, ServiceCalls, ServiceError
from portal.web.common import UK, User, calls, operator_home, render, see_other

router = APIRouter(include_in_schema=False)
SIDE_FIGURE_SECONDS = 5.0


async def has_challenge_contact(service: ServiceCalls, ao_id: str) -> bool | None:
    """Whether the AO has a challenge contact, as the notifier tells the /contact page; None when the notifier did
    not answer in time: the page then says nothing either way about it (no notice that may be untrue)."""
    try:
        return await service.challenge_contact(ao_id, timeout=SIDE_FIGURE_SECONDS) is not None
    except KeyRejected:
        raise
    except ServiceError:
        return None


@router.get("/")
async def dashboard(request: Request, user: User) -> Response:
    if user.account.is_operator:  # an operator's home is the first page their duties reach, as after signing in
        return see_other(operator_home(user.account) or "/ops")
    service = calls(request, user)
    assert user.account.ao_id is not None
    # asked beside the other figures, not after them: the notifier's answer may take up to its own bound
    has_contact = asyncio.create_task(has_challenge_contact(service, user.account.ao_id))
    try:
        context = await _figures(service)
        context["has_contact"] = await has_contact
    finally:
        has_contact.cancel()  # nothing once it is done; a page that failed first asks nothing more
    return render(request, "dashboard.html", context, user=user)


async def _figures(service: ServiceCalls) -> dict[str, Any]:
    """The dashboard's batches, and its side figures: one the challenges or reporting service cannot give is said to
    be missing."""
    period = datetime.now(UK).strftime("%Y-%m")
    batches = (await service.batches(page=1, page_size=8))["items"]
    try:  # the batches are what the page is for: a figure the challenges service cannot give is said to be missing
        open_challenges: int | None = await service.open_challenges_count(timeout=SIDE_FIGURE_SECONDS)
    except KeyRejected:
        raise
    except ServiceError:
        open_challenges = None
    try:
        items = await service.report_range("plr-timeliness", period, period)
        timeliness = items[0] if items else None
    except KeyRejected:
        raise
    except ServiceError:
        timeliness = None
    month = f"{MONTH_NAMES[int(period[5:]) - 1]} {period[:4]}"  # as the card's title says it: "December 2026"
    return {"batches": batches, "open_challenges": open_challenges, "timeliness": timeliness, "period": month}
