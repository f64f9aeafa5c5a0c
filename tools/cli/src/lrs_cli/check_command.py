"""`lrs batch check FILE`: the Batch Toolkit — every rule that needs no server, before submitting.

It parses the file with the service's own parsers and judges it with the service's own rules
(`lrs_domain`), against the catalogue shipped with `lrs_domain`, so what it reports is what the
service would say about the same records, except the checks that need the server (learner registry,
achievement state). Exit status 1 when the whole file is refused or the batch would fail RS005.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.text import Text

from lrs_cli.client import CommandError, ExitCode, UsageError, place_in_file, record_place
from lrs_cli.files import BoundedRead, read_bounded
from lrs_cli.output import JsonOption, counted, print_json, stdout, warn, warnings_text
from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import (
    BATCH_CODE_TITLES,
    MAX_BATCH_BYTES,
    REJECTION_THRESHOLD,
    BatchCode,
    RecordCode,
    explanation_of,
)
from lrs_contracts.outcomes import RecordOutcome, RecordStatus
from lrs_contracts.text import shown_on_one_line
from lrs_domain.decision import OfflineReport, check_batch_offline, rejected_of
from lrs_domain.formats import detect_format, file_field_name, parse_batch, refuse_if_too_large
from lrs_domain.formats.detect import refuse_workbook
from lrs_domain.formats.errors import BatchRefused, refuse_other_encodings
from lrs_domain.formats.json_batch import template_example_in, template_example_warning
from lrs_domain.formats.limits import finding_in_file_words
from lrs_domain.formats.mislabel import mislabel_hint as domain_mislabel_hint
from lrs_domain.formats.mislabel import plainly_other_format
from lrs_domain.reference_files import load_catalogue
from lrs_domain.rules import rejected_share_shown
from lrs_platform.clock import today_in_england

NOT_CHECKED = "Not checked offline: learner verification (RV004) and achievement state (RV012-RV017)."
NOT_CHECKED_UNREGISTERED_AO = (
    "Not checked offline: learner verification (RV004), achievement state (RV012-RV017) and, as the AO is not in"
    " the register, whether each qualification is its (RV022)."
)
SERVER_ONLY = (
    RecordCode.LEARNER_NOT_VERIFIED,
    RecordCode.TARGET_NOT_FOUND,
    RecordCode.UPDATE_CHANGES_FIXED_FIELD,
    RecordCode.CONFLICTING_DUPLICATE,
    RecordCode.WRONG_STATE,
    RecordCode.UPDATE_OF_WITHDRAWN,
    RecordCode.PROVISIONAL_AFTER_FINAL,
)


def mislabel_hint(name: str, looks_like: BatchFormat) -> str:
    """What a CLI user does about a file whose extension names another format than its content plainly is: lrs
    takes the format (and the Content-Type it sends) from the extension, and has no option to say otherwise."""
    return domain_mislabel_hint(
        name, looks_like, " (lrs reads and sends a batch file as the format its extension names: .csv, .xml or .json)"
    )


STANDARD_INPUT = "-"
"""The batch file `-`: standard input (`lrs batch submit - < results.csv`), as `--csv -` is standard output. `./-`
is a file named `-`."""
STANDARD_INPUT_NAME = "standard input"
STDIN_CHUNK = 64 * 1024

BatchFile = Annotated[
    Path,
    typer.Argument(
        exists=True,
        dir_okay=False,
        readable=True,
        allow_dash=True,
        # the value as typed (a str, whatever the annotation says): as a Path, `./-` would be `-`, standard input
        path_type=str,
        help="The batch file: .csv, .xml or .json; - reads it from standard input (its format told from its first"
        " bytes).",
    ),
]


def file_name(file: str | Path) -> str:
    """The batch file as messages name it: its name, or "standard input" for `-`."""
    return STANDARD_INPUT_NAME if str(file) == STANDARD_INPUT else Path(file).name


def read_batch(file: str | Path) -> BoundedRead:
    """The batch file (`-`: standard input), read for at most one byte more than a batch may be (RS002 is then
    certain); an empty one is refused here (RS001, FileRefused), in the portal's words, before its format is guessed
    or anything is sent."""
    given = str(file)
    read = _standard_input(MAX_BATCH_BYTES) if given == STANDARD_INPUT else read_bounded(Path(given), MAX_BATCH_BYTES)
    if not read.content:
        detail = f"{file_name(given)} is empty (0 bytes): a batch file starts with its header"
        raise FileRefused(f"{BatchCode.MALFORMED.value}: {detail}", BatchRefused(BatchCode.MALFORMED, detail))
    return read


def _standard_input(limit: int) -> BoundedRead:
    """Standard input, read as `read_bounded` reads a file: at most `limit` + 1 bytes, whatever is piped in; its size
    when it is a regular file (`< results.csv`), as /dev/stdin's would be."""
    if sys.stdin is None:  # started with standard input closed (`<&-`)
        raise UsageError("the batch file is - (standard input), but standard input is closed: name the file instead")
    source = sys.stdin.buffer
    chunks: list[bytes] = []
    taken = 0
    while taken <= limit:
        chunk = source.read(min(STDIN_CHUNK, limit + 1 - taken))
        if not chunk:
            break
        chunks.append(chunk)
        taken += len(chunk)
    return BoundedRead(b"".join(chunks), limit, _regular_size(source))


