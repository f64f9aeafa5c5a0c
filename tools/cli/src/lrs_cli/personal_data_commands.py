"""`lrs learners personal-data|disclosures`: a copy of the personal data the LRS holds about a learner, for an operator
answering their subject access request (UK GDPR Article 15, decision 0191), and the audit of those copies.

Gathered as the operator, through each service's own API (services never read each other's data): what the learner
registry holds (validation), the PLR with its history and withdrawn achievements (the PLR service), and the
challenges the learner raised under any of their ULNs, with their reasons and notes (challenges). One JSON document,
written 0600; what is held elsewhere and not exported is listed in it (`not_included`), as docs/privacy.md has it.
Validation audits each copy before answering (who, when, the ULN, `--reason`), and the copy lists the earlier ones;
`lrs learners disclosures` lists the audit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.text import Text

from lrs_cli.client import AnswerError, CommandError, Connection, ExitCode, UsageError, expect_ok, read_page
from lrs_cli.downloads import STANDARD_OUTPUT, writable_beside, write_private
from lrs_cli.identifiers import UlnArgument, uln_value
from lrs_cli.listing import EveryOption, every_page
from lrs_cli.output import AuditAfter, JsonOption, PageLimit, connection, print_listing, print_text, tell_more, warn
from lrs_cli.times import UK_TIME, uk_time
from lrs_contracts.text import refused_character

CHALLENGE_PAGE: Final = 1000  # the most the challenges service lists at a time
REASON_LENGTH: Final = 500  # the longest reason validation keeps in the audit of disclosures
ULNS_A_QUERY: Final = 50  # the most ULNs the challenges service takes in one query

NOT_INCLUDED: Final = (
    "The batch files awarding organisations sent: each record's names, date of birth and gender travel sealed under the"
    " learner's key on the submitted-batch topic (lrs.batch.submitted.v1) for 7 days, and on its dead-letter topic"
    " until an operator retries or skips a parked record. What they decided is the PLR above.",
    "Validation's stored decisions and ingest's batch records: no names or dates of birth, only each record's masked"
    " ULN (last 4 digits), MIS identifier and result codes; the achievements they accepted are on the PLR above.",
    "The learner log (lrs.learner.events.v1) and the challenge log (lrs.challenge.events.v1): the same registrations,"
    " reasons and notes as above, sealed under the learner's key (events from before decision 0080 in clear). The"
    " learner log also keeps each earlier version of the registered details, as they were before a correction"
    " (`corrections` above lists when, which fields and why) or a learner file replaced them.",
    "Emails already sent: a challenge email to the awarding organisation's challenge contact quotes the learner's"
    " reason, the last 4 digits of their ULN and the achievement; the LRS keeps no copy once it is sent. A reply to"
    " it goes to the LRS service desk's mailbox (its Reply-To), outside the LRS.",
    "Challenge emails waiting to be sent (the notifier's deferred emails: held for an awarding organisation with no"
    " challenge contact, or set aside while a mailbox refuses them): the same reason as above, until sent.",
    "Work in progress between services: the registry's and the challenges' outboxes hold a change (sealed as on the"
    " logs) until it is published, seconds; the portal keeps an upload it is checking, sealed, for 2 hours at most.",
    "The Sandpit: an awarding organisation's rehearsal batches naming the learner (its own topics, 30 days) and its"
    " copy of the registry above.",
    "The learner's own API keys (the identity store keeps the principal learner:<ULN>, a hash of each key, its label"
    " and dates): `lrs credentials list --principal learner:<ULN>`.",
    "Database backups: what the database held on their day, for 30 days.",
    "Logs hold no personal data (ULNs masked to their last 4 digits, no names or dates of birth), and MI reports"
    " only counts: nothing to export.",
)


class _Refused(CommandError):
    """A source refused the operator's key: the export would be incomplete, so nothing is written."""

    exit_code = ExitCode.KEY_REFUSED


def _read(connection: Connection, service: str, path: str, params: Any = None) -> Any:
    """The answer of GET `path` on `service`."""
    with connection.client(service) as client:
        response = client.get(path, params=params)
    try:
        return expect_ok(response)
    except AnswerError as error:
        if error.refused:
            raise _Refused(
                f"{error} Nothing was written: the export needs an operator key with the erasure and support scopes"
                " (or one without scopes)"
            ) from error
        raise


def _in_parts(ulns: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ulns), ULNS_A_QUERY):
        yield ulns[start : start + ULNS_A_QUERY]


def _challenges(connection: Connection, ulns: list[str]) -> list[dict[str, Any]]:
    """Every challenge raised under any of `ulns`, newest first per query, each page of each query read."""
    found: dict[str, dict[str, Any]] = {}
    for part in _in_parts(ulns):
        after: str | None = None
        while True:
            params = [("uln", uln) for uln in part] + [("limit", str(CHALLENGE_PAGE))]
            if after:
                params.append(("after", after))
            page = _read(connection, "challenges", "/v1/challenges", params)
            for challenge in page["items"]:
                found.setdefault(challenge["challenge_id"], challenge)
            after = page.get("next")
            if not after:
                break
    return sorted(found.values(), key=lambda challenge: challenge["raised_at"], reverse=True)


