"""The web service's JSON format, and its pydantic model (the ingest's OpenAPI shows it).

Identifiers that are digits by definition (ULN, gender, centre UKPRN) and credits may be sent as JSON
numbers; they become text like every other value, a whole number as written (`-0` is the text "-0", RV021 for
gender or credits as in CSV and XML, not "0") and any other as Python writes it (`7.5` is the text "7.5", which the
record's rules then judge: RV021 for credits, RV001 for a ULN). A number in any other field, unknown keys and
values of any other JSON type make the file malformed (RS001), and the refusal names the field.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from lrs_contracts.batch import BatchFormat, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_RECORDS, BatchCode
from lrs_domain.formats.errors import BYTE_ORDER_MARK, BatchRefused, naming_batch, quoted, refuse_other_encodings
from lrs_domain.formats.limits import (
    HEADER_FIELDS,
    RECORD_FIELDS,
    FieldName,
    ParsedBatch,
    batch_of,
    file_field_name,
    header_from,
    refuse_too_many_records,
    refuse_two_job_types,
)
from lrs_domain.formats.values import refuse_unstorable, trimmed_value, unseen_line_fault
from lrs_domain.identifiers import mask_uln

Text = StrictStr | None
NumberOrText = StrictStr | StrictInt | StrictFloat | None


def _title_of(field_name: str, _field: object) -> str:
    return field_name.replace("_", " ").capitalize()


class _JsonModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        field_title_generator=_title_of,
        # the published schema's keys only: a Python name (`job_type`) is an unknown key, as the schema says
        validate_by_name=False,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class JsonBatchHeader(_JsonModel):
    # the schema's `required` names notificationEmail too, which the parser reads as text or absent and refuses the
    # file without with its own code (RS007), not as the model's missing field (RS001): the schema says what is
    # accepted, the parser keeps its codes
    model_config = ConfigDict(json_schema_extra={"required": ["awardingOrganisation", "notificationEmail"]})

    file_version: Text = None
    awarding_organisation: StrictStr = Field(
        description="the AO's id in the LRS register (its recognition number, as on its API key), e.g. RN9093; read in"
        " capitals whatever its case (`rn9093` is RN9093)"
    )
    job_type: Text = Field(
        default=None,
        description="Provisional or Final, spelt so; empty or absent means Final; anything else refuses the file"
        " with RS004",
    )
    notification_email: Text = Field(
        default=None,
        description="required: emailed when the batch run completes; missing, null, empty or implausible (one @, a"
        " non-empty local part of at most 64 bytes with no dot first, last or twice in a row, a dotted domain of"
        " letters, digits and hyphens, no spaces, at most 254 characters) refuses the file with RS007",
        json_schema_extra=_no_default,  # required: a default would say it may be left out
    )
    batch_reference: Text = None
    results_issued_date: Text = Field(
        default=None,
        description="yyyy-mm-dd, a day of the calendar not before 2006-09-01 and at most 366 days after the day the file"
        " is received, in England (anything else refuses the file with RS001)",
    )


class JsonBatchRecord(_JsonModel):
    action: Text = Field(default=None, description="Create (default), Update, Withdraw or Reinstate")
    mis_identifier: Text = Field(
        default=None,
        description="the AO's own key, echoed in results and kept for good in clear: never a learner's name or date"
        " of birth",
    )
    uln: NumberOrText = None
    given_name: Text = None
    family_name: Text = None
    date_of_birth: Text = Field(default=None, description="yyyy-mm-dd")
    gender: NumberOrText = Field(default=None, description="0 not known, 1 male, 2 female, 9 not specified")
    qualification_number: Text = Field(default=None, description="NNN/NNNN/C, NNNNNNNC or a QCF unit ref")
    pathway: Text = None
    award_date: Text = Field(default=None, description="yyyy-mm-dd")
    grade: Text = None
    centre_ukprn: NumberOrText = None
    language_for_assessment: Text = Field(default=None, description="English, Welsh or Irish")
    credits: NumberOrText = None


class JsonBatch(_JsonModel):
    """A batch as the web service receives it: the header, then at most 10,000 records."""

    model_config = ConfigDict(
        json_schema_extra={
            # `records` as the parser reads it: absent is no records, and a file of none is refused with RS006
            "required": ["header", "records"],
            "examples": [
                {
                    "header": {
                        "fileVersion": "1.0",
                        "awardingOrganisation": "RN9093",
                        "jobType": "Final",
                        "notificationEmail": "lrs-results@pearson.example",
                        "batchReference": "JUNE-2024-01",
                        "resultsIssuedDate": "2024-08-22",
                    },
                    "records": [
                        {
                            "action": "Create",
                            "misIdentifier": "PE-2024-0001",
                            "uln": "1000000043",
                            "givenName": "Lily",
                            "familyName": "McCarthy",
                            "dateOfBirth": "1999-11-27",
                            "gender": "2",
                            "qualificationNumber": "500/0002/0",
                            "awardDate": "2013-07-02",
                            "grade": "Distinction",
                            "centreUkprn": "10007890",
                            "languageForAssessment": "English",
                            "credits": "17",
                        }
                    ],
                }
            ],
        }
    )

    header: JsonBatchHeader
    # documented, not enforced here: parse_json answers more records with RS003, and none (absent or empty) with
    # RS006, not a validation error
    records: list[JsonBatchRecord] = Field(
        default_factory=list,
        description="at least one record (none, or no `records`, refuses the file with RS006) and at most 10,000"
        " (more refuses it with RS003)",
        json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH_RECORDS},
    )


# The MISIdentifier of the portal's batch file templates' example record (otherwise the OpenAPI example's): it says
# what the row is to an officer who types their own records under it, and lets the check find it left in. The
# example's own, PE-2024-0001, is a record of the project's sample files (samples/), which are no mistake to send.
TEMPLATE_EXAMPLE_MIS_IDENTIFIER = "EXAMPLE-DELETE-ME"


def template_example_in(records: Iterable[SubmittedRecord]) -> tuple[tuple[int, str], ...]:
    """The records still the templates' example record, by their MISIdentifier (in any case, spaces around it
    aside), each as its line and its ULN: left in a file under the AO's own records, it would be recorded on that
    learner, or rejected (RV004) and counted towards RS005."""
    example = TEMPLATE_EXAMPLE_MIS_IDENTIFIER.casefold()
    return tuple(
        (record.line, record.uln or "")
        for record in records
        if (record.mis_identifier or "").strip().casefold() == example
    )


def template_example_warning(found: Sequence[tuple[int, str]], fmt: BatchFormat | None) -> str:
    """The warning for the templates' example record left in a file (`found`: `template_example_in`'s), in the same
    words in the portal's check and `lrs batch check`: each place as a CSV file's line or another format's record
    number, with its masked ULN, as the results name records."""
    by = "Record" if fmt in (BatchFormat.XML, BatchFormat.JSON) else "Line"
    shown = [f"{line:,} (ULN {mask_uln(uln)})" for line, uln in found[:10]]
    if len(found) > len(shown):
        places = f"{', '.join(shown)} and {len(found) - len(shown):,} more"
    else:
        places = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
    several = len(found) > 1
    field = file_field_name(fmt, "mis_identifier") or "MISIdentifier"
    return (
        f"{by}{'s' if several else ''} {places} {'are' if several else 'is'} the template's example record"
        f" ({field} {TEMPLATE_EXAMPLE_MIS_IDENTIFIER}), not one of your learners: delete {'them' if several else 'it'},"
        f" then check the file again. Sent, {'they' if several else 'it'} would be recorded on that learner's record,"
        " or rejected (RV004) and counted towards failing the whole batch (more than 30% rejected, RS005)"
    )


# fail_fast: the refusal names the first record at fault, so pydantic stops at it (it would say every fault of
# every record: 10,000 records of wrong types took a second)
_RECORD_LIST = TypeAdapter(Annotated[list[JsonBatchRecord], Field(fail_fast=True)])
_TOP_LEVEL_KEYS = frozenset(JsonBatch.model_fields)


def _keys_of(model: type[_JsonModel]) -> frozenset[str]:
    """The keys pydantic reads as the model's fields: each field's alias, the camelCase key the schema publishes."""
    return frozenset(field.alias or name for name, field in model.model_fields.items())


_HEADER_KEYS = _keys_of(JsonBatchHeader)
_RECORD_KEYS = _keys_of(JsonBatchRecord)


def parse_json(content: bytes, *, received_on: date | None = None) -> ParsedBatch:
    document = _load(content)
    if not isinstance(document, dict):
        raise BatchRefused(BatchCode.MALFORMED, "the document must be an object with header and records")
    unknown_keys = document.keys() - _TOP_LEVEL_KEYS
    if unknown_keys:  # min, not sorted: the same key, without sorting 500,000 of them
        raise BatchRefused(BatchCode.MALFORMED, f"unknown key {quoted(min(unknown_keys))}; only header and records")
    header = header_from(_values(_validated_header(document.get("header")), HEADER_FIELDS, in_header=True), received_on)
    submitted_records = document.get("records", [])
    with naming_batch(header.batch_reference):
        if not isinstance(submitted_records, list):
            raise BatchRefused(BatchCode.MALFORMED, "records must be a list")
        read = submitted_records[:MAX_BATCH_RECORDS]
        records = tuple(
            SubmittedRecord(
                line=position, **_values(record, RECORD_FIELDS, in_header=False, line=position, written=written)
            )
            for position, (record, written) in enumerate(zip(_validated_records(read), read, strict=True), start=1)
        )
        refuse_too_many_records(len(submitted_records), MAX_BATCH_RECORDS + 1)
    return batch_of(header, records, BatchFormat.JSON)


def _validated_header(header: object) -> JsonBatchHeader:
    if header is None:
        raise BatchRefused(BatchCode.MALFORMED, "the document has no header")
    if isinstance(header, dict) and isinstance(job_types := header.get(_JOB_TYPE_KEY), _RepeatedJobType):
        refuse_two_job_types([_text_of_json(job_type) for job_type in job_types.values])
    try:
        return JsonBatchHeader.model_validate(_with_one_unknown_key(header, _HEADER_KEYS))
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        if unknown := _unknown_field(first, "header", JsonBatchHeader):
            raise BatchRefused(BatchCode.MALFORMED, unknown) from None
        where = ".".join(["header", *(str(part) for part in first["loc"][:1])])
        raise BatchRefused(BatchCode.MALFORMED, _type_fault(where, first["loc"], first, header)) from None


def _validated_records(records: list[Any]) -> list[JsonBatchRecord]:
    checked = records
    if (unknown_at := _first_with_unknown_keys(records)) is not None:  # refused there or before: read no further
        checked = [*records[:unknown_at], _with_one_unknown_key(records[unknown_at], _RECORD_KEYS)]
    try:
        validated = _RECORD_LIST.validate_python(checked)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        position = int(first["loc"][0]) + 1
        if unknown := _unknown_field({**first, "loc": first["loc"][1:]}, f"record {position}", JsonBatchRecord):
            raise BatchRefused(BatchCode.MALFORMED, unknown, position) from None
        where = " ".join([f"record {position}", *(str(part) for part in first["loc"][1:2])])
        fault = _type_fault(where, first["loc"][1:], first, records[position - 1])
        raise BatchRefused(BatchCode.MALFORMED, fault, position) from None
    if checked is not records:  # pydantic took a key _RECORD_KEYS lacks: never cut the records short
        raise AssertionError(f"record {len(checked)}'s unknown key was accepted")
    return validated


def _first_with_unknown_keys(records: list[Any]) -> int | None:
    """The index of the first record that is an object with a key no field has. ~0.1 µs a record when none has
    (the usual file), all in C; a record that is no object may send it to the loop that says which."""
    try:
        if _RECORD_KEYS.issuperset(set().union(*records)):
            return None
    except TypeError:  # a record that is a number, null or holds objects: pydantic names it
        pass
    return next(
        (
            position
            for position, record in enumerate(records)
            if isinstance(record, dict) and not record.keys() <= _RECORD_KEYS
        ),
        None,
    )


def _with_one_unknown_key(submitted: object, keys: frozenset[str]) -> object:
    """`submitted` (a header or a record) without its unknown keys but the first. Pydantic says every unknown key
    (about 15 µs each: 7 s for a header of 500,000) and the refusal names only its first fault, which is the same
    in both: the faults of known fields come first, then unknown keys in the file's order."""
    if not isinstance(submitted, dict) or submitted.keys() <= keys:
        return submitted
    first = next(key for key in submitted if key not in keys)
    return {key: value for key, value in submitted.items() if key in keys or key == first}


