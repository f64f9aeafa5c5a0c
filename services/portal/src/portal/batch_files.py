"""What a batch file holds, field by field, and a one-record template of each format: all of it read from the
code that reads batch files (lrs_domain's field names, header checks and record rules, the XSD ingest serves,
the JSON batch model), so the help page and docs/batch-files.md cannot drift from what ingest accepts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Any
from xml.etree import ElementTree

from lrs_contracts.batch import BatchFormat, BatchHeader, RecordAction, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_BYTES, MAX_BATCH_RECORDS
from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.formats import (
    HEADER_FIELDS,
    RECORD_FIELDS,
    SCHEMA_PATH,
    BatchRefused,
    FieldName,
    JsonBatch,
    JsonBatchHeader,
    JsonBatchRecord,
    ParsedBatch,
    write_csv,
    write_json,
    write_xml,
)
from lrs_domain.formats.json_batch import TEMPLATE_EXAMPLE_MIS_IDENTIFIER
from lrs_domain.formats.limits import header_from
from lrs_domain.formats.values import MAX_VALUE_CHARACTERS
from lrs_domain.identifiers import display_qan, parse_qan
from lrs_domain.reference import Catalogue, Qualification
from lrs_domain.rules import MAX_CREDITS, MAX_NAME_LENGTH, check_action, check_mandatory_fields
from lrs_platform.clock import today_in_england

# What the AO replaces in a template's header (the AO id only in a template made for no AO); the rest of the
# template is the JSON batch model's own example, but for the AO's own qualification, grade and recent dates.
PLACEHOLDERS: Mapping[str, str] = {
    "awarding_organisation": "YOUR-AO-ID",
    "notification_email": "results@your-organisation.example",
    "batch_reference": "YOUR-BATCH-REFERENCE",
}
# The template's qualification number when the LRS knows none of the AO's qualifications (or nobody's AO is signed
# in): the check names it as left in, as it names the header's placeholders.
QUALIFICATION_PLACEHOLDER = "YOUR-QUALIFICATION-NUMBER"
# How long before the day a template is made its example results were awarded, and issued to learners: recent, and
# issued after they were awarded, as a real batch's are.
TEMPLATE_AWARDED_DAYS_AGO = 14
TEMPLATE_ISSUED_DAYS_AGO = 7
TEMPLATE_MEDIA_TYPES = {
    BatchFormat.CSV: "text/csv; charset=utf-8",
    BatchFormat.XML: "application/xml",
    BatchFormat.JSON: "application/json",
}
JSON_TOP_LEVEL_KEYS = tuple(JsonBatch.model_fields)
MAX_BATCH_MEGABYTES = MAX_BATCH_BYTES // 1_048_576

# Fields neither the XSD nor the JSON model describes: said from the rules that judge them.
_RULE_NOTES = {
    "file_version": "Any text, such as 1.0; not checked.",
    "batch_reference": "Your own name for the batch, one line: the subject of the email that says the batch"
    " is done, and shown in the list of batches. Not checked for repeats: two files with one reference are two"
    " batches (only the same file sent again is answered with its first batch instead of making a new one), and"
    " each sends its own email; records already recorded come back unchanged, but a Withdraw or Reinstate already"
    " applied is rejected (RV015), so to retry send the same file again, not a copy with a new reference. Kept for"
    " good, in clear: never a learner's name or date of birth.",
    "given_name": f"At most {MAX_NAME_LENGTH} characters (RV021).",
    "family_name": f"At most {MAX_NAME_LENGTH} characters (RV021).",
    "pathway": "Needed only when the qualification has several pathways in the qualification catalogue (RV005).",
    "grade": "One of the qualification's grades in the qualification catalogue, spelt exactly (RV009).",
    "credits": f"A whole number from 0 to {MAX_CREDITS:,} (RV021).",
}
_XS = "{http://www.w3.org/2001/XMLSchema}"


@dataclass(frozen=True)
class FieldGuide:
    """One field of a batch file: its names in each format, when it must be given, and what it may hold."""

    name: FieldName
    required: str
    allowed: str


def _schema_documentation() -> dict[str, str]:
    """Each element's documentation in achievement-batch.xsd, by element name."""
    schema = ElementTree.parse(SCHEMA_PATH)  # noqa: S314 - the package's own schema, not a file sent to us
    documented = {}
    for element in schema.iter(f"{_XS}element"):
        documentation = element.find(f"{_XS}annotation/{_XS}documentation")
        if documentation is not None and documentation.text:
            documented[element.get("name", "")] = " ".join(documentation.text.split())
    return documented


