"""`lrs batch submit|status|list`: the AO's side of Submit and View Achievement Batch."""

from __future__ import annotations

import email.utils
import math
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.cells import cell_len
from rich.text import Text

from lrs_cli import check_command
from lrs_cli.choices import one_of
from lrs_cli.client import (
    CONTENT_REFUSED,
    STALLED,
    AnswerError,
    CommandError,
    Connection,
    ExitCode,
    UsageError,
    batch_kept_unknown,
    expect_ok,
    pages,
    parse_moment,
    place_in_file,
    problem_text,
    record_place,
    unreachable_text,
)
from lrs_cli.credential_commands import DATE_FORMATS
from lrs_cli.downloads import STANDARD_OUTPUT, download, one_writer_of_standard_output, writable_beside
from lrs_cli.identifiers import ao_id_value
from lrs_cli.maintenance_commands import uk_and_utc, when_processed
from lrs_cli.output import (
    JsonOption,
    connection,
    counted,
    print_json,
    progress,
    stderr,
    stdout,
    table,
    tell_more,
    warn,
    warnings_text,
)
from lrs_cli.times import UK_TIME, uk_time
from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_contracts.text import shown_on_one_line
from lrs_domain.formats import BatchRefused as WholeFileRefused
from lrs_domain.formats import file_field_name
from lrs_domain.formats.limits import finding_in_file_words
from lrs_platform.clock import ENGLAND, day_said
from lrs_platform.credential_store import KEY_ID, key_id_of

FINAL_STATES = {"completed", "failed", "abandoned", "refused"}
CONTENT_TYPES = {"csv": "text/csv", "xml": "application/xml", "json": "application/json"}
UPLOAD_CHUNK = 64 * 1024
RECORDS_PAGE = 1_000  # the largest page ingest serves
LIST_PAGE = 200  # the largest page of batches ingest serves
LONG_POLL_SECONDS = 2.0  # short enough to move the progress bar, the server answers at once on a decision
ANSWER_MARGIN_SECONDS = 3.0  # how long past the end of --wait a request made while waiting may take to be answered
STATUS_STYLES = {
    "completed": "green",
    "accepted": "green",
    "failed": "bold red",
    "abandoned": "bold red",
    "refused": "bold red",
    "rejected": "red",
}

app = typer.Typer(help="Check, submit and follow achievement batches.", no_args_is_help=True)
app.command("check")(check_command.check_command)

WaitOption = Annotated[
    float,
    typer.Option(
        "--wait", min=0, help="Seconds to wait for the decision; exit status 3 if it is still not final then."
    ),
]


def exit_code_of(batch: dict[str, Any]) -> ExitCode:
    if batch["status"] == "completed":
        return ExitCode.OK
    if batch["status"] in FINAL_STATES:
        return ExitCode.FAILED
    return ExitCode.NOT_FINAL


def upload(client: httpx.Client, path: str, content: bytes, headers: dict[str, str], name: str) -> httpx.Response:
    """POSTs `content` in chunks, with a progress bar of the bytes sent."""
    with progress(f"uploading {name}", total=len(content), bytes_=True) as update:

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(content), UPLOAD_CHUNK):
                yield content[start : start + UPLOAD_CHUNK]
                update(completed=min(start + UPLOAD_CHUNK, len(content)))

        return client.post(path, content=chunks(), headers={**headers, "Content-Length": str(len(content))})


_LOOKS_LIKE = re.compile(r"looks like (CSV|XML|JSON)\b")


