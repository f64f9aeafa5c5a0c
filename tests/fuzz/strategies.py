"""Hypothesis strategies for hostile achievement batches in the three formats.

A case starts from a plausible batch (the caller's own AO, records that could be accepted) and then
poisons it: control characters (NUL, CR/LF, C1), lone surrogates, non-characters, byte-order marks,
bidirectional overrides, huge fields, wrong types, broken structure, bytes that are not UTF-8, XML
entities and DTDs, and a content type that lies. Each case is the bytes and headers of one POST.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from lrs_domain.formats.limits import HEADER_FIELDS, RECORD_FIELDS

FORMATS = ("csv", "xml", "json")
CONTENT_TYPES = {"csv": "text/csv", "xml": "application/xml", "json": "application/json"}

CONTROL = [chr(code) for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))]
NON_CHARACTERS = [chr(code) for code in (*range(0xFDD0, 0xFDF0), 0xFFFE, 0xFFFF, 0x1FFFE, 0x10FFFF)]
ODD = ["\ufeff", "\u202e", "\u200b", "\u0301", "\u2028", "\u2029", "\U0001f600", "\u00a0", '"', "'", ",", "<", "&"]

lone_surrogates = st.integers(0xD800, 0xDFFF).map(chr)
# the characters that most often break parsers, logs and mail headers, drawn more often than the rest
USUAL_SUSPECTS = ["\x00", "\r", "\n", "\r\n", "\ufffe", "\uffff", "\ud800", "\udfff"]
nasty_character = st.one_of(
    st.sampled_from(USUAL_SUSPECTS),
    st.sampled_from(CONTROL),
    st.sampled_from(NON_CHARACTERS),
    st.sampled_from(ODD),
    lone_surrogates,
)
nasty_text = st.lists(st.one_of(nasty_character, st.characters()), min_size=1, max_size=12).map("".join)


@st.composite
def huge_text(draw: st.DrawFn) -> str:
    """Up to 300 kB mostly; one in three around the 6 MB limit (in bytes on the wire, whatever the character)."""
    character = draw(st.one_of(nasty_character, st.sampled_from("A9 ")))
    size = len(character.encode("utf-8", "surrogatepass"))
    target = draw(st.integers(6_000_000, 7_000_000) if draw(st.integers(0, 2)) == 0 else st.integers(10_000, 300_000))
    return character * (target // size)


def plausible_values(ao_id: str, learner: dict[str, str], qualification: str, grade: str) -> dict[str, str]:
    return {
        "FileVersion": "1.0",
        "AwardingOrganisation": ao_id,
        "JobType": "Final",
        "NotificationEmail": "fuzz@example.org",
        "BatchReference": "FUZZ",
        "ResultsIssuedDate": "2024-08-22",
        "Action": "Create",
        "MISIdentifier": "FZ-1",
        "ULN": learner["uln"],
        "GivenName": learner["given_name"],
        "FamilyName": learner["family_name"],
        "DateOfBirth": learner["date_of_birth"],
        "Gender": "0",
        "QualificationNumber": qualification,
        "Pathway": "",
        "AwardDate": "2024-08-22",
        "Grade": grade,
        "CentreUKPRN": "10007890",
        "LanguageForAssessment": "English",
        "Credits": "",
    }


HEADINGS = [field.heading for field in HEADER_FIELDS]
RECORD_HEADINGS = [field.heading for field in RECORD_FIELDS]
JSON_KEYS = {field.heading: field.json_key for field in (*HEADER_FIELDS, *RECORD_FIELDS)}


@dataclass(frozen=True)
class Case:
    fmt: str
    body: bytes
    content_type: str | None

    def describe(self) -> str:
        """For a failure report: enough to reproduce the shape, never the whole body."""
        return f"{self.fmt}, {len(self.body):,} bytes, Content-Type {self.content_type!r}, starts {self.body[:120]!r}"


@st.composite
def poisoned(draw: st.DrawFn, plausible: str) -> Any:
    """What replaces a plausible value: it with poison inside, poison alone, any text, or a wrong type."""
    choice = draw(st.integers(0, 9))
    if choice < 4:
        position = draw(st.integers(0, len(plausible)))
        return plausible[:position] + draw(nasty_text) + plausible[position:]
    if choice < 7:
        return draw(nasty_text)
    if choice < 8:
        return draw(st.one_of(st.text(max_size=30), st.just("")))
    # a value of the wrong type (only JSON can say so; the other formats print it)
    return draw(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False),
            st.lists(st.text(max_size=3), max_size=2),
            st.just({"nested": {"deeper": [1, 2]}}),
        )
    )


@st.composite
def batch_values(
    draw: st.DrawFn, ao_id: str, learners: list[dict[str, str]], qualification: str, grade: str, huge_fields: bool
) -> dict[str, Any]:
    """A plausible batch with a few of its fields poisoned (none, sometimes), so that many cases get past
    the header and carry their poison on to validation and the services behind it."""
    values: dict[str, Any] = {"header": plausible_values(ao_id, learners[0], qualification, grade), "records": []}
    values["header"] = {heading: values["header"][heading] for heading in HEADINGS}
    for index in range(draw(st.integers(0, 6))):
        plausible = plausible_values(ao_id, learners[draw(st.integers(0, len(learners) - 1))], qualification, grade)
        plausible["MISIdentifier"] = f"FZ-{index}"
        values["records"].append({heading: plausible[heading] for heading in RECORD_HEADINGS})
    places = [values["header"], *values["records"]]
    for _ in range(draw(st.integers(0, 4))):
        fields = draw(st.sampled_from(places))
        name = draw(st.sampled_from(sorted(fields)))
        fields[name] = draw(poisoned(str(fields[name])))
    if huge_fields and draw(st.integers(0, 19)) == 0:  # one huge field, in the header or in a record
        fields = draw(st.sampled_from(places))
        fields[draw(st.sampled_from(sorted(fields)))] = draw(huge_text())
    return values


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _encode(text: str, encoding: str) -> bytes:
    # lone surrogates go on the wire as the (invalid) UTF-8 bytes they would have
    return text.encode("utf-8", "surrogatepass") if encoding == "utf-8" else text.encode(encoding, "replace")


def as_csv(values: dict[str, Any], line_ending: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_ending)
    writer.writerow(HEADINGS)
    writer.writerow([_text(values["header"][h]) for h in HEADINGS])
    writer.writerow(RECORD_HEADINGS)
    for record in values["records"]:
        writer.writerow([_text(record[h]) for h in RECORD_HEADINGS])
    return buffer.getvalue()


_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;"})
# as character references, which XML 1.0 forbids for all of these
_XML_CHARACTER_REFERENCES = str.maketrans(
    {
        **{code: f"&#{code};" for code in (*range(0x20), *range(0xD800, 0xE000), 0xFFFE, 0xFFFF, 0x1FFFE, 0x10FFFF)},
        ord("&"): "&amp;",
        ord("<"): "&lt;",
    }
)


def _xml_text(value: str, raw: bool) -> str:
    # raw: control characters and surrogates as they are, which is not well-formed XML either
    return value.translate(_XML_ESCAPES if raw else _XML_CHARACTER_REFERENCES)


XML_PROLOGUES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    "",
    '<?xml version="1.1"?>\n',
    '<?xml version="1.0" encoding="ISO-8859-1"?>\n',
    '<!DOCTYPE AchievementBatch [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>\n',
    '<!DOCTYPE AchievementBatch [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n',
)


def as_xml(values: dict[str, Any], raw: bool, prologue: str, entity: str | None) -> str:
    def element(name: str, value: Any) -> str:
        return f"<{name}>{_xml_text(_text(value), raw)}</{name}>"

    header = "".join(element(h, values["header"][h]) for h in HEADINGS)
    records = "".join(
        "<Record>" + "".join(element(h, record[h]) for h in RECORD_HEADINGS) + "</Record>"
        for record in values["records"]
    )
    if entity:
        header = header.replace("<BatchReference>", f"<BatchReference>&{entity};", 1)
    return f"{prologue}<AchievementBatch><Header>{header}</Header><Records>{records}</Records></AchievementBatch>"


def as_json(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "header": {JSON_KEYS[h]: value for h, value in values["header"].items()},
        "records": [{JSON_KEYS[h]: value for h, value in record.items()} for record in values["records"]],
    }


@st.composite
def cases(
    draw: st.DrawFn,
    ao_id: str,
    learners: list[dict[str, str]],
    qualification: str,
    grade: str,
    *,
    huge_fields: bool = True,
) -> Case:
    fmt = draw(st.sampled_from(FORMATS))
    values = draw(batch_values(ao_id, learners, qualification, grade, huge_fields))
    encoding = draw(st.sampled_from(["utf-8"] * 8 + ["utf-16", "latin-1"]))
    if fmt == "csv":
        body = _encode(as_csv(values, draw(st.sampled_from(["\r\n", "\n", "\r"]))), encoding)
    elif fmt == "xml":
        prologue = draw(st.sampled_from(XML_PROLOGUES))
        entity = "d" if "ENTITY d" in prologue else "secret" if "secret" in prologue else None
        body = _encode(as_xml(values, draw(st.booleans()), prologue, entity), encoding)
    else:
        document: Any = as_json(values)
        shape = draw(st.integers(0, 19))
        if shape == 0:
            document = [document]
        elif shape == 1:
            document = {"header": document["header"], "records": document["header"]}
        elif shape == 2:
            depth = draw(st.integers(100, 100_000))
            text = "[" * depth + "]" * depth
            return Case(fmt, text.encode(), CONTENT_TYPES[fmt])
        ascii_only = draw(st.booleans())
        body = _encode(json.dumps(document, ensure_ascii=ascii_only), encoding)
    if draw(st.integers(0, 19)) == 0:  # bytes that are no character in any encoding
        position = draw(st.integers(0, len(body)))
        body = body[:position] + draw(st.binary(min_size=1, max_size=8)) + body[position:]
    if draw(st.integers(0, 19)) == 0:  # cut short
        body = body[: draw(st.integers(0, len(body)))]
    content_type = draw(
        st.one_of(
            st.just(CONTENT_TYPES[fmt]),
            st.just(CONTENT_TYPES[fmt]),
            st.just(CONTENT_TYPES[fmt] + "; charset=utf-16"),
            st.sampled_from(list(CONTENT_TYPES.values())),
            st.just("application/octet-stream"),
            st.none(),
            # any printable header value (HTTP itself has no room for leading or trailing blanks)
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20)
            .map(str.strip)
            .filter(bool),
        )
    )
    return Case(fmt, body, content_type)
