"""Check, then submit: the offline checks of `lrs batch check` (lrs_domain), run on an upload before
anything is sent, and on a direct-entry record as the person types it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, RecordAction, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_BYTES, REJECTION_THRESHOLD, BatchCode
from lrs_contracts.outcomes import RecordOutcome
from lrs_contracts.text import refused_character
from lrs_domain.decision import OfflineReport, check_batch_offline
from lrs_domain.formats import (
    BatchRefused,
    ParsedBatch,
    detect_format,
    file_field_name,
    parse_batch,
    write_json,
)
from lrs_domain.formats import in_file_words as file_words
from lrs_domain.formats.detect import NotABatchFile, refuse_workbook
from lrs_domain.formats.errors import refuse_other_encodings
from lrs_domain.formats.json_batch import template_example_in, template_example_warning
from lrs_domain.formats.mislabel import mislabel_hint, plainly_other_format
from lrs_domain.reference import Catalogue
from lrs_domain.rules import check_action, exceeds_rejection_threshold, parse_iso_date
from lrs_platform.problems import said_once
from portal.batch_files import PLACEHOLDERS, QUALIFICATION_PLACEHOLDER

# What the portal says a checked upload is when it sends it on: its own words, never the browser's.
MEDIA_TYPES = {BatchFormat.CSV: "text/csv", BatchFormat.XML: "application/xml", BatchFormat.JSON: "application/json"}
MAX_FILENAME_CHARACTERS = 255


def format_named(fmt: str | None) -> BatchFormat | None:
    """A batch's format as ingest's batch view spells it (`csv`, `xml`, `json`)."""
    try:
        return BatchFormat(fmt) if fmt else None
    except ValueError:
        return None


def in_file_words(text: str, fmt: BatchFormat | str | None) -> str:
    """`text` with each field named as a file of `fmt` names it (the JSON keys in a JSON file)."""
    return file_words(text, fmt if isinstance(fmt, BatchFormat) else format_named(fmt))


FILENAME_TOO_LONG = (
    f"The file name is longer than {MAX_FILENAME_CHARACTERS} characters: rename the file and upload it again"
)


def filename_fault(filename: str) -> str | None:
    """Why an upload's file name cannot be kept, in words for the person, or None when it can."""
    if len(filename) > MAX_FILENAME_CHARACTERS:
        return FILENAME_TOO_LONG
    if refused := refused_character(filename, one_line=True):
        return f"The file name holds {refused}: rename the file and upload it again"
    return None


# After the name to give a file whose content plainly is another format than its name says.
RENAME_THEN = " and upload it again (the portal reads a file as the format its name ends in: .csv, .xml or .json)"


@dataclass(frozen=True)
class Refusal:
    """`hint`: what to do besides, when the file plainly is another format than the one it was read as; `said_alone`:
    the detail says what the file is (a spreadsheet workbook) and what to do, so it is said without the code's title
    ("malformed") or its advice (to check the file against its format)."""

    code: str
    detail: str
    line: int | None
    column: int | None
    hint: str | None = None
    said_alone: bool = False

    def said(self, title: str) -> str:
        if self.said_alone:
            return self.detail[:1].upper() + self.detail[1:]
        return said_once(title, self.detail)


def more_rejections_to_fail(rejected: int, total: int) -> int:
    """How many more of a batch's `total` records rejected would fail it with RS005, `rejected` being rejected
    already: more than 30% rejected fails, exactly 30% passes. 0 when it fails already; exact, no floating point."""
    if total <= 0:
        return 0
    most_that_passes = int(Fraction(str(REJECTION_THRESHOLD)) * total)  # the floor: exactly 30% passes
    return max(most_that_passes + 1 - rejected, 0)


# A batch is near RS005 when the check's rejections alone put it at least this share of the way, or this few
# rejections short of it: a handful of records the LRS rejects (RV004, RV012 to RV017) would fail it.
NEAR_THRESHOLD_SHARE = Fraction(1, 5)
NEAR_THRESHOLD_RECORDS = 5


