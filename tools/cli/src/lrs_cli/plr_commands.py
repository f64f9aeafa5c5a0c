"""`lrs plr show ULN` (a learner's Personal Learning Record) and `lrs plr verify` (its credential, offline)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table
from rich.text import Text

from lrs_cli.batch_commands import FINAL_STATES, held_past
from lrs_cli.challenge_commands import RESULT_STATUSES
from lrs_cli.client import CommandError, Connection, ExitCode, expect_ok, problem_text
from lrs_cli.credential_commands import issued_after, max_age, verify_file
from lrs_cli.downloads import writable_beside, write_private
from lrs_cli.erasure_commands import erasure_reach
from lrs_cli.identifiers import UlnArgument, checked_uln
from lrs_cli.maintenance_commands import when_processed
from lrs_cli.output import JsonOption, batch_id_value, connection, print_json, print_text, stdout, table, warn
from lrs_cli.times import uk_date, uk_time
from lrs_domain.identifiers import is_well_formed_uln

app = typer.Typer(help="Personal Learning Records and their credentials.", no_args_is_help=True)


READ_YOUR_WRITES_MS = 30_000


def plr(
    connection: Connection,
    uln: str,
    *,
    withdrawn: bool,
    history: bool,
    after_batch: str | None = None,
    min_offsets: str | None = None,
) -> dict[str, Any]:
    # the projector would answer 422 (exit 1, "the service refused"): a mistyped argument is the command's own, and
    # a wrong check digit is no learner's, so their PLR would always be empty: say why rather than "no achievements"
    checked_uln(uln)
    params: dict[str, Any] = {"include_withdrawn": withdrawn, "include_history": history}
    if after_batch:
        params |= {"after_batch": after_batch, "wait_ms": READ_YOUR_WRITES_MS}
    if min_offsets:
        params |= {"min_offsets": min_offsets, "wait_ms": READ_YOUR_WRITES_MS}
    with connection.client("plr_projector") as client:
        document: dict[str, Any] = expect_ok(client.get(f"/v1/learners/{uln}/plr", params=params))
    return document


@dataclass(frozen=True)
class NotOnThePlr:
    """Why a batch is not on the PLR read after it: `said`, as a sentence after "batch ID"; `held`, whether it is
    only not yet there (maintenance holds it: the read is not final, exit status 3) rather than never to be."""

    said: str
    held: bool = False


def _not_on_the_plr_soon(connection: Connection, batch_id: str) -> NotOnThePlr | None:
    """Why a decided batch put no event on the PLR (failed, abandoned, refused, or nothing accepted), or why an
    undecided one will not be on it within the wait (maintenance holds it); None while it is on its way, when it
    changed something, or when this key may not read batches (a learner's).
    A batch ingest has none of for this key is an error: no wait would ever show it."""
    try:
        with connection.client("ingest") as client:
            response = client.get(f"/v1/batches/{batch_id}")
    except httpx.TransportError:  # ingest out of reach: the projector's own wait still answers
        return None
    if response.status_code == 404:  # none this key may read: the projector would wait for it, then answer 503
        raise CommandError(f"--after-batch: {problem_text(response).removeprefix('HTTP 404: ')}")
    if response.status_code != 200:
        return None
    batch = response.json()
    status = batch.get("status")
    if held_past(batch, READ_YOUR_WRITES_MS / 1000):
        notice = batch["maintenance"]
        return NotOnThePlr(f"is held by maintenance ({notice['reason']}): it {when_processed(notice)}", held=True)
    if status not in FINAL_STATES:
        return None
    if status == "failed":
        return NotOnThePlr("failed (RS005): none of its records reached the PLR")
    if status != "completed":
        return NotOnThePlr(f"was {status}")
    if not (batch.get("counts") or {}).get("accepted"):
        return NotOnThePlr("was completed without accepting any record")
    return None


SHARING_SAID: dict[Any, str] = {
    0: "yes (privacy notice not seen)",
    1: "yes",
    2: "no, the learner is unable to share (providers are refused this PLR)",
}
PROVIDER_RECORDS_TITLE = "Reported by learning providers (ILR): not results from an awarding organisation"


def _status_said(status: str | None) -> str:
    """`Final` or `Provisional` for the F or P the PLR holds (decision 0183), as the challenge list and the portal
    say it; any other value as it is."""
    return RESULT_STATUSES.get(status or "", status or "")


def _subject_said(event: dict[str, Any]) -> Text:
    """The subject, then the pathway the AO recorded, if it did: one qualification may have two pathways of the same
    title, and a learner may challenge which one is on their record. Plain text, never read as markup."""
    subject = event.get("subject") or ""
    if pathway := event.get("pathway"):
        return Text(f"{subject} (pathway: {pathway})" if subject else f"pathway: {pathway}")
    return Text(subject)


def _results_table(events: list[dict[str, Any]], several_ulns: bool = False) -> Table:
    """`several_ulns`: the learner's ULNs were merged, and each achievement says which it was recorded under (an
    AO withdraws the unwanted copy of a result recorded under two of them by naming its ULN, decision 0031)."""
    listing = table(
        "code",
        "subject",
        "grade",
        "status",
        "awarded",
        "awarding organisation",
        "notes",
        title="Results from awarding organisations",
    )
    # the id `lrs challenges raise` wants, whole even on a narrow terminal
    listing.add_column("achievement id", no_wrap=True, min_width=36)
    for event in events:
        notes = []
        if event.get("withdrawn"):
            notes.append("withdrawn")
        if event.get("under_data_challenge") == "Y":
            notes.append("challenged")
        if several_ulns and event.get("uln"):
            notes.append(f"ULN {event['uln']}")
        if supporting := len(event.get("supporting_records") or ()):
            notes.append(f"{supporting} provider record{'' if supporting == 1 else 's'} (ILR)")
        listing.add_row(
            event.get("subject_code") or "",
            _subject_said(event),
            event.get("grade") or "",
            _status_said(event.get("status")),
            event.get("achievement_award_date") or "",
            event.get("awarding_organisation_name") or "",
            Text(", ".join(notes), style="yellow"),
            (event.get("id") or "") if event.get("source") == "AO" else "",
        )
        for version in event.get("history") or ():  # with --history: each version under its achievement
            occurred = uk_time(version["occurred_at"])
            by_batch = f" by batch {batch_id[:8]}" if (batch_id := version.get("batch_id")) else ""
            if by_batch and (line := version.get("line")) is not None:
                by_batch += f", line {line}"
            if version.get("corrected_by_operator"):  # the operator's copy of a parked event wrote it, not the batch
                by_batch += ", corrected by an operator"
            listing.add_row(
                "",
                Text(f"  v{version['version']} {version['change']} {occurred}{by_batch}"),
                version.get("grade") or "",
                _status_said(version.get("status")),
                "",
                "",
                Text("withdrawn" if version.get("withdrawn") else "", style="yellow"),
                "",
                style="dim",
            )
    return listing


def _provider_records_table(events: list[dict[str, Any]]) -> Table:
    """What a provider reported of itself in the ILR: the name is the provider's own, so its UKPRN goes with it.
    No status, no challenge and no achievement id: the LRS certifies none of it, and it cannot be challenged."""
    listing = table(
        "code", "subject", "grade", "awarded", "reported by (learning provider)", title=PROVIDER_RECORDS_TITLE
    )
    for event in events:
        provider = event.get("achievement_provider_name") or "a provider"
        if ukprn := event.get("achievement_provider_ukprn"):
            provider = f"{provider} (UKPRN {ukprn})"
        listing.add_row(
            event.get("subject_code") or "",
            event.get("subject") or "",
            event.get("grade") or "",
            event.get("achievement_award_date") or "",
            Text(provider),  # the provider's own words, never read as markup
        )
    return listing


def erased_text(uln: str, erased_at: str | None) -> str:
    """What an operator's read of an erased learner's PLR says in place of their sharing choice (which no provider
    reads any more: refused 410), with the day of the erasure when the erasure audit gave it."""
    when = f" on {uk_date(erased_at)}" if erased_at else f" (when: lrs learners erasures --uln {uln})"
    return f"Erased{when}: no achievement can be recorded for this ULN, and providers are refused"


# what an AO's read of an erased learner it has achievements of says (`learner_erased`), as the portal's learner
# page does: no day, which is the erasure audit's, an operator's to read
AO_ERASED_TEXT = (
    "Erased: no achievement can be recorded for this ULN, so these results can no longer be changed or withdrawn"
    " (RV004)"
)


def erased_at(connection: Connection, uln: str) -> str | None:
    """When the learner was erased, as validation's erasure audit says (an operator's key with the erasure duty);
    None when it cannot say (another key, or validation out of reach): the PLR is read without it."""
    try:
        erasure = erasure_reach(connection, uln).get("erasure") or {}
    except (CommandError, httpx.HTTPError, AttributeError):
        return None
    when = erasure.get("erased_at")
    return when if isinstance(when, str) else None


def plr_table(document: dict[str, Any], erased_on: str | None = None) -> list[Any]:
    """A learner's PLR for people: what awarding organisations awarded, then apart, and titled so, what
    providers reported in the ILR, so that a provider's record never reads as an awarding organisation's result.
    `erased_on`: when an erased learner (an operator's read says `erased`) was erased, if known; an AO's read says
    `learner_erased` (of a learner it has achievements of), and the erasure line then has no day."""
    merged = [uln for uln in document.get("ulns", []) if uln != document["uln"]]
    heading = f"PLR of {document['uln']}" + (f" (with {', '.join(merged)})" if merged else "")
    events = document["learning_events"]
    reported = [event for event in events if event.get("source") == "ILR"]
    awarded = [event for event in events if event.get("source") != "ILR"]
    rows: list[Any] = [Text(heading, style="bold")]
    if (master := document.get("master_uln")) and master != document["uln"]:
        rows.append(Text(f"{document['uln']} was merged into {master}: the learner's record is now under ULN {master}"))
    if document.get("erased"):  # an operator's read: no provider reads it, whatever the sharing choice said
        rows.append(Text(erased_text(document["uln"], erased_on), style="yellow"))
    elif document.get("learner_erased"):  # an AO's read of a learner it has achievements of
        rows.append(Text(AO_ERASED_TEXT, style="yellow"))
    elif (sharing := SHARING_SAID.get(document.get("ability_to_share"))) is not None:  # an AO's view has none
        rows.append(Text(f"sharing with learning providers: {sharing}"))
    if awarded:
        rows.append(_results_table(awarded, several_ulns=bool(merged)))
    elif reported:
        rows.append("no results from an awarding organisation")
    else:
        rows.append("no achievements")
    if reported:
        rows.append(_provider_records_table(reported))
    if withdrawn := document.get("withdrawn_not_shown"):
        rows.append(
            Text(
                f"{withdrawn} withdrawn achievement{' is' if withdrawn == 1 else 's are'} not shown:"
                " --withdrawn shows them",
                style="yellow",
            )
        )
    if held := document.get("events_held_in_dead_letters"):
        rows.append(Text(f"{held} event(s) held in dead letters: not shown yet", style="yellow"))
    return rows


@app.command("show")
def show_command(
    ctx: typer.Context,
    uln: UlnArgument,
    withdrawn: Annotated[bool, typer.Option("--withdrawn", help="Include withdrawn achievements.")] = False,
    history: Annotated[
        bool,
        typer.Option("--history", help="Include each achievement's versions and when each was made (UK time)."),
    ] = False,
    after_batch: Annotated[
        str | None,
        typer.Option(
            help="Wait (up to 30 s) until this batch is on the PLR before reading it. A batch maintenance holds, or"
            " whose events wait in dead letters (with a learner's or an operator's key: any of the learner's): the"
            " PLR as it is, and exit status 3 (not final).",
            callback=batch_id_value,
        ),
    ] = None,
    min_offsets: Annotated[
        str | None,
        typer.Option(help="Wait (up to 30 s) until the PLR has read the log this far (a Sandpit reset prints it)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """A learner's Personal Learning Record, as your key may see it."""
    where = connection(ctx)
    held = False
    if after_batch:
        checked_uln(uln)  # a mistyped ULN is said before any service is asked
        if absent := _not_on_the_plr_soon(where, after_batch):
            # the projector cannot tell a batch on its way from one that put nothing on the PLR (it would wait for
            # it, then answer 503 PROJECTION_PENDING): ingest can, for a key that may read the batch
            held = absent.held
            without = ", without it (not final: exit status 3)" if held else ""
            warn(f"batch {after_batch} {absent.said}: showing the PLR as it is{without}")
            after_batch = None
    asked_after = after_batch
    document = plr(where, uln, withdrawn=withdrawn, history=history, after_batch=after_batch, min_offsets=min_offsets)
    batch_parked = ((document.get("consistency") or {}).get("batch_events_held") or 0) if asked_after else 0
    if asked_after and not held and batch_parked:
        # some of the batch's own events wait in dead letters (an AO's read of its own batch says so too)
        held = True
        warn(
            f"{batch_parked} of batch {asked_after}'s event(s) wait in dead letters: the PLR does not show all of the batch"
            " yet (not final: exit status 3; an operator deals with them: docs/operations.md, Dead letters)"
        )
    if asked_after and not held and (parked := document.get("events_held_in_dead_letters")):
        # the projector has read past the batch, but an event of this learner's it could not apply waits for an
        # operator: it may be one of the batch's, and the PLR shows none of them until it is dealt with
        held = True
        warn(
            f"{parked} event(s) of this learner wait in dead letters: the PLR may not show all of batch {asked_after}"
            " yet (not final: exit status 3; an operator deals with them: docs/operations.md, Dead letters)"
        )
    if as_json:
        print_json(document)
    else:
        console = stdout()
        for part in plr_table(document, erased_at(where, uln) if document.get("erased") else None):
            console.print(part)
    if held:  # a script publishing the PLR after the batch must not take this one for it (exit 0 did)
        raise typer.Exit(ExitCode.NOT_FINAL)


def credential(connection: Connection, uln: str, *, include_unsuccessful: bool = False) -> dict[str, Any]:
    """The learner's live achievements as a signed credential (the learner's key or an operator's)."""
    asked = {"include_unsuccessful": "true"} if include_unsuccessful else None
    with connection.client("plr_projector") as client:
        answer: dict[str, Any] = expect_ok(client.get(f"/v1/learners/{uln}/plr/credential", params=asked))
    return answer


@app.command("credential")
def credential_command(
    ctx: typer.Context,
    uln: UlnArgument,
    output: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write the credential (the projector's JSON) to this file, not stdout."),
    ] = None,
    include_unsuccessful: Annotated[
        bool,
        typer.Option(
            "--include-unsuccessful", help="Also put in results not achieved (U, Fail), as Failed; left out by default."
        ),
    ] = False,
) -> None:
    """A learner's PLR as a signed verifiable credential (CLR 2.0), for an employer or college to check with
    `lrs plr verify FILE --jwks <the LRS's address>/.well-known/jwks.json`: the learner's key, or an operator's.
    It holds the achievements as they are today and is not updated: export a new one after a change. Results not
    achieved are left out unless asked for; a grade X (no result) always is."""
    if output is not None:
        writable_beside(output, "--output")
    answer = credential(connection(ctx), uln, include_unsuccessful=include_unsuccessful)
    merged = _named_instead(answer, uln)
    if output is None:
        print_json(answer)
        if merged:
            warn(f"the credential of {uln}{merged}")
        return
    write_private(output, (json.dumps(answer, indent=2) + "\n").encode("utf-8"))
    count = answer.get("achievements", 0)
    warn(
        f"wrote the credential of {uln} ({count} achievement{'' if count == 1 else 's'}) to {output}{merged};"
        f" its signing keys: {answer.get('jwks_uri')}"
    )


def _named_instead(answer: dict[str, Any], uln: str) -> str:
    """What to say when the credential names another ULN than the one asked: the master ULN, which the learner's
    record is under since `uln` was merged into it (the credential's subject, `sub`: <issuer>/v1/learners/<ULN>)."""
    subject = _credential_subject_uln(answer)
    if subject is None or subject == uln:
        return ""
    return f" (it names ULN {subject}: {uln} was merged into it, and the learner's record is now under {subject})"


def _credential_subject_uln(answer: dict[str, Any]) -> str | None:
    """The ULN of the compact JWS's subject, read without verifying it (`lrs plr verify` does that); None if the
    answer holds none."""
    try:
        payload = str(answer["credential"]).split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        uln = str(claims["sub"]).rpartition("/")[2]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return uln if is_well_formed_uln(uln) else None


@app.command("verify")
def verify_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="The credential: the projector's JSON answer or the compact JWS alone."
        ),
    ],
    jwks: Annotated[
        str,
        typer.Option(
            help="The issuer's public keys: their URL under the issuer's address, the LRS's own"
            " (<issuer>/.well-known/jwks.json), or a JWKS file, only as good as whoever gave it to you."
        ),
    ],
    issued_after_: Annotated[
        str | None,
        typer.Option(
            "--issued-after",
            metavar="<date>",
            help="Refuse (exit 1) a credential issued before this UK date (2026-12-01) or ISO time with its zone:"
            " it states the record as it stood then.",
        ),
    ] = None,
    max_age_days: Annotated[
        int | None,
        typer.Option(
            "--max-age-days",
            min=1,
            max=36_500,
            help="Refuse (exit 1) a credential issued more than this many days ago.",
        ),
    ] = None,
) -> None:
    """Verify a PLR credential offline: signature (EdDSA) against a JWKS, then its claims. Says who issued it by
    its address: compare that with the LRS's own, whatever name the credential gives. A script relying on the exit
    status should set --issued-after or --max-age-days: an old credential still lists what was withdrawn since."""
    required = [issued_after(issued_after_)] if issued_after_ is not None else []
    if max_age_days is not None:
        required.append(max_age(max_age_days))
    print_text(verify_file(str(file), jwks, issued_since=required))
