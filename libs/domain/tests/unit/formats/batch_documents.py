"""Batch files written by hand, independently of `lrs_domain.formats.writers`, so parsers and writers
check each other. Values are given by attribute name; None leaves a value out (an empty CSV field)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence

from lrs_contracts.batch import BatchFormat

Values = Mapping[str, str | None]

HEADER_NAMES = {
    "file_version": ("FileVersion", "fileVersion"),
    "awarding_organisation": ("AwardingOrganisation", "awardingOrganisation"),
    "job_type": ("JobType", "jobType"),
    "notification_email": ("NotificationEmail", "notificationEmail"),
    "batch_reference": ("BatchReference", "batchReference"),
    "results_issued_date": ("ResultsIssuedDate", "resultsIssuedDate"),
}
RECORD_NAMES = {
    "action": ("Action", "action"),
    "mis_identifier": ("MISIdentifier", "misIdentifier"),
    "uln": ("ULN", "uln"),
    "given_name": ("GivenName", "givenName"),
    "family_name": ("FamilyName", "familyName"),
    "date_of_birth": ("DateOfBirth", "dateOfBirth"),
    "gender": ("Gender", "gender"),
    "qualification_number": ("QualificationNumber", "qualificationNumber"),
    "pathway": ("Pathway", "pathway"),
    "award_date": ("AwardDate", "awardDate"),
    "grade": ("Grade", "grade"),
    "centre_ukprn": ("CentreUKPRN", "centreUkprn"),
    "language_for_assessment": ("LanguageForAssessment", "languageForAssessment"),
    "credits": ("Credits", "credits"),
}
CSV_HEADER_NAMES_ROW = "FileVersion,AwardingOrganisation,JobType,NotificationEmail,BatchReference,ResultsIssuedDate"
CSV_RECORD_HEADINGS_ROW = (
    "Action,MISIdentifier,ULN,GivenName,FamilyName,DateOfBirth,Gender,QualificationNumber,Pathway,"
    "AwardDate,Grade,CentreUKPRN,LanguageForAssessment,Credits"
)

HEADER: dict[str, str | None] = {
    "file_version": "1.0",
    "awarding_organisation": "RN5133",
    "job_type": "Final",
    "notification_email": "results@example.org",
    "batch_reference": "JUNE-2024-01",
    "results_issued_date": "2024-08-22",
}

LEARNERS = (
    ("1000000043", "Alex", "Smith"),
    ("1026893096", "Priya", "O'Neill"),
    ("6936002314", "Siân", "Jones-Évans"),
    ("4444599390", "Tom", "Brown, Jr"),
)


def record(number: int, **overrides: str | None) -> dict[str, str | None]:
    uln, given_name, family_name = LEARNERS[number % len(LEARNERS)]
    values: dict[str, str | None] = {
        "action": "Create",
        "mis_identifier": f"CAND-{number:05d}",
        "uln": uln,
        "given_name": given_name,
        "family_name": family_name,
        "date_of_birth": "2006-04-01",
        "gender": str((1, 2, 0, 9)[number % 4]),
        "qualification_number": "601/4491/X",
        "pathway": "Pathway A" if number % 3 == 0 else None,
        "award_date": f"2024-{1 + number % 12:02d}-15",
        "grade": ("Pass", "Merit", "Distinction")[number % 3],
        "centre_ukprn": "10001234",
        "language_for_assessment": ("English", "Welsh", None)[number % 3],
        "credits": str(10 + number % 5) if number % 2 else None,
    }
    values.update(overrides)
    return values


def records(count: int) -> list[dict[str, str | None]]:
    return [record(number) for number in range(1, count + 1)]


def csv_document(header: Values, rows: Sequence[Values], *, bom: bool = False, newline: str = "\r\n") -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=newline)
    writer.writerow(CSV_HEADER_NAMES_ROW.split(","))
    writer.writerow([header.get(attribute) or "" for attribute in HEADER_NAMES])
    writer.writerow(CSV_RECORD_HEADINGS_ROW.split(","))
    writer.writerows([row.get(attribute) or "" for attribute in RECORD_NAMES] for row in rows)
    return (b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode()


def _xml_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_elements(values: Values, names: Mapping[str, tuple[str, str]]) -> str:
    return "".join(
        f"<{names[attribute][0]}>{_xml_escape(value)}</{names[attribute][0]}>"
        for attribute, value in values.items()
        if value is not None
    )


def xml_document(header: Values, rows: Sequence[Values]) -> bytes:
    body = "".join(f"\n    <Record>{_xml_elements(row, RECORD_NAMES)}</Record>" for row in rows)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<AchievementBatch>\n  <Header>{_xml_elements(header, HEADER_NAMES)}</Header>\n"
        f"  <Records>{body}\n  </Records>\n</AchievementBatch>\n"
    ).encode()


def json_object(header: Values, rows: Sequence[Values]) -> dict[str, object]:
    return {
        "header": {HEADER_NAMES[key][1]: value for key, value in header.items() if value is not None},
        "records": [{RECORD_NAMES[key][1]: value for key, value in row.items() if value is not None} for row in rows],
    }


def json_document(header: Values, rows: Sequence[Values]) -> bytes:
    return json.dumps(json_object(header, rows), indent=1, ensure_ascii=False).encode()


DOCUMENT_WRITERS: dict[BatchFormat, Callable[[Values, Sequence[Values]], bytes]] = {
    BatchFormat.CSV: csv_document,
    BatchFormat.XML: xml_document,
    BatchFormat.JSON: json_document,
}


def document(fmt: BatchFormat, header: Values, rows: Sequence[Values]) -> bytes:
    return DOCUMENT_WRITERS[fmt](header, rows)


def first_record_line(fmt: BatchFormat) -> int:
    return 4 if fmt is BatchFormat.CSV else 1
