"""The XML format (achievement-batch.xsd): `AchievementBatch` / `Header` and `Records/Record`.

Parsed by defusedxml's parser: any DOCTYPE, entity declaration or external reference is refused
before it can expand or fetch anything. No element tree is built: the builder below keeps only the
header values and records, and reports every structural fault with its line and column. Elements are
unqualified (no namespace). The root's attributes are ignored, so `xsi:noNamespaceSchemaLocation` is allowed;
an attribute on any other element is RS001, as the schema has it: a value given as one would be lost.
A file is UTF-8, as CSV and JSON are: a declaration naming another encoding (`utf8` too: XML and expat
know UTF-8 by that name only), or a UTF-16 or UTF-32 byte order mark, is RS001 before any value is read
(decision 0139); a byte that is not UTF-8 is RS001 where it stands, named as CSV and JSON name it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence
from datetime import date
from itertools import compress
from pathlib import Path
from typing import Any, NoReturn
from xml.etree.ElementTree import ParseError
from xml.parsers import expat
from xml.parsers.expat import ErrorString
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from lrs_contracts.batch import BatchFormat, BatchHeader, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_RECORDS, BatchCode
from lrs_contracts.text import has_visible_text
from lrs_domain.formats.errors import BYTE_ORDER_MARK, BatchRefused, cut, quoted, refuse_other_encodings
from lrs_domain.formats.limits import (
    HEADER_ATTRIBUTE_BY_HEADING,
    RECORD_ATTRIBUTE_BY_HEADING,
    ParsedBatch,
    batch_of,
    header_from,
    refuse_too_many_records,
    refuse_two_job_types,
)
from lrs_domain.formats.values import MAX_VALUE_CHARACTERS, refuse_unstorable, unseen_line_fault

SCHEMA_PATH = Path(__file__).with_name("achievement-batch.xsd")

ROOT = "AchievementBatch"
HEADER = "Header"
RECORDS = "Records"
RECORD = "Record"

_JOB_TYPE = HEADER_ATTRIBUTE_BY_HEADING["JobType"]

_REFUSED_CONSTRUCTS: dict[type[DefusedXmlException], str] = {
    DTDForbidden: "a DOCTYPE declaration is not allowed: remove the <!DOCTYPE ...> line (a batch file has no DTD)",
    EntitiesForbidden: "an entity declaration is not allowed",
    ExternalReferenceForbidden: "an external reference is not allowed",
}


def parse_xml(content: bytes, *, received_on: date | None = None) -> ParsedBatch:
    """The batch, or BatchRefused. A plainly written file is read by `plain_xml`; anything else, and
    every file that is refused, by the expat parser, which has the final word and says where."""
    return plain_xml(content, received_on=received_on) or _parse_with_expat(content, received_on)


def _parse_with_expat(content: bytes, received_on: date | None = None) -> ParsedBatch:
    refuse_other_encodings(content)
    builder = _BatchBuilder(received_on)
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    expat = parser.parser
    # ElementTree's own callbacks rebuild every name and attribute dictionary, which the builder does not
    # need; calling it directly halves the parse time. defusedxml's guards are separate expat handlers.
    expat.StartElementHandler = builder.start
    expat.EndElementHandler = builder.end
    expat.CharacterDataHandler = builder.data
    expat.XmlDeclHandler = builder.declaration
    expat.StartNamespaceDeclHandler = builder.declare_namespace  # called only where a file declares one

    builder.expat = expat
    try:
        _feed(parser, builder, content)
    except BatchRefused as refusal:
        if builder.header is not None and refusal.batch_reference is None:
            refusal.batch_reference = builder.header.batch_reference  # the AO's name for the file it sent
        raise
    if builder.header is None:
        raise BatchRefused(BatchCode.MALFORMED, f"<{ROOT}> has no <{HEADER}>")
    return batch_of(builder.header, tuple(builder.records), BatchFormat.XML)


def _feed(parser: DefusedXMLParser, builder: _BatchBuilder, content: bytes) -> None:
    try:
        parser.feed(content)
        parser.close()
    except ParseError as error:
        line, column = error.position
        at = builder.expat.ErrorByteIndex
        detail = (
            _byte_not_utf8(content, at)
            or _declaration_not_first(content, at, error.code)
            or _byte_order_mark_within(content, at)
            or _unseen_character_at(content, at, line)
            or f"malformed XML: {ErrorString(error.code)}"
        )
        raise BatchRefused(BatchCode.MALFORMED, detail, line, column + 1) from None
    except DefusedXmlException as error:
        line, column = builder.position()
        raise BatchRefused(
            BatchCode.MALFORMED, _REFUSED_CONSTRUCTS.get(type(error), str(error)), line, column
        ) from None


def _byte_not_utf8(content: bytes, error_offset: int) -> str | None:
    """The fault to report when expat stopped at a byte that is not UTF-8 (it refuses every such byte where it
    stands, as "not well-formed (invalid token)"), else None. Asked only of a file expat refused, so a file
    read to the end pays nothing for it; and only of the bytes expat read, and the character the last of them
    may start (a UTF-8 character is at most 4 bytes long)."""
    try:
        content[: error_offset + 4].decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start <= error_offset:
            return f"byte 0x{content[error.start]:02X} is not UTF-8{_SAVE_AS_UTF8}"
    return None


def _declaration_not_first(content: bytes, error_offset: int, code: int) -> str | None:
    """What to do when expat refused the file's XML declaration for not being its very first characters (templated
    output often starts with a blank line), else None: expat's own words ("XML or text declaration not at start of
    entity") name neither the declaration nor the fix."""
    if code != _MISPLACED_DECLARATION or content.find(b"<?xml") != error_offset:
        return None
    return (
        "the XML declaration (<?xml ...?>) must come first in the file: delete what comes before '<?xml', blank lines"
        " and spaces included"
    )


