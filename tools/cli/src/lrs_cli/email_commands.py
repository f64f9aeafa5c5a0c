"""`lrs emails failed`: the emails the notifier gave up, with the batch or challenge and the AO each was for (the
notifier's `GET /v1/deliveries/failed`), what on-call reads when `lrs_notifier_emails_failed_total
{permanence="permanent"}` rises. The logs said it too, but only while they are kept. `lrs emails show`: whether, when
and where one batch's email (or a challenge's notices) went (`GET /v1/deliveries`), for the service desk asked "our
batch email never arrived"."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer

from lrs_cli.batch_commands import batch_id_or_prefix, the_batch_starting
from lrs_cli.client import Connection, UsageError, expect_ok
from lrs_cli.output import JsonOption, connection, print_listing, print_text, uuid_value, warn
from lrs_cli.times import UK_TIME, uk_time
from lrs_contracts.identifiers import is_uuid

app = typer.Typer(
    help="The notifier's emails: one batch's (or challenge's), and the ones given up.", no_args_is_help=True
)

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


NO_EMAIL_YET = (
    "no email yet: the batch may not be decided yet (still in the queue, being checked, held by maintenance, or its"
    " outcome held in the dead letters), or its file was refused at upload (refused, no email is sent: the answer"
    " to the upload said why): see `lrs batch status {id}`"
)
NO_NOTICE_YET = (
    "no notice yet: the notifier has not read the challenge (or the id is not a challenge's): see `lrs challenges list`"
)
# Nothing of the batch's (or challenge's) handled yet while the notifier's consumer retries an earlier email (the relay
# away or refusing the LRS): every later email waits behind it, so a batch decided meanwhile is only queued. The
# notifier says so (`X-LRS-Notifier-Waiting`'s `said`); "may not be decided yet" sent the desk to `lrs batch status`,
# which said `completed` (the incident walk, finding 1).
NO_EMAIL_WAITING = "no email yet: {said} (whether the batch is decided: `lrs batch status {id}`)"
NO_NOTICE_WAITING = "no notice yet: {said} (the challenge: `lrs challenges list`)"
WAITING_HEADER = "X-LRS-Notifier-Waiting"
# the batch's outcome parked in the notifier's own dead letters: its email waits for an operator (tracer, finding 7)
HELD_HEADER = "X-LRS-Held-In-Dead-Letters"
NO_EMAIL_HELD = (
    "no email yet: its outcome is parked in the notifier's dead letters since {since}: the email goes once an operator"
    " retries or skips it (lrs dlq list --service notifier --key {id})"
)
STATUS_SAID = {"given_up": "given up", "not_sent": "not sent"}


def _waiting(response: httpx.Response) -> dict[str, Any] | None:
    """The notifier's `X-LRS-Notifier-Waiting` (since, seconds, error, said), or None: not waiting, or a notifier
    from before it said so."""
    try:
        waiting = json.loads(response.headers.get(WAITING_HEADER, "null"))
    except ValueError:
        return None
    return waiting if isinstance(waiting, dict) and isinstance(waiting.get("said"), str) else None


def _held(response: httpx.Response) -> dict[str, Any] | None:
    """The notifier's `X-LRS-Held-In-Dead-Letters` (since, messages), or None: nothing of the batch parked there, or
    a notifier from before it said so."""
    try:
        held = json.loads(response.headers.get(HELD_HEADER, "null"))
    except ValueError:
        return None
    return held if isinstance(held, dict) and isinstance(held.get("since"), str) else None


def emails_answer(
    connection: Connection, *, batch_id: str | None = None, challenge_id: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any] | None]:
    """A batch's email, or a challenge's notices, as the notifier keeps them (operators with the support duty),
    whether the notifier is retrying an earlier email they wait behind (said only when there are none), and whether
    it holds the batch's messages in its dead letters."""
    params = {"batch": batch_id} if batch_id is not None else {"challenge": challenge_id}
    with connection.client("notifier") as client:
        response = client.get("/v1/deliveries", params=params)
        emails: list[dict[str, Any]] = expect_ok(response)
    return emails, _waiting(response), _held(response)


def emails_of(connection: Connection, *, batch_id: str | None = None, challenge_id: str | None = None) -> list[Any]:
    """A batch's email, or a challenge's notices, as the notifier keeps them (operators with the support duty)."""
    return emails_answer(connection, batch_id=batch_id, challenge_id=challenge_id)[0]