def _allowed(field: FieldName, schema: Mapping[str, str], model: type[JsonBatchHeader | JsonBatchRecord]) -> str:
    said = schema.get(field.heading) or model.model_fields[field.attribute].description
    said = said or _RULE_NOTES.get(field.attribute, "Any text.")
    said = said if said.endswith(".") else f"{said}."
    return f"{said} {_RESULTS_NOTES[field.attribute]}" if field.attribute in _RESULTS_NOTES else said


# How a field comes back in the results, which its schema documentation does not say.
_RESULTS_NOTES = {
    "mis_identifier": "In the results CSV (records.csv, lrs batch status --csv) one starting with =, +, -, @, a tab"
    " or a carriage return comes back with ' in front, so that a spreadsheet does not run it as a formula (-2+3 as"
    " '-2+3); the JSON results have it as sent.",
}


def _json_batch_example() -> dict[str, Any]:
    """The example batch of the JSON batch model, as ingest's OpenAPI document shows it."""
    extra: Any = JsonBatch.model_config.get("json_schema_extra")
    example: dict[str, Any] = extra["examples"][0]
    return example


def _template_header() -> dict[str, str]:
    example = _json_batch_example()
    by_key = {field.json_key: field.attribute for field in HEADER_FIELDS}
    return {**{by_key[key]: value for key, value in example["header"].items()}, **PLACEHOLDERS}


def _template_record() -> dict[str, str]:
    example = _json_batch_example()
    by_key = {field.json_key: field.attribute for field in RECORD_FIELDS}
    return {by_key[key]: value for key, value in example["records"][0].items()}


def _header_requirement(field: FieldName) -> str:
    """Whether the header checks refuse a header without the field, and with which code."""
    try:
        header_from(
            {attribute: value for attribute, value in _template_header().items() if attribute != field.attribute}
        )
    except BatchRefused as refused:
        return f"Required: a file without it is refused ({refused.code.value})"
    return "Optional"


def _record_requirement(field: FieldName) -> str:
    """The actions whose records are rejected without the field (RV021), as the record rules say."""
    default_action, _ = check_action(None)
    if field.attribute == "action" and default_action is not None:
        return f"Optional: empty means {default_action.value}"
    needing = [
        action.value
        for action in RecordAction
        if any(finding.field == field.attribute for finding in check_mandatory_fields(SubmittedRecord(line=1), action))
    ]
    if not needing:
        return "Optional"
    if len(needing) == len(RecordAction):
        return "Required for every action"
    return (
        f"Required for {', '.join(needing[:-1])} and {needing[-1]}"
        if len(needing) > 1
        else f"Required for {needing[0]}"
    )


@cache
def header_guide() -> tuple[FieldGuide, ...]:
    schema = _schema_documentation()
    return tuple(
        FieldGuide(field, _header_requirement(field), _allowed(field, schema, JsonBatchHeader))
        for field in HEADER_FIELDS
    )


@cache
def record_guide() -> tuple[FieldGuide, ...]:
    schema = _schema_documentation()
    return tuple(
        FieldGuide(field, _record_requirement(field), _allowed(field, schema, JsonBatchRecord))
        for field in RECORD_FIELDS
    )


# Each AO's template qualification, by catalogue (held, so that its id is not another's) and AO id.
_TEMPLATE_QUALIFICATIONS: dict[tuple[int, str], tuple[Catalogue, Qualification | None]] = {}
_TEMPLATE_QUALIFICATIONS_KEPT = 1024


