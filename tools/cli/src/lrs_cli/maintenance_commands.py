"""`lrs maintenance show|list|schedule|cancel|pause|resume`: maintenance windows, over ingest's API.

During a window or a pause ingest keeps accepting batches (status `queued`); the decider holds at a
batch boundary and goes on, in each AO's order, when the window ends or an operator resumes. See
docs/operations.md, maintenance windows, and decision 0070.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from lrs_cli.client import Connection, expect_ok, parse_moment
from lrs_cli.output import JsonOption, connection, print_json, print_text, uuid_value, warn
from lrs_cli.times import UK_TIME, in_the_uk, uk_time
from lrs_platform.clock import ENGLAND

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
    uk, utc = in_the_uk(moment), _instant(moment).astimezone(UTC)
    return f"{uk_time(uk, labelled=False)} ({UK_TIME}; {_utc(utc, dated=utc.date() != uk.date())} UTC)"


def span_uk_and_utc(starts_at: str | datetime, ends_at: str | datetime) -> str:
    """`6 Jun 2027, 22:00 to 23:00 (UK time; 21:00 to 22:00 UTC)`: the end's day said when it is another day, and
    the UTC days when either differs from its UK day."""
    uk_start, uk_end = in_the_uk(starts_at), in_the_uk(ends_at)
    utc_start, utc_end = _instant(starts_at).astimezone(UTC), _instant(ends_at).astimezone(UTC)
    utc_dated = utc_start.date() != uk_start.date() or utc_end.date() != uk_end.date()
    uk = f"{uk_time(uk_start, labelled=False)} to {_utc(uk_end, dated=uk_end.date() != uk_start.date())}"
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


def cancelled_text(record: dict[str, Any]) -> str:
    """What a cancel did: a window to come will not happen; one under way ended at the cancel (not at its
    scheduled end, which the window keeps as it was planned)."""
    window = record["window"]
    cancelled_at = record.get("cancelled_at")
    if cancelled_at is not None and datetime.fromisoformat(window["starts_at"]) <= datetime.fromisoformat(cancelled_at):
        return (
            f"cancelled {window['window_id']}  {window['reason']}: it was under way and ended at"
            f" {uk_and_utc(cancelled_at)} (planned to end {uk_and_utc(window['ends_at'])}); held batches go on"
        )
    return f"cancelled {window_line(window)}: it will not happen"


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


def history_text(history: dict[str, Any]) -> str:
    """`GET /v1/admin/maintenance` as text: each window and pause with who set it and when."""
    lines = ["windows (latest start first):" if history["windows"] else "windows: none"]
    for record in history["windows"]:
        cancelled = (
            f"; cancelled by {record['cancelled_by']} at {uk_and_utc(record['cancelled_at'])}"
            if record["cancelled_at"]
            else ""
        )
        lines.append(
            f"  {window_line(record['window'])}  (scheduled by {record['scheduled_by']} at"
            f" {uk_and_utc(record['scheduled_at'])}{cancelled})"
        )
    lines.append("pauses (newest first):" if history["pauses"] else "pauses: none")
    for pause in history["pauses"]:
        resumed = (
            f"; resumed by {pause['resumed_by']} at {uk_and_utc(pause['resumed_at'])}"
            if pause["resumed_at"]
            else "; ON"
        )
        lines.append(
            f"  {uk_and_utc(pause['paused_at'])}  {pause['reason']}  (paused by {pause['paused_by']}{resumed})"
        )
    return "\n".join(lines)


def _changed(connection: Connection, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    with connection.client("ingest") as client:
        changed: dict[str, Any] = expect_ok(client.request(method, path, json=body))
    if not changed["published"]:
        warn(NOT_PUBLISHED)
    return changed


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
    """Operator: cancel a window; one under way ends now and the held batches go on."""
    changed = _changed(connection(ctx), "DELETE", f"/v1/admin/maintenance/windows/{window_id}")
    print_text(cancelled_text(changed["window"]))


@app.command("pause")
def pause_command(ctx: typer.Context, reason: Reason) -> None:
    """Operator: stop deciding batches now, until `resume` (batches are still accepted)."""
    where = connection(ctx)
    _changed(where, "POST", "/v1/admin/maintenance/pause", {"reason": reason})
    print_text(f"paused: batches are accepted and queued until `{where.command('maintenance resume')}`")


@app.command("resume")
def resume_command(ctx: typer.Context) -> None:
    """Operator: end the unplanned pause; queued batches are decided in each AO's order."""
    _changed(connection(ctx), "POST", "/v1/admin/maintenance/resume")
    print_text("resumed: queued batches are being decided")