def _regular_size(source: BinaryIO) -> int | None:
    """The size of the regular file standard input is redirected from; None for a pipe, a terminal or a device."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        status = os.fstat(source.fileno())
        return status.st_size if stat.S_ISREG(status.st_mode) else None
    return None


def refuse_if_over(read: BoundedRead) -> None:
    """RS002 (BatchRefused) for a batch file read past its limit, in `parse_batch`'s words when its size is known,
    else in ingest's (a pipe or a device: only "more than" is known)."""
    if not read.too_large:
        return
    if read.known_size is not None:
        refuse_if_too_large(read.known_size, read.limit)
    raise BatchRefused(BatchCode.TOO_LARGE, f"the file is more than {read.limit:,} bytes")


# Refusals whose message says what is wrong but not what to do: their problem page's remedy follows it
_REMEDY_SAID = frozenset({BatchCode.TOO_LARGE, BatchCode.TOO_MANY_RECORDS})


def whole_file_refused(refused: BatchRefused, fmt: BatchFormat | None) -> str:
    """A refusal of the whole file of `fmt` as `lrs batch check` says it: its code, where, and why; for a file too
    large or of too many records, what to do, as its problem page says it."""
    where = f" at {place_in_file(refused.line, refused.column, fmt)}" if refused.line else ""
    said = f"{refused.code.value}: the whole file is refused{where}: {refused.detail}"
    explained = explanation_of(refused.code) if refused.code in _REMEDY_SAID else None
    return f"{said.rstrip('.')}. {explained.fix}" if explained is not None else said


class FileRefused(CommandError):
    """The whole file is refused (RS001-RS003): said in one line, and kept whole for `--json`."""

    def __init__(self, said: str, refused: BatchRefused) -> None:
        super().__init__(said)
        self.refused = refused


class FormatUnknown(UsageError):
    """Neither the file's name nor its first bytes tell its format: refused here, before any service is asked (a
    usage error, exit status 2, as docs/operations.md's table has it), and kept as the RS001 ingest would answer for
    `--json`."""

    def __init__(self, name: str) -> None:
        said = (
            f"cannot tell the format of {name}: use .csv, .xml or .json"
            if name != STANDARD_INPUT_NAME
            else f"cannot tell the format of {name} from its first bytes: it starts as neither CSV, XML nor JSON"
        )
        super().__init__(said)
        self.refused = BatchRefused(BatchCode.MALFORMED, said)


def format_of(name: str, content: bytes) -> BatchFormat:
    """The batch file's format, from its extension, else its first bytes (standard input's from them alone);
    FormatUnknown when neither tells. A spreadsheet workbook (whatever its name), and a file of no format that is
    UTF-16 or UTF-32 (Notepad's "Unicode" .txt), are refused here (FileRefused, RS001) in ingest's words, which say
    what the file is and how to save it: a name ending .csv would not make either a batch."""
    filename = None if name == STANDARD_INPUT_NAME else name
    fmt = detect_format(None, filename, content[:512])
    try:
        refuse_workbook(filename, content[:512])
        if fmt is None:
            refuse_other_encodings(content)
    except BatchRefused as refused:
        raise FileRefused(whole_file_refused(refused, fmt), refused) from refused
    if fmt is None:
        raise FormatUnknown(name)
    return fmt


