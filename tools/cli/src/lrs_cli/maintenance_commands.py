"""`lrs maintenance show|list|schedule|extend|cancel|pause|resume`: maintenance windows, over ingest's API.

During a window or a pause ingest keeps accepting batches (status `queued`); the decider holds at a
batch boundary and goes on, in each AO's order, when the window ends or an operator resumes. See
docs/operations.md, maintenance windows, and decision 0070.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer

from lrs_cli.client import CommandError, Connection, UsageError, expect_ok, parse_moment
from lrs_cli.output import JsonOption, connection, print_json, print_text, uuid_value, warn
from lrs_cli.times import UK_TIME, uk_time
from lrs_contracts.operations import MaintenanceWindow
from lrs_platform.clock import ENGLAND, in_england, zone_when_read_twice
from lrs_platform.maintenance import active_windows, window_chain_end

NOT_PUBLISHED = (
    "saved, but Kafka did not take the new schedule yet: ingest keeps trying; the decider follows it once it does"
)


def when_said(starts_at: datetime, ends_at: datetime) -> str:
    """`2026-12-20 21:00 to 23:00 UTC (21:00 to 23:00 UK time, GMT)`: both clocks, each day said when it changes."""

    def span(start: datetime, end: datetime) -> str:
        end_day = "" if end.date() == start.date() else f"{end:%Y-%m-%d} "
        return f"{start:%Y-%m-%d %H:%M} to {end_day}{end:%H:%M}"

    uk_start, uk_end = starts_at.astimezone(ENGLAND), ends_at.astimezone(ENGLAND)
    zones = sorted({uk_start.tzname() or "", uk_end.tzname() or ""}, key=[uk_start.tzname(), uk_end.tzname()].index)
    utc = span(starts_at.astimezone(UTC), ends_at.astimezone(UTC))
    return f"{utc} UTC ({span(uk_start, uk_end)} UK time, {' then '.join(zones)})"


def _instant(moment: str | datetime) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if isinstance(moment, str) else moment


def _utc(moment: datetime, *, dated: bool) -> str:
    return f"{moment:%-d %b %Y, %H:%M}" if dated else f"{moment:%H:%M}"


def uk_and_utc(moment: str | datetime) -> str:
    """`6 Jun 2027, 23:00 (UK time; 22:00 UTC)`: a maintenance time on the clock AOs read, as the portal shows it,
    with UTC beside it for operators (the UTC date too when it is another day)."""
    uk, utc = in_england(moment), _instant(moment).astimezone(UTC)
    return f"{uk_time(uk, labelled=False)} ({UK_TIME}; {_utc(utc, dated=utc.date() != uk.date())} UTC)"


def span_uk_and_utc(starts_at: str | datetime, ends_at: str | datetime) -> str:
    """`6 Jun 2027, 22:00 to 23:00 (UK time; 21:00 to 22:00 UTC)`: the end's day said when it is another day, and
    the UTC days when either differs from its UK day."""
    uk_start, uk_end = in_england(starts_at), in_england(ends_at)
    utc_start, utc_end = _instant(starts_at).astimezone(UTC), _instant(ends_at).astimezone(UTC)
    utc_dated = utc_start.date() != uk_start.date() or utc_end.date() != uk_end.date()
    uk_end_said = _utc(uk_end, dated=uk_end.date() != uk_start.date()) + zone_when_read_twice(uk_end)
    uk = f"{uk_time(uk_start, labelled=False)} to {uk_end_said}"
    utc = (
        f"{_utc(utc_start, dated=utc_dated)} to {_utc(utc_end, dated=utc_dated or utc_end.date() != utc_start.date())}"
    )
    return f"{uk} ({UK_TIME}; {utc} UTC)"


def when_processed(notice: dict[str, Any]) -> str:
    """What a maintenance notice (a held batch's, a held reset's, what holds now) says of when batches are decided
    again: `will be processed after 6 Jun 2027, 23:00 (UK time; 22:00 UTC)`. The API's own `message` gives the
    time in UTC only, an hour out all summer; a pause has no time and is said as the service says it."""
    until = notice.get("until")
    return f"will be processed after {uk_and_utc(until)}" if until else str(notice["message"])


def window_line(window: dict[str, Any]) -> str:
    return f"{window['window_id']}  {span_uk_and_utc(window['starts_at'], window['ends_at'])}  {window['reason']}"


def ended_now(record: dict[str, Any]) -> bool:
    """Whether a cancel ended a window under way (rather than dropping one to come)."""
    cancelled_at = record.get("cancelled_at")
    return cancelled_at is not None and _instant(record["window"]["starts_at"]) <= _instant(cancelled_at)


def still_holding(
    schedule: dict[str, Any] | None,
    *,
    ended: str | None = None,
    resumed: dict[str, Any] | None = None,
    resume: str = "lrs maintenance resume",
) -> str | None:
    """What still holds the batches after a window `ended` (its id) or a pause was `resumed` (its record), from
    `GET /v1/maintenance` read after the change: the pause (until `resume`, the command as printed), or a window
    under way (another, or windows it touches, holding as one) until its end; None when nothing does. The window
    or pause just changed is not counted, should another ingest instance answer from a schedule read a moment
    before. A schedule that could not be read (None) is said as such, never as "being decided"."""
    if schedule is None:
        return "whether anything else still holds the batches could not be read (`lrs maintenance show` says)"
    pause = schedule.get("pause")
    if pause is not None and not (resumed and _instant(pause["since"]) == _instant(resumed["paused_at"])):
        return f"the pause ({pause['reason']}) still holds the batches, until `{resume}`"
    now = datetime.now(UTC)
    windows = [
        MaintenanceWindow(
            window_id=window["window_id"],
            starts_at=_instant(window["starts_at"]),
            ends_at=_instant(window["ends_at"]),
            reason=window["reason"],
        )
        for window in schedule.get("windows") or ()
        if window["window_id"] != ended
    ]
    open_now, until = active_windows(windows, now), window_chain_end(windows, now)
    if not open_now or until is None:
        return None
    return f"batches are still held by the window under way ({open_now[0].reason}) until {uk_and_utc(until)}"


def cancelled_text(record: dict[str, Any], holding: str | None = None) -> str:
    """What a cancel did: a window to come will not happen; one under way ended at the cancel (not at its
    scheduled end, which the window keeps as it was planned), and the held batches go on unless `holding` says
    what still holds them (`still_holding`)."""
    window = record["window"]
    if ended_now(record):
        return (
            f"cancelled {window['window_id']}  {window['reason']}: it was under way and ended at"
            f" {uk_and_utc(record['cancelled_at'])} (planned to end {uk_and_utc(window['ends_at'])});"
            f" {holding or 'held batches go on'}"
        )
    return f"cancelled {window_line(window)}: it will not happen"


def resumed_text(holding: str | None) -> str:
    """What a resume did: the queued batches are decided, unless `holding` says what still holds them."""
    return f"resumed; {holding}" if holding else "resumed: queued batches are being decided"


def schedule_text(schedule: dict[str, Any]) -> str:
    """`GET /v1/maintenance` as text: what holds now, then the windows to come."""
    active = schedule["active"]
    if active is None:
        lines = ["batches are being decided: no maintenance now"]
    else:
        kind = "unplanned pause" if active["paused"] else "maintenance window"
        lines = [f"PAUSED ({kind}: {active['reason']}): batches are accepted and {when_processed(active)}"]
    windows = schedule["windows"]
    lines.append("windows: none scheduled" if not windows else "windows:")
    lines.extend(f"  {window_line(window)}" for window in windows)
    return "\n".join(lines)


def with_key(key_id: str | None) -> str:
    """` (key 27ef900d…)`: the API key an operator acted with, beside their principal (which any key's maker may
    choose: the key tells a person's action from another key's); nothing for an action from before keys were kept."""
    return f" (key {key_id[:8]}…)" if key_id else ""


def history_text(history: dict[str, Any]) -> str:
    """`GET /v1/admin/maintenance` as text: each window and pause with who set it (and with which key) and when."""
    lines = ["windows (latest start first):" if history["windows"] else "windows: none"]
    for record in history["windows"]:
        cancelled = (
            f"; cancelled by {record['cancelled_by']}{with_key(record.get('cancelled_with_key'))}"
            f" at {uk_and_utc(record['cancelled_at'])}"
            if record["cancelled_at"]
            else ""
        )
        lines.append(
            f"  {window_line(record['window'])}  (scheduled by {record['scheduled_by']}"
            f"{with_key(record.get('scheduled_with_key'))} at"
            f" {uk_and_utc(record['scheduled_at'])}{cancelled})"
        )
    lines.append("pauses (newest first):" if history["pauses"] else "pauses: none")
    for pause in history["pauses"]:
        resumed = (
            f"; resumed by {pause['resumed_by']}{with_key(pause.get('resumed_with_key'))}"
            f" at {uk_and_utc(pause['resumed_at'])}"
            if pause["resumed_at"]
            else "; ON"
        )
        lines.append(
            f"  {uk_and_utc(pause['paused_at'])}  {pause['reason']}  (paused by {pause['paused_by']}"
            f"{with_key(pause.get('paused_with_key'))}{resumed})"
        )
    return "\n".join(lines)


def _change_or_so_already(
    connection: Connection, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, dict[str, Any], httpx.Response]:
    """(ingest's answer to the change, {}, its response); or (None, the 409's problem, its response) when ingest
    refused the change as one made already: its problem carries the pause or window as it is (`pause`, `window`),
    so that a change sent again (a script run again after a timeout, a second operator) is told what is so and who
    made it so. Any other refusal is an error as ever (`expect_ok`); so is a 409 the caller finds no state in."""
    with connection.client("ingest") as client:
        response = client.request(method, path, json=body)
    if response.status_code == 409:
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if isinstance(problem, dict):
            return None, problem, response
    changed: dict[str, Any] = expect_ok(response)
    if not changed["published"]:
        warn(NOT_PUBLISHED)
    return changed, {}, response


def already_paused_text(pause: dict[str, Any], reason: str, resume: str) -> tuple[str, bool]:
    """What a pause sent while one is on says, and whether that is what was asked (exit status 0): a pause with the
    same reason is that pause asked for again, whoever made it; with another reason it is still a conflict (AOs read
    the first pause's reason, not the one sent): nothing was changed, exit status 1."""
    by = f"by {pause['paused_by']} at {uk_and_utc(pause['paused_at'])}"
    if pause["reason"] == reason:
        return f"already paused ({by}): batches are accepted and queued until `{resume}`", True
    return (
        f"already paused ({by}) with another reason: {pause['reason']}. Nothing was changed: AOs read that reason;"
        f" to give yours, `{resume}` and pause again",
        False,
    )


def not_paused_text(last: dict[str, Any] | None) -> str:
    """What a resume sent with no pause on says (what was asked is so: exit status 0)."""
    if last is not None and last.get("resumed_at"):
        return (
            f"not paused (the last pause was resumed by {last['resumed_by']} at {uk_and_utc(last['resumed_at'])}):"
            " nothing to resume"
        )
    return "not paused: nothing to resume"


def already_cancelled_text(record: dict[str, Any]) -> str:
    """What a cancel of a window cancelled already or over says (what was asked is so: exit status 0)."""
    window = record["window"]
    if record.get("cancelled_at"):
        return (
            f"already cancelled (by {record['cancelled_by']} at {uk_and_utc(record['cancelled_at'])}):"
            f" {window['window_id']}  {window['reason']}"
        )
    return (
        f"already over (it ended at {uk_and_utc(window['ends_at'])}): {window['window_id']}  {window['reason']};"
        " nothing to cancel"
    )


def _schedule_now(connection: Connection) -> dict[str, Any] | None:
    """`GET /v1/maintenance` after a change, to say what still holds; None if it cannot be read (the change was
    made all the same: not an error)."""
    try:
        with connection.client("ingest") as client:
            schedule: dict[str, Any] = expect_ok(client.get("/v1/maintenance"))
    except (CommandError, httpx.HTTPError):
        return None
    return schedule


app = typer.Typer(help="Maintenance windows and unplanned pauses (operators change them).", no_args_is_help=True)
Reason = Annotated[str, typer.Option(help="Why: shown to AOs on the portal and in batch statuses.")]


@app.command("show")
def show_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """What holds now and the windows to come (any API key)."""
    with connection(ctx).client("ingest") as client:
        schedule = expect_ok(client.get("/v1/maintenance"))
    if as_json:
        print_json(schedule)
    else:
        print_text(schedule_text(schedule))


@app.command("list")
def list_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many windows, and as many pauses.")] = 200,
    as_json: JsonOption = False,
) -> None:
    """Operator: the latest windows and pauses, newest first, with who set and cancelled each and when."""
    with connection(ctx).client("ingest") as client:
        history = expect_ok(client.get("/v1/admin/maintenance", params={"limit": limit}))
    if len(history["windows"]) >= limit or len(history["pauses"]) >= limit:
        warn(f"the latest {limit:,} windows and pauses: a larger --limit shows older ones")
    if as_json:
        print_json(history)
    else:
        print_text(history_text(history))