def near_threshold(rejected: int, total: int) -> int | None:
    """How many more rejections would fail a batch the check finds `rejected` of `total` records rejected in, but
    which would not fail yet: said only when the batch is near RS005 (20% rejected or more, or 5 rejections or fewer
    short of it) and some record is rejected; None otherwise."""
    if rejected <= 0 or exceeds_rejection_threshold(rejected, total):
        return None
    more = more_rejections_to_fail(rejected, total)
    return more if more <= NEAR_THRESHOLD_RECORDS or Fraction(rejected, total) >= NEAR_THRESHOLD_SHARE else None


@dataclass(frozen=True)
class IssuedBeforeAward:
    """A header's ResultsIssuedDate earlier than the earliest award date of the batch's Create and Update records.
    `certainly_late`: it is so long before today that the batch, submitted today or later, is more than 10 working
    days after it (MI's measure), whatever bank holidays fall between."""

    issued: date
    earliest_award: date
    certainly_late: bool


# MI counts a batch in time when its results are on learners' records within 10 working days of the header's
# ResultsIssuedDate (DOMAIN.md 5.14, reporting's working days). England has had at most 10 bank holidays in a year.
TARGET_WORKING_DAYS = 10
MOST_BANK_HOLIDAYS_A_YEAR = 10


def _weekdays_to(day: date) -> int:
    """Weekdays from 1 January of year 1 (a Monday) up to and including `day`."""
    weeks, days = divmod(day.toordinal(), 7)
    return weeks * 5 + min(days, 5)


def certainly_late(issued: date, today: date) -> bool:
    """Whether a batch whose results were issued on `issued` is more than 10 working days late if it reaches
    learners' records today or later: its weekdays since, less the most bank holidays the years between can hold."""
    weekdays = _weekdays_to(today) - _weekdays_to(issued)
    return weekdays - MOST_BANK_HOLIDAYS_A_YEAR * (today.year - issued.year + 1) > TARGET_WORKING_DAYS


def issued_before_award(
    header: BatchHeader, records: Iterable[SubmittedRecord], outcomes: Iterable[RecordOutcome], today: date
) -> IssuedBeforeAward | None:
    """The header's ResultsIssuedDate when it is before the earliest award date of the Create and Update records the
    check would not reject (those are what the batch would put on learners' records); None otherwise."""
    issued = parse_iso_date(header.results_issued_date) if header.results_issued_date else None
    if issued is None:
        return None
    rejected = {outcome.line for outcome in outcomes if outcome.errors}
    awards = [
        awarded
        for record in records
        if record.line not in rejected
        and check_action(record.action)[0] in (RecordAction.CREATE, RecordAction.UPDATE)
        and record.award_date
        and (awarded := parse_iso_date(record.award_date)) is not None
    ]
    if not awards or issued >= min(awards):
        return None
    return IssuedBeforeAward(issued, min(awards), certainly_late(issued, today))


def issued_long_ago(header: BatchHeader, today: date) -> date | None:
    """The header's ResultsIssuedDate when a batch sent today is certainly late by it (more than 10 working days): a
    file of past years' results (an AO loading its history) that keeps the day they were first issued counts late in
    MI, where one without the date is not measured (decision 0035). None otherwise."""
    issued = parse_iso_date(header.results_issued_date) if header.results_issued_date else None
    return issued if issued is not None and certainly_late(issued, today) else None


