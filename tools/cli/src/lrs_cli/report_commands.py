"""`lrs reports submissions|timeliness`: the monthly management information of the reporting service."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from lrs_cli.client import Connection, expect_ok
from lrs_cli.output import JsonOption, connection, print_json, stdout, table, warn

app = typer.Typer(help="Management information: submissions and timeliness per AO and month.", no_args_is_help=True)

Period = Annotated[
    str | None, typer.Option(help="A calendar month, yyyy-mm (UK time); default: this month.", show_default=False)
]
Ao = Annotated[str | None, typer.Option(help="Operators: one AO only (like RN9093).")]
CsvFile = Annotated[
    Path | None, typer.Option("--csv", dir_okay=False, help="Write the report's rows to this CSV file.")
]


def this_month() -> str:
    return datetime.now(ZoneInfo("Europe/London")).strftime("%Y-%m")


def report(connection: Connection, name: str, period: str | None, ao: str | None, fmt: str = "json") -> Any:
    params = {"period": period or this_month(), "format": fmt}
    if ao:
        params["ao_id"] = ao
    with connection.client("reporting") as client:
        response = client.get(f"/v1/reports/{name}", params=params)
        return response.text if fmt == "csv" and response.status_code < 400 else expect_ok(response)


def _write_csv(connection: Connection, name: str, period: str | None, ao: str | None, target: Path) -> None:
    target.write_text(report(connection, name, period, ao, "csv"), encoding="utf-8")
    warn(f"wrote the {name} report to {target}")


@app.command("submissions")
def submissions_command(
    ctx: typer.Context, period: Period = None, ao: Ao = None, csv_file: CsvFile = None, as_json: JsonOption = False
) -> None:
    """Batches and records submitted per AO in a month, rejections by code."""
    if csv_file is not None:
        _write_csv(connection(ctx), "submissions", period, ao, csv_file)
        return
    found = report(connection(ctx), "submissions", period, ao)
    if as_json:
        print_json(found)
        return
    listing = table(
        "AO",
        "completed",
        "failed",
        "abandoned",
        "records",
        "accepted",
        "rejected",
        "unchanged",
        "rejections by code",
        title=found["period"],
    )
    for row in found["items"]:
        codes = ", ".join(f"{code} {count}" for code, count in sorted(row["rejections_by_code"].items()))
        listing.add_row(
            row["ao_id"],
            str(row["batches_completed"]),
            str(row["batches_failed"]),
            str(row["batches_abandoned"]),
            str(row["records_total"]),
            str(row["records_accepted"]),
            str(row["records_rejected"]),
            str(row.get("records_unchanged", 0)),
            codes,
        )
    stdout().print(listing if found["items"] else f"no submissions in {found['period']}")


@app.command("timeliness")
def timeliness_command(
    ctx: typer.Context, period: Period = None, ao: Ao = None, csv_file: CsvFile = None, as_json: JsonOption = False
) -> None:
    """Batches decided within 10 working days of results being issued, per AO in a month."""
    if csv_file is not None:
        _write_csv(connection(ctx), "timeliness", period, ao, csv_file)
        return
    found = report(connection(ctx), "timeliness", period, ao)
    if as_json:
        print_json(found)
        return
    target = found["target_working_days"]
    listing = table(
        "AO", "batches", f"within {target} working days", "share", "worst (working days)", title=found["period"]
    )
    for row in found["items"]:
        measured = row["batches_measured"]
        within = row["batches_within_10_working_days"]
        listing.add_row(
            row["ao_id"],
            str(measured),
            str(within),
            f"{within / measured:.0%}" if measured else "",
            str(row["worst_working_days"]),
        )
    stdout().print(listing if found["items"] else f"no batches measured in {found['period']}")