def _type_fault(where: str, location: tuple[int | str, ...], error: Any, submitted: object) -> str:
    """A value of a JSON type its field does not take (`location`: the field's key, then pydantic's own parts),
    said with the type to send. A number where text is expected is what a program most often sends: a grade 7,
    a file version 1.0."""
    key = location[0] if location else None
    if key in _NUMBER_KEYS and len(location) > 1:  # pydantic lists a fault per type such a field takes
        return f"{where} must be a string or a whole number"
    value = submitted.get(key) if isinstance(submitted, dict) and isinstance(key, str) else None
    if error["type"] == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{where} is a number: send it as a string, in quotes (only {_NUMBERS_TAKEN} may be numbers)"
    return f"{where}: {error['msg']}"


_NUMBER_KEYS = tuple(
    field.alias or name for name, field in JsonBatchRecord.model_fields.items() if field.annotation == NumberOrText
)
_NUMBERS_TAKEN = ", ".join(_NUMBER_KEYS[:-1]) + f" and {_NUMBER_KEYS[-1]}"
# the record's fields that take a number, as (position in RECORD_FIELDS, JSON key)
_NUMBER_FIELDS = tuple(
    (index, field.json_key) for index, field in enumerate(RECORD_FIELDS) if field.json_key in _NUMBER_KEYS
)


