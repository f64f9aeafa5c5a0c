"""`lrs learners erase|erasures`: erasing a learner's personal data, over validation's API (decision 0080).

Erasure destroys the learner's data key: their names, date of birth and gender become unreadable
wherever they were sealed under it, and every projection forgets them; achievements and counts stay.
Not erased (docs/privacy.md): emails already sent, a learner held only in the Sandpit, events written
before decision 0080, and, until the tables are rewritten (VACUUM FULL) and the backups from before that expire
(30 days), the emptied values in PostgreSQL's files and backups. It
cannot be undone, so the command asks first on a terminal, naming every ULN merged with the learner (erased with
them, as one person), and wants `--yes` anywhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from lrs_cli.client import (
    AnswerError,
    CommandError,
    Connection,
    ExitCode,
    UsageError,
    expect_ok,
    problem_text,
    read_page,
    unreachable_text,
)
from lrs_cli.identifiers import uln_value_any_check_digit
from lrs_cli.listing import EveryOption, every_page
from lrs_cli.output import (
    AuditAfter,
    JsonOption,
    PageLimit,
    confirmed,
    connection,
    print_json,
    print_listing,
    print_text,
    tell_more,
)
from lrs_cli.times import UK_TIME, uk_time
from lrs_contracts.codes import RecordCode
from lrs_domain.rules import check_uln

# a wrong check digit is judged by the command (`mistyped_refusal`): --mistyped erases what a batch carried under it
Uln = Annotated[
    str,
    typer.Argument(help="The learner's Unique Learner Number (10 digits).", callback=uln_value_any_check_digit),
]


def erase(connection: Connection, uln: str, reason: str) -> tuple[dict[str, Any], bool]:
    """The erasure, and whether this call made it (False: the learner was erased before)."""
    with connection.client("validation") as client:
        response = client.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": reason})
    erased: dict[str, Any] = expect_ok(response)  # a refused key exits 5, an LRS unavailable 4, as every command
    return erased, response.status_code == 201


_UNREAD = "validation could not say which ULNs the erasure would erase"


class _Unreached(CommandError):
    exit_code = ExitCode.UNREACHABLE


def erasure_reach(connection: Connection, uln: str) -> dict[str, Any]:
    """What an erasure of the ULN would erase now: `erased_with`, the learner's other ULNs (merged with it), erased
    with it as one person; `erased`, whether it was erased already. A ULN the erasure would refuse is refused."""
    with connection.client("validation") as client:
        response = client.get(f"/v1/admin/learners/{uln}/erasure")
    if response.status_code >= 500:
        said = f"{_UNREAD} ({problem_text(response).rstrip('.')}): nothing was erased"
        raise AnswerError(said, response.status_code)
    reach: dict[str, Any] = expect_ok(response)  # a refusal says itself that nothing was erased
    return reach


AUDIT_PAGE = 1_000  # the largest page of the audit validation serves


def erasures(connection: Connection, uln: str | None, limit: int = 100, after: str | None = None) -> dict[str, Any]:
    """A page of the audit, newest first: `erasures`, and `next`, where the page after it starts (None on the last)."""
    return read_page(connection, "validation", "/v1/admin/erasures", limit=limit, after=after, uln=uln)


NOT_ERASED = (
    "not erased: emails already sent (a challenge email carries the learner's reason), a learner held only in the"
    " Sandpit, events written before decision 0080 (in clear on the log), and the words a provider wrote in a centre"
    " report (on the PLR log as written; emptied on the PLR)"
)


def erasure_text(erasure: dict[str, Any], *, erased_now: bool) -> str:
    done = f"erasure {erasure['erasure_id']} by {erasure['erased_by']} at {erasure['erased_at']}"
    others = erasure.get("erased_with") or []
    with_them = (
        f"\nthe same person's other ULN{'s' if len(others) > 1 else ''} (merged), erased with them, each audited:"
        f" {', '.join(others)}"
        if others
        else ""
    )
    if erased_now:
        # what docs/privacy.md and the portal's erasure page say is not reached: the promise stops there
        return (
            f"erased learner {erasure['uln']}: their names, date of birth and gender can no longer be read in any"
            f" service or stored event once every service has read the erasure (at once, unless a dead letter holds"
            f" it: `lrs dlq list` and `lrs --sandpit dlq list --service all`), nor in the database's files and"
            f" backups once the tables are rewritten (VACUUM FULL: docs/operations.md, \"What stays in PostgreSQL's"
            f' files") and the backups from before that expire (30 days) ({done})'
            f"{with_them}\n{NOT_ERASED}"
        )
    return f"learner {erasure['uln']} was already erased ({done}): nothing changed{with_them}"


def mistyped_refusal(uln: str, *, mistyped: bool) -> str | None:
    """Why the ULN is not sent to be erased, judged as the portal's erasure page judges it (decision 0145): a wrong
    check digit is most likely a typo, erased only as what an AO's batch carried under it, with --mistyped. The
    temporary ULN never reaches here: the ULN argument refuses it (RV003), as validation would."""
    codes = {finding.code for finding in check_uln(uln)}
    if RecordCode.ULN_CHECK_DIGIT in codes and not mistyped:
        return (
            f"the check digit of ULN {uln} is wrong (RV002), so no learner can have it: it is most likely mistyped,"
            " check it. If it is the mistyped ULN an AO's batch sent before decision 0175 carried, --mistyped erases"
            " what that batch carried under it (decision 0145); since 0175 nothing is kept under such a ULN"
        )
    if mistyped and not codes:
        return f"--mistyped is for a ULN whose check digit is wrong; the check digit of {uln} is right"
    return None


def confirmation_question(uln: str, erased_with: list[str]) -> str:
    """What the operator is asked before erasing: every ULN the erasure erases, not only the one typed."""
    if not erased_with:
        return f"Erase learner {uln}'s names, date of birth and gender for good? This cannot be undone."
    merged = "the ULN" if len(erased_with) == 1 else f"the {len(erased_with)} ULNs"
    return (
        f"Erase learner {uln}'s names, date of birth and gender for good, and those of {merged} merged with them"
        f" (the same person): {', '.join(erased_with)}? This cannot be undone."
    )


def _question(connection: Connection, uln: str) -> str | None:
    """Asked once validation has said what the erasure would erase; a learner erased already is not asked about
    (erasing again changes nothing)."""
    try:
        reach = erasure_reach(connection, uln)
    except httpx.TransportError as error:
        raise _Unreached(f"{_UNREAD}: {unreachable_text(error)} Nothing was erased.") from error
    return None if reach["erased"] else confirmation_question(uln, reach["erased_with"])


def erase_command(
    ctx: typer.Context,
    uln: Uln,
    reason: Annotated[str, typer.Option(help="Why (1 to 500 characters): kept in the audit with who and when.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    mistyped: Annotated[
        bool,
        typer.Option(
            "--mistyped",
            help="The ULN's check digit is wrong and it is the mistyped ULN an AO's batch sent before decision 0175"
            " carried: erase what the batch carried under it (batches since are sealed under their own key, destroyed"
            " once decided).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Operator: erase a learner's personal data for good (crypto-shredding: their key is destroyed, every
    service forgets their names and date of birth, achievements and counts stay). Every ULN merged with the
    learner is erased with them: the question names them (without --yes). Erasing again says so and changes
    nothing. A ULN whose check digit is wrong is most likely mistyped and refused (exit 2) unless
    --mistyped says it is the ULN an AO's batch carried: then what the batch carried under it is erased
    (decision 0145). A ULN the LRS holds nothing about, and the temporary ULN 9999999999, are refused and nothing
    is erased (decision 0132)."""
    if why := mistyped_refusal(uln, mistyped=mistyped):
        raise UsageError(why)
    to_validation = connection(ctx)
    if not yes:
        confirmed("erasure cannot be undone", lambda: _question(to_validation, uln))
    erasure, erased_now = erase(to_validation, uln, reason)
    if as_json:
        print_json({**erasure, "erased_now": erased_now})
    else:
        print_text(erasure_text(erasure, erased_now=erased_now))


