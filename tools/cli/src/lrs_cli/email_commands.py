"""`lrs emails failed`: the emails the notifier gave up, with the batch or challenge and the AO each was for (the
notifier's `GET /v1/deliveries/failed`), what on-call reads when `lrs_notifier_emails_failed_total
{permanence="permanent"}` rises. The logs said it too, but only while they are kept."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lrs_cli.client import Connection, expect_ok
from lrs_cli.output import JsonOption, connection, print_listing, print_text
from lrs_cli.times import UK_TIME, uk_time

app = typer.Typer(help="The notifier's emails: the ones given up.", no_args_is_help=True)

FailedLimit = Annotated[int, typer.Option(min=1, max=500, help="At most this many, the latest first.")]


def failed_emails(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """The emails given up, the latest first (operators with the support duty)."""
    with connection.client("notifier") as client:
        failed: list[dict[str, Any]] = expect_ok(client.get("/v1/deliveries/failed", params={"limit": limit}))
    return failed


def kind_said(kind: str) -> str:
    """An event type as people say it: `lrs.batch.completed.v1` is "batch completed"."""
    parts = kind.removeprefix("lrs.").replace("_", ".").split(".")
    if parts and parts[-1][:1] == "v" and parts[-1][1:].isdigit():
        parts = parts[:-1]
    return " ".join(parts)


def failed_row(failed: dict[str, Any]) -> tuple[str, ...]:
    """When it was given up (UK time), what email, for which AO and batch or challenge, to which domain, how many
    tries, and the relay's codes."""
    return (
        uk_time(failed["failed_at"], labelled=False),
        kind_said(failed["kind"]),
        failed["ao_id"] or "-",
        failed["correlation_id"] or str(failed["id"]),
        failed["recipient_domain"] or "-",
        str(failed["attempts"]),
        failed["last_error"] or "-",
    )


@app.command("failed")
def failed_command(ctx: typer.Context, limit: FailedLimit = 50, as_json: JsonOption = False) -> None:
    """The emails the notifier gave up for good, the latest first (operators with the support duty): the relay
    refused the address (5.1.x: it does not exist) or the message for good, or refused it for now on every try for
    about 19 hours. Each with its AO and the batch or challenge it was for (a batch: `lrs batch status BATCH_ID`),
    and the domain it went to, never the address. Nothing sends them again."""
    failed = failed_emails(connection(ctx), limit)
    columns = (f"given up ({UK_TIME})", "email", "AO", "batch or challenge", "to domain", "tries", "relay said")
    print_listing(failed, as_json=as_json, columns=columns, row=failed_row, none="no email has been given up")
    if failed and not as_json:
        print_text(
            "A batch's email goes to the NotificationEmail of its file: ask the AO to check that address (a mistyped"
            " domain shows above) and to read the batch's results on the portal or with `lrs batch status`."
        )