@app.command("schedule")
def schedule_command(
    ctx: typer.Context,
    starts: Annotated[str, typer.Option("--from", help="ISO-8601 start with its zone, e.g. 2026-06-01T22:00Z.")],
    ends: Annotated[str, typer.Option("--to", help="ISO-8601 end with its zone.")],
    reason: Reason,
) -> None:
    """Operator: schedule a window. Prints its id (for `cancel`); says on stderr when it runs, in UTC and in UK
    time, so that an offset typed for the wrong season shows."""
    starts_at, ends_at = parse_moment(starts, "--from"), parse_moment(ends, "--to")
    body = {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "reason": reason}
    with connection(ctx).client("ingest") as client:
        response = client.post("/v1/admin/maintenance/windows", json=body)
        changed: dict[str, Any] = expect_ok(response)
    if not changed["published"]:
        warn(NOT_PUBLISHED)
    said = "scheduled" if response.status_code == 201 else "already scheduled (the same window, reason and all)"
    warn(f"{said}: {when_said(starts_at, ends_at)}")
    print_text(changed["window"]["window"]["window_id"])


@app.command("cancel")
def cancel_command(
    ctx: typer.Context,
    window_id: Annotated[
        str,
        typer.Argument(
            help="The window's id (`lrs maintenance show`).",
            callback=uuid_value("a window id is a UUID, as `lrs maintenance show` lists it"),
        ),
    ],
) -> None:
    """Operator: cancel a window; one under way ends now and the held batches go on (unless the pause or another
    window under way still holds them: said). A window cancelled already or over is said so (who cancelled it and
    when, or when it ended), exit status 0."""
    where = connection(ctx)
    changed, refused, response = _change_or_so_already(where, "DELETE", f"/v1/admin/maintenance/windows/{window_id}")
    if changed is None:
        if not isinstance(refused.get("window"), dict):  # an ingest of an earlier release: its 409 names no window
            expect_ok(response)
        print_text(already_cancelled_text(refused["window"]))
        return
    record = changed["window"]
    ended = record["window"]["window_id"]
    resume = where.command("maintenance resume")
    holding = still_holding(_schedule_now(where), ended=ended, resume=resume) if ended_now(record) else None
    print_text(cancelled_text(record, holding))