def erasures_command(
    ctx: typer.Context,
    uln: Annotated[
        str | None, typer.Option(help="Only this learner's erasure.", callback=uln_value_any_check_digit)
    ] = None,
    limit: PageLimit = 100,
    after: AuditAfter = None,
    every: EveryOption = False,
    as_json: JsonOption = False,
) -> None:
    """Operator: the audit of learner erasures, newest first: who erased whom, when (UK time; --json: the instant)
    and why. A page at a time (a full page ends with "more: … --after POSITION" on stderr), or --all."""
    to_validation = connection(ctx)
    if every:
        page = every_page(lambda at: erasures(to_validation, uln, AUDIT_PAGE, at), "erasures", after)
    else:
        page = erasures(to_validation, uln, limit, after)
    columns = (f"erased at ({UK_TIME})", "ULN", "erased by", "with key", "reason", "erasure")
    print_listing(page["erasures"], as_json=as_json, columns=columns, row=_erasure_row, none="no erasures")
    tell_more(page["next"])


def _erasure_row(erasure: dict[str, Any]) -> tuple[str | Text, ...]:
    return (
        uk_time(erasure["erased_at"], labelled=False),
        erasure["uln"],
        erasure["erased_by"],
        f"{erasure['erased_with_key'][:8]}…" if erasure.get("erased_with_key") else "-",
        Text(erasure["reason"]),
        erasure["erasure_id"],
    )
