"""The XML format (achievement-batch.xsd): `AchievementBatch` / `Header` and `Records/Record`.

Parsed by defusedxml's parser: any DOCTYPE, entity declaration or external reference is refused
before it can expand or fetch anything. No element tree is built: the builder below keeps only the
header values and records, and reports every structural fault with its line and column. Elements are
unqualified (no namespace); attributes are ignored, so `xsi:noNamespaceSchemaLocation` is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ErrorString

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from lrs_contracts.batch import BatchFormat, BatchHeader, SubmittedRecord
from lrs_contracts.codes import BatchCode
from lrs_domain.formats.errors import BatchRefused
from lrs_domain.formats.limits import (
    HEADER_ATTRIBUTE_BY_HEADING,
    RECORD_ATTRIBUTE_BY_HEADING,
    ParsedBatch,
    batch_of,
    header_from,
    refuse_too_many_records,
)
from lrs_domain.formats.values import refuse_unstorable

SCHEMA_PATH = Path(__file__).with_name("achievement-batch.xsd")

ROOT = "AchievementBatch"
HEADER = "Header"
RECORDS = "Records"
RECORD = "Record"

_REFUSED_CONSTRUCTS: dict[type[DefusedXmlException], str] = {
    DTDForbidden: "a DOCTYPE declaration is not allowed",
    EntitiesForbidden: "an entity declaration is not allowed",
    ExternalReferenceForbidden: "an external reference is not allowed",
}


def parse_xml(content: bytes) -> ParsedBatch:
    builder = _BatchBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    expat = parser.parser
    # ElementTree's own callbacks rebuild every name and attribute dictionary, which the builder does not
    # need; calling it directly halves the parse time. defusedxml's guards are separate expat handlers.
    expat.StartElementHandler = builder.start
    expat.EndElementHandler = builder.end
    expat.CharacterDataHandler = builder.data

    builder.expat = expat
    try:
        parser.feed(content)
        parser.close()
    except ParseError as error:
        line, column = error.position
        raise BatchRefused(BatchCode.MALFORMED, f"malformed XML: {ErrorString(error.code)}", line, column + 1) from None
    except DefusedXmlException as error:
        line, column = builder.position()
        raise BatchRefused(
            BatchCode.MALFORMED, _REFUSED_CONSTRUCTS.get(type(error), str(error)), line, column
        ) from None
    if builder.header is None:
        raise BatchRefused(BatchCode.MALFORMED, f"<{ROOT}> has no <{HEADER}>")
    return batch_of(builder.header, tuple(builder.records), BatchFormat.XML)


class _BatchBuilder:
    """Expat handlers that follow the document's structure by depth.

    Depth 1 is the root, 2 `Header` or `Records`, 3 a header value or a `Record`, 4 a record value.
    """

    def __init__(self) -> None:
        self.expat: Any = None  # the parser, for positions
        self.header: BatchHeader | None = None
        self._header_values: dict[str, str | None] = {}
        self._header_fields: list[tuple[str, int, int]] = []
        self.records: list[SubmittedRecord] = []
        self.record_count = 0
        self._depth = 0
        self._section: str | None = None
        self._seen_sections: set[str] = set()
        self._record_values: dict[str, str | None] = {}
        self._record_fields: list[tuple[str, int, int]] = []
        self._value_owner: dict[str, str | None] | None = None
        self._value_attribute = ""
        self._value_heading = ""
        self._value_text = ""

    def start(self, tag: str, _attributes: Any) -> None:
        if self._value_owner is not None:
            self._refuse(f"<{self._value_heading}> holds a value, not an element <{tag}>")
        self._depth += 1
        depth = self._depth
        if depth == 4:
            self._start_value(tag, RECORD_ATTRIBUTE_BY_HEADING, self._record_values, self._record_fields, RECORD)
        elif depth == 3 and self._section == RECORDS:
            self._expect(tag == RECORD, f"<{RECORDS}> holds only <{RECORD}> elements, not <{tag}>")
            self.record_count += 1
            refuse_too_many_records(self.record_count, self.position()[0])
            self._record_values = {}
            self._record_fields = []
        elif depth == 3:
            self._start_value(tag, HEADER_ATTRIBUTE_BY_HEADING, self._header_values, self._header_fields, HEADER)
        elif depth == 2:
            self._expect(tag in (HEADER, RECORDS), f"<{ROOT}> holds <{HEADER}> and <{RECORDS}>, not <{tag}>")
            self._expect(tag not in self._seen_sections, f"<{tag}> appears twice")
            self._expect(tag == HEADER or HEADER in self._seen_sections, f"<{HEADER}> must come before <{RECORDS}>")
            self._seen_sections.add(tag)
            self._section = tag
        else:
            self._expect(tag == ROOT, f"the root element must be <{ROOT}>, not <{tag}>")

    def data(self, text: str) -> None:
        if self._value_owner is not None:
            self._value_text += text
        elif not text.isspace():
            self._refuse(f"text {text.strip()[:40]!r} is not allowed here")

    def end(self, _tag: str) -> None:
        if self._value_owner is not None:
            self._value_owner[self._value_attribute] = self._value_text.strip() or None
            self._value_owner = None
        elif self._depth == 3 and self._section == RECORDS:
            values = self._record_values
            refuse_unstorable(list(values.values()), self._record_fields.__getitem__, in_header=False)
            self.records.append(SubmittedRecord(line=self.record_count, **values))
        elif self._depth == 2 and self._section == HEADER:
            values = self._header_values
            refuse_unstorable(list(values.values()), self._header_fields.__getitem__, in_header=True)
            self.header = header_from(values)
        self._depth -= 1

    def _start_value(
        self,
        tag: str,
        attribute_by_heading: Mapping[str, str],
        owner: dict[str, str | None],
        fields: list[tuple[str, int, int]],
        parent: str,
    ) -> None:
        attribute = attribute_by_heading.get(tag)
        if attribute is None:
            self._refuse(f"<{parent}> has no element <{tag}>")
        self._expect(attribute not in owner, f"<{tag}> appears twice in one <{parent}>")
        self._value_owner = owner
        self._value_attribute = attribute
        self._value_heading = tag
        self._value_text = ""
        fields.append((tag, self.expat.CurrentLineNumber, self.expat.CurrentColumnNumber + 1))

    def position(self) -> tuple[int, int]:
        return self.expat.CurrentLineNumber, self.expat.CurrentColumnNumber + 1

    def _expect(self, condition: bool, detail: str) -> None:
        if not condition:
            self._refuse(detail)

    def _refuse(self, detail: str) -> NoReturn:
        line, column = self.position()
        raise BatchRefused(BatchCode.MALFORMED, detail, line, column)