_MISPLACED_DECLARATION = expat.errors.codes[expat.errors.XML_ERROR_MISPLACED_XML_PI]


def _byte_order_mark_within(content: bytes, error_offset: int) -> str | None:
    """What to do when expat stopped at a byte order mark after the file's first character, as after the XML
    declaration, else None: expat says "not well-formed (invalid token)" of a character no editor shows. (Two at the
    file's start are refused before expat reads it, by `refuse_other_encodings`.)"""
    if not content.startswith(BYTE_ORDER_MARK, error_offset):
        return None
    return (
        "malformed XML: an invisible byte order mark (U+FEFF) stands here, and XML allows one only as the file's"
        " first character: delete it"
    )


def _unseen_character_at(content: bytes, error_offset: int, line: int) -> str | None:
    """What to do when expat stopped at a character no reader sees (a Ctrl-Z end-of-file mark or NUL padding after
    the root element's end, which XML does not allow anywhere; a zero-width space there), else None: expat says "not
    well-formed (invalid token)" or "junk after document element" of it. Named as a CSV line of it is
    (`unseen_line_fault`): after the root's end, with every such character that follows it; elsewhere, alone."""
    rest = content[error_offset:].decode("utf-8", errors="replace")
    if not rest or rest[0] == "\ufffd":
        return None
    seen = rest if not has_visible_text(rest) else rest[0]
    before = content[:error_offset].decode("utf-8", errors="replace")
    column = len(before) - max(before.rfind("\n"), before.rfind("\r"))
    return unseen_line_fault(seen, line, column)


def _is_another_name_of_utf8(encoding: str) -> bool:
    """`utf8`, `UTF_8`: names Python takes for UTF-8 and XML does not (expat reads such a file as a one-byte
    encoding, and refuses its first character beyond ASCII)."""
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


_SAVE_AS_UTF8 = ': save the file as UTF-8, with encoding="UTF-8" or no encoding in its XML declaration'