def _unknown_field(error: Any, where: str, model: type[_JsonModel]) -> str | None:
    """A field the format does not have, said with the ones it has (pydantic's own words are "Extra inputs are
    not permitted"); a name differing only in case, like `ULN` or `Grade`, or written in snake_case, like
    `given_name`, names the one meant."""
    if error["type"] != "extra_forbidden" or len(error["loc"]) != 1:
        return None
    name = str(error["loc"][0])
    fields = [field.alias or field_name for field_name, field in model.model_fields.items()]
    meant = next((field for field in fields if field.lower() == name.lower()), None)
    if meant is not None:
        return f"{where} has the field {quoted(name)}: field names are case-sensitive, so write {meant!r}"
    meant = next((field for field in fields if "_" in name and field.lower() == name.replace("_", "").lower()), None)
    if meant is not None:
        return f"{where} has the field {quoted(name)}: field names are written in camelCase, so write {meant!r}"
    if not _FIELD_NAME_LIKE.fullmatch(name):  # a value written as a key, maybe a name: kept with the refusal
        return f"{where} has a field whose name is none of its fields (not repeated here): they are {', '.join(fields)}"
    return f"{where} has no field {quoted(name)}: its fields are {', '.join(fields)}"


# what a mistyped field name looks like; anything else is not said back (a refusal is kept, and shown)
_FIELD_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")