def mislabelled_hint(name: str, response: httpx.Response) -> str | None:
    """Ingest's RS001 for a body labelled as another format than it plainly is tells how to send it with a
    Content-Type, which lrs sets from the file's extension: what to do here instead (None for any other answer)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("code") != BatchCode.MALFORMED.value:
        return None
    found = _LOOKS_LIKE.search(str(body.get("detail") or ""))
    return check_command.mislabel_hint(name, BatchFormat(found[1].lower())) if found else None


_REFUSED_BATCH = re.compile(r"/v1/batches/([0-9a-f-]{36})")


class BatchRefused(CommandError):
    """Ingest read the file and refused it whole (RS001-RS004, RS006-RS008): kept as a batch `refused`, with an
    id to look it up by, which is said with the reason."""

    def __init__(self, batch_id: str | None, problem: dict[str, Any], said: str) -> None:
        super().__init__(said)
        self.batch_id = batch_id
        self.problem = problem


def refused_batch(response: httpx.Response, said: str) -> BatchRefused | None:
    """The refusal of a batch ingest kept (its problem's instance names the batch), or None for another refusal."""
    try:
        problem = response.json()
    except ValueError:
        return None
    found = _REFUSED_BATCH.fullmatch(str(problem.get("instance") or "")) if isinstance(problem, dict) else None
    return BatchRefused(found[1], problem, said) if found else None


BUSY_PATIENCE_SECONDS = 900  # how long `submit` goes on sending a file ingest answers 429 (decision 0171) or 503
WAIT_AGAIN = (429, 503)  # too many records waiting; Kafka, PostgreSQL or the key store away: nothing was kept
STALLS_SENT_AGAIN = 1
"""How many times `submit` sends a file again after a 408 (it stopped arriving: nothing of it was kept). Once: on a
link that stalls every upload, each try costs the idle deadline (30 s), so a second 408 ends the command (exit 4)."""
BACKOFF_LONGEST_SECONDS = 60.0
"""The longest wait between two sendings of a file when the answer gives no Retry-After (a gateway's 503 page):
2 s, doubling each time, up to this, so that a gateway away for the whole patience costs some 20 uploads, not 450."""
ASKED_AGAIN_WHILE_WAITING = (502, 503, 504)
"""What a batch's status is asked again for while `--wait` lasts: ingest away a moment (its PostgreSQL or Kafka,
503), or the gateway in front of it answering for it while it restarts (ingress-nginx's own 502, 503 or 504): a read
changes nothing, so asking again is safe, and the batch is not the worse for it."""


class TurnedAway(AnswerError):
    """Ingest answered 429 (too many of the AO's records waiting) or 503 (what it needs away) for as long as `submit`
    would go on sending the file: nothing of it was kept, so no batch id. `problem`: ingest's last answer's, which
    `--json` prints as a refusal's (exit status 1 for a 429, 4 for a 503)."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message, response.status_code, _problem_of(response).get("code"))
        self.problem = _problem_of(response) or {"status": response.status_code, "title": response.reason_phrase}


class StillUnavailable(TurnedAway):
    """Ingest answered 503 for as long as `submit` went on sending the file: kept nothing of it (exit status 4)."""


class StalledAgain(TurnedAway):
    """The file stopped arriving again when `submit` sent it once more (408): nothing of it was kept (exit status 4,
    as the network's fault for now, not a refusal of the file)."""


def submit(connection: Connection, file: str, idempotency_key: str | None) -> dict[str, Any]:
    """Submits the file (`-`: standard input); the answer carries `replay: true` when it names an earlier identical
    submission. Ingest keeps a file whose publishing Kafka refused (503) as a batch `received`, and answers the
    file sent again as a replay of that batch: after a resend that batch is this command's own, published now, which
    is said (`published as batch …`) instead of `replay: true`."""
    name = check_command.file_name(file)
    read = check_command.read_batch(file)
    content = read.content
    fmt = check_command.format_of(name, content)
    headers = {"Content-Type": CONTENT_TYPES[fmt.value]}
    if idempotency_key:
        if not (idempotency_key.isascii() and idempotency_key.isprintable() and 0 < len(idempotency_key) <= 255):
            raise UsageError("--idempotency-key is 1 to 255 visible ASCII characters (a UUID, say)")
        headers["Idempotency-Key"] = idempotency_key
    try:
        check_command.refuse_if_over(read)  # ingest refuses it too, but only once it has come over the network
    except WholeFileRefused as refused:
        raise check_command.FileRefused(check_command.whole_file_refused(refused, fmt), refused) from refused
    with connection.client("ingest") as client:
        response = _sent(client, content, headers, name)
        patience = time.monotonic() + BUSY_PATIENCE_SECONDS
        kept: set[str] = set()  # the batches a 503 said it kept unpublished (Kafka away): this command's own
        away = None
        waits = stalls = 0
        while _send_again(response, stalls) and time.monotonic() < patience:
            # too many of the AO's records wait for their decision (decision 0171), or what ingest needs is away a
            # moment (it kept nothing, and says so), or the file stopped arriving (408): the file is sent again later,
            # as the answer asks (without a Retry-After, after a wait that doubles each time)
            _refuse_to_wait_out_the_hold(response, fmt, name, patience - time.monotonic())
            seconds = min(_retry_after(response, waits), 300.0)
            warn(f"{_waiting_said(response, fmt)} lrs sends {name} again in {seconds:.0f} s (Ctrl-C stops it).")
            time.sleep(seconds)
            waits += 1
            stalls += response.status_code == STALLED
            away = _what_was_away(response) or away
            kept |= _batch_kept_by(response)
            response = _sent(client, content, headers, name)
        if response.status_code == 503:
            raise StillUnavailable(
                f"{problem_text(response, fmt)} It was still so after {BUSY_PATIENCE_SECONDS // 60} minutes: nothing"
                f" of {name} was kept; send it again later.",
                response,
            )
        if response.status_code == STALLED:  # sent again once, and it stopped arriving again
            raise StalledAgain(
                f"{problem_text(response, fmt)} It stopped arriving again when lrs sent it once more: nothing of"
                f" {name} was kept; send it again when the connection is steadier.",
                response,
            )
        if response.status_code == 429:  # still too many waiting after the patience
            raise TurnedAway(
                f"{problem_text(response)} It was still so after {BUSY_PATIENCE_SECONDS // 60} minutes: nothing of"
                f" {name} was kept; send it again later.",
                response,
            )
        if response.status_code in (413, 422):
            said = problem_text(response, fmt)
            if hint := mislabelled_hint(name, response):
                said = f"{said}\n{hint}"
            raise refused_batch(response, said) or CommandError(said)
        if response.status_code == 403 and _problem_of(response).get("code") in CONTENT_REFUSED:
            # the file's header names another AO: a refusal of the file at the door (exit status 1), not of the key;
            # nothing was kept, so no batch id
            raise BatchRefused(None, _problem_of(response), problem_text(response, fmt))
        accepted = expect_ok(response)
    replay = response.headers.get("Idempotent-Replay") == "true"
    own = replay and str(accepted.get("batch_id")) in kept
    if own:  # the batch a first try kept unpublished: this command's own, not an earlier one
        once = f"once {away} was back" if away else "when lrs sent it again"
        warn(f"{name} was published as batch {accepted.get('batch_id')} {once}")
    return {**accepted, "replay": replay and not own}


_AWAY_NAMED = (("Kafka", "Kafka"), ("PostgreSQL", "PostgreSQL"), ("learner key store", "the learner key store"))
"""What a 503 of ingest's may say was away (the broker, the batch store's database, the learner key store), and how
it is named in `published as batch … once <it> was back`."""


def _send_again(response: httpx.Response, stalls: int) -> bool:
    """Whether the answer asks for the file again later: a 429 or 503 (nothing was kept), or a 408 while it has been
    sent again after fewer than `STALLS_SENT_AGAIN` of them."""
    return response.status_code in WAIT_AGAIN or (response.status_code == STALLED and stalls < STALLS_SENT_AGAIN)


def _waiting_said(response: httpx.Response, fmt: BatchFormat) -> str:
    """The answer lrs waits out before sending the file again, without a gateway page's "try again later": lrs does."""
    said = problem_text(response, fmt)
    return said.removesuffix("; try again later.") + "." if said.endswith("; try again later.") else said


def _batch_kept_by(response: httpx.Response) -> set[str]:
    """The batch a 503 says ingest kept unpublished (its `instance`, `/v1/batches/<id>`: Kafka away), if it says one; a
    replay of any other batch is of an earlier sending, not this command's."""
    instance = str(_problem_of(response).get("instance") or "") if response.status_code == 503 else ""
    return {instance.rsplit("/", 1)[-1]} if instance.startswith("/v1/batches/") else set()


def _what_was_away(response: httpx.Response) -> str | None:
    """The dependency a 503's problem names as away, or None (a 429, or a problem that names none)."""
    if response.status_code != 503:
        return None
    problem = _problem_of(response)
    said = f"{problem.get('title') or ''} {problem.get('detail') or ''}"
    return next((named for word, named in _AWAY_NAMED if word in said), None)


class HeldTooLong(TurnedAway):
    """Ingest's queue limit answered while maintenance holds the AO's waiting batches past `submit`'s patience: no
    retry would be let in before the hold ends (exit status 1, as a 429 that outlasts the patience)."""


def _refuse_to_wait_out_the_hold(response: httpx.Response, fmt: BatchFormat, name: str, patience: float) -> None:
    """Raises HeldTooLong when the 429 says a maintenance hold keeps the AO's waiting batches undecided past the
    `patience` left (an unplanned pause: until an operator resumes): sending the file again every few minutes until
    then would be refused each time. A hold ending within the patience is waited out, after its Retry-After."""
    notice = _problem_of(response).get("maintenance") if response.status_code == 429 else None
    if not isinstance(notice, dict) or not held_past({"maintenance": notice, "status": "queued"}, patience):
        return
    after = f"after {uk_and_utc(notice['until'])}" if notice.get("until") else "once the unplanned pause is resumed"
    raise HeldTooLong(
        f"{problem_text(response, fmt)} lrs does not wait that long: nothing of {name} was kept; send it again {after}"
        " (`lrs maintenance show` says what holds the batches).",
        response,
    )


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        problem = response.json()
    except ValueError:
        return {}
    return problem if isinstance(problem, dict) else {}


def _sent(client: httpx.Client, content: bytes, headers: dict[str, str], name: str) -> httpx.Response:
    """The batch file uploaded. Stopped partway (Ctrl-C), what was sent may still reach ingest whole, which then
    decides the batch and emails the AO as for any other: said, so that the user looks before sending it again."""
    try:
        return upload(client, "/v1/batches", content, headers, name)
    except KeyboardInterrupt:
        warn(
            f"sending {name} was interrupted, but the LRS may still have received all of it."
            f" {batch_kept_unknown('Idempotency-Key' in headers)}"
        )
        raise


def held_past(batch: dict[str, Any], seconds: float) -> bool:
    """Whether maintenance holds the batch for longer than `seconds` from now (an unplanned pause: until an
    operator resumes): no wait that short would see it decided."""
    notice = batch.get("maintenance")
    if not notice or batch.get("status") in FINAL_STATES:
        return False
    if notice.get("until") is None:
        return True
    until = datetime.fromisoformat(notice["until"].replace("Z", "+00:00"))
    return (until - datetime.now(UTC)).total_seconds() > seconds


def follow(client: httpx.Client, batch_id: str, wait: float) -> dict[str, Any]:
    """The batch once decided, or as it stands after `wait` seconds; long-polls, with a progress bar. While
    waiting, an ingest that answers 503 (PostgreSQL or Kafka away for a moment), or a gateway in front of it that
    answers 502, 503 or 504 (ingest restarting), is asked again after its Retry-After, as is one that cannot be
    reached: the batch is not the worse for it."""
    deadline = time.monotonic() + wait
    batch: dict[str, Any] = _batch_as_it_stands(client, batch_id, {}, deadline, bounded=wait > 0)
    if batch["status"] in FINAL_STATES or wait <= 0 or held_past(batch, wait) or batch.get("held_in_dead_letters"):
        return batch
    with progress(f"batch {batch['status']}", total=wait) as update:
        while batch["status"] not in FINAL_STATES and (left := deadline - time.monotonic()) > 0:
            if held_past(batch, left) or batch.get("held_in_dead_letters"):  # an operator's to release, not time's
                break
            poll = {"wait_until_decided": round(min(left, LONG_POLL_SECONDS), 3)}
            batch = _batch_as_it_stands(client, batch_id, poll, deadline, batch)
            update(completed=wait - max(deadline - time.monotonic(), 0.0), description=f"batch {batch['status']}")
    return batch


def _batch_as_it_stands(
    client: httpx.Client,
    batch_id: str,
    params: dict[str, Any],
    deadline: float,
    known: dict[str, Any] | None = None,
    *,
    bounded: bool = True,
) -> dict[str, Any]:
    """The batch; when ingest is away for a moment, asked again until `deadline`, then `known` (as last seen),
    or the last answer's error when it was never seen. `bounded`: each request is given up a little after the
    deadline (an ingest that takes requests but answers none would hold --wait 5 for the client's 60 s)."""
    while True:
        try:
            response = client.get(f"/v1/batches/{batch_id}", params=params, timeout=_timeout(client, deadline, bounded))
        except httpx.UnsupportedProtocol:
            raise  # a malformed LRS_INGEST_URL: no wait mends it
        except httpx.TransportError:
            if known is None and time.monotonic() >= deadline:
                raise
            response = None
        if response is not None and response.status_code not in ASKED_AGAIN_WHILE_WAITING:
            answer: dict[str, Any] = expect_ok(response)
            return answer
        if time.monotonic() >= deadline:
            if known is not None:
                return known
            assert response is not None  # a transport error past the deadline was raised above
            said: dict[str, Any] = expect_ok(response)  # raises, saying what ingest said
            return said
        time.sleep(min(_retry_after(response), max(deadline - time.monotonic(), 0.0)))


def _timeout(client: httpx.Client, deadline: float, bounded: bool) -> httpx.Timeout:
    """The client's own timeouts, or, `bounded`, none longer than what is left until `deadline` and a margin."""
    if not bounded:
        return client.timeout
    left = math.ceil(max(deadline - time.monotonic(), 0.0) + ANSWER_MARGIN_SECONDS)
    own = client.timeout
    return httpx.Timeout(
        connect=_shorter(own.connect, left),
        read=_shorter(own.read, left),
        write=_shorter(own.write, left),
        pool=_shorter(own.pool, left),
    )


def _shorter(seconds: float | None, bound: float) -> float:
    return bound if seconds is None else min(seconds, bound)


def _retry_after(response: httpx.Response | None, waits: int = 0) -> float:
    """Seconds to wait before asking again: the answer's Retry-After, in seconds or as an HTTP date (RFC 9110
    §10.2.3: a gateway's, `Mon, 07 Dec 2026 22:45:00 GMT`; one past, or in a second, is 1 s); else 2 s, doubled for
    each of the `waits` before it, up to `BACKOFF_LONGEST_SECONDS`."""
    said = response.headers.get("Retry-After", "").strip() if response is not None else ""
    if said.isdigit():
        return float(said)
    try:
        moment = email.utils.parsedate_to_datetime(said) if said else None
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is not None:
        if moment.tzinfo is None:  # an HTTP date is in GMT; one written without a zone (`-0000`) is read so too
            moment = moment.replace(tzinfo=UTC)
        return max((moment - datetime.now(UTC)).total_seconds(), 1.0)
    return min(2.0 * 2.0 ** min(waits, 16), BACKOFF_LONGEST_SECONDS)


def summary(batch: dict[str, Any]) -> Text:
    counts = batch.get("counts") or {}
    text = Text(f"batch {batch['batch_id']}: ")
    text.append(batch["status"], style=STATUS_STYLES.get(batch["status"], "yellow"))
    if counts.get("total") is not None:
        text.append(f" - {counted(counts['total'], 'record')}")
    if counts.get("accepted") is not None and batch["status"] == "failed":  # RS005: nothing of it was recorded
        text.append(
            f", {counts.get('rejected') or 0:,} rejected: nothing recorded"
            f" ({counts['accepted']:,} would have been accepted, {counts.get('no_ops') or 0:,} unchanged)"
        )
    elif counts.get("accepted") is not None:  # decided: every count is known
        text.append(
            f", {counts['accepted']:,} accepted, {counts.get('rejected') or 0:,} rejected,"
            f" {counts.get('no_ops') or 0:,} unchanged, {warnings_text(counts.get('warnings') or 0)}"
        )
    if issued := batch.get("results_issued_date"):  # timeliness MI counts the batch's working days from it
        text.append(f"\n  results issued {_long_date(issued)}")
    if batch.get("failure_code"):
        text.append(f"\n  {batch['failure_code']}: {batch.get('failure_reason') or ''}", style="red")
    elif batch["status"] == "abandoned":
        text.append(f"\n  {batch.get('failure_reason') or 'the LRS could not process it'}", style="red")
    if refusal := batch.get("refusal"):
        where = (
            f" ({place_in_file(refusal['line'], refusal.get('column'), format_of(batch))})"
            if refusal.get("line")
            else ""
        )
        text.append(f"\n  {refusal['code']}: {refusal.get('detail') or refusal['title']}{where}", style="red")
    if notice := batch.get("maintenance"):
        text.append(f"\n  held by maintenance ({notice['reason']}): it {when_processed(notice)}", style="yellow")
    if held := batch.get("held_in_dead_letters"):
        text.append(f"\n  {held_in_dead_letters_text(batch, held)}", style="yellow")
    if note := batch.get("not_published"):
        text.append(f"\n  {note}", style="red")
    elif batch["status"] not in FINAL_STATES and not notice and not held:  # held: waiting longer won't help
        text.append("\n  not decided yet: ask again with --wait SECONDS")
    return text


def held_in_dead_letters_text(batch: dict[str, Any], held: dict[str, Any]) -> str:
    """What a batch whose messages ingest parked says: its outcome (its decision, or more of its records once it is
    decided) waits for an operator's retry or skip, not for time."""
    what = "its outcome is" if batch["status"] not in FINAL_STATES else "some of its results are"
    return (
        f"{what} held in ingest's dead letters since {uk_time(held['since'])}: an operator is dealing with it"
        f" (operators: lrs dlq list --service ingest --key {batch['batch_id']})"
    )


def _long_date(text: str) -> str:
    """`22 August 2024`, as the portal writes a day; what is no yyyy-mm-dd date is shown as it is."""
    try:
        return day_said(date.fromisoformat(text))
    except ValueError:
        return text


def record_line(record: dict[str, Any], fmt: BatchFormat | None = None) -> Text:
    """One record per line (so it can be grepped): line (an XML or JSON record's position: `record N`), result, MIS
    identifier, then each code with its message (joined by semicolons, no full stop before one), fields
    named as the batch's file of `fmt` names them (as `lrs batch check` does); a passed record of a failed batch
    says it was not added."""
    status = record["status"]
    not_added = status == "accepted" and record.get("plr_changed") is False
    word, number = record_place(record["line"], fmt).split(" ")
    line = Text(f"  {word} {number:>5}  ")
    # in the words the counts above use ("unchanged", not `no_op`), padded to the longest of them
    line.append(
        f"{RESULT_WORDS.get(status, status):<{RESULT_WORD_WIDTH}}",
        style="dim" if not_added else STATUS_STYLES.get(status, "dim"),
    )
    # one line, as the docstring says, padded to 20 terminal cells (an identifier in CJK takes two a character, a
    # combining accent none), so that the codes after it line up
    line.append(f" {_padded(shown_on_one_line(record.get('mis_identifier') or ''), MIS_IDENTIFIER_CELLS)} ")
    findings = [*record.get("errors", []), *record.get("warnings", [])]
    said = [_finding_text(finding, fmt) for finding in findings]
    line.append("; ".join([*(each.removesuffix(".") for each in said[:-1]), *said[-1:]]))  # never ".;"
    if not_added:
        line.append(" (not added: the batch failed)", style="yellow")
    return line


MIS_IDENTIFIER_CELLS = 20
"""The terminal cells `record_line` gives the MIS identifier: a longer one pushes the rest of its line on."""


def _padded(value: str, cells: int) -> str:
    """`value`, spaces after it to fill `cells` terminal cells as a terminal shows them (`cell_len`, as rich's tables
    measure): a wide (CJK) character takes two cells, a combining accent none. Never cut."""
    return value + " " * max(0, cells - cell_len(value))


def _finding_text(finding: dict[str, Any], fmt: BatchFormat | None) -> str:
    field = finding.get("field")
    named = f" {file_field_name(fmt, field) or field}" if field else ""
    return f"{finding['code']}{named}: {finding_in_file_words(str(finding['message']), fmt)}"


def format_of(batch: dict[str, Any]) -> BatchFormat | None:
    """The format of the batch's file, as ingest's batch view names it (None for one refused before it was known)."""
    try:
        return BatchFormat(batch["format"]) if batch.get("format") else None
    except ValueError:
        return None


def records(client: httpx.Client, batch_id: str, only: str | None = None) -> Iterator[dict[str, Any]]:
    """Every record's result, in line order; `only`: those of that result (rejected, accepted, no_op)."""
    path = f"/v1/batches/{batch_id}/records"
    return (
        pages(client, path, "records", RECORDS_PAGE, status=only)
        if only
        else pages(client, path, "records", RECORDS_PAGE)
    )


def write_csv(client: httpx.Client, batch_id: str, target: Path, only: str | None = None) -> int:
    """Streams the records' CSV (the service's own download; `only`: of the records of that result) into `target`
    (`-`: standard output), replacing it only once all of it has arrived; returns its size."""
    return download(client, f"/v1/batches/{batch_id}/records.csv", target, {"status": only} if only else None)


def resent_said(
    name: str, batch_id: str, key_given: bool, status: str | None = None, follow_it: str | None = None
) -> str:
    """A file (or an idempotency key) sent before answers its earlier batch: said so, and how to have it judged
    again as a new batch, as the portal's "Send it again as a new batch" does. Not while that batch is undecided
    (`status` not final): a batch kept `received` (Kafka away) or `accepted` is published again by this very sending
    (ingest's `_accept`), as the portal's "queued now" says, so it is on its way, and a new batch would be a second
    one of the same file; `follow_it`: the command that follows it (None when lrs follows it itself, --wait)."""
    if status is not None and status not in FINAL_STATES:
        sent = (
            f"this --idempotency-key was used before, for batch {batch_id}"
            if key_given
            else f"{name} was sent before, as batch {batch_id}"
        )
        follow = f" Follow it with: {follow_it}" if follow_it else ""
        return (
            f"{sent}, which is not decided yet ({status}): it is on its way, and nothing new was submitted. Do not"
            f" send {name} as a new batch: it would be a second batch of the same records.{follow}"
        )
    if key_given:
        return (
            f"this --idempotency-key was used before, for batch {batch_id}: nothing new was submitted. To send"
            f" {name} as a new batch, give a new --idempotency-key value (a new UUID, say)"
        )
    return (
        f"{name} was sent before, as batch {batch_id}: nothing new was submitted. To send the same file again as a"
        " new batch, add --idempotency-key with a value not used before (a new UUID, say)"
    )


def _follow_command(ctx: typer.Context, arguments: str) -> str:
    """`lrs ARGUMENTS` to the environment and with the key file this command was given (`Connection.command`)."""
    given = ctx.find_root().obj
    return given.command(arguments) if isinstance(given, Connection) else f"lrs {arguments}"


SubmittedFiles = Annotated[
    list[Path],
    typer.Argument(
        exists=True,
        dir_okay=False,
        readable=True,
        allow_dash=True,
        path_type=str,  # each as typed, as `BatchFile`: as a Path, `./-` would be `-`, standard input
        metavar="FILE",
        help="The batch file: .csv, .xml or .json; - reads it from standard input (its format told from its first"
        " bytes). Several: sent one after another, in the order given.",
    ),
]
GIVES_UP = frozenset({ExitCode.UNREACHABLE, ExitCode.KEY_REFUSED})
"""What ends `submit FILE...` even with --keep-going: the LRS away for the whole of submit's patience, or the key
refused; every file after would be answered the same."""


@app.command("submit")
def submit_command(
    ctx: typer.Context,
    files: SubmittedFiles,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="Unique per AO: sending it again answers the first batch instead of making a second. One FILE only."
        ),
    ] = None,
    wait: WaitOption = 0.0,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            help="With several files: send the next file after one refused, failed or not decided within --wait"
            " (not after the key is refused or the LRS stays away).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Submit a batch file; prints its batch id (then, with --wait, its outcome). A file the service refuses whole
    is a batch too: its id is printed, and why on stderr (exit status 1). A file over 6 MB is refused here, before
    anything is sent: no batch, no id, RS002 on stderr (exit status 1); so is a file whose format cannot be told
    (exit status 2). With --json, every refusal prints {"batch_id", "status": "refused", "refusal"}: batch_id null
    for one refused here, or turned away (429, 503) for longer than lrs waits, or stalled twice (408: exit status 4).
    FILE - is standard input.

    Several files are sent one after another, in the order given, each as one (with --wait, each waited for before
    the next is sent); each prints `FILE: BATCH_ID` (with --json, one JSON object a line, with "file" as given).
    The first file refused, failed or not decided within --wait stops the run, unless --keep-going; the exit status
    is then that file's."""
    given = [str(file) for file in files]  # str: as typed (SubmittedFiles)
    if len(given) == 1:
        _submit_one(ctx, given[0], idempotency_key, wait, as_json)
        return
    if idempotency_key is not None:
        raise UsageError(f"--idempotency-key names one batch: give it with one FILE, not {len(given)}")
    if given.count(check_command.STANDARD_INPUT) > 1:
        raise UsageError("- (standard input) can be given once")
    raise typer.Exit(_submit_each(ctx, given, wait, keep_going=keep_going, as_json=as_json))


def _submit_each(ctx: typer.Context, files: list[str], wait: float, *, keep_going: bool, as_json: bool) -> int:
    """`submit FILE...`: each file in turn, as `submit FILE` sends it; the exit status of the first that did not end
    0 (0 when every one did). Each file's lines name it; an error is said on stderr after its name (with --json, a
    file that printed nothing prints {"file", "batch_id": null, "error"})."""
    first_failure = ExitCode.OK
    failed: list[str] = []
    sent = 0
    for number, file in enumerate(files):
        printed: list[bool] = []

        def each(value: dict[str, Any], file: str = file, printed: list[bool] = printed) -> None:
            printed.append(True)
            print_json({"file": file, **value}, one_line=True)

        try:
            try:
                _submit_one(ctx, file, None, wait, as_json, emit=each, label=file)
                code = ExitCode.OK
            except typer.Exit as end:
                code = ExitCode(end.exit_code)
            except CommandError as error:
                stderr().print(f"lrs: {file}: {error}", style="red", markup=False)
                if as_json and not printed:
                    each({"batch_id": None, "error": str(error)})
                code = error.exit_code
        except KeyboardInterrupt:
            _not_sent(files[number + 1 :], "interrupted")
            raise
        except (httpx.HTTPError, OSError) as error:  # said as for one file (main), with what was not sent
            if as_json and not printed:
                each({"batch_id": None, "error": str(error) or type(error).__name__})
            _not_sent(files[number + 1 :], f"stopped at {file}")
            raise
        sent = number + 1
        if code == ExitCode.OK:
            continue
        failed.append(file)
        first_failure = first_failure or code
        rest = files[number + 1 :]
        if rest and (code in GIVES_UP or not keep_going):
            why = (
                "" if code in GIVES_UP else " (with --keep-going, lrs sends the next file after one that did not end 0)"
            )
            _not_sent(rest, f"stopped at {file}", why)
            break
    if failed:
        warn(f"{sent:,} of {counted(len(files), 'file')} sent; refused, failed or not decided: {', '.join(failed)}")
    return first_failure


def _not_sent(rest: list[str], why: str, then: str = "") -> None:
    if rest:
        warn(f"{why}; not sent: {', '.join(rest)}{then}")


def _submit_one(
    ctx: typer.Context,
    file: str,
    idempotency_key: str | None,
    wait: float,
    as_json: bool,
    *,
    emit: Callable[[dict[str, Any]], None] = print_json,
    label: str | None = None,
) -> None:
    """`submit FILE`: its exit status by typer.Exit or an error. `emit`: how --json's object is printed; `label`:
    the file's name before its batch id (`submit FILE...`), None for the id alone."""

    def print_id(batch_id: str) -> None:
        stdout().print(f"{label}: {batch_id}" if label else batch_id, markup=False)

    try:
        accepted = submit(connection(ctx), file, idempotency_key)
    except BatchRefused as refused:
        if as_json:
            emit({"batch_id": refused.batch_id, "status": "refused", "refusal": refused.problem})
        elif refused.batch_id:
            print_id(refused.batch_id)
        raise
    except (check_command.FileRefused, check_command.FormatUnknown) as refused_here:
        if as_json:  # as ingest's refusal is printed, so that a script reads one shape: no batch was made
            problem = check_command.refusal_problem(refused_here.refused)
            emit({"batch_id": None, "status": "refused", "refusal": problem})
        raise
    except TurnedAway as turned_away:
        if as_json:  # nothing of it was kept: refused for now, as the problem says (send it again later)
            emit({"batch_id": None, "status": "refused", "refusal": turned_away.problem})
        raise
    if accepted["replay"]:
        name = check_command.file_name(file)
        follow_it = None if wait > 0 else _follow_command(ctx, f"batch status {accepted['batch_id']} --wait 60")
        status = accepted.get("status")
        warn(resent_said(name, accepted["batch_id"], idempotency_key is not None, status, follow_it))
    batch = None
    if not as_json:  # the id first: a wait cut short (the service away, Ctrl-C) must not lose the batch
        print_id(accepted["batch_id"])
        sys.stdout.flush()  # a script reading the pipe has the id while the wait goes on
    if wait > 0:
        follow_it = connection(ctx).command(f"batch status {accepted['batch_id']}")
        try:
            with connection(ctx).client("ingest") as client:
                batch = follow(client, accepted["batch_id"], wait)
        except (CommandError, httpx.TransportError) as error:
            if not as_json:
                warn(f"batch {accepted['batch_id']} was accepted; follow it with: {follow_it}")
                raise
            # the batch exists: a script must still learn its id, and that its outcome is not known yet
            said = unreachable_text(error) if isinstance(error, httpx.TransportError) else str(error)
            emit({**accepted, "batch": None, "wait_error": said})
            warn(f"{said}\nbatch {accepted['batch_id']} was accepted; follow it with: {follow_it}")
            raise typer.Exit(ExitCode.NOT_FINAL) from error
        except (Exception, KeyboardInterrupt) as error:
            if as_json and isinstance(error, KeyboardInterrupt):  # Ctrl-C, or SIGTERM (main's Terminated is one)
                # as any other wait cut short: the batch exists, and a script reads its id from stdout, not stderr
                emit({**accepted, "batch": None, "wait_error": "interrupted"})
            warn(f"batch {accepted['batch_id']} was accepted; follow it with: {follow_it}")
            raise
    if as_json:
        # with --wait, `status` is the batch's as it now stands: the 202's "accepted" beside a failed batch misled
        emit({**accepted, "status": batch["status"], "batch": batch} if batch else accepted)
    elif batch:
        stdout().print(summary(batch))
    elif notice := accepted.get("maintenance"):
        warn(f"held by maintenance ({notice['reason']}): it {when_processed(notice)}")
    if batch:
        raise typer.Exit(exit_code_of(batch))


ID_PREFIX = re.compile(r"[0-9A-Fa-f-]{8,36}")
PREFIX_MATCHES_SHOWN = 20


def batch_id_or_prefix(value: str) -> str:
    """A batch id, or the first 8 characters or more of one (as a batch email's subject gives them): anything else
    is a usage error (exit status 2) before ingest is asked."""
    try:
        uuid.UUID(value)
    except ValueError:
        if not ID_PREFIX.fullmatch(value):
            raise typer.BadParameter(
                "a batch id is a UUID, as `lrs batch submit` printed it, or its first 8 characters or more (as the"
                " subject of a batch's email gives them: `(batch 5a398464)`)"
            ) from None
    return value


def the_batch_starting(client: httpx.Client, given: str, *, as_json: bool = False) -> str:
    """The id of the one batch `given` names: itself when it is a whole id, else the one batch whose id starts so
    (of the caller's own, for an AO). None such: ingest's 404, as a whole id it does not know (exit status 1);
    several: they are listed, and it is a usage error (exit status 2) to give so little of the id."""
    try:
        uuid.UUID(given)
    except ValueError:
        pass
    else:
        return given
    body = expect_ok(client.get("/v1/batches", params={"id_prefix": given, "page_size": PREFIX_MATCHES_SHOWN}))
    matches: list[dict[str, Any]] = body["items"]
    if body["total"] == 1 and len(matches) == 1:
        found: str = matches[0]["batch_id"]
        return found
    if not matches:
        raise AnswerError(
            f"HTTP 404: Not found: there is no batch whose id starts {given} that your API key can see.", 404
        )
    if as_json:
        print_json(matches)
    else:
        _print_batches(matches)
    shown = f" (the newest {len(matches):,} above)" if body["total"] > len(matches) else " (above)"
    raise UsageError(f"several batches ({body['total']:,}) start with {given}{shown}: give more of the id")


# A well-formed ULN of no learner: the projector answers `after_batch` of an AO's batch by the batch's events on any
# learner's record (decision 0012), so the read is of this one, as the portal's batch page reads it (`BATCH_PROBE_ULN`)
BATCH_PROBE_ULN = "9999999998"
PLR_HELD_WAIT_MS = 2_000  # as the portal's batch page waits for the projector


def held_on_the_plr(connection: Connection, batch: dict[str, Any]) -> int:
    """How many of a completed batch's accepted records the PLR projector holds in its dead letters (a poison on a
    learner's stream, or held behind one), as the portal's batch page asks it (`batch_on_the_plr`); 0 when none is,
    when the projector has not taken the batch yet, or when it could not be asked or refused this key."""
    if batch.get("status") != "completed" or not (batch.get("counts") or {}).get("accepted"):
        return 0
    params = {
        "uln": BATCH_PROBE_ULN,
        "include_withdrawn": "false",
        "include_history": "false",
        "after_batch": str(batch["batch_id"]),
        "wait_ms": str(PLR_HELD_WAIT_MS),
    }
    if batch.get("ao_id"):  # an operator's key names the AO; an AO's own key may name itself
        params["ao_id"] = str(batch["ao_id"])
    try:
        with connection.client("plr_projector", timeout=PLR_HELD_WAIT_MS / 1000 + 2) as client:
            response = client.get("/v1/ao/achievements", params=params)
        held = (response.json().get("consistency") or {}).get("batch_events_held") if response.is_success else 0
    except (httpx.HTTPError, CommandError, UsageError, ValueError, AttributeError):
        return 0  # the batch's own status stands without it
    return held if isinstance(held, int) and held > 0 else 0


def held_on_the_plr_text(batch: dict[str, Any], held: int) -> str:
    """The portal's batch page's words for a batch some of whose accepted records the projector holds back."""
    accepted = (batch.get("counts") or {}).get("accepted") or 0
    if held < accepted:
        verb = "is" if held == 1 else "are"
        return (
            f"{held:,} of the batch's accepted records {verb} held back by a fault an operator is fixing (in the PLR"
            " projector's dead letters); the others are on learners' records."
        )
    return (
        "The batch's accepted records are held back by a fault an operator is fixing (in the PLR projector's dead"
        " letters): they are not on learners' records yet."
    )


@app.command("status")
def status_command(
    ctx: typer.Context,
    batch_id: Annotated[
        str,
        typer.Argument(
            help="The id `lrs batch submit` printed, or its first 8 characters or more (as a batch's email subject"
            " gives them) when they name one batch.",
            callback=batch_id_or_prefix,
        ),
    ],
    wait: WaitOption = 0.0,
    show_records: Annotated[
        bool, typer.Option("--records", help="List every record's result, codes and messages (every page).")
    ] = False,
    only: Annotated[
        RecordResult | None,
        typer.Option(
            "--only",
            help="List (and with --csv, write) only the records of this result (rejected, accepted, no_op): the 10"
            " rejected of 10,000.",
            parser=one_of(RecordResult, "--only"),
        ),
    ] = None,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            dir_okay=False,
            writable=True,
            allow_dash=True,
            help="Write every record's result (with --only, those of that result) to this CSV file (-: to standard"
            " output, and nothing else there: not with --json), once the batch is decided: for a batch not decided"
            " yet, nothing is written.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a batch's status and counts; exit status 0 completed, 1 failed, abandoned or refused, 3 not decided
    yet (its outcome held in ingest's dead letters too); 2 when the start of an id given names several batches."""
    one_writer_of_standard_output(as_json, csv_file)
    show_records = show_records or only is not None
    chosen = only.value if only else None
    if csv_file is not None:
        writable_beside(csv_file, "--csv")
    with connection(ctx).client("ingest") as client:
        batch_id = the_batch_starting(client, batch_id, as_json=as_json)
        batch = follow(client, batch_id, wait)
        # a batch not decided yet has no results: its file is not written (an earlier one of that name is kept)
        undecided = csv_file is not None and batch["status"] not in FINAL_STATES
        if csv_file == STANDARD_OUTPUT:
            if undecided:
                warn(f"batch {batch_id} is {batch['status']}, not decided yet: no results to write")
            else:
                write_csv(client, batch_id, csv_file, chosen)
            raise typer.Exit(exit_code_of(batch))
        if as_json:  # the records only when they are printed: a poll of a 10,000-record batch reads no page of them
            print_json({"batch": batch, "records": list(records(client, batch_id, chosen))} if show_records else batch)
        else:
            console = stdout()
            console.print(summary(batch))
            if held := held_on_the_plr(connection(ctx), batch):  # said as the portal's batch page says it
                console.print(Text(f"  {held_on_the_plr_text(batch, held)}", style="yellow"))
            if show_records:
                for record in records(client, batch_id, chosen):
                    console.print(record_line(record, format_of(batch)))
        if csv_file is not None and undecided:
            warn(f"not decided yet: no results to write to {csv_file}")
        elif csv_file is not None:
            size = write_csv(client, batch_id, csv_file, chosen)
            which = f"the {RESULT_WORDS[chosen]} records' results" if chosen else "every record's result"
            warn(f"wrote {which} to {csv_file} ({size:,} bytes)")
    raise typer.Exit(exit_code_of(batch))


class RecordResult(StrEnum):
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    NO_OP = "no_op"


RESULT_WORDS = {"rejected": "rejected", "accepted": "accepted", "no_op": "unchanged"}
RESULT_WORD_WIDTH = max(len(word) for word in RESULT_WORDS.values())


class ListedStatus(StrEnum):
    """The states a batch is stored in, and `queued`: what the list shows of an accepted batch a maintenance window
    holds (ingest lists it as accepted, and shows every accepted batch as queued while a window holds batches)."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    QUEUED = "queued"
    VALIDATING = "validating"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"
    REFUSED = "refused"


@dataclass(frozen=True)
class Listed:
    """Batches of a list, newest first: how many the list holds, and where the batches after these start (the
    last page's `next`; None when none follow)."""

    batches: list[dict[str, Any]]
    total: int
    next: str | None


def history(
    client: httpx.Client,
    ao_id: str | None,
    limit: int | None,
    status: str | None = None,
    after: str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    reference: str | None = None,
    key_id: str | None = None,
) -> Listed:
    """The newest `limit` batches (None: every one), in `status` if given, received at or after `since` and before
    `until` if given, of the BatchReference `reference` if given, sent with the API key `key_id` if given, after the
    position `after` if given: each page
    after the last one read (its `next`), not by page number, so that batches received meanwhile neither repeat one
    nor push one out of the list."""
    params: dict[str, Any] = {"ao_id": ao_id} if ao_id else {}
    if status:
        params["status"] = status
    if reference is not None:
        params["reference"] = reference
    if key_id is not None:
        params["submitted_with_key"] = key_id
    if since is not None:
        params["received_from"] = instant_text(since)
    if until is not None:
        params["received_to"] = instant_text(until)
    batches: list[dict[str, Any]] = []
    while True:
        size = LIST_PAGE if limit is None else min(limit - len(batches), LIST_PAGE)
        position = {"after": after} if after else {}
        body = expect_ok(client.get("/v1/batches", params={**params, "page_size": size, **position}))
        batches += body["items"]
        after = body.get("next")
        if not after or (limit is not None and len(batches) >= limit):
            return Listed(batches, body["total"], after)


def instant_text(moment: datetime) -> str:
    """An instant as ingest reads it: ISO 8601 in UTC, with its zone (`2026-12-07T09:00:00Z`)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def received_bound(text: str, option: str) -> datetime:
    """`--since`/`--until`: a UK date (2026-12-07, 7 December 2026, 7 Dec 2026), the start of that day in the UK,
    as `lrs plr verify --issued-after` reads one; or an ISO-8601 time with its zone (2026-12-07T09:00Z)."""
    text = text.strip()
    for format_ in DATE_FORMATS:
        try:
            day = datetime.strptime(text, format_).date()
        except ValueError:
            continue
        return datetime(day.year, day.month, day.day, tzinfo=ENGLAND)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a date such as 2026-12-07 (a UK date: from the start of that day), nor an"
            " ISO-8601 time with its zone such as 2026-12-07T09:00Z"
        ) from None
    return parse_moment(text, option)  # refused without its zone, or off the calendar


def only_queued(listed: Listed) -> Listed:
    """The accepted batches a maintenance window holds, which ingest shows as `queued`: while a window holds batches
    it holds every accepted one, so a page with any not queued (no window, or it ended meanwhile) ends the list."""
    queued = [batch for batch in listed.batches if batch.get("status") == ListedStatus.QUEUED]
    if len(queued) == len(listed.batches):
        return listed
    return Listed(queued, len(queued), None)


def count_cell(counts: dict[str, Any], name: str, *, failed: bool = False) -> str:
    """Blank while the batch is undecided; 0 once it is. A failed batch's accepted and unchanged records were not
    recorded as such: in brackets, so that each column adds up to what was recorded (as the MI reports count, and
    the portal's tables show them)."""
    value = counts.get(name)
    if value is None:
        return ""
    return f"({value})" if failed and name in ("accepted", "no_ops") and value else str(value)


def _reference_given(value: str | None) -> str | None:
    """--reference: a BatchReference, as ingest's list takes one (1 to 1,000 characters); else a usage error."""
    if value is not None and not 0 < len(value) <= 1_000:
        raise typer.BadParameter("a BatchReference is 1 to 1,000 characters, as the file's header gave it")
    return value


KEY_ID_CHARACTERS = 16


def _key_id_given(value: str | None) -> str | None:
    """--key-id: a key's id, as `lrs credentials list` shows it; else a usage error that never prints what was given
    when it may hold a key's secret (a whole key pasted, after it leaked), only a whole key's id."""
    if value is None or KEY_ID.fullmatch(value.strip()):
        return None if value is None else value.strip()
    shape = "16 characters, 0-9 and a-f, as `lrs credentials list` shows it"
    if (whole := key_id_of(value.strip())) is not None:
        raise typer.BadParameter(
            f"that is a whole API key, not its id (not printed: its secret is in it); give {whole}"
        )
    if len(value) > KEY_ID_CHARACTERS or value.strip().startswith("lrs_"):
        raise typer.BadParameter(f"not a key id (not printed: it may hold a key's secret): {shape}")
    raise typer.BadParameter(f"{value!r} is not a key id: {shape}")


@app.command("list")
def list_command(
    ctx: typer.Context,
    ao: Annotated[
        str | None, typer.Option(help="Operators: only this AO's batches (like RN9093).", callback=ao_id_value)
    ] = None,
    status: Annotated[
        ListedStatus | None,
        typer.Option(
            help="Only batches in this state, such as failed; queued: accepted batches a maintenance window holds.",
            parser=one_of(ListedStatus, "--status"),
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="How many batches, newest first.")] = 50,
    every: Annotated[bool, typer.Option("--all", help="Every batch, whatever --limit says.")] = False,
    after: Annotated[
        str | None, typer.Option(help="Continue a list: the position the previous command's last line gave.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only batches received at or after this: a UK date (2026-12-07: from the start of that day in the"
            " UK) or an ISO-8601 time with its zone (2026-12-07T09:00Z).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Only batches received before this (not at it): a UK date (2026-12-08: before that day starts in"
            " the UK) or an ISO-8601 time with its zone (2026-12-07T11:00+00:00).",
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            help="Only batches whose file's header gave this BatchReference, exactly (case counts).",
            callback=_reference_given,
        ),
    ] = None,
    key_id: Annotated[
        str | None,
        typer.Option(
            help="Only batches sent with this API key: its id, as `lrs credentials list` shows it (after a key"
            " leaked: what it sent). AOs: of the batches they sent themselves.",
            callback=_key_id_given,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The batches you submitted (operators: every AO's), newest first; when each was received in UK time (--json: the
    instant)."""
    received_from = received_bound(since, "--since") if since is not None else None
    received_to = received_bound(until, "--until") if until is not None else None
    if received_from is not None and received_to is not None and received_from >= received_to:
        raise UsageError(
            f"--since {uk_time(received_from)} is not before --until {uk_time(received_to)}: no batch is received then"
        )
    # ingest stores a held batch as accepted (it refuses status=queued): ask for those, keep the ones it holds
    asked = ListedStatus.ACCEPTED if status is ListedStatus.QUEUED else status
    with connection(ctx).client("ingest") as client:
        given = (("since", received_from), ("until", received_to), ("reference", reference), ("key_id", key_id))
        only: dict[str, Any] = {name: value for name, value in given if value is not None}  # the filters given
        listed = history(client, ao, None if every else limit, asked.value if asked else None, after, **only)
    if status is ListedStatus.QUEUED:
        listed = only_queued(listed)
    batches = listed.batches
    if listed.next:
        shown = f"{len(batches):,} more" if after else f"the newest {len(batches):,}"
        warn(f"{shown} of {listed.total:,} batches: --all or a larger --limit shows more")
    if as_json:
        print_json(batches)
    else:
        _print_batches(batches)
    tell_more(listed.next)


def _print_batches(batches: list[dict[str, Any]]) -> None:
    listing = table(
        "batch",
        f"received ({UK_TIME})",
        "AO",
        "status",
        "records",
        "accepted",
        "rejected",
        "unchanged",
        "code",
        "reference",
    )
    for batch in batches:
        counts = batch.get("counts") or {}
        listing.add_row(
            batch["batch_id"],
            uk_time(batch["received_at"], labelled=False),
            batch.get("ao_id") or "",
            Text(batch["status"], style=STATUS_STYLES.get(batch["status"], "yellow")),
            str(batch.get("record_count") or counts.get("total") or ""),
            count_cell(counts, "accepted", failed=batch["status"] == "failed"),
            count_cell(counts, "rejected"),
            count_cell(counts, "no_ops", failed=batch["status"] == "failed"),
            batch.get("failure_code") or (batch.get("refusal") or {}).get("code") or "",
            batch.get("batch_reference") or "",
        )
    stdout().print(listing if batches else "no batches")
    if any(
        batch["status"] == "failed" and any((batch.get("counts") or {}).get(name) for name in ("accepted", "no_ops"))
        for batch in batches
    ):
        stdout().print(
            "(n): passed its checks in a batch that failed (RS005), so nothing of it was recorded (the MI reports"
            " count them as not added)"
        )