def template_qualification(catalogue: Catalogue, ao_id: str | None) -> Qualification | None:
    """The AO's own catalogue row a template's record is for: a whole qualification rather than a QCF unit, one of a
    single pathway if it has one, whose number's check character is right, an RQF one if it has any, then the lowest
    number; None when the catalogue holds none of the AO's (or there is no AO). Kept per catalogue and AO."""
    if ao_id is None:
        return None
    kept = _TEMPLATE_QUALIFICATIONS.get((id(catalogue), ao_id))
    if kept is not None and kept[0] is catalogue:
        return kept[1]
    own = [row for rows in catalogue.rows.values() for row in rows if row.awarding_organisation_id == ao_id]
    pathways = {number: len(catalogue.rows_for(number)) for number in {row.qualification_number for row in own}}

    def preference(row: Qualification) -> tuple[bool, bool, bool, bool, str, str]:
        parsed = parse_qan(row.qualification_number)
        return (
            row.kind is QualificationKind.UNIT,
            pathways[row.qualification_number] > 1,
            parsed is None or not parsed.check_character_matches,  # WV001 in the AO's first check: not an example
            row.framework is not Framework.RQF,
            row.qualification_number,
            row.pathway or "",
        )

    chosen = min(own, key=preference) if own else None
    if len(_TEMPLATE_QUALIFICATIONS) >= _TEMPLATE_QUALIFICATIONS_KEPT:
        _TEMPLATE_QUALIFICATIONS.clear()
    _TEMPLATE_QUALIFICATIONS[(id(catalogue), ao_id)] = (catalogue, chosen)
    return chosen


def template_grade(qualification: Qualification) -> str:
    """A grade of the qualification's grade set for the template: Pass where it has one, else its first (best)."""
    return "Pass" if "Pass" in qualification.grade_set else qualification.grade_set[0]


def _template_batch(ao_id: str | None, qualification: Qualification | None, today: date) -> ParsedBatch:
    header = {
        **_template_header(),
        "results_issued_date": (today - timedelta(days=TEMPLATE_ISSUED_DAYS_AGO)).isoformat(),
    }
    if ao_id is not None:
        header["awarding_organisation"] = ao_id
    record: dict[str, str | None] = {
        **_template_record(),
        # an identifier that says what the row is, which the check warns of when it is left in (`checking`)
        "mis_identifier": TEMPLATE_EXAMPLE_MIS_IDENTIFIER,
        "award_date": (today - timedelta(days=TEMPLATE_AWARDED_DAYS_AGO)).isoformat(),
    }
    if qualification is None:
        record.update(qualification_number=QUALIFICATION_PLACEHOLDER, pathway=None)
    else:
        record.update(
            qualification_number=display_qan(qualification.qualification_number),
            # the row's pathway: one only when the catalogue lists the qualification with one (RV005)
            pathway=qualification.pathway,
            grade=template_grade(qualification),
        )
    return ParsedBatch(BatchHeader.model_validate(header), (SubmittedRecord(line=1, **record),), BatchFormat.JSON)


@lru_cache(maxsize=512)
def _template(fmt: BatchFormat, ao_id: str | None, qualification: Qualification | None, today: date) -> bytes:
    batch = _template_batch(ao_id, qualification, today)
    if fmt is BatchFormat.CSV:
        return write_csv(batch)
    write = write_xml if fmt is BatchFormat.XML else write_json
    return write(batch, every_field=True)  # a template names every field, an empty one too


def template(
    fmt: BatchFormat, ao_id: str | None = None, catalogue: Catalogue | None = None, today: date | None = None
) -> bytes:
    """A one-record batch file for the AO `ao_id`: its id in the header, with placeholders for the email and the
    batch reference; a record of one of the AO's own qualifications in `catalogue` with a grade of its grade set,
    awarded and issued a few days before `today` (England's today by default). No AO, or none of its qualifications
    in the catalogue: the placeholders YOUR-AO-ID and YOUR-QUALIFICATION-NUMBER instead. Every field of a record is
    named. Kept per AO and day."""
    qualification = template_qualification(catalogue, ao_id) if catalogue is not None else None
    return _template(fmt, ao_id, qualification, today or today_in_england())


def template_filename(fmt: BatchFormat) -> str:
    return f"batch-template.{fmt.value}"