def _values(
    model: BaseModel,
    fields: tuple[FieldName, ...],
    *,
    in_header: bool,
    line: int | None = None,
    written: dict[str, Any] | None = None,
) -> dict[str, str | None]:
    """The model's values as trimmed text, an empty value being no value (DOMAIN.md §7); refuses a value
    that cannot be stored or sent, naming it `header.<key>` or `record <position> <key>`. `written` is the
    record as read, before validation (which makes every number a plain `int` or `float`): a number whose text
    Python writes otherwise (`-0`, `1e3`) keeps the text it was written with."""
    prefix = "header." if line is None else f"record {line} "
    values = [_text(getattr(model, field.attribute)) for field in fields]
    if written is not None:  # a record's (a header has no numbers)
        for index, key in _NUMBER_FIELDS:
            number = written.get(key)
            if isinstance(number, (_WrittenNumber, _WrittenFraction)):
                values[index] = number.text
    refuse_unstorable(values, lambda index: (prefix + fields[index].json_key, line, None), in_header=in_header)
    return {field.attribute: value for field, value in zip(fields, values, strict=True)}


def _load(content: bytes) -> Any:
    """The document, or RS001 at the line and column (in characters, lines ending in CR LF, LF or CR alone) of its
    first fault."""
    refuse_other_encodings(content)
    body = content.removeprefix(BYTE_ORDER_MARK)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        before = body[: error.start].decode("utf-8")  # UTF-8, all of it: the decoding stopped after it
        detail = f"byte 0x{body[error.start]:02X} is not UTF-8: save the file as UTF-8"
        raise BatchRefused(BatchCode.MALFORMED, detail, *_position(before, len(before))) from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise BatchRefused(BatchCode.MALFORMED, _json_fault(error), *_position(text, error.pos)) from None
    except (_Unreadable, RecursionError) as error:
        # a fault the parser found in a value it read (no position): looked for again, to say where
        fault = _Walk(text).fault()
        if fault is None:
            raise BatchRefused(BatchCode.MALFORMED, f"unreadable JSON: {_words_of(error)}") from None
        raise BatchRefused(
            BatchCode.MALFORMED, f"unreadable JSON{_named(fault.path)}: {fault.words}", *_position(text, fault.at)
        ) from None