@app.command("extend")
def extend_command(
    ctx: typer.Context,
    window_id: Annotated[
        str,
        typer.Argument(
            help="The window's id (`lrs maintenance show`): one under way or to come.",
            callback=uuid_value("a window id is a UUID, as `lrs maintenance show` lists it"),
        ),
    ],
    ends: Annotated[str, typer.Option("--to", help="The new end: ISO-8601 with its zone, e.g. 2026-06-02T04:00Z.")],
    reason: Annotated[
        str | None, typer.Option(help="Why: shown to AOs as the window's is (by default the window's own reason).")
    ] = None,
) -> None:
    """Operator: extend a window to --to, by scheduling another from its end: touching, they hold batches as one
    (within 48 hours in one go). Cancelling it and scheduling again would let held batches through in between.
    Prints the new window's id."""
    where = connection(ctx)
    ends_at = parse_moment(ends, "--to")
    with where.client("ingest") as client:
        schedule = expect_ok(client.get("/v1/maintenance"))
        window = next(
            (window for window in schedule["windows"] if uuid.UUID(window["window_id"]) == uuid.UUID(window_id)), None
        )
        if window is None:
            raise CommandError(
                f"no window {window_id} is under way or to come: `{where.command('maintenance show')}` lists them"
            )
        starts_at = _instant(window["ends_at"])
        if ends_at <= starts_at:
            raise UsageError(f"--to {ends!r} is not after the window's end, {uk_and_utc(starts_at)}: nothing to extend")
        body = {
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "reason": reason or window["reason"],
        }
        response = client.post("/v1/admin/maintenance/windows", json=body)
        changed: dict[str, Any] = expect_ok(response)
    if not changed["published"]:
        warn(NOT_PUBLISHED)
    said = "extended" if response.status_code == 201 else "already extended (the same window, reason and all)"
    warn(f"{said}: {window['reason']} runs on {when_said(starts_at, ends_at)}, held as one with {window_id}")
    print_text(changed["window"]["window"]["window_id"])


