"""What the three formats share: their field names, the parsed batch and the batch-level checks.

A file is judged in reading order and its first fault wins, so it gets the same code whatever its format:
1. RS002 when it is over 6 MB, before anything is read;
2. RS001 when a CSV or JSON file is not UTF-8, or a JSON file is not well-formed (both are decoded whole),
   or an XML file declares another encoding or starts with a UTF-16 or UTF-32 byte order mark;
3. the header: RS001 for a structural fault, a value that cannot be stored or sent (`values`) or a
   missing AwardingOrganisation, then RS004, then RS007;
4. the records, in order: RS001 for a structural fault or a value that cannot be stored or sent,
   RS003 on meeting the 10,001st record (reading stops there);
5. RS006 when there is no record.
XML is read as a stream, so a well-formedness fault counts where it occurs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NoReturn

from lrs_contracts.batch import LATEST_RESULTS_ISSUED_AHEAD, BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, BatchCode
from lrs_contracts.identifiers import AO_ID_PATTERN
from lrs_domain.formats.errors import BatchRefused, naming_batch, quoted
from lrs_domain.rules import EARLIEST_AWARD_DATE, parse_iso_date, why_not_a_date

MAX_EMAIL_LENGTH = 254
MAX_EMAIL_LOCAL_PART_OCTETS = 64  # RFC 5321 4.5.3.1.1: the part before the @


@dataclass(frozen=True)
class FieldName:
    """One field under its three spellings: CSV heading and XML element, JSON key, Python attribute."""

    heading: str
    json_key: str
    attribute: str


def _field(heading: str, json_key: str, attribute: str) -> FieldName:
    return FieldName(heading=heading, json_key=json_key, attribute=attribute)


HEADER_FIELDS: tuple[FieldName, ...] = (
    _field("FileVersion", "fileVersion", "file_version"),
    _field("AwardingOrganisation", "awardingOrganisation", "awarding_organisation"),
    _field("JobType", "jobType", "job_type"),
    _field("NotificationEmail", "notificationEmail", "notification_email"),
    _field("BatchReference", "batchReference", "batch_reference"),
    _field("ResultsIssuedDate", "resultsIssuedDate", "results_issued_date"),
)

RECORD_FIELDS: tuple[FieldName, ...] = (
    _field("Action", "action", "action"),
    _field("MISIdentifier", "misIdentifier", "mis_identifier"),
    _field("ULN", "uln", "uln"),
    _field("GivenName", "givenName", "given_name"),
    _field("FamilyName", "familyName", "family_name"),
    _field("DateOfBirth", "dateOfBirth", "date_of_birth"),
    _field("Gender", "gender", "gender"),
    _field("QualificationNumber", "qualificationNumber", "qualification_number"),
    _field("Pathway", "pathway", "pathway"),
    _field("AwardDate", "awardDate", "award_date"),
    _field("Grade", "grade", "grade"),
    _field("CentreUKPRN", "centreUkprn", "centre_ukprn"),
    _field("LanguageForAssessment", "languageForAssessment", "language_for_assessment"),
    _field("Credits", "credits", "credits"),
)

_FIELD_BY_ATTRIBUTE: Mapping[str, FieldName] = {field.attribute: field for field in (*HEADER_FIELDS, *RECORD_FIELDS)}


def file_field_name(fmt: BatchFormat | None, attribute: str | None) -> str | None:
    """A field (a finding's `field`, a model's attribute) as a file of `fmt` names it: its JSON key in JSON, else
    its CSV heading, which is its XML element too. None for what is no field of a batch."""
    field = _FIELD_BY_ATTRIBUTE.get(attribute or "")
    if field is None:
        return None
    return field.json_key if fmt is BatchFormat.JSON else field.heading


# The domain's words name header and record fields by their CSV heading (`NotificationEmail`); those of two
# words or more are said as the file spells them. One-word headings (`Grade`, `ULN`) are left alone: the same
# words are ordinary words in a sentence.
_NAMED_IN_WORDS = {
    field.heading: field
    for field in _FIELD_BY_ATTRIBUTE.values()
    if sum(character.isupper() for character in field.heading) >= 2 and not field.heading.isupper()
}
# A heading, or a piece of text in quotes (as `quoted` says back what the file holds), which is left as it is: a JSON
# file that has the key 'GivenName' is told so, not that it has 'givenName'. A quote opens after no letter or digit,
# so an apostrophe ("the learner's GivenName") opens none.
_HEADING = re.compile(
    r"""(?<!\w)('[^'\n]*'|"[^"\n]*")(?!\w)"""
    r"|\b(" + "|".join(sorted(_NAMED_IN_WORDS, key=len, reverse=True)) + r")\b"
)