def _position(text: str, offset: int) -> tuple[int, int]:
    """The line and column (from 1, in characters) of `text[offset]`. A line ends in LF, CR LF or a CR alone (a file
    whose lines end in CR alone is one line to the JSON parser's own count)."""
    line_breaks = text.count("\n", 0, offset) + text.count("\r", 0, offset) - text.count("\r\n", 0, offset)
    return line_breaks + 1, offset - max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset))


class _Unreadable(ValueError):
    """A value the JSON parser reads that a batch cannot take (a key given twice, NaN, a number of thousands of
    digits), refused in the words it holds. Raised by the parser's hooks, which are not told where the value is."""


_NESTED_TOO_DEEPLY = "arrays or objects nested too deeply (a batch nests three levels)"


def _words_of(error: Exception) -> str:
    """What is wrong, in the file's words: a RecursionError's own words name Python's stack, not the file."""
    return str(error) if isinstance(error, _Unreadable) else _NESTED_TOO_DEEPLY


@dataclass(frozen=True)
class _Fault:
    words: str
    at: int  # the offset in the text of the value at fault, or of the key given twice
    path: tuple[str | int, ...]  # the keys and list positions leading to it


class _Found(Exception):  # the fault sought, found
    def __init__(self, fault: _Fault) -> None:
        super().__init__(fault)
        self.fault = fault


class _GiveUp(Exception):  # the search stops, having read as many values as it may
    pass