def refusal_problem(refused: BatchRefused) -> dict[str, Any]:
    """The refusal as ingest answers it (its problem document, which `lrs batch submit --json` prints as `refusal`),
    for a file never sent: the status ingest would answer (413 past the size limit, else 422), no `instance` (no
    batch was made), and, as ingest leaves them out, no member without a value."""
    code = refused.code.value
    problem = {
        "type": f"/problems/{code}" if explanation_of(code) else "about:blank",
        "title": BATCH_CODE_TITLES.get(refused.code, "The batch was refused"),
        "status": 413 if refused.code is BatchCode.TOO_LARGE else 422,
        "detail": refused.detail,
        "code": code,
        "line": refused.line,
        "column": refused.column,
    }
    return {member: value for member, value in problem.items() if value is not None}


@dataclass(frozen=True)
class Checked:
    """What `lrs batch check` found: the file's format, what every rule that needs no server says of it, and the
    header's AwardingOrganisation when the shipped register does not hold it (None when it does): RV022, whether
    each qualification is that AO's, could then not be judged."""

    fmt: BatchFormat
    report: OfflineReport
    unregistered_ao: str | None = None
    # the records (line and ULN) still the template's example record: warned of, as the portal's check does
    template_example_in: tuple[tuple[int, str], ...] = ()


def unregistered_ao_text(ao_id: str, fmt: BatchFormat) -> str:
    """The warning for a header's AO the register does not hold: most likely a typo, which the LRS refuses the
    batch for (its API key is another AO's)."""
    field = file_field_name(fmt, "awarding_organisation") or "AwardingOrganisation"
    return (
        f"WARNING: {field} {shown_on_one_line(ao_id)} is not in the LRS register, so whether each qualification is"
        " that AO's (RV022) was not checked: check it, as the LRS refuses a batch that names another AO than its API"
        " key's"
    )


def offline_report(file: str | Path, reference_dir: Path | None) -> Checked:
    """The file's (`-`: standard input's) format and what every rule that needs no server says of it."""
    read = read_batch(file)
    content = read.content
    name = file_name(file)
    fmt = format_of(name, content)
    try:
        refuse_if_over(read)
        today = today_in_england()
        parsed = parse_batch(content, fmt, received_on=today)  # judged as if it were sent now
    except BatchRefused as refused:
        said = whole_file_refused(refused, fmt)
        if refused.code is BatchCode.MALFORMED and (looks_like := plainly_other_format(content, fmt)):
            said += f"\n{mislabel_hint(name, looks_like)}"
        raise FileRefused(said, refused) from refused
    catalogue = load_catalogue(reference_dir)
    ao_id = parsed.header.awarding_organisation
    report = check_batch_offline(parsed.header, parsed.records, catalogue, today)
    unregistered_ao = None if ao_id in catalogue.awarding_organisation_ids() else ao_id
    return Checked(fmt, report, unregistered_ao, template_example_in(parsed.records))


def check(file: str, reference_dir: str | None) -> str:
    """The report as plain text (what `lrs batch check` prints when not on a terminal)."""
    checked = offline_report(file, Path(reference_dir) if reference_dir else None)
    return render(
        file_name(file), checked.report, checked.fmt, checked.unregistered_ao, checked.template_example_in
    ).plain


def projected_reason(report: OfflineReport) -> str | None:
    """Why the batch would fail, as a prediction, after its code: `lrs_domain` words the failure as the decider
    records it, of a batch sent and decided, and this one has not been sent."""
    if report.failure is None:
        return None
    if report.failure.code is not BatchCode.REJECTION_THRESHOLD:
        return report.failure.reason
    counts = report.counts
    return (
        f"{rejected_of(counts.rejected, counts.total, would=True)}, more than the {REJECTION_THRESHOLD:.0%}"
        " allowed, so nothing of it would reach any learner's record."
    )


