"""The XML format (achievement-batch.xsd): `AchievementBatch` / `Header` and `Records/Record`.

Parsed by defusedxml with a streaming target: any DOCTYPE, entity declaration or external reference
is refused before it can expand or fetch anything, no element tree is built, and every structural
fault is reported with its line and column. Elements are unqualified (no namespace); attributes are
ignored, so `xsi:noNamespaceSchemaLocation` is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from lrs_contracts.batch import BatchFormat, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_RECORDS, BatchCode

from lrs_domain.formats.errors import BatchRefused
from lrs_domain.formats.limits import (
    HEADER_ATTRIBUTE_BY_HEADING,
    RECORD_ATTRIBUTE_BY_HEADING,
    ParsedBatch,
    assemble_batch,
    clean,
)

SCHEMA_PATH = Path(__file__).with_name("achievement-batch.xsd")

ROOT = "AchievementBatch"
HEADER = "Header"
RECORDS = "Records"
RECORD = "Record"

Position = Callable[[], tuple[int, int]]


def parse_xml(content: bytes) -> ParsedBatch:
    builder = _BatchBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    expat = parser.parser

    def position() -> tuple[int, int]:
        return expat.CurrentLineNumber, expat.CurrentColumnNumber + 1

    builder.position = position
    try:
        parser.feed(content)
        parser.close()
    except ParseError as error:
        line, column = error.position
        raise BatchRefused(BatchCode.MALFORMED, f"malformed XML: {error}", line, column + 1) from None
    except DefusedXmlException as error:
        line, column = position()
        raise BatchRefused(BatchCode.MALFORMED, f"refused XML construct: {error}", line, column) from None
    return assemble_batch(builder.header, tuple(builder.records), builder.record_count, BatchFormat.XML)


class _BatchBuilder:
    """An ElementTree parser target that keeps only header values and records.

    Depth 1 is the root, 2 Header or Records, 3 a header value or a Record, 4 a record value.
    """

    def __init__(self) -> None:
        self.position: Position = lambda: (0, 0)
        self._open: list[str] = []
        self._text: list[str] = []
        self._seen_sections: set[str] = set()
        self._record_values: dict[str, str | None] = {}
        self._record_line = 0
        self.header: dict[str, str | None] = {}
        self.records: list[SubmittedRecord] = []
        self.record_count = 0

    def start(self, tag: str, _attributes: Mapping[str, str]) -> None:
        parent = self._open[-1] if self._open else None
        if parent is None:
            self._expect(tag in (ROOT,), f"the root element must be <{ROOT}>, not <{tag}>")
        elif parent == ROOT:
            self._expect(tag in (HEADER, RECORDS), f"<{ROOT}> holds <{HEADER}> and <{RECORDS}>, not <{tag}>")
            self._expect(tag not in self._seen_sections, f"<{tag}> appears twice")
            self._expect(RECORDS not in self._seen_sections, f"<{HEADER}> must come before <{RECORDS}>")
            self._seen_sections.add(tag)
        elif parent == HEADER:
            self._expect_value_element(tag, HEADER_ATTRIBUTE_BY_HEADING, self.header, HEADER)
        elif parent == RECORDS:
            self._expect(tag == RECORD, f"<{RECORDS}> holds only <{RECORD}> elements, not <{tag}>")
            self.record_count += 1
            self._record_values = {}
        elif parent == RECORD and len(self._open) == 3:
            self._expect_value_element(tag, RECORD_ATTRIBUTE_BY_HEADING, self._record_values, RECORD)
        else:
            self._refuse(f"<{parent}> holds a value, not an element <{tag}>")
        self._open.append(tag)
        self._text = []

    def data(self, text: str) -> None:
        if self._holds_value():
            self._text.append(text)
        elif text.strip():
            self._refuse(f"text {text.strip()[:40]!r} is not allowed directly inside <{self._open[-1]}>")

    def end(self, tag: str) -> None:
        if self._holds_value():
            value = clean("".join(self._text))
            if self._open[-2] == HEADER:
                self.header[HEADER_ATTRIBUTE_BY_HEADING[tag]] = value
            else:
                self._record_values[RECORD_ATTRIBUTE_BY_HEADING[tag]] = value
        elif tag == RECORD and self.record_count <= MAX_BATCH_RECORDS:
            self.records.append(SubmittedRecord(line=self.record_count, **self._record_values))
        self._open.pop()
        self._text = []

    def close(self) -> None:
        return None

    def _holds_value(self) -> bool:
        depth = len(self._open)
        return (depth == 3 and self._open[1] == HEADER) or depth == 4

    def _expect_value_element(
        self, tag: str, attribute_by_heading: Mapping[str, str], values: Mapping[str, Any], parent: str
    ) -> None:
        attribute = attribute_by_heading.get(tag)
        self._expect(attribute is not None, f"<{parent}> has no element <{tag}>")
        self._expect(attribute not in values, f"<{tag}> appears twice in one <{parent}>")

    def _expect(self, condition: bool, detail: str) -> None:
        if not condition:
            self._refuse(detail)

    def _refuse(self, detail: str) -> NoReturn:
        line, column = self.position()
        raise BatchRefused(BatchCode.MALFORMED, detail, line, column)