def markdown_tables() -> str:
    """The header and record fields as Markdown tables, for docs/batch-files.md (a test keeps them equal)."""

    def table(guide: tuple[FieldGuide, ...]) -> list[str]:
        rows = [
            f"| `{entry.name.heading}` | `{entry.name.json_key}` | {entry.required} | {entry.allowed} |"
            for entry in guide
        ]
        return ["| CSV heading and XML element | JSON key | required | allowed values |", "|---|---|---|---|", *rows]

    return "\n".join(["### Header", "", *table(header_guide()), "", "### Record", "", *table(record_guide())])


LIMITS = (
    f"A file is UTF-8, at most {MAX_BATCH_MEGABYTES} MB (RS002), with at most {MAX_BATCH_RECORDS:,} records (RS003)"
    f" and at least one (RS006). Values are trimmed, an empty value is the same as an absent one, and a value holds"
    f" at most {MAX_VALUE_CHARACTERS:,} characters (RS001). CSV headings, XML element names and JSON keys are"
    " case-sensitive; learners' names are not: a name matches the learner's record whatever its case."
)

REFUSED_FILE_HEADING = "What a refused file's message says"
# Markdown, the section of docs/batch-files.md under that heading (a test keeps them equal), shown on the help page too.
REFUSED_FILE_MESSAGES = """\
A file that is not UTF-8, or whose structure is wrong, is refused as a whole (RS001) with the line, and the field
(CSV) or column (XML, JSON), of its first fault, and says what to change. A message quotes at most 60 characters of
any value, name or line of the file, then "…".

- **Invisible characters at the end of a file or on a line of their own** (a DOS end-of-file mark, Ctrl-Z, that some
  MIS exports still write, NUL bytes padding a file, a zero-width space) are named with their line and position, in
  every format and in learner files: `line 5 holds the control character U+001A (an end-of-file mark, Ctrl-Z) at
  character 1: delete it`. Open the file in a text editor that shows control characters, or delete everything after
  the last record's line.
- **Line numbers in CSV** count the file's physical lines, from 1. A quoted value that holds line breaks counts
  every line it spans: when the record on line 5 has a two-line `MISIdentifier`, the next record is line 7. Blank
  lines, and lines of nothing but commas and spaces (a spreadsheet's empty row), are skipped but keep their numbers.
  An empty record in XML (`<Record/>`) or JSON (`{}`) is not skipped: a program wrote it as a record, so it is one,
  rejected for each field it lacks (RV021) and counted towards the 30% of RS005; remove it from the file.
  A quoted value that is never closed is refused at the line where its row starts. A quote inside a quoted value
  that is not doubled (`"Ev"ie`) is refused at its line, naming the field: write it twice (`"Ev""ie"`) or remove it.
  A spreadsheet shows the same
  record one row higher for every line break above it in a value, so look up the line number in a text editor. XML
  and JSON number records by their position: `lrs` says `record N` for such a record (in `lrs batch check` and `lrs
  batch status --records`) and for a fault inside a JSON record, and `line N, column C` for XML, CSV, a JSON file that
  is not JSON at all, and a JSON value no batch takes (a key given twice, `NaN` or `Infinity`, a number of thousands
  of digits, arrays nested too deeply), whose message names its record too (`unreadable JSON in record 7 credits: NaN
  is not a JSON number`). Columns count characters, and a line ends in CR LF, LF or a CR alone. RV020 names the
  earlier record as the file numbers it: `Record N of this batch` in an XML or JSON batch, `Line N of this batch` in a
  CSV batch, in the API's record view and results CSV, the portal's pages and `lrs`; a JSON batch's messages name its
  keys as it writes them (`notificationEmail`).
- **CSV saved by a spreadsheet.** Excel and Google Sheets pad every row with empty fields to the width of the widest
  (the 14 record headings), so the header rows end in a run of commas. The message says so, and names the padded
  lines and how many commas to delete on each (`the header names row has 14 fields, the last 8 empty: ... delete the
  last 8 commas of lines 1 and 2 (a line keeps the comma before an empty last value)`): delete those commas in a text
  editor, or start from the template. A header values row padded to the record rows' 14 fields is padding too,
  whatever line 1 holds. An empty value at the end of a row still needs its comma: a record whose Credits is empty
  ends in `,`, and a row that lost it is told `it ends after LanguageForAssessment`. A record row wider than 14 fields
  is said to be padded only when every record row is padded alike; a row whose values are in their places and whose
  field 15 holds something (a note typed beside the table) is told `field 15, right of Credits, holds a value`
  (the value is not said back): delete that column; any other row with a field too many is told that a value holds a
  comma not in quotes, or that there is a comma too many: find the stray comma, do not delete the commas at the end.
  A first line `sep=,`, which Excel writes to name the separator, is no part of a batch: delete it. A file saved with
  semicolons or tabs is named as such: Excel writes the computer's list separator, so on a PC set to French, German or
  Dutch formats "CSV UTF-8 (Comma delimited)" writes semicolons too. In Excel untick File > Options > Advanced > "Use
  system separators" and set the decimal separator to `.`; in LibreOffice tick "Edit filter settings" when saving and
  choose `,` as the field delimiter and "Unicode (UTF-8)" as the character set. Lines pasted into one column of a
  spreadsheet (the template copied from a page) are saved as one quoted value each and told so: in Excel select
  column A, then Data > Text to Columns > Delimited > Comma. Two files joined into one (`copy a.csv+b.csv`) are told
  at the second file's header names: `delete lines 9-11`, and the invisible byte order mark a second "CSV UTF-8"
  file starts with. A value said back in a message that holds a character no one sees (a byte order mark, a
  zero-width space, a no-break space) names it and where it is.
  A spreadsheet set to UK dates reads `2024-08-22` as a date and writes it back as it shows it, `22/08/2024`, in
  every date column, again each time the file is saved in it; a column formatted as General writes the date as a
  number (`45526`, the spreadsheet's count of days), a date-time cell adds a time (`2024-08-22 00:00:00`), and
  `dd-mmm-yy` writes `22-Aug-24`. The whole file is then refused for its `ResultsIssuedDate` (RS001) and each award
  date is RV008; both messages say what the spreadsheet did and how to write the date (`write it as 2024-08-22 (22
  August 2024)`), while a date of birth, which messages never repeat, is told only that it is not written yyyy-mm-dd,
  or that it looks like a spreadsheet's date number or a date and a time (and one outside 1900-01-01 to the day the
  batch is received is RV021). Format the MISIdentifier, ULN, CentreUKPRN and date columns as Text before typing or
  pasting, or correct the file in a text editor and do not save it from the spreadsheet again. An MIS identifier a
  spreadsheet turned into a number (`1.23457E+15`) or an error value (`#N/A`), and, in the offline check, a name
  garbled by a UTF-8 file opened as Windows-1252 (`SiÃ¢n` for Siân: open the file with Data > From Text/CSV, File
  origin "65001: Unicode (UTF-8)") are warned of (WV007, decision 0201); online such a name is RV004, which says so.
- **CSV headings** are exact. A wrong heading is named with what differs: its case (headings are case-sensitive),
  spaces around or inside it, or the order, which is the one above. A
  headings row with too few or too many fields names the headings missing, extra or there twice, and lists the
  headings in their order; a file that starts at the record headings is told that its two header lines (the header
  names, then their values) are missing and come first. A file whose line 2, the header values, is empty or left out
  is told so at line 2; one that ends after its header values has no records (RS006), as in XML and JSON.
- **Not UTF-8.** CSV, XML and JSON all name the first byte that is not UTF-8 and where it is
  (`byte 0xE2 is not UTF-8`): a file saved as Windows-1252 or ISO-8859-1 writes "Siân" with such a byte. Save the
  file as UTF-8. A file saved in an encoding that lacks a letter (Excel's "CSV (Comma delimited)", an MIS export to
  "ANSI": no Welsh ŵ or ŷ) has no byte that is not UTF-8 when it holds no other accented letter: the lost letter is
  written `?` and the file passes the door. Such a name is RV021 at that name (`…holds '?' at character 3, where a
  letter was lost when the file was saved: save it again from the original as UTF-8 (in Excel, "CSV UTF-8 (Comma
  delimited)")`), and `lrs batch check` says so offline. A file saved as UTF-16 or UTF-32 is named as such, with or without a byte order mark, and told to save it as UTF-8,
  whatever its Content-Type (application/octet-stream, text/plain or none included) or name (Notepad's "Unicode"
  saved as `results.txt`), in the portal's check and `lrs batch check` too. A file that starts with two UTF-8
  byte order marks (a program that adds one to a file that has one), in any format, is told so: save it as UTF-8
  once. An empty body (0 bytes) is refused (RS001) as empty: send the batch file itself as the request body. In XML, the declaration may name UTF-8 as `encoding="UTF-8"` in any case, or name no encoding;
  `encoding="utf8"` is refused: XML knows UTF-8 by the name `UTF-8` only, and the parser (expat) reads a file
  declared `utf8` as a one-byte encoding, refusing its first character beyond ASCII. Write `encoding="UTF-8"`.
- **A spreadsheet workbook** (`.xlsx`, `.xls`, `.ods`, `.numbers`) sent instead of the CSV saved from it is refused
  (RS001) as such, whatever its name or Content-Type, by the API, the portal's check and `lrs`: `the file is a
  spreadsheet workbook (.xlsx), not a batch file: open it in the spreadsheet and save it as CSV (in Excel, File > Save
  As > 'CSV UTF-8 (Comma delimited)'), then submit the .csv file`.
- **XML elements have no namespace.** A root `<AchievementBatch xmlns="urn:...">`, or a prefix bound to a
  namespace, is refused with the namespace it found: remove the `xmlns` declaration (and the prefix). Element names
  are case-sensitive: `<Uln>` is refused with "write `<ULN>`". Attributes on the root `<AchievementBatch>` are
  ignored, so `xsi:noNamespaceSchemaLocation` may stay; an attribute on any other element is refused (RS001), as the
  schema refuses it: a value is an element, so `<Record Action="Withdraw">` is refused with "write
  `<Action>Withdraw</Action>` inside `<Record>`".
- **The XML declaration** `<?xml ...?>` comes first in the file: a file with a blank line, spaces or anything else
  before it is told to delete what comes before `<?xml`. A byte order mark anywhere but the file's first character
  (just after the declaration, say) is named as one: delete it. A DOCTYPE declaration is refused (RS001: a batch file has no
  DTD, and entities and external references are never read): remove the `<!DOCTYPE ...>` line.
- **JSON keys** are the camelCase keys of the schema only: a key written in snake_case (`job_type`, `given_name`)
  is an unknown key (RS001), and the message names the key to write (`jobType`).
- **A ResultsIssuedDate a year ahead.** A `ResultsIssuedDate` more than a year (366 days) after the day the file is
  received (England's date, as for RV008) is refused (RS001, "is more than a year ahead: check the year"): loading
  results ahead of results day is fine up to a year, and a later date is taken for a slip of the year. `lrs batch
  check` and the portal's check count from today.
- **Numbers in JSON.** `uln`, `gender`, `centreUkprn` and `credits` may be sent as JSON numbers (`1000000043`);
  they are read as the text of the number, the same as `"1000000043"`; a whole number as written (`-0` is the text
  "-0", RV021 as gender or credits, as in CSV and XML). A number written with a decimal point or an
  exponent becomes the text Python writes for it (`7.5` is "7.5", `1e9` is "1000000000.0"), which that record's
  rules then judge (RV021, RV001): one bad value rejects its record, not the file. Every other value is text: a
  number there (`"grade": 7`, `"fileVersion": 1.0`) makes the file malformed (RS001), naming the key: send it as a
  string (`"7"`). A number of more than 4,300 digits makes the file malformed too.
- **One job type.** The header gives `JobType` once, spelt exactly (`final` is refused with "exact spelling"); a
  header giving it twice (two `<JobType>` elements, `jobType` twice in JSON) is RS004, mixed job types. Any other
  JSON key given twice in one object is RS001 ("the key ... appears twice in one object"), and so is `jobType`
  given twice inside a value."""
