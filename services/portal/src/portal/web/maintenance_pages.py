"""Operators' maintenance page (decision 0070): what holds batches now, the windows to come, the history,
and scheduling, cancelling, pausing and resuming over ingest's admin API, as `lrs maintenance` does.
Times are typed and shown in UK time; ingest is sent and answers instants with their UTC offset."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lrs_contracts.operations import MaintenanceWindow
from lrs_platform.maintenance import active_windows, bidi_control_in_reason, window_chain_end
from portal.auth import SignedIn
from portal.backend import Forbidden, NotFound, Refused, ServiceCalls
from portal.web.common import (
    UK,
    MaintenanceOperator,
    calls,
    checked_form,
    field,
    maintenance_schedule,
    notice_for,
    reason_error,
    render,
    see_other_telling,
    uk_time,
)

router = APIRouter(include_in_schema=False)

# Ingest's own limits (ingest.maintenance.check_window), checked here too to put the error on its field.
LONGEST_WINDOW = timedelta(hours=48)
FURTHEST_START = timedelta(days=366)
LATEST_START_BEHIND = timedelta(minutes=5)  # ingest's: "now" as a person types it
MAX_REASON = 500
HISTORY_LIMIT = 50
WINDOW_FIELDS = ("starts_date", "starts_time", "ends_date", "ends_time", "reason")
# the form's field for each field of ingest's request, as its refusals name them
REFUSED_FIELDS = {"body.starts_at": "starts_date", "body.ends_at": "ends_date", "body.reason": "reason"}
DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})")

DONE = {
    "scheduled": "The maintenance window is scheduled. AOs see it in the banner on every page once signed in.",
    "cancelled": "The maintenance window is cancelled.",
    "ended": "The maintenance window has ended: the batches it held are decided, in each AO's order.",
    "paused": "Deciding batches is paused. Batches are still accepted: they are queued until you resume.",
    "resumed": "Deciding batches has resumed: the queued batches are decided in each AO's order.",
}
# What was done, said first when something else still holds the batches (`_done_said`).
DONE_BUT_HELD = {"ended": "The maintenance window has ended.", "resumed": "Deciding batches has resumed."}
# An instant as ingest's refusals write it (`2027-03-27T01:00:00Z`), said on the page in UK time (`uk_times_in`).
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})")


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _maintenance_state(service: ServiceCalls) -> dict[str, Any]:
    """The schedule (`GET /v1/maintenance`) with who scheduled each window, and the history."""
    schedule = await service.maintenance()
    history = await service.maintenance_history(HISTORY_LIMIT)
    now = datetime.now(UTC)
    scheduled_by = {record["window"]["window_id"]: record["scheduled_by"] for record in history["windows"]}
    windows = [
        {
            **window,
            "scheduled_by": scheduled_by.get(window["window_id"]),
            "under_way": _instant(window["starts_at"]) <= now,
        }
        for window in schedule["windows"]
    ]
    return {
        "holding": _holding_now(schedule, windows, history["pauses"]),
        "paused": schedule["pause"] is not None,
        "windows": windows,
        "history": history,
    }


def _done_said(done: str | None, state: dict[str, Any], changed: dict[str, Any]) -> str | None:
    """What was just done (`DONE`). After a window ended or a resume, from the schedule read after the change, what
    still holds the batches, if anything does (the pause; a window under way, or windows it touches, holding as one,
    until their end), rather than that they are decided. The window (`changed["ended"]`, its id) or the pause
    (`changed["resumed"]`, when it began) just changed is not counted, should another ingest instance answer from a
    schedule read a moment before."""
    said = DONE.get(done or "")
    if said is None or done not in DONE_BUT_HELD:
        return said
    holding = state["holding"]
    resumed = changed.get("resumed")
    if holding is not None and holding["paused"] and (not resumed or _instant(holding["since"]) != _instant(resumed)):
        return (
            f"{DONE_BUT_HELD[done]} The pause ({holding['reason']}) still holds the batches: they are decided, in each"
            " AO's order, once you resume deciding batches."
        )
    windows = [
        MaintenanceWindow(
            window_id=window["window_id"],
            starts_at=_instant(window["starts_at"]),
            ends_at=_instant(window["ends_at"]),
            reason=window["reason"],
        )
        for window in state["windows"]
        if window["window_id"] != changed.get("ended")
    ]
    now = datetime.now(UTC)
    open_now, until = active_windows(windows, now), window_chain_end(windows, now)
    if not open_now or until is None:
        return said
    return (
        f"{DONE_BUT_HELD[done]} The maintenance window under way ({open_now[0].reason}) still holds the batches: they"
        f" are decided, in each AO's order, after {uk_time(until)} (UK time)."
    )


def uk_times_in(text: str) -> str:
    """`text` (a refusal of ingest's) with each instant it writes (`2027-03-29T01:30:00Z`, UTC) said in UK time, as
    every time on the page is (`29 Mar 2027, 02:30 (UK time)`): in summer the UTC clock reads an hour behind."""
    return INSTANT.sub(lambda found: f"{uk_time(found[0])} (UK time)", text)


def _holding_now(
    schedule: dict[str, Any], windows: list[dict[str, Any]], pauses: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """What holds batches now: the pause if one is on, else the window under way that began first."""
    active = schedule["active"]
    if active is None:
        return None
    if active["paused"]:
        pause = schedule["pause"]
        record = next((record for record in pauses if record["resumed_at"] is None), None)
        by = record["paused_by"] if record else None
        return {"paused": True, "reason": pause["reason"], "since": pause["since"], "until": None, "by": by}
    window = next((window for window in windows if window["under_way"]), None)
    return {
        "paused": False,
        "reason": active["reason"],
        "since": window["starts_at"] if window else None,
        "until": active["until"],
        "by": window["scheduled_by"] if window else None,
    }


async def _maintenance_page(
    request: Request,
    user: SignedIn,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    done: str | None = None,
    already: str | None = None,
    changed: dict[str, Any] | None = None,
    unpublished: bool = False,
    status: int = 200,
) -> HTMLResponse:
    if request.method == "POST":
        # the banner was read as the form arrived, before ingest was asked: a change made meanwhile (the same form
        # sent twice, another operator) is read again, so that the banner says what the page below it says
        request.state.maintenance = await maintenance_schedule(calls(request, user), user.account)
    state = await _maintenance_state(calls(request, user))
    context = {
        **state,
        "history_limit": HISTORY_LIMIT,
        "values": values or {},
        "errors": errors or {},
        "refusal": refusal,
        "done": already or _done_said(done, state, changed or {}),
        "unpublished": unpublished,
    }
    return render(request, "ops_maintenance.html", context, user=user, status_code=status)


async def _done(request: Request, user: SignedIn, what: str, changed: dict[str, Any], **which: str) -> RedirectResponse:
    """Back to the page, which says once (decision 0130) what was done and whether Kafka has yet to take the
    new schedule; the address carries neither, so a reload or a link shows no message. `which`: the window
    ended (`ended`) or the pause resumed (`resumed`), for `_done_said`."""
    unpublished = not changed["published"]
    return await see_other_telling(request, user, "/ops/maintenance", done=what, unpublished=unpublished, **which)


def _reason_error(reason: str, *, pausing: bool = False) -> str | None:
    purpose = "why you are pausing" if pausing else "what the maintenance is for"
    missing = f"Say {purpose}: AOs see it on every page and on the batches it holds"
    if error := reason_error(reason, limit=MAX_REASON, missing=missing):
        return error
    bidi = bidi_control_in_reason(reason)  # ingest's rule: every AO reads it
    return f"The reason holds {bidi}: type it again" if bidi else None


def _day(text: str) -> date | None:
    found = DAY.fullmatch(text)
    try:
        return date(*(int(part) for part in found.groups())) if found else None
    except ValueError:  # 2027-02-30
        return None


def _clock(text: str) -> time | None:
    found = CLOCK.fullmatch(text)
    if not found or int(found[1]) > 23 or int(found[2]) > 59:
        return None
    return time(int(found[1]), int(found[2]))


def _typed_moment(values: dict[str, str], end: str) -> tuple[datetime | None, dict[str, str]]:
    """The instant typed as a UK date and time for the window's `end` ("starts" or "ends"), or None and
    what is wrong, on its field."""
    what = "start" if end == "starts" else "end"
    day_field, clock_field = f"{end}_date", f"{end}_time"
    day, clock = _day(values[day_field]), _clock(values[clock_field])
    errors = {}
    if day is None:
        errors[day_field] = (
            f"Enter the {what} date as year-month-day, like 2027-06-01"
            if values[day_field]
            else f"Enter the date the window {end}"
        )
    if clock is None:
        errors[clock_field] = (
            f"Enter the {what} time on the 24-hour clock, like 22:00"
            if values[clock_field]
            else f"Enter the time the window {end}"
        )
    if day is None or clock is None:
        return None, errors
    moment = datetime.combine(day, clock, tzinfo=UK)
    said = f"{clock:%H:%M} on {day:%-d %b %Y}"
    if moment.astimezone(UTC).astimezone(UK).time() != clock:
        return None, {clock_field: f"There is no {said} in the UK: the clocks go forward that night"}
    if moment.utcoffset() != moment.replace(fold=1).utcoffset():
        return None, {clock_field: f"{said} happens twice in the UK, as the clocks go back: choose another time"}
    return moment, {}


def window_errors(starts_at: datetime, ends_at: datetime, now: datetime) -> dict[str, str]:
    """What is wrong, on its field, with a window from `starts_at` to `ends_at` scheduled at `now`, as ingest
    judges it: in elapsed time, so a window across a clock change is as long as it lasts, not as the clock
    reads (two times in one zone subtract as the clock reads them)."""
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    errors = {}
    if ends_at <= starts_at:
        errors["ends_date"] = "The window must end after it starts"
    elif ends_at <= now:
        errors["ends_date"] = "The window would already be over: choose an end still to come"
    elif ends_at - starts_at > LONGEST_WINDOW:
        errors["ends_date"] = "A window lasts at most 48 hours: the batches it holds wait on a topic kept for 7 days"
    if starts_at - now > FURTHEST_START:
        errors["starts_date"] = "A window starts at most 366 days from now: schedule it nearer the time"
    elif now - starts_at > LATEST_START_BEHIND and "ends_date" not in errors:
        errors["starts_date"] = (
            "A window cannot start in the past: start it now or later (for a hold already begun, pause the LRS)"
        )
    return errors


def _ingest_refusal(detail: str) -> tuple[dict[str, str], str | None]:
    """The errors by field and the refusal above the form that show ingest's refusal: on the field when it names
    one (`body.<field>`: a field of its request refused), else above the form. A window it refuses (its order,
    its length, its start, its hold with the windows it overlaps or touches) and an operator it refuses name no
    field: they are not guessed onto one from their words."""
    named = [name for sent, name in REFUSED_FIELDS.items() if sent in detail]
    said = uk_times_in(detail)  # the hold a chain of windows would make (decision 0165) is said in UTC instants
    return ({named[0]: said}, None) if len(named) == 1 else ({}, said)


@router.get("/ops/maintenance")
async def maintenance(request: Request, user: MaintenanceOperator) -> HTMLResponse:
    notice = await notice_for(request, user)
    done, unpublished = notice.get("done"), bool(notice.get("unpublished"))
    already = notice.get("already")
    return await _maintenance_page(request, user, done=done, already=already, changed=notice, unpublished=unpublished)


async def _so_already(
    request: Request, user: SignedIn, refused: Refused, said: str | None, *, reason: str = ""
) -> Response:
    """After ingest's 409 to a change made already (the same form sent twice, a browser's resubmission, another
    operator): back to the page, which says once what is so and who made it so, when (`said`, from the schedule read
    again after the refusal) as what was done, never "That could not be done". When the schedule is not what was
    asked (`said` None: paused with another reason, say), the page shows the refusal, its banner read again."""
    if said is not None and refused.problem.get("status") == 409:  # not a refusal of what was sent (a 422, a 429)
        return await see_other_telling(request, user, "/ops/maintenance", already=said)
    return await _maintenance_page(
        request,
        user,
        values={"pause_reason": reason} if reason else None,
        refusal=uk_times_in(refused.detail),
        status=409,
    )


def already_paused(pauses: list[dict[str, Any]], reason: str) -> tuple[str | None, str | None]:
    """(what a pause sent again says, None) when the pause on is one with the same reason (whoever made it); else
    (None, the refusal) when one with another reason is on (AOs read its reason, not the one sent: a conflict), or
    (None, None) when the history names no pause on (read before the change, or none: ingest's refusal is shown)."""
    on = next((record for record in pauses if record.get("resumed_at") is None), None)
    if on is None:
        return None, None
    by = f"{on['paused_by']} paused deciding batches at {uk_time(on['paused_at'])} (UK time)"
    if on["reason"] == reason:
        return f"Already paused. {by}, with this reason: nothing more was done.", None
    return None, (
        f"Deciding batches is paused already: {by}, with another reason: {on['reason']}. Nothing was changed: AOs"
        " read that reason. To give yours, resume deciding batches, then pause again."
    )


def already_resumed(paused: bool, pauses: list[dict[str, Any]]) -> str | None:
    """What a resume sent again says, when no pause is on now (what was asked is so); None when one is."""
    if paused:
        return None
    last = pauses[0] if pauses else None
    if last is None or last.get("resumed_at") is None:
        return "Not paused: there was nothing to resume."
    return (
        f"Already resumed. {last['resumed_by']} resumed deciding batches at {uk_time(last['resumed_at'])} (UK time):"
        " nothing more was done."
    )


def already_cancelled(window_id: uuid.UUID, windows: list[dict[str, Any]]) -> str | None:
    """What a cancel sent again says, when the window is cancelled already or over (what was asked is so); None when
    the history read again does not name it so."""
    record = next((record for record in windows if record["window"]["window_id"] == str(window_id)), None)
    if record is None:
        return None
    window = record["window"]
    if record.get("cancelled_at"):
        return (
            f"Already cancelled. {record['cancelled_by']} cancelled the maintenance window ({window['reason']}) at"
            f" {uk_time(record['cancelled_at'])} (UK time): nothing more was done."
        )
    if _instant(window["ends_at"]) <= datetime.now(UTC):
        return (
            f"Already over. The maintenance window ({window['reason']}) ended at {uk_time(window['ends_at'])}"
            " (UK time): there was nothing to cancel."
        )
    return None


@router.post("/ops/maintenance/windows")
async def schedule_window(request: Request, user: MaintenanceOperator) -> Response:
    form = await checked_form(request, user)
    values = {name: field(form, name) for name in WINDOW_FIELDS}
    starts_at, start_errors = _typed_moment(values, "starts")
    ends_at, end_errors = _typed_moment(values, "ends")
    errors = start_errors | end_errors
    if starts_at is not None and ends_at is not None:
        errors |= window_errors(starts_at, ends_at, datetime.now(UTC))
    if reason_error := _reason_error(values["reason"]):
        errors["reason"] = reason_error
    if errors or starts_at is None or ends_at is None:
        return await _maintenance_page(request, user, values=values, errors=errors, status=400)
    try:
        changed = await calls(request, user).schedule_maintenance_window(starts_at, ends_at, values["reason"])
    except (Refused, Forbidden) as refused:
        errors, refusal = _ingest_refusal(refused.detail)
        return await _maintenance_page(request, user, values=values, errors=errors, refusal=refusal, status=400)
    return await _done(request, user, "scheduled", changed)


@router.get("/ops/maintenance/windows/{window_id}/cancel")
async def confirm_cancel(request: Request, window_id: uuid.UUID, user: MaintenanceOperator) -> HTMLResponse:
    """The confirmation step: the window, and whether it is dropped or, under way, ends now."""
    state = await _maintenance_state(calls(request, user))
    window = next((window for window in state["windows"] if window["window_id"] == str(window_id)), None)
    if window is None:
        refusal = "That window was cancelled or is over: there is nothing to cancel."
        return await _maintenance_page(request, user, refusal=refusal, status=404)
    return render(request, "ops_maintenance_cancel.html", {"window": window, "paused": state["paused"]}, user=user)


@router.post("/ops/maintenance/windows/{window_id}/cancel")
async def cancel_window(request: Request, window_id: uuid.UUID, user: MaintenanceOperator) -> Response:
    await checked_form(request, user)
    service = calls(request, user)
    try:
        changed = await service.cancel_maintenance_window(window_id)
    except Refused as refused:  # cancelled already, or over: read again, as it is now
        history = await service.maintenance_history(HISTORY_LIMIT)
        return await _so_already(request, user, refused, already_cancelled(window_id, history["windows"]))
    except (Forbidden, NotFound) as refused:
        return await _maintenance_page(request, user, refusal=refused.detail, status=409)
    record = changed["window"]
    if _instant(record["window"]["starts_at"]) <= _instant(record["cancelled_at"]):
        return await _done(request, user, "ended", changed, ended=record["window"]["window_id"])
    return await _done(request, user, "cancelled", changed)


@router.post("/ops/maintenance/pause")
async def pause(request: Request, user: MaintenanceOperator) -> Response:
    form = await checked_form(request, user)
    reason = field(form, "pause_reason")
    if reason_error := _reason_error(reason, pausing=True):
        values, errors = {"pause_reason": reason}, {"pause_reason": reason_error}
        return await _maintenance_page(request, user, values=values, errors=errors, status=400)
    service = calls(request, user)
    try:
        changed = await service.pause_deciding_batches(reason)
    except Refused as refused:  # paused already: by whom, when and why, read again
        if refused.problem.get("status") != 409:  # what was sent is refused (a 422), not a pause sent again
            values = {"pause_reason": reason}
            return await _maintenance_page(request, user, values=values, refusal=refused.detail, status=409)
        said, conflict = already_paused((await service.maintenance_history(HISTORY_LIMIT))["pauses"], reason)
        if conflict is not None:
            values = {"pause_reason": reason}
            return await _maintenance_page(request, user, values=values, refusal=conflict, status=409)
        return await _so_already(request, user, refused, said, reason=reason)
    except Forbidden as refused:
        return await _maintenance_page(request, user, refusal=refused.detail, status=409)
    return await _done(request, user, "paused", changed)


@router.post("/ops/maintenance/resume")
async def resume(request: Request, user: MaintenanceOperator) -> Response:
    await checked_form(request, user)
    service = calls(request, user)
    try:
        changed = await service.resume_deciding_batches()
    except Refused as refused:  # not paused: who resumed and when, read again
        paused = (await service.maintenance())["pause"] is not None
        history = await service.maintenance_history(HISTORY_LIMIT)
        return await _so_already(request, user, refused, already_resumed(paused, history["pauses"]))
    except Forbidden as refused:
        return await _maintenance_page(request, user, refusal=refused.detail, status=409)
    return await _done(request, user, "resumed", changed, resumed=changed["pause"]["paused_at"])