class _Walk:
    """The search, in a document the parser refused for a value it read (`_Unreadable`, RecursionError), for the first
    such value and where it is. The members of the document and of its header and records are read one by one, each
    by the parser (in C): a record or a header's value that it refuses is searched the same way in turn, to a
    record's field. Only a refused file is searched, and at most `_SEARCHED` values of it (a record is one): a hostile
    file of millions of values is said without a position, as soon."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.left = _SEARCHED

    def fault(self) -> _Fault | None:
        try:
            self._value(self._after_spaces(0), ())
        except _Found as found:
            return found.fault
        except (_GiveUp, ValueError, TypeError, IndexError, StopIteration, RecursionError):  # not to be placed
            return None
        return None  # read whole this time

    def _value(self, at: int, path: tuple[str | int, ...]) -> int:
        """Where the value at `at` ends; raises `_Found` for its fault."""
        self._count()
        if len(path) < _READ_BY_MEMBERS and self.text[at] in "{[":
            return self._members(at, path)
        try:
            return _READ_VALUE(self.text, at)[1]
        except (_Unreadable, RecursionError) as error:
            refused = _Fault(_words_of(error), at, path)
        if len(path) < _SEARCHED_DEPTH and self.text[at] in "{[":
            self._members(at, path)
        raise _Found(refused)  # no member read alone is at fault: said of the whole value

    def _members(self, at: int, path: tuple[str | int, ...]) -> int:
        """Where the object or array at `at` ends, read member by member; raises `_Found` for the first at fault, or
        for a key given twice."""
        text = self.text
        closing = "}" if text[at] == "{" else "]"
        seen: set[str] = set()
        at = self._after_spaces(at + 1)
        for position in itertools.count():
            if text[at] == closing:
                break
            member: str | int = position
            if closing == "}":
                self._count()
                key, end = _READ_VALUE(text, at)
                if key in seen and key != _JOB_TYPE_KEY:  # as `_refuse_repeated_keys` refuses it
                    raise _Found(_Fault(_named_twice(key), at, path))
                seen.add(key)
                member = key
                at = self._after_spaces(self._after_spaces(end) + 1)  # after the colon
            at = self._after_spaces(self._value(at, (*path, member)))
            if text[at] == ",":
                at = self._after_spaces(at + 1)
        return at + 1

    def _after_spaces(self, at: int) -> int:
        spaces = _SPACES.match(self.text, at)  # always a match, maybe of nothing
        return spaces.end() if spaces else at

    def _count(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _GiveUp


_SPACES = re.compile(r"[ \t\n\r]*")  # JSON's white space
_SEARCHED = 4 * MAX_BATCH_RECORDS  # values and keys read one by one at most: a full batch's records and a few more
_READ_BY_MEMBERS = 2  # the document, and its header and records: read member by member, never whole again
_SEARCHED_DEPTH = 3  # a record or a header's value is read whole, then searched when refused; a record's field is not


def _named(path: tuple[str | int, ...]) -> str:
    """Where in a batch `path` leads, said as other faults say it (`in record 7 credits`, `in header.jobType`), or
    nothing when it leads nowhere a batch has."""
    match path:
        case ("header",):
            return " in the header"
        case ("header", str(key), *_) if key in _HEADER_KEYS:
            return f" in header.{key}"
        case ("header", *_):
            return " in the header"
        case ("records", int(index), str(key), *_) if key in _RECORD_KEYS:
            return f" in record {index + 1} {key}"
        case ("records", int(index), *_):
            return f" in record {index + 1}"
    return ""


def _json_fault(error: json.JSONDecodeError) -> str:
    """The JSON parser's words, but for a control character standing as it is inside a string, which they do not
    name ("Invalid control character at"): said as a value holding it is said, with what to do. A tab or a line
    break is written as its escape; any other control character cannot be stored or sent, escaped or not. Where the
    parser stopped at a character no reader sees outside a string (a Ctrl-Z or NULs after the document's end), the
    line names it and its position, as a CSV line holding it is named."""
    if error.pos >= len(error.doc):
        return f"malformed JSON: {error.msg}"
    if not error.msg.startswith(_INVALID_CONTROL):
        # a character no reader sees where the parser stopped, as a Ctrl-Z end-of-file mark or NUL padding after the
        # document's end (the parser's "Extra data"): named as a CSV line of it is (`unseen_line_fault`)
        seen = error.doc[error.pos :] if error.msg.startswith(_EXTRA_DATA) else error.doc[error.pos]
        unseen = unseen_line_fault(seen, *_position(error.doc, error.pos))
        return unseen or f"malformed JSON: {error.msg}"
    character = error.doc[error.pos]
    if character in _ESCAPES:
        what, escape = _ESCAPES[character]
        return (
            f"malformed JSON: a string holds {what} (U+{ord(character):04X}) as it is, which JSON does not allow:"
            f" write it as {escape}"
        )
    return (
        f"malformed JSON: a string holds the control character U+{ord(character):04X}, which cannot be stored or"
        " sent: remove it"
    )


_EXTRA_DATA = "Extra data"  # the json module's words for what follows the document's end
_INVALID_CONTROL = "Invalid control character"  # the json module's words, then "at" (the C parser) or the character
_ESCAPES = {"\t": ("a tab", "\\t"), "\n": ("a line break", "\\n"), "\r": ("a line break", "\\r")}


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object naming a key twice is refused: which value was meant cannot be known (a parser keeps the last,
    silently; a record meant for one learner went to another). ~0.6 µs a record. A repeated jobType is kept, all
    its values in a `_RepeatedJobType`: in the header, that is RS004 (mixed job types), not RS001; in a record or at
    the top level, jobType is no field anyway; inside a value (a header's jobType holding an object that repeats
    jobType), it is refused when the value is said back, as any other key named twice is refused."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen and key != _JOB_TYPE_KEY:
                raise _Unreadable(_named_twice(key))
            seen.add(key)
        if sum(key == _JOB_TYPE_KEY for key, _ in pairs) > 1:
            found[_JOB_TYPE_KEY] = _RepeatedJobType(tuple(value for key, value in pairs if key == _JOB_TYPE_KEY))
    return found


def _named_twice(key: str) -> str:
    return f"the key {quoted(key)} appears twice in one object"


_JOB_TYPE_KEY = "jobType"


@dataclass(frozen=True)
class _RepeatedJobType:
    values: tuple[Any, ...]


def _text_of_json(value: Any) -> str | None:
    """A JSON value said as text (a job type given twice, one maybe not as a string), or None for null or \"\"."""
    if value is None or isinstance(value, str):
        return (value or "").strip() or None
    if isinstance(value, (_WrittenNumber, _WrittenFraction)):
        return value.text
    return json.dumps(value, default=_refuse_repeated_job_type)


def _refuse_repeated_job_type(value: object) -> NoReturn:
    """What json.dumps cannot write: only a `_RepeatedJobType` inside a value, an object naming jobType twice,
    refused in the words `_load` refuses any other key named twice in the header's job type with (RS001), but with
    no position: it is found after the document is read."""
    if isinstance(value, _RepeatedJobType):
        raise BatchRefused(
            BatchCode.MALFORMED, f"unreadable JSON in header.{_JOB_TYPE_KEY}: {_named_twice(_JOB_TYPE_KEY)}"
        )
    raise TypeError(f"a JSON value holds a {type(value).__name__}")  # json.loads makes none


class _WrittenNumber(int):
    """A JSON whole number whose text Python writes otherwise than the file did: `-0` (JSON allows no other,
    having no leading zeros or plus sign), which as the number 0 would be the text "0", an allowed gender and
    credits where CSV and XML, reading the text "-0", answer RV021."""

    text: str


def _whole_number(digits: str) -> int:
    try:
        number = int(digits)
    except ValueError:  # Python's own words name its setting sys.set_int_max_str_digits, not the file
        raise _Unreadable(
            f"a number of {len(digits.lstrip('-')):,} digits is too long: the numbers of a batch (a ULN, a UKPRN)"
            " have a few digits"
        ) from None
    if str(number) == digits:
        return number
    written = _WrittenNumber(number)
    written.text = digits
    return written


class _WrittenFraction(float):
    """A JSON number with a fraction or an exponent whose text Python writes otherwise than the file did (`1e3`,
    `17.50`, `1e309`, which as a float would be the text "1000.0", "17.5" and "inf"): a value is quoted back as the
    AO wrote it."""

    text: str


def _fraction(text: str) -> float:
    number = float(text)
    if str(number) == text:
        return number
    written = _WrittenFraction(number)
    written.text = text
    return written


def _refuse_constant(name: str) -> NoReturn:
    raise _Unreadable(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant,
    parse_int=_whole_number,
    parse_float=_fraction,
    object_pairs_hook=_refuse_repeated_keys,
)
# the value starting at an offset of a text, and the offset after it: the parser `_DECODER.decode` reads the document
# with (in C), which `_Walk` asks for one value at a time (typeshed has no type for the attribute JSONDecoder sets)
_READ_VALUE: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def _text(value: str | int | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return trimmed_value(value)
    return str(value)