def in_file_words(text: str, fmt: BatchFormat | None) -> str:
    """`text` (a finding's message, a refusal's detail) with each field named as a file of `fmt` names it: the
    JSON keys in a JSON file (`notificationEmail`); CSV and XML files use the headings the text already says. What
    the text quotes from the file is kept as the file has it."""
    if fmt is not BatchFormat.JSON:
        return text
    return _HEADING.sub(lambda found: found.group(1) or _NAMED_IN_WORDS[found.group(2)].json_key, text)


# As `_HEADING`: what the text quotes from the file is kept as it is.
_LINE_OF_THIS_BATCH = re.compile(
    r"""(?<!\w)('[^'\n]*'|"[^"\n]*")(?!\w)|\bLine (\d+) of this batch\b|\b(from this) line\b"""
)


def _as_record(found: re.Match[str]) -> str:
    if found.group(1):
        return found.group(1)
    if found.group(2):
        return f"Record {found.group(2)} of this batch"
    return f"{found.group(3)} record"


def record_words(text: str, fmt: BatchFormat | None) -> str:
    """A finding's message with the record it names (RV020's `Line 64 of this batch`, WV002's `from this line`)
    said as a file of `fmt` numbers its records: `Record 64 of this batch`, `from this record` in an XML or JSON
    batch, whose records are numbered by their position (DOMAIN.md §7); a CSV record's number is its line."""
    if fmt not in (BatchFormat.XML, BatchFormat.JSON):
        return text
    return _LINE_OF_THIS_BATCH.sub(_as_record, text)


def finding_in_file_words(text: str, fmt: BatchFormat | None) -> str:
    """A finding's message as a file of `fmt` says it: its fields named as the file names them (`in_file_words`),
    and the record it names as the file numbers it (`record_words`). Applied where a message is shown, never to
    what is stored."""
    return record_words(in_file_words(text, fmt), fmt)


HEADER_HEADINGS: tuple[str, ...] = tuple(field.heading for field in HEADER_FIELDS)
RECORD_HEADINGS: tuple[str, ...] = tuple(field.heading for field in RECORD_FIELDS)
HEADER_ATTRIBUTE_BY_HEADING: Mapping[str, str] = {field.heading: field.attribute for field in HEADER_FIELDS}
RECORD_ATTRIBUTE_BY_HEADING: Mapping[str, str] = {field.heading: field.attribute for field in RECORD_FIELDS}


_MAILBOX_CHARACTERS = re.compile(r'[^,;<>()\[\]:"\\]+')


@dataclass(frozen=True)
class ParsedBatch:
    header: BatchHeader
    records: tuple[SubmittedRecord, ...]
    format: BatchFormat


def _is_domain_label(label: str) -> bool:
    """A domain's label: letters (any script's, with the marks its letters take: an internationalised domain, such as
    Hindi's vowel signs) and digits, hyphens between them; no underscore (it has no A-label form)."""
    if not label or not label[0].isalnum() or label[-1] == "-":
        return False
    return all(
        character.isalnum() or character == "-" or unicodedata.category(character)[0] == "M" for character in label
    )