@dataclass(frozen=True)
class UploadCheck:
    """What the offline checks found in an uploaded file: a refusal of the whole file, or a report."""

    filename: str
    format: BatchFormat | None
    ao_id: str | None
    refusal: Refusal | None
    report: OfflineReport | None
    # the header fields (attributes) still holding the template's placeholder, each with its line in the file: its
    # AO id refuses the batch as another AO's, its email would tell no one the batch is done, its batch reference
    # would name the batch in the list and the email (the API accepts these two, so the page warns)
    placeholders_left: Mapping[str, int | None] = field(default_factory=dict)
    # the records (their line in a CSV file, their number in XML and JSON) whose qualification number is still the
    # template's placeholder, as a template made for an AO the catalogue holds nothing of has it
    qualification_placeholder_in: tuple[int, ...] = ()
    issued_before_award: IssuedBeforeAward | None = None
    # the records (as `qualification_placeholder_in` numbers them, each with its ULN) still the template's example
    template_example_in: tuple[tuple[int, str], ...] = ()
    # the header's ResultsIssuedDate when it makes the batch late already (said unless `issued_before_award` says it)
    issued_long_ago: date | None = None

    @property
    def template_example_warning(self) -> str | None:
        """The warning for the template's example record left in the file, as `lrs batch check` words it."""
        return template_example_warning(self.template_example_in, self.format) if self.template_example_in else None

    @property
    def problems(self) -> list[RecordOutcome]:
        """The lines with problems: those that would be rejected first, then those with warnings only,
        each in line order (a page shows the first few hundred: the rejections are what must be fixed)."""
        if self.report is None:
            return []
        rejected = [outcome for outcome in self.report.outcomes if outcome.errors]
        warned = [outcome for outcome in self.report.outcomes if outcome.warnings and not outcome.errors]
        return rejected + warned

    def named(self, attribute: str | None) -> str | None:
        """A field (a finding's `field`, say) as the checked file names it."""
        return file_field_name(self.format, attribute)

    @staticmethod
    def placeholder(attribute: str) -> str:
        """The template's placeholder for a header field, as the template has it."""
        return PLACEHOLDERS[attribute]

    def placeholder_where(self, attribute: str) -> str:
        """A header field left holding the template's placeholder, named with its line: "the BatchReference on line
        2" (the line where a text editor shows it, in any format)."""
        line = self.placeholders_left.get(attribute)
        return f"the {self.named(attribute)}" + (f" on line {line}" if line else "")

    @property
    def media_type(self) -> str | None:
        return MEDIA_TYPES[self.format] if self.format else None

    @property
    def would_fail(self) -> bool:
        return self.refusal is not None or (self.report is not None and self.report.failure is not None)

    @property
    def near_threshold(self) -> int | None:
        """How many more rejections, among the checks only the LRS makes, would fail the batch (RS005), when the
        check's own rejections put it near that; None otherwise."""
        if self.report is None:
            return None
        return near_threshold(self.report.counts.rejected, self.report.counts.total)

    @staticmethod
    def qualification_placeholder() -> str:
        return QUALIFICATION_PLACEHOLDER


def too_large(size: int | None) -> Refusal:
    """RS002 for a file read only to one byte past the limit: its size is said only when the multipart parser
    counted the whole part (`size`), never as the bytes read."""
    said = f"{size:,} bytes" if size is not None and size > MAX_BATCH_BYTES else f"more than {MAX_BATCH_BYTES:,} bytes"
    return Refusal(
        BatchCode.TOO_LARGE.value, f"it is {said}, and a batch is at most {MAX_BATCH_BYTES:,} bytes (6 MB)", None, None
    )