@app.command("pause")
def pause_command(ctx: typer.Context, reason: Reason) -> None:
    """Operator: stop deciding batches now, until `resume` (batches are still accepted). Paused already with the same
    reason (a script run again), it says so, by whom and when, and exits 0; with another reason, exit status 1."""
    where = connection(ctx)
    resume = where.command("maintenance resume")
    changed, refused, response = _change_or_so_already(where, "POST", "/v1/admin/maintenance/pause", {"reason": reason})
    if changed is None:
        if not isinstance(refused.get("pause"), dict):  # an ingest of an earlier release: its 409 names no pause
            expect_ok(response)
        said, as_asked = already_paused_text(refused["pause"], reason, resume)
        if not as_asked:
            raise CommandError(said)
        print_text(said)
        return
    print_text(f"paused: batches are accepted and queued until `{resume}`")


@app.command("resume")
def resume_command(ctx: typer.Context) -> None:
    """Operator: end the unplanned pause; queued batches are decided in each AO's order (once a window under way
    ends, if one does: said). With no pause on (a script run again), it says so, who resumed and when, and exits 0."""
    where = connection(ctx)
    changed, refused, _ = _change_or_so_already(where, "POST", "/v1/admin/maintenance/resume")
    resume = where.command("maintenance resume")
    if changed is None:  # ingest's only 409 to a resume: no pause is on (its `pause`, the last, if it names one)
        holding = still_holding(_schedule_now(where), resume=resume)
        said = not_paused_text(refused.get("pause"))
        print_text(f"{said}; {holding}" if holding else said)
        return
    print_text(resumed_text(still_holding(_schedule_now(where), resumed=changed.get("pause"), resume=resume)))