def is_plausible_email(address: str) -> bool:
    """A deliberately simple check, not RFC 5322: one @, a non-empty local part, a dotted domain with
    no empty label, at most 254 characters; no whitespace, no character that shows nothing (a control, a
    zero-width space, a byte order mark), and none of the marks that make a header name more than one
    mailbox or a display name (`,;<>()[]:"\\`): "x,results@ao.example" would be mailed to two. A domain's labels
    are letters, digits and inner hyphens; the local part holds no RFC 2047 encoded word (`=?`), is at most 64
    octets (RFC 5321 4.5.3.1.1) and is dot-separated words (RFC 5322 3.2.3: no dot at its start or end, none
    after another): a relay may refuse such a recipient at RCPT, after the batch or contact was accepted.
    The one check of an address wherever one enters: a batch's NotificationEmail, direct entry, an AO's
    challenge contact, a portal account."""
    if len(address) > MAX_EMAIL_LENGTH or address.count("@") != 1:
        return False
    if not _MAILBOX_CHARACTERS.fullmatch(address):
        return False
    if any(unicodedata.category(character)[0] in "CZ" for character in address):
        return False
    local_part, domain = address.split("@")
    labels = domain.split(".")
    return (
        bool(local_part)
        and len(labels) >= 2
        and all(_is_domain_label(label) for label in labels)
        and "=?" not in local_part  # an RFC 2047 encoded word, which a mail library may decode into headers
        and len(local_part.encode()) <= MAX_EMAIL_LOCAL_PART_OCTETS
        and "" not in local_part.split(".")  # a dot at its start or end, or two in a row
    )


def refuse_if_too_large(size: int, limit: int = MAX_BATCH_BYTES) -> None:
    if size > limit:
        raise BatchRefused(BatchCode.TOO_LARGE, f"the file is {size:,} bytes, more than the {limit:,} a batch may be")


async def read_limited(chunks: AsyncIterable[bytes], limit: int = MAX_BATCH_BYTES) -> bytes:
    """Collect an uploaded body, refusing it (RS002) as soon as it grows past `limit` bytes.

    At most `limit` bytes plus the chunk in hand are ever held, and nothing is pulled from `chunks`
    after the chunk that crossed the limit.
    """
    received = bytearray()
    async for chunk in chunks:
        if len(received) + len(chunk) > limit:
            raise BatchRefused(BatchCode.TOO_LARGE, f"the file is more than {limit:,} bytes")
        received += chunk
    return bytes(received)


def job_type_of(value: str | None) -> JobType | None:
    if value is None:
        return None
    try:
        return JobType(value)
    except ValueError:
        meant = next((job_type for job_type in JobType if job_type.value.lower() == value.lower()), None)
        spelling = f" (exact spelling: {meant.value!r})" if meant else ""
        raise BatchRefused(
            BatchCode.BAD_JOB_TYPE, f"job type {quoted(value)} is not Provisional or Final{spelling}"
        ) from None


def refuse_two_job_types(
    job_types: Sequence[str | None], line: int | None = None, column: int | None = None
) -> NoReturn:
    """RS004: a header that gives the job type more than once is of mixed job types (DOMAIN.md §6), even when the
    values agree, as RS001 refuses any other header value given twice."""
    said = " and ".join("an empty one" if job_type is None else quoted(job_type) for job_type in job_types)
    raise BatchRefused(
        BatchCode.BAD_JOB_TYPE,
        f"the header gives the job type {_times(len(job_types))} ({said}): a batch has one job type, Provisional"
        " or Final",
        line,
        column,
    )


def _times(count: int) -> str:
    return "twice" if count == 2 else f"{count} times"


def refuse_too_many_records(record_count: int, line: int) -> None:
    """Called as each record is met, so reading stops at the first record past the limit."""
    if record_count > MAX_BATCH_RECORDS:
        raise BatchRefused(BatchCode.TOO_MANY_RECORDS, f"the file has more than {MAX_BATCH_RECORDS:,} records", line)


_AO_ID = re.compile(AO_ID_PATTERN)