def check_upload(
    filename: str,
    content: bytes,
    content_type: str | None,
    catalogue: Catalogue,
    today: date,
    size: int | None = None,
) -> UploadCheck:
    """`content` may stop one byte past the 6 MB limit; `size` is the whole file's, when known."""
    fmt = detect_format(content_type, filename, content[:512])
    if len(content) > MAX_BATCH_BYTES:
        return UploadCheck(filename, fmt, None, too_large(size), None)
    try:
        # a spreadsheet workbook, whatever its name or the type the browser gives it (Windows calls an .xls, as
        # a .csv, application/vnd.ms-excel), is told so, as ingest and `lrs` tell it; then a file in no format
        # that is UTF-16 or UTF-32 (Notepad's "Unicode", named .txt) is told its encoding, as ingest tells it
        refuse_workbook(filename, content[:512])
        if fmt is None:
            refuse_other_encodings(content)
    except BatchRefused as refused:
        said_alone = isinstance(refused, NotABatchFile)
        refusal = Refusal(refused.code.value, refused.detail, refused.line, refused.column, said_alone=said_alone)
        return UploadCheck(filename, fmt, None, refusal, None)
    if fmt is None:
        # neither its name nor its first bytes say CSV, XML or JSON: a picture, say, which renaming would not make a
        # batch
        refusal = Refusal(BatchCode.MALFORMED, "It is not a batch file (CSV, XML or JSON text)", None, None)
        return UploadCheck(filename, None, None, refusal, None)
    try:
        parsed = parse_batch(content, fmt, received_on=today)  # judged as if it were sent now
    except BatchRefused as refused:
        detail = in_file_words(refused.detail, fmt)
        hint = None
        if refused.code is BatchCode.MALFORMED and (looks_like := plainly_other_format(content, fmt)):
            hint = mislabel_hint(filename, looks_like, RENAME_THEN)  # not a fault inside the file: its name
        refusal = Refusal(refused.code.value, detail, refused.line, refused.column, hint)
        return UploadCheck(filename, fmt, None, refusal, None)
    report = check_batch_offline(parsed.header, parsed.records, catalogue, today)
    left = placeholders_left(parsed.header)
    return UploadCheck(
        filename,
        fmt,
        parsed.header.awarding_organisation,
        None,
        report,
        placeholder_lines(content, fmt, left),
        qualification_placeholder_in(parsed.records),
        issued_before_award(parsed.header, parsed.records, report.outcomes, today),
        template_example_in(parsed.records),
        issued_long_ago(parsed.header, today),
    )


def qualification_placeholder_in(records: Iterable[SubmittedRecord]) -> tuple[int, ...]:
    """The records (by line) whose qualification number is still the template's placeholder (any case)."""
    placeholder = QUALIFICATION_PLACEHOLDER.casefold()
    return tuple(record.line for record in records if (record.qualification_number or "").casefold() == placeholder)


def placeholders_left(header: BatchHeader) -> frozenset[str]:
    """The fields of `header` still holding the portal template's placeholder (any case)."""
    return frozenset(
        attribute
        for attribute, placeholder in PLACEHOLDERS.items()
        if str(getattr(header, attribute) or "").casefold() == placeholder.casefold()
    )


_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as the CSV parser and expat count lines


def placeholder_lines(content: bytes, fmt: BatchFormat, attributes: frozenset[str]) -> dict[str, int | None]:
    """Each of `attributes` with the line of the file holding its placeholder: the first line that does after the
    field's name (CSV's header values follow the names; XML's and JSON's value follows its element or key). None
    where the file writes it otherwise (an entity, an escape): the field is still named."""
    if not attributes:
        return {}
    text = content.decode("utf-8-sig", errors="replace")  # parsed, so UTF-8: the mark, if any, is no line
    lines: dict[str, int | None] = {}
    for attribute in sorted(attributes):
        name_at = max(text.find(file_field_name(fmt, attribute) or attribute), 0)
        found = re.compile(re.escape(PLACEHOLDERS[attribute]), re.IGNORECASE).search(text, name_at)
        lines[attribute] = len(_LINE_BREAK.findall(text, 0, found.start())) + 1 if found else None
    return lines


def one_record_batch(
    ao_id: str,
    job_type: JobType,
    notification_email: str,
    reference: str,
    record: SubmittedRecord,
    results_issued_date: str | None = None,
) -> ParsedBatch:
    """`results_issued_date`: yyyy-mm-dd, as a file's header ResultsIssuedDate (the caller has judged it by the
    header's own check, `direct_entry.read_entry`); timeliness MI measures the batch from it, and leaves out a
    batch without one."""
    header = BatchHeader(
        file_version="1.0",
        awarding_organisation=ao_id,
        job_type=job_type,
        notification_email=notification_email,
        batch_reference=reference,
        results_issued_date=results_issued_date,
    )
    return ParsedBatch(header=header, records=(record,), format=BatchFormat.JSON)


def check_record(batch: ParsedBatch, catalogue: Catalogue, today: date) -> RecordOutcome:
    return check_batch_offline(batch.header, batch.records, catalogue, today).outcomes[0]


def batch_file(batch: ParsedBatch) -> bytes:
    """The JSON file the web service would receive: a direct entry is a one-record batch, no more."""
    return write_json(batch)
