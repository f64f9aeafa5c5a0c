"""`lrs reports submissions|timeliness|plr-timeliness|rejections|challenges`: the reporting service's management
information, per AO and month (UK time)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from lrs_cli.client import Connection, expect_ok
from lrs_cli.downloads import STANDARD_OUTPUT, download, one_writer_of_standard_output, writable_beside
from lrs_cli.identifiers import ao_id_value
from lrs_cli.output import JsonOption, connection, counted, print_json, stdout, table, warn
from lrs_cli.times import uk_time
from lrs_contracts.challenge import ChallengeResolution, resolution_label
from lrs_platform.clock import ENGLAND

app = typer.Typer(
    help="Management information per AO and month: submissions, timeliness, PLR timeliness, rejections, challenges.",
    no_args_is_help=True,
)

Period = Annotated[
    str | None, typer.Option(help="A calendar month, yyyy-mm (UK time); default: this month.", show_default=False)
]
Ao = Annotated[
    str | None,
    # as the register writes AO ids (`rn9093` is RN9093), which the service matches exactly
    typer.Option(help="Operators: one AO only (like RN9093).", callback=ao_id_value),
]
CsvFile = Annotated[
    Path | None,
    typer.Option(
        "--csv",
        dir_okay=False,
        allow_dash=True,
        help="Write the report's rows to this CSV file (-: to standard output, not with --json).",
    ),
]


def this_month() -> str:
    return datetime.now(ENGLAND).strftime("%Y-%m")


FIGURES_HEADER = "X-LRS-Figures"  # `partial` on a report (JSON or CSV) whose figures are partial, as `complete` false
HELD_HEADER = "X-LRS-Held-In-Dead-Letters"  # how many messages reporting holds in its dead letters, as JSON's `count`
PARTIAL = (
    "these figures are incomplete: management information is being rebuilt (the reporting service is reading its"
    " history again) and they count only what it has read so far; ask again later for the whole figures"
)


def held_said(count: int, since: str | None) -> str:
    """The figures may be short of the messages the reporting service holds in its dead letters (`held_in_dead_letters`
    of a JSON report; a CSV's `X-LRS-Held-In-Dead-Letters` says how many, not since when)."""
    parked = f", the first parked {uk_time(since)}" if since else ""
    return (
        f"these figures may be short: the reporting service holds {counted(count, 'message')} of what they are read"
        f" from in its dead letters{parked} (one it could not apply, such as a batch's outcome, and those of its key"
        " held behind it), whichever AO or month they are of; they are counted once an operator retries or skips them"
        " (lrs dlq list --service reporting)"
    )


def _warn_if_partial(partial: bool, held: str | None = None) -> None:
    """On standard error, whatever the output (table, --json, --csv): the figures are not the months' yet, or may be
    short of messages held in dead letters (`held`, what to say of them). Said by the service (`complete`,
    `X-LRS-Figures`): from a service older than that, nothing is said. Partial without messages held is a rebuild."""
    if held is not None:
        warn(held)
    elif partial:
        warn(PARTIAL)


def _held_in_json(found: dict[str, Any]) -> str | None:
    held = found.get("held_in_dead_letters")
    return held_said(int(held["count"]), held.get("since")) if held else None


First = Annotated[
    str | None,
    typer.Option(
        "--from", help="The first calendar month, yyyy-mm (UK time); default: this month.", show_default=False
    ),
]
Last = Annotated[
    str | None, typer.Option("--to", help="The last calendar month (default: the first).", show_default=False)
]


def report(connection: Connection, name: str, months: dict[str, str], ao: str | None) -> Any:
    """One report: `months` is `{"period": ...}` for a month's, `{"from": ..., "to": ...}` for a range's."""
    with connection.client("reporting") as client:
        return expect_ok(client.get(f"/v1/reports/{name}", params=_params(months, ao, "json")))


def _params(months: dict[str, str], ao: str | None, fmt: str) -> dict[str, str]:
    params = {**months, "format": fmt}
    if ao:
        params["ao_id"] = ao
    return params


def _month(period: str | None) -> dict[str, str]:
    return {"period": period or this_month()}


def _range(first: str | None, last: str | None) -> dict[str, str]:
    first = first or this_month()
    return {"from": first, "to": last or first}


def _write_csv(connection: Connection, name: str, months: dict[str, str], ao: str | None, target: Path) -> None:
    """The report's CSV into `target` (`-`: standard output), replacing it only once all of it has arrived."""
    writable_beside(target, "--csv")
    said: list[httpx.Headers] = []
    with connection.client("reporting") as client:
        # the CSV is streamed to its file as it comes: its answer's headers are read as they arrive
        client.event_hooks["response"].append(lambda response: said.append(response.headers))
        download(client, f"/v1/reports/{name}", target, _params(months, ao, "csv"))
    if target != STANDARD_OUTPUT:
        warn(f"wrote the {name} report to {target}")
    held = next((headers[HELD_HEADER] for headers in said if headers.get(HELD_HEADER, "").isdigit()), None)
    partial = any(headers.get(FIGURES_HEADER) == "partial" for headers in said)
    _warn_if_partial(partial, held_said(int(held), None) if held is not None else None)


def _to_show(
    ctx: typer.Context, name: str, months: dict[str, str], ao: str | None, csv_file: Path | None, as_json: bool
) -> dict[str, Any] | None:
    """The report to show as a table, or None when it went to a CSV file or out as JSON."""
    one_writer_of_standard_output(as_json, csv_file)
    if csv_file is not None:
        _write_csv(connection(ctx), name, months, ao, csv_file)
        return None
    found: dict[str, Any] = report(connection(ctx), name, months, ao)
    if as_json:
        print_json(found)
        _warn_if_partial(found.get("complete") is False, _held_in_json(found))
        return None
    return found


def _months_of(found: dict[str, Any]) -> str:
    first, last = found["first_period"], found["last_period"]
    return first if first == last else f"{first} to {last}"


def _print_month_table(
    found: dict[str, Any], months: str, columns: Sequence[str], rows: Iterable[Sequence[str]], none: str
) -> None:
    """Prints `rows` in a table titled `months`, or "<none> in <months>" when the report has no items. The first column
    (the AO) is never cut short: on a narrow terminal the other columns give way."""
    listing = table(*columns, title=months)
    listing.columns[0].no_wrap = True
    for row in rows:
        listing.add_row(*row)
    stdout().print(listing if found["items"] else f"{none} in {months}")
    _warn_if_partial(found.get("complete") is False, _held_in_json(found))


def not_added(row: dict[str, Any]) -> str:
    """The records of the month's failed batches that were not rejected: they passed their checks, but a failed batch
    (RS005) records nothing. What `records` holds beside the accepted, rejected and unchanged ones (docs/events.md),
    as the service gives it (`records_not_added`). From a service that does not give it yet, worked out as it does;
    nothing from one that does not count the unchanged ones either: the rest would count them too."""
    if "records_not_added" in row:
        return str(row["records_not_added"])
    if "records_unchanged" not in row:
        return ""
    parts = (row["records_accepted"], row["records_rejected"], row["records_unchanged"])
    return str(int(row["records_total"]) - sum(int(part) for part in parts))


@app.command("submissions")
def submissions_command(
    ctx: typer.Context, period: Period = None, ao: Ao = None, csv_file: CsvFile = None, as_json: JsonOption = False
) -> None:
    """Batches and records submitted per AO in a month, rejections by code.

    records = accepted + rejected + unchanged + not added: the records of failed batches (RS005) that passed their
    checks, which a failed batch does not add."""
    found = _to_show(ctx, "submissions", _month(period), ao, csv_file, as_json)
    if found is None:
        return
    columns = (
        "AO",
        "completed",
        "failed",
        "abandoned",
        "records",
        "accepted",
        "rejected",
        "unchanged",
        "not added (failed batches)",
        "rejections by code",
    )
    rows = (
        (
            row["ao_id"],
            str(row["batches_completed"]),
            str(row["batches_failed"]),
            str(row["batches_abandoned"]),
            str(row["records_total"]),
            str(row["records_accepted"]),
            str(row["records_rejected"]),
            str(row.get("records_unchanged", 0)),
            not_added(row),
            ", ".join(f"{code} {count}" for code, count in sorted(row["rejections_by_code"].items())),
        )
        for row in found["items"]
    )
    _print_month_table(found, found["period"], columns, rows, "no submissions")


@app.command("timeliness")
def timeliness_command(
    ctx: typer.Context, period: Period = None, ao: Ao = None, csv_file: CsvFile = None, as_json: JsonOption = False
) -> None:
    """Batches decided within 10 working days of results being issued, per AO in a month."""
    found = _to_show(ctx, "timeliness", _month(period), ao, csv_file, as_json)
    if found is None:
        return
    columns = ("AO", "batches", f"within {found['target_working_days']} working days", "share", "worst (working days)")
    rows = (
        (
            row["ao_id"],
            str(row["batches_measured"]),
            str(row["batches_within_10_working_days"]),
            _share(row["batches_within_10_working_days"], row["batches_measured"]),
            str(row["worst_working_days"]),
        )
        for row in found["items"]
    )
    _print_month_table(found, found["period"], columns, rows, "no batches measured")


def _share(within: int, measured: int) -> str:
    """A share as a whole percentage, never rounded to all or none when it is not: 199 of 200 is "99%", 1 of 200
    "1%"."""
    if not measured:
        return ""
    percent = round(100 * within / measured)
    if within < measured:
        percent = min(percent, 99)
    if within > 0:
        percent = max(percent, 1)
    return f"{percent}%"


@app.command("plr-timeliness")
def plr_timeliness_command(
    ctx: typer.Context,
    first: First = None,
    last: Last = None,
    ao: Ao = None,
    csv_file: CsvFile = None,
    as_json: JsonOption = False,
) -> None:
    """Results on learners' PLRs within 10 working days of being issued, per AO and month."""
    found = _to_show(ctx, "plr-timeliness", _range(first, last), ao, csv_file, as_json)
    if found is None:
        return
    within = f"on the PLR within {found['target_working_days']} working days"
    columns = ("AO", "month", "batches", within, "median", "worst")
    rows = (
        (
            row["ao_id"],
            row["period"],
            str(row["batches_measured"]),
            str(row["batches_within_10_working_days"]),
            str(row["median_working_days"]),
            str(row["worst_working_days"]),
        )
        for row in found["items"]
    )
    _print_month_table(found, _months_of(found), columns, rows, "no batches measured")


@app.command("rejections")
def rejections_command(
    ctx: typer.Context,
    first: First = None,
    last: Last = None,
    ao: Ao = None,
    csv_file: CsvFile = None,
    as_json: JsonOption = False,
) -> None:
    """Rejections by code per AO and month: RVnnn counts rejected records, RSnnn the batches it failed."""
    found = _to_show(ctx, "rejections", _range(first, last), ao, csv_file, as_json)
    if found is None:
        return
    columns = ("AO", "month", "code", "batches", "records")
    rows = (
        (row["ao_id"], row["period"], code["code"], str(code["batches"]), str(code["records"]))
        for row in found["items"]
        for code in row["by_code"]
    )
    _print_month_table(found, _months_of(found), columns, rows, "no rejections")


def _resolved_by_the_ao(row: dict[str, Any]) -> int:
    """A month's challenges the AO resolved: the resolved ones less those the learner withdrew and those the LRS
    service desk resolved for the AO (`resolved_by_service_desk`, 0 from a reporting service before it)."""
    withdrawn = int(row["resolutions"].get(ChallengeResolution.WITHDRAWN.value, 0))
    return int(row["resolved"]) - withdrawn - int(row.get("resolved_by_service_desk") or 0)


@app.command("challenges")
def challenges_command(
    ctx: typer.Context,
    first: First = None,
    last: Last = None,
    ao: Ao = None,
    csv_file: CsvFile = None,
    as_json: JsonOption = False,
) -> None:
    """Challenges raised per AO and month, how they were resolved and how long it took (working days)."""
    found = _to_show(ctx, "challenges", _range(first, last), ao, csv_file, as_json)
    if found is None:
        return
    columns = ("AO", "month", "raised", "acknowledged", "resolved", "still open", "resolutions", "median", "worst")
    rows = (
        (
            row["ao_id"],
            row["period"],
            str(row["raised"]),
            str(row["acknowledged"]),
            str(row["resolved"]),
            str(row["still_open"]),
            "\n".join(f"{resolution_label(name)} ({count})" for name, count in row["resolutions"].items() if count),
            # the report gives 0 days when the AO resolved none (those the learner withdrew are not measured, decision
            # 0194); read here, 0 would say "resolved the same day"
            str(row["median_working_days_to_resolve"]) if _resolved_by_the_ao(row) else "—",
            str(row["worst_working_days_to_resolve"]) if _resolved_by_the_ao(row) else "—",
        )
        for row in found["items"]
    )
    _print_month_table(found, _months_of(found), columns, rows, "no challenges raised")