def render(
    name: str,
    report: OfflineReport,
    fmt: BatchFormat,
    unregistered_ao: str | None = None,
    template_example: tuple[tuple[int, str], ...] = (),
) -> Text:
    """The report for a person: fields named as the file of `fmt` names them; `unregistered_ao`: the header's AO,
    which the register does not hold (warned of, and no pass is said without that warning); `template_example`: the
    records (line and ULN) that are still the template's example record (warned of; the file can still be sent)."""
    counts = report.counts
    text = Text(f"{name}: {counted(counts.total, 'record')}\n")
    for outcome in report.outcomes:
        if outcome.status is RecordStatus.REJECTED or outcome.warnings:
            text.append_text(_outcome_lines(outcome, fmt))
    # never "30.0%" for a batch that would fail RS005, nor more than 30.0% for one that would pass
    rejected_share = rejected_share_shown(counts.rejected, counts.total)
    text.append(
        f"{counts.accepted:,} would be accepted, {counts.rejected:,} rejected ({rejected_share}),"
        f" {warnings_text(counts.warnings)}\n"
    )
    if unregistered_ao is not None:
        text.append(f"{unregistered_ao_text(unregistered_ao, fmt)}\n", style="bold yellow")
    if template_example:
        text.append(f"WARNING: {template_example_warning(template_example, fmt)}\n", style="bold yellow")
    if report.failure is not None:
        text.append(
            f"PROJECTED OUTCOME: the whole batch fails with {report.failure.code.value}: {projected_reason(report)}\n",
            style="bold red",
        )
    else:
        caveat = ", but see the WARNING above" if unregistered_ao is not None else ""
        text.append(
            f"PROJECTED OUTCOME: passes the RS005 threshold (more than {REJECTION_THRESHOLD:.0%} rejected fails)"
            f"{caveat}\n",
            style="yellow" if caveat else "green",
        )
    text.append(NOT_CHECKED if unregistered_ao is None else NOT_CHECKED_UNREGISTERED_AO)
    return text


def _outcome_lines(outcome: RecordOutcome, fmt: BatchFormat) -> Text:
    # an MIS identifier may span lines or hold a bidirectional control: shown by its code points, one line a record
    mis = f" [{shown_on_one_line(outcome.mis_identifier)}]" if outcome.mis_identifier else ""
    text = Text(f"{record_place(outcome.line, fmt)}{mis}: ")
    text.append(outcome.status.value, style="red" if outcome.status is RecordStatus.REJECTED else "yellow")
    text.append("\n")
    for finding in (*outcome.errors, *outcome.warnings):
        field = file_field_name(fmt, finding.field) or finding.field
        said = finding_in_file_words(finding.message, fmt)
        text.append(f"    {finding.code}{' ' + field if field else ''}: {said}\n")
    return text


def report_json(name: str, report: OfflineReport, unregistered_ao: str | None = None) -> dict[str, Any]:
    return {
        "file": name,
        "counts": report.counts.model_dump(mode="json"),
        "projected_failure": (
            {"code": report.failure.code.value, "reason": projected_reason(report)} if report.failure else None
        ),
        "records": [
            outcome.model_dump(mode="json", exclude_none=True)
            for outcome in report.outcomes
            if outcome.status is RecordStatus.REJECTED or outcome.warnings
        ],
        "not_checked": [*SERVER_ONLY, *([RecordCode.NOT_AWARDED_BY_AO] if unregistered_ao is not None else [])],
    }


def check_command(
    file: BatchFile,
    reference_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False, exists=True, help="Your own copy of the reference files (default: those shipped)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run every rule that needs no server (the Batch Toolkit); exit status 1 if the whole file would be refused
    (unreadable, its header wrong) or the batch would fail (RS005); 2 if its format cannot be told (name it .csv,
    .xml or .json). FILE - is standard input ("file": "-" with --json)."""
    given = str(file)  # as typed (BatchFile)
    name = file_name(given)
    json_name = STANDARD_INPUT if given == STANDARD_INPUT else name
    try:
        checked = offline_report(given, reference_dir)
    except (FileRefused, FormatUnknown) as error:
        if as_json:  # as `lrs batch submit --json` prints its refusal: a script reads why from stdout
            print_json({"file": json_name, "refusal": refusal_problem(error.refused)})
        raise
    report = checked.report
    if as_json:
        print_json(report_json(json_name, report, checked.unregistered_ao))
        if checked.unregistered_ao is not None:  # said to the person running the script; `not_checked` has RV022
            warn(unregistered_ao_text(checked.unregistered_ao, checked.fmt).removeprefix("WARNING: "))
        if checked.template_example_in:
            warn(template_example_warning(checked.template_example_in, checked.fmt))
    else:
        stdout().print(render(name, report, checked.fmt, checked.unregistered_ao, checked.template_example_in))
    # a warning, as a record's warnings are: the exit status is still the projection's
    raise typer.Exit(ExitCode.FAILED if report.failure is not None else ExitCode.OK)