def none_said(batch_id: str | None, waiting: dict[str, Any] | None, held: dict[str, Any] | None = None) -> str:
    """What `lrs emails show` says of no email (notice) yet: its outcome parked in the notifier's dead letters, when
    it is; queued behind the one the notifier retries, when it does; else what else it may be."""
    if held is not None and batch_id is not None:
        return NO_EMAIL_HELD.format(since=uk_time(held["since"]), id=batch_id)
    if waiting is None:
        return NO_EMAIL_YET.format(id=batch_id) if batch_id is not None else NO_NOTICE_YET
    said = str(waiting["said"])
    said = said[:1].lower() + said[1:]
    return (
        NO_EMAIL_WAITING.format(said=said, id=batch_id) if batch_id is not None else NO_NOTICE_WAITING.format(said=said)
    )


def when_said(email: dict[str, Any]) -> str:
    """When it went, or was given up, held or last tried (UK time), and when it is tried again."""
    status, recorded = email["status"], uk_time(email["recorded_at"], labelled=False)
    last = uk_time(email["last_tried_at"], labelled=False) if email["last_tried_at"] else None
    if status == "sent" and email["sent_at"]:
        return f"sent {uk_time(email['sent_at'], labelled=False)}"
    if status == "held":
        return f"held since {recorded}"
    if status == "given_up":
        return f"given up {last or recorded}"
    said = f"tried {last}" if last else f"since {recorded}"
    if email["next_try_at"]:
        said += f", next {uk_time(email['next_try_at'], labelled=False)}"
    return said


def email_row(email: dict[str, Any]) -> tuple[str, ...]:
    """What email, where it stands and when, to which domain, how many tries, its Message-ID and its last error in
    words."""
    return (
        kind_said(email["kind"]),
        STATUS_SAID.get(email["status"], email["status"]),
        when_said(email),
        email["recipient_domain"] or "-",
        str(email["attempts"]),
        email["message_id"],
        email["last_error_said"] or "-",
    )


def _batch_id_or_prefix(value: str | None) -> str | None:
    return None if value is None else batch_id_or_prefix(value)


@app.command("show")
def show_command(
    ctx: typer.Context,
    batch_id: Annotated[
        str | None,
        typer.Argument(
            help="The batch's id, as `lrs batch submit` printed it, or its first 8 characters or more (as the batch's"
            " email subject gives them) when they name one batch.",
            callback=_batch_id_or_prefix,
        ),
    ] = None,
    challenge_id: Annotated[
        str | None,
        typer.Option(
            "--challenge",
            help="A challenge's id instead (`lrs challenges list`): its notices to the AO's challenge contact.",
            callback=uuid_value("a challenge id is a UUID, as `lrs challenges list` shows it"),
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Whether, when and where a batch's email went (operators with the support duty): sent (and when), waiting for
    a mailbox that refused it for now, or given up; the domain it went to, never the address (a mistyped domain
    shows), its Message-ID and the last error in words. With --challenge ID, a challenge's notices to the AO's
    challenge contact (held while the AO has none). Nothing yet is no email yet: the batch may not be decided, or it
    waits behind an earlier email the notifier is retrying (the mail relay away or refusing the LRS), said so."""
    if (batch_id is None) == (challenge_id is None):
        raise UsageError("name one batch (BATCH_ID) or one challenge (--challenge ID)")
    if batch_id is not None and not is_uuid(batch_id):
        # the start of an id, as `lrs batch status` takes it: `lrs emails show aa079236` was refused a usage error
        # (tracer walk, finding 4)
        with connection(ctx).client("ingest") as client:
            batch_id = the_batch_starting(client, batch_id, as_json=as_json)
    emails, waiting, held = emails_answer(connection(ctx), batch_id=batch_id, challenge_id=challenge_id)
    columns = ("email", "status", f"when ({UK_TIME})", "to domain", "tries", "Message-ID", "last error")
    none = none_said(batch_id, waiting, held)
    print_listing(emails, as_json=as_json, columns=columns, row=email_row, none=none)
    if as_json and not emails and (waiting is not None or held is not None):
        warn(none)  # on stderr: stdout stays the notifier's list
    if not as_json:
        for email in emails:
            print_text(f"{kind_said(email['kind'])}: {email['status_said']}")