class _BatchBuilder:
    """Expat handlers that follow the document's structure by depth.

    Depth 1 is the root, 2 `Header` or `Records`, 3 a header value or a `Record`, 4 a record value.
    """

    def __init__(self, received_on: date | None = None) -> None:
        self.received_on = received_on
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
        self._namespace_prefixes: dict[str, str | None] = {}
        self._job_types: list[str | None] = []
        self._second_job_type_at: tuple[int, int] | None = None

    def start(self, tag: str, attributes: Sequence[str]) -> None:
        if "}" in tag:  # expat names an element of a namespace `uri}name`: said as `{uri}name`, as XML tools do
            self._refuse_namespaced("{" + tag)
        if self._value_owner is not None:
            self._refuse(f"<{self._value_heading}> holds a value, not an element <{cut(tag)}>")
        self._depth += 1
        depth = self._depth
        if depth == 4:
            self._start_value(tag, RECORD_ATTRIBUTE_BY_HEADING, self._record_values, self._record_fields, RECORD)
        elif depth == 3 and self._section == RECORDS:
            self._expect(tag == RECORD, f"<{RECORDS}> holds only <{RECORD}> elements, not <{cut(tag)}>")
            self.record_count += 1
            refuse_too_many_records(self.record_count, self.position()[0])
            self._record_values = {}
            self._record_fields = []
        elif depth == 3:
            self._start_value(tag, HEADER_ATTRIBUTE_BY_HEADING, self._header_values, self._header_fields, HEADER)
        elif depth == 2:
            self._expect(tag in (HEADER, RECORDS), f"<{ROOT}> holds <{HEADER}> and <{RECORDS}>, not <{cut(tag)}>")
            self._expect(tag not in self._seen_sections, f"<{tag}> appears twice")
            self._expect(tag == HEADER or HEADER in self._seen_sections, f"<{HEADER}> must come before <{RECORDS}>")
            self._seen_sections.add(tag)
            self._section = tag
        else:
            self._expect(tag == ROOT, f"the root element must be <{ROOT}>, not <{cut(tag)}>")
        if attributes and depth > 1:
            self._refuse_attribute(tag, attributes[0], attributes[1])

    def data(self, text: str) -> None:
        if self._value_owner is not None:
            self._value_text += text
        elif not text.isspace():
            self._refuse(f"text {quoted(text.strip())} is not allowed here")

    def end(self, _tag: str) -> None:
        if self._value_owner is not None:
            value = self._value_text.strip() or None
            self._value_owner[self._value_attribute] = value
            self._value_owner = None
            if self._value_owner_is_job_type():
                self._job_types.append(value)
                if self._second_job_type_at is not None:
                    refuse_two_job_types(self._job_types, *self._second_job_type_at)
        elif self._depth == 3 and self._section == RECORDS:
            values = self._record_values
            refuse_unstorable(list(values.values()), self._record_fields.__getitem__, in_header=False)
            self.records.append(SubmittedRecord(line=self.record_count, **values))
        elif self._depth == 2 and self._section == HEADER:
            values = self._header_values
            refuse_unstorable(list(values.values()), self._header_fields.__getitem__, in_header=True)
            self.header = header_from(values, self.received_on)
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
            meant = next((name for name in attribute_by_heading if name.lower() == tag.lower()), None)
            advice = f": element names are case-sensitive, so write <{meant}>" if meant else ""
            self._refuse(f"<{parent}> has no element <{cut(tag)}>{advice}")
        if attribute in owner:
            if parent == HEADER and attribute == _JOB_TYPE:  # mixed job types (RS004), said once both are read
                self._second_job_type_at = self.position()
            else:
                self._refuse(f"<{tag}> appears twice in one <{parent}>")
        self._value_owner = owner
        self._value_attribute = attribute
        self._value_heading = tag
        self._value_text = ""
        fields.append((tag, self.expat.CurrentLineNumber, self.expat.CurrentColumnNumber + 1))

    def _value_owner_is_job_type(self) -> bool:
        return self._section == HEADER and self._depth == 3 and self._value_attribute == _JOB_TYPE

    def declare_namespace(self, prefix: str | None, uri: str) -> None:
        self._namespace_prefixes[uri] = prefix

    def _refuse_namespaced(self, tag: str) -> NoReturn:
        """Every element of a batch is in no namespace: one in a namespace (`{uri}name`) is refused with how to take
        it out, where it would be refused anyway. The namespace is said back escaped (`_said`): a URI may hold any
        character, a line break or a right-to-left override too, and the refusal reaches operators' screens."""
        uri, name = tag[1:].split("}", 1)
        prefix = self._namespace_prefixes.get(uri)
        remove = (
            f'xmlns="{_said(uri)}"'
            if prefix is None
            else f'xmlns:{_said(prefix)}="{_said(uri)}" and the {_said(prefix)}: before element names'
        )
        element = (
            f"the root element must be <{ROOT}>, not <{_said(tag)}>"
            if self._depth == 0
            else f"<{cut(name)}> is in a namespace"
        )
        self._refuse(f"{element}: a batch's elements are in no namespace, so remove {remove}")

    def _refuse_attribute(self, tag: str, name: str, value: str) -> NoReturn:
        """An element below the root has an attribute (its first, `name="value"`): refused where the element starts,
        as the schema refuses it (it allows attributes on the root only). Read as absent, a value written as an
        attribute (`<Record Action="Withdraw">`) would be judged as if the file left it out. When the attribute is
        named as a field of the header or the record it stands in, the refusal says how to write that field."""
        advice = "remove it"
        if self._section == HEADER or self._depth > 2:  # in the header, or in a record (not on <Records>)
            fields, parent = (
                (HEADER_ATTRIBUTE_BY_HEADING, HEADER)
                if self._section == HEADER
                else (RECORD_ATTRIBUTE_BY_HEADING, RECORD)
            )
            heading = next((heading for heading in fields if heading.lower() == name.lower()), None)
            if heading is not None:
                element = f"<{heading}>{_said(escape(cut(value)))}</{heading}>"
                advice = f"write the value as an element: {element} inside <{parent}>"
        attribute = f'{self._attribute_name(name)}="{_said(value)}"'
        self._refuse(f"<{cut(tag)}> has an attribute {attribute}; only <{ROOT}> may have attributes, so {advice}")

    def _attribute_name(self, name: str) -> str:
        """An attribute's name as the file writes it: expat names one of a namespace `uri}name`, said as
        `prefix:name` by the prefix the file bound to that namespace (`xml:` is bound by XML itself)."""
        if "}" not in name:
            return cut(name)
        uri, local = name.split("}", 1)
        prefix = "xml" if uri == _XML_NAMESPACE else self._namespace_prefixes.get(uri)
        return f"{_said(prefix)}:{cut(local)}" if prefix else f"{{{_said(uri)}}}{cut(local)}"

    def position(self) -> tuple[int, int]:
        return self.expat.CurrentLineNumber, self.expat.CurrentColumnNumber + 1

    def declaration(self, _version: str, encoding: str | None, _standalone: int) -> None:
        if encoding is None or encoding.lower() == "utf-8":
            return
        if _is_another_name_of_utf8(encoding):
            self._refuse(
                f"the XML declaration names encoding {quoted(encoding)}, which XML parsers do not take for UTF-8 (its name"
                ' is "UTF-8"): write encoding="UTF-8", or no encoding'
            )
        self._refuse(f"the XML declaration names encoding {quoted(encoding)}, and a batch file is UTF-8{_SAVE_AS_UTF8}")

    def _expect(self, condition: bool, detail: str) -> None:
        if not condition:
            self._refuse(detail)

    def _refuse(self, detail: str) -> NoReturn:
        line, column = self.position()
        raise BatchRefused(BatchCode.MALFORMED, detail, line, column)


_XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"  # the `xml:` prefix's, bound without a declaration


def _said(text: str) -> str:
    """A piece of the file said back between quotes the message writes itself (`xmlns="..."`): escaped and cut as
    `quoted` escapes and cuts it, so a line break, a control or a bidirectional override is shown as an escape
    (`\\n`, `\\u202e`) and never reaches a log, a terminal or a page as itself."""
    return quoted(text)[1:-1]


# --- plainly written files ------------------------------------------------------------------------
# Most files are written by programs, plainly: an XML declaration, the elements of the schema one per
# value, no comment, CDATA, processing instruction, DOCTYPE or attribute (but on the root). Such a file
# is read with three regular expressions over its text instead of a Python call per element and per
# text: a third of the time. The grammar below admits only documents that expat reads to the same
# header and records; whatever it does not admit, or what the reading would refuse, goes to expat.

_S = "[ \t\n]*+"
_DECLARATION = re.compile(
    rf"""<\?xml[ \t\n]+version{_S}={_S}(?:"1\.0"|'1\.0')"""
    rf"""(?:[ \t\n]+encoding{_S}={_S}(?:"(?i:utf-8)"|'(?i:utf-8)'))?"""
    rf"""(?:[ \t\n]+standalone{_S}={_S}(?:"(?:yes|no)"|'(?:yes|no)'))?{_S}\?>"""
)
# Element names are checked as the values are read (a name out of place is not plain). The quantifiers
# are possessive: the grammar never needs to give back what a repetition took, and the engine keeps
# no way back through 130,000 elements (a quarter of the time).
_DOCUMENT = re.compile(
    rf"{_S}<{ROOT}(?P<root_attributes>[ \t\n][^<>]*)?>"
    rf"{_S}<{HEADER}>(?P<header>(?:{_S}<(\w+)>[^<]*+</\3>)*+){_S}</{HEADER}>"
    rf"{_S}<{RECORDS}>(?P<records>(?:{_S}<{RECORD}>(?:{_S}<(\w+)>[^<]*+</\5>)*+{_S}</{RECORD}>)*+{_S})</{RECORDS}>"
    rf"{_S}</{ROOT}>{_S}"
)
# Inside a header or a record the document matched: each value's element name and text.
_VALUE = re.compile(r"<(\w+)>([^<]*)</")
_RECORD_END = f"</{RECORD}>"
_REFERENCE = re.compile("&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_PRINTABLE_ASCII_AND_LINE_BREAKS = bytes(range(0x20, 0x7F)) + b"\t\n\r"
# What XML 1.0 has no character for, in decoded UTF-8 with CR made LF (`str.strip` takes some for spaces)
_NOT_XML_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_RECORD_DEFAULTS = {name: field.get_default() for name, field in SubmittedRecord.model_fields.items()}
_new_object = object.__new__
_set_slot = object.__setattr__


class _NotPlain(Exception):
    """The file is not plainly written: expat reads it."""


def plain_xml(content: bytes, *, received_on: date | None = None) -> ParsedBatch | None:
    """The batch of a plainly written file, exactly as expat reads it; None for any other file, and
    for a file that would be refused."""
    raw = content.removeprefix(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "]" in text and "]]>" in text:  # the one character first: a search for three costs ~20 times more
        return None
    if "\r" in text:  # XML's end-of-line handling, before any character reference is resolved
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # every character printable but tabs and line breaks (CR is LF now): the bytes of a printable ASCII
    # file at once, else the text
    printable = not raw.translate(None, _PRINTABLE_ASCII_AND_LINE_BREAKS) or (
        text.replace("\n", " ").replace("\t", " ").isprintable()
    )
    if not printable and _NOT_XML_CHARACTER.search(text):
        return None  # expat refuses it where it stands, even where trimming a value would drop it
    declaration = _DECLARATION.match(text)
    start = declaration.end() if declaration else 0
    try:
        return (_in_schema_order(text, start, received_on) if printable else None) or _plain(text, start, received_on)
    except (_NotPlain, BatchRefused):
        return None


def _plain(text: str, start: int, received_on: date | None = None) -> ParsedBatch | None:
    document = _DOCUMENT.fullmatch(text, start)
    if document is None:
        return None
    header = _checked_header(text, document, received_on)
    records = _records(document["records"])
    return batch_of(header, records, BatchFormat.XML) if records else None


def _records(text: str) -> tuple[SubmittedRecord, ...]:
    *records, _ = text.split(_RECORD_END)
    if len(records) > MAX_BATCH_RECORDS:
        raise _NotPlain("too many records")
    return tuple(
        _record(line, _values(record, RECORD_ATTRIBUTE_BY_HEADING, in_header=False, tags_around=1))
        for line, record in enumerate(records, start=1)
    )


def _values(
    text: str, attribute_of: Mapping[str, str], *, in_header: bool, tags_around: int = 0
) -> dict[str, str | None]:
    """The values of a header's or a record's text (`tags_around`: the record's own start tag in it)."""
    fields = _VALUE.findall(text)
    # Each value is an element of its own; else an element the grammar took for a value (a Record in a
    # Record) cut the text short.
    if text.count("<") != tags_around + 2 * len(fields):
        raise _NotPlain("an element inside a value")
    try:
        values = {attribute_of[name]: value.strip() or None for name, value in fields}
    except KeyError:
        raise _NotPlain("an element out of place") from None
    if len(values) != len(fields):
        raise _NotPlain("a value appears twice")
    if "&" in text:
        values = {attribute: (value and _resolved(value).strip()) or None for attribute, value in values.items()}
    refuse_unstorable(list(values.values()), _nowhere, in_header=in_header)
    return values


def _record(line: int, values: dict[str, str | None]) -> SubmittedRecord:
    """`SubmittedRecord(line=line, **values)` without validating again what is text by construction."""
    record = _new_object(SubmittedRecord)
    fields = _RECORD_DEFAULTS.copy()
    fields["line"] = line
    fields.update(values)
    _set_slot(record, "__dict__", fields)
    _set_slot(record, "__pydantic_fields_set__", {"line", *values})
    _set_slot(record, "__pydantic_extra__", None)
    _set_slot(record, "__pydantic_private__", None)
    return record


def _resolved(value: str) -> str:
    """The text with its references replaced; _NotPlain where expat would refuse one."""
    if value.count("&") != len(_REFERENCE.findall(value)):
        raise _NotPlain("an undefined entity or a stray ampersand")
    return _REFERENCE.sub(_character, value)


def _character(reference: re.Match[str]) -> str:
    name, decimal, hexadecimal = reference.groups()
    if name:
        return _PREDEFINED[name]
    digits = (decimal or hexadecimal).lstrip("0") or "0"
    if len(digits) > 7:  # past U+10FFFF in either base (and past what int() reads of a decimal's digits)
        raise _NotPlain("a reference to a character XML does not have")
    code_point = int(digits, 10 if decimal else 16)
    # XML's Char: the references expat resolves; any other number is a fault it reports
    if not (
        code_point in (0x9, 0xA, 0xD)
        or 0x20 <= code_point <= 0xD7FF
        or 0xE000 <= code_point <= 0xFFFD
        or 0x10000 <= code_point <= 0x10FFFF
    ):
        raise _NotPlain("a reference to a character XML does not have")
    return chr(code_point)


# --- records written in the schema's order -----------------------------------------------------------
# Programs (and `write_xml`) write a record's values in the schema's order, trimmed, without references.
# Such a file is read with one match per record, which takes its values as the match's groups: no
# Python call per value, no check of each value's characters (the file's are checked at once). A record
# that is written otherwise (another order, a value to trim, an empty or over-long value) stops this
# reading, and the file is read as above.

# A value trimmed already (no white space at either end, as `str.strip` sees it: `\s`), not empty, and at
# most MAX_VALUE_CHARACTERS long; the possessive repetition keeps no way back into it.
_TRIMMED_VALUE = rf"[^\s<](?:[^<]{{0,{MAX_VALUE_CHARACTERS - 1}}}+(?<!\s))?"
_HEAD = re.compile(
    rf"{_S}<{ROOT}(?P<root_attributes>[ \t\n][^<>]*)?>"
    rf"{_S}<{HEADER}>(?P<header>(?:{_S}<(\w+)>[^<]*+</\3>)*+){_S}</{HEADER}>"
    rf"{_S}<{RECORDS}>"
)
# Each value is a group named by its field, after an empty group named `line`: the match's `groupdict` is
# the record's fields in the model's order up to its last value (`line` set afterwards keeps its place).
_RECORD_IN_ORDER = re.compile(
    rf"{_S}<{RECORD}>(?P<line>){_S}"
    + "".join(
        rf"(?:<{name}>(?P<{attribute}>{_TRIMMED_VALUE})</{name}>{_S})?"
        for name, attribute in RECORD_ATTRIBUTE_BY_HEADING.items()
    )
    + rf"</{RECORD}>"
)
_TAIL = re.compile(rf"{_S}</{RECORDS}>{_S}</{ROOT}>{_S}")
_RECORD_VALUES = tuple(RECORD_ATTRIBUTE_BY_HEADING.values())
_RECORD_OTHER_FIELDS = tuple(name for name in _RECORD_DEFAULTS if name != "line" and name not in _RECORD_VALUES)
_RECORD_KEYS = ("line", *_RECORD_VALUES, *_RECORD_OTHER_FIELDS)
_RECORD_GROUPS = _RECORD_KEYS[: 1 + len(_RECORD_VALUES)]
if tuple(_RECORD_DEFAULTS) != _RECORD_KEYS or tuple(_RECORD_IN_ORDER.groupindex) != _RECORD_GROUPS:
    raise AssertionError("a record's values are no longer in the model's order")
# the fields after the file's values, with their defaults
_RECORD_OTHERS = {name: _RECORD_DEFAULTS[name] for name in _RECORD_OTHER_FIELDS}


def _checked_header(text: str, start: re.Match[str], received_on: date | None) -> BatchHeader:
    """The header of a file matched up to it (`root_attributes` and `header` groups), its root's
    attributes checked as expat would take them."""
    if start["root_attributes"] is not None:
        _check_root_attributes(text[start.start() : start.end("root_attributes") + 1])
    return header_from(_values(start["header"], HEADER_ATTRIBUTE_BY_HEADING, in_header=True), received_on)


def _in_schema_order(text: str, start: int, received_on: date | None = None) -> ParsedBatch | None:
    """The batch when every record holds its values in the schema's order, trimmed; None when the file
    is to be read by `_plain`. Its characters are printable, tabs and line feeds aside: no record value
    holds one `refuse_unstorable` refuses, so none is checked again (a header value is)."""
    if "&" in text:
        return None
    head = _HEAD.match(text, start)
    if head is None:
        return None
    header = _checked_header(text, head, received_on)
    records: list[SubmittedRecord] = []
    append = records.append
    record_at = _RECORD_IN_ORDER.match  # each where the one before ended; a search could scan on for every record
    end = head.end()
    while (match := record_at(text, end)) is not None:
        line = len(records) + 1
        if line > MAX_BATCH_RECORDS:
            return None
        end = match.end()
        # as `_record` builds it: every field in the model's order, the line and those the file holds set
        # (a value the match took is never empty)
        fields = match.groupdict()
        fields["line"] = line
        fields.update(_RECORD_OTHERS)
        record = _new_object(SubmittedRecord)
        _set_slot(record, "__dict__", fields)
        _set_slot(record, "__pydantic_fields_set__", set(compress(_RECORD_GROUPS, fields.values())))
        _set_slot(record, "__pydantic_extra__", None)
        _set_slot(record, "__pydantic_private__", None)
        append(record)
    if not records or _TAIL.fullmatch(text, end) is None:
        return None
    return batch_of(header, tuple(records), BatchFormat.XML)


def _check_root_attributes(start_tag: str) -> None:
    """The root's attributes are ignored, but expat must take them: well-formed, every prefix bound,
    and no default namespace (which would rename every element)."""
    names: list[str] = []
    parser = expat.ParserCreate(None, "}")
    parser.StartElementHandler = lambda name, _attributes: names.append(name)
    try:
        parser.Parse(f"{start_tag.strip()}</{ROOT}>".encode(), True)
    except expat.ExpatError:
        raise _NotPlain("root attributes expat refuses") from None
    if names != [ROOT]:
        raise _NotPlain("a default namespace")


def _nowhere(_index: int) -> tuple[str, int | None, int | None]:
    raise _NotPlain("a value that cannot be stored")