def personal_data(connection: Connection, uln: str, reason: str | None = None) -> dict[str, Any]:
    """The document: the registry's answer (which validation audits, with `reason`, before it answers), the PLR and
    the challenges, the service each came from, what is not in it."""
    learner = _read(
        connection,
        "validation",
        f"/v1/admin/learners/{uln}/personal-data",
        {"reason": reason} if reason is not None else None,
    )
    plr = _read(
        connection,
        "plr_projector",
        f"/v1/learners/{uln}/plr",
        {"include_history": "true", "include_withdrawn": "true"},
    )
    challenges = _challenges(connection, learner["ulns"])
    return {
        "learner": learner,
        "plr": plr,
        "challenges": challenges,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        # the services by name only: their addresses describe the LRS's internal network, nothing of the learner's
        "sources": {
            "learner": {"service": "validation"},
            "plr": {"service": "plr-projector"},
            "challenges": {"service": "challenges"},
        },
        "not_included": list(NOT_INCLUDED),
    }


def summary(document: dict[str, Any], written_to: str) -> str:
    """One line, naming the learner by ULN only."""
    learner = document["learner"]
    ulns = learner["ulns"]
    others = f" and {len(ulns) - 1} ULN{'s' if len(ulns) > 2 else ''} merged with it" if len(ulns) > 1 else ""
    erased = ", erased" if learner["erased"] else ""
    achievements = len(document["plr"].get("learning_events") or [])
    challenges = len(document["challenges"])
    return (
        f"wrote the personal data held about learner {learner['uln']}{others}{erased} to {written_to}:"
        f" registered details, {achievements} achievement{'' if achievements == 1 else 's'} on the PLR,"
        f" {challenges} challenge{'' if challenges == 1 else 's'}"
    )


def personal_data_command(
    ctx: typer.Context,
    uln: UlnArgument,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            dir_okay=False,
            help="Write the JSON document to this file (made 0600, replaced whole); -: to standard output.",
        ),
    ],
    reason: Annotated[
        str | None,
        typer.Option(
            help="Why (a subject access request's reference, say; one line, at most 500 characters): kept in the"
            " audit of disclosures with who and when, until the learner is erased.",
        ),
    ] = None,
) -> None:
    """Operator (the erasure and support scopes): a copy of the personal data the LRS holds about a learner, for
    their subject access request (decision 0191): the registry's details of every ULN of theirs, sharing, providers,
    merges, erasure and earlier copies; their PLR with history and withdrawn achievements; their challenges with
    reasons and notes; and what is held elsewhere and not exported (`not_included`). Validation audits the copy
    (who, when, --reason) before answering. Handle the file as the learner's data."""
    to_live = connection(ctx)
    if to_live.sandpit:
        raise UsageError("a learner's personal data is answered from live: leave out --sandpit")
    if reason is not None and (why := _unkept_reason(reason)):
        raise UsageError(f"--reason {why}; nothing was read")
    writable_beside(output, "--output")
    document = personal_data(to_live, uln, reason)
    content = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if output == STANDARD_OUTPUT:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        warn(summary(document, "standard output"))
        return
    write_private(output, content)
    print_text(summary(document, str(output)))


def _unkept_reason(reason: str) -> str | None:
    """Why validation would refuse the reason (422, as `lrs_contracts.text` has it), said before anything is read."""
    if not reason.strip():
        return "is blank: say why, or leave it out"
    if len(reason) > REASON_LENGTH:
        return f"is {len(reason)} characters long, at most {REASON_LENGTH}"
    if refused := refused_character(reason, one_line=True, one_line_is="a reason"):
        return f"holds {refused}"
    return None


DISCLOSURES_PAGE = 1_000  # the largest page of the audit validation serves


def disclosures(connection: Connection, uln: str | None, limit: int = 100, after: str | None = None) -> dict[str, Any]:
    """A page of the audit of disclosures, newest first: `disclosures`, and `next`, where the page after it starts
    (None on the last)."""
    return read_page(
        connection, "validation", "/v1/admin/learners/personal-data/disclosures", limit=limit, after=after, uln=uln
    )


def _reason_shown(disclosure: dict[str, Any]) -> Text:
    if disclosure["reason_erased"]:
        return Text("(not kept: the learner was erased)", style="dim")
    return Text(disclosure["reason"] or "")


def disclosures_command(
    ctx: typer.Context,
    uln: Annotated[
        str | None,
        typer.Option(
            help="Only the copies of this learner's data: asked under this ULN or any ULN merged with it.",
            callback=uln_value,
        ),
    ] = None,
    limit: PageLimit = 100,
    after: AuditAfter = None,
    every: EveryOption = False,
    as_json: JsonOption = False,
) -> None:
    """Operator (the erasure scope): the audit of learners' personal data handed out (`lrs learners personal-data`),
    newest first: whose (ULN), to whom, when (UK time; --json: the instant) and why. A reason is not kept once the
    learner is erased. A page at a time (a full page ends with "more: … --after POSITION" on stderr), or --all."""
    to_live = connection(ctx)
    if to_live.sandpit:
        raise UsageError("the audit of disclosures is kept on live: leave out --sandpit")
    if every:
        page = every_page(lambda at: disclosures(to_live, uln, DISCLOSURES_PAGE, at), "disclosures", after)
    else:
        page = disclosures(to_live, uln, limit, after)
    columns = (f"read at ({UK_TIME})", "ULN", "read by", "reason", "disclosure")
    print_listing(page["disclosures"], as_json=as_json, columns=columns, row=_disclosure_row, none="no disclosures")
    tell_more(page["next"])


def _disclosure_row(disclosure: dict[str, Any]) -> tuple[str | Text, ...]:
    return (
        uk_time(disclosure["read_at"], labelled=False),
        disclosure["uln"],
        Text(disclosure["read_by"]),
        _reason_shown(disclosure),
        disclosure["disclosure_id"],
    )
