"""The Sandpit (decision 0060): an AO user's batches, direct entries and learners again, under /sandpit,
answered by the Sandpit's services with the person's sandpit key; a home page, and "Reset my Sandpit".

The pages are the live ones (same handlers, same templates): `common.calls` picks the environment from
the address, and every page under /sandpit carries the SANDPIT banner (base.html). Challenges and MI
are live only: the Sandpit has neither.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute

from portal.web import ao_pages, batch_pages
from portal.web.common import SANDPIT, AoUser, calls, checked_form, render, see_other

router = APIRouter(include_in_schema=False)

MIRRORED = (
    "/batches",
    "/batches/new",
    "/batches/check",
    "/batches/submit",
    "/batches/{batch_id}",
    "/batches/{batch_id}/status.json",
    "/batches/{batch_id}/records/{line}",
    "/batches/{batch_id}/records.csv",
    "/direct-entry",
    "/direct-entry/check",
    "/direct-entry/recorded",
    "/direct-entry/prefilled",
    "/learners",
    "/learners/found/{look_up_id}",
)
RESET_DONE = "completed"
RESET_POLL_SECONDS = 0.5

for source in (batch_pages.router, ao_pages.router):
    for route in source.routes:
        if isinstance(route, APIRoute) and route.path in MIRRORED:
            router.add_api_route(f"{SANDPIT}{route.path}", route.endpoint, methods=sorted(route.methods or ()))


@router.get(SANDPIT)
async def sandpit_home(request: Request, user: AoUser) -> HTMLResponse:
    batches = (await calls(request, user).batches(page=1, page_size=8))["items"]
    return render(request, "sandpit_home.html", {"batches": batches}, user=user)


@router.get(f"{SANDPIT}/reset")
async def reset_form(request: Request, user: AoUser) -> HTMLResponse:
    return render(request, "sandpit_reset.html", {"reset": None}, user=user)


@router.post(f"{SANDPIT}/reset")
async def reset(request: Request, user: AoUser) -> Response:
    await checked_form(request, user)
    started = await calls(request, user).reset_sandpit()
    return see_other(f"{SANDPIT}/resets/{started['reset_id']}?wait=10")


@router.get(f"{SANDPIT}/resets/{{reset_id}}")
async def reset_page(
    request: Request,
    reset_id: uuid.UUID,
    user: AoUser,
    wait: Annotated[float, Query(ge=0, le=20, allow_inf_nan=False)] = 0,
) -> HTMLResponse:
    """Drawn once every sandpit service has applied the reset, or after `wait` seconds (then "Check again"); at once
    when it waits behind a batch that Sandpit maintenance holds beyond the wait (the page then says so)."""
    service = calls(request, user)
    deadline = time.monotonic() + wait
    found = await service.sandpit_reset(reset_id)
    while found["status"] != RESET_DONE and (left := deadline - time.monotonic()) > 0 and not held_past(found, left):
        await asyncio.sleep(min(RESET_POLL_SECONDS, left))
        found = await service.sandpit_reset(reset_id)
    return render(request, "sandpit_reset.html", {"reset": found, "done": found["status"] == RESET_DONE}, user=user)


def held_past(reset: dict[str, Any], seconds: float) -> bool:
    """Whether maintenance holds the reset (behind a held batch of the AO's) for longer than `seconds` from now (an
    unplanned pause: until an operator resumes)."""
    notice = reset.get("maintenance")
    if not notice or reset["status"] == RESET_DONE:
        return False
    if notice.get("until") is None:
        return True
    until = datetime.fromisoformat(str(notice["until"]).replace("Z", "+00:00"))
    return (until - datetime.now(UTC)).total_seconds() > seconds