def the_registers_ao_id(value: str) -> str:
    """An AO id as the register spells it: `rn9093` (or `Rn9093`) is the AO RN9093, as the portal and
    `lrs credentials` read it, so a batch names its AO whatever the case of its letters. A value that is no AO id
    in any case (a name, full-width letters) is left as written, for the AO check to refuse naming what was sent."""
    upper = value.upper()
    return upper if value.isascii() and _AO_ID.fullmatch(upper) else value


def header_from(values: Mapping[str, str | None], received_on: date | None = None) -> BatchHeader:
    """Step 3: `values` maps header attribute names to cleaned values. `received_on` is the day in England the file
    was received (ingest's reception, as RV008 reads it; a check before sending, `lrs batch check` or the portal's,
    gives today there). None, for a reader that judges no day (tests, the benchmark), leaves the year unchecked."""
    with naming_batch(values.get("batch_reference")):
        return _checked_header(values, received_on)


def _checked_header(values: Mapping[str, str | None], received_on: date | None) -> BatchHeader:
    awarding_organisation = values.get("awarding_organisation")
    if awarding_organisation is None:
        raise BatchRefused(BatchCode.MALFORMED, "the header has no AwardingOrganisation")
    awarding_organisation = the_registers_ao_id(awarding_organisation)
    job_type = job_type_of(values.get("job_type"))
    notification_email = values.get("notification_email")
    if notification_email is None:
        raise BatchRefused(BatchCode.BAD_NOTIFICATION_EMAIL, "the header has no NotificationEmail")
    if not is_plausible_email(notification_email):
        raise BatchRefused(
            BatchCode.BAD_NOTIFICATION_EMAIL,
            "NotificationEmail is not a plausible email address (one @, a non-empty local part of at most 64 bytes"
            " with no dot first, last or twice in a row, a dotted domain of letters, digits and hyphens, no spaces, at"
            " most 254 characters)",
        )
    results_issued_date = values.get("results_issued_date")
    if results_issued_date is not None:
        # Timeliness MI counts from it: a date it cannot read would leave the batch out unseen (decision 0133), and
        # one before any PLR result was issued would count decades of working days (decision 0176).
        issued = parse_iso_date(results_issued_date)
        if issued is None:
            raise BatchRefused(
                BatchCode.MALFORMED,
                # a spreadsheet set to UK dates writes 22/08/2024 back: said as it should be written
                f"ResultsIssuedDate {quoted(results_issued_date)} {why_not_a_date(results_issued_date, suggest=True)}",
            )
        if issued < EARLIEST_AWARD_DATE:
            raise BatchRefused(
                BatchCode.MALFORMED,
                f"ResultsIssuedDate {quoted(results_issued_date)} is before 1 September 2006: no result on a PLR was"
                " issued before then",
            )
        # Loading results ahead of results day is on time, up to a year ahead; further is a slip of the year, which
        # timeliness MI could not count (decision 0133, later): said now, not dropped from the measure unseen.
        latest = received_on + LATEST_RESULTS_ISSUED_AHEAD if received_on is not None else None
        if latest is not None and issued > latest:
            raise BatchRefused(
                BatchCode.MALFORMED,
                f"ResultsIssuedDate {quoted(results_issued_date)} is more than a year ahead: check the year (it may be"
                f" {latest.isoformat()} at the latest)",
            )
    return BatchHeader(
        file_version=values.get("file_version"),
        awarding_organisation=awarding_organisation,
        job_type=job_type,
        notification_email=notification_email,
        batch_reference=values.get("batch_reference"),
        results_issued_date=results_issued_date,
    )


def batch_of(header: BatchHeader, records: tuple[SubmittedRecord, ...], fmt: BatchFormat) -> ParsedBatch:
    if not records:
        with naming_batch(header.batch_reference):
            raise BatchRefused(BatchCode.NO_RECORDS, "the file has a header but no records")
    return ParsedBatch(header=header, records=records, format=fmt)
