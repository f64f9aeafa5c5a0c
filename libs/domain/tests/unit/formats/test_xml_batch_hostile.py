"""XML as a hostile or careless writer sends it: attributes below the root (which the schema refuses, and which
would otherwise be read as absent values) and namespace URIs holding line breaks or bidirectional overrides (which
a refusal must not say back as they are)."""

from __future__ import annotations

import re

import pytest
from libs.domain.tests.unit.formats.batch_documents import HEADER, records, xml_document

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, ParsedBatch, parse_batch
from lrs_domain.formats.xml_batch import _parse_with_expat, plain_xml

HEADER_XML = (
    "<Header><AwardingOrganisation>RN5133</AwardingOrganisation>"
    "<NotificationEmail>results@example.org</NotificationEmail></Header>"
)
RECORD_XML = "<Record><ULN>1000000043</ULN><Grade>Pass</Grade></Record>"
# what must never reach a stored refusal as itself: line breaks, C0/C1 controls, bidirectional overrides and marks
UNSAFE_IN_A_MESSAGE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _batch(header: str = HEADER_XML, records_xml: str = RECORD_XML, root: str = "<AchievementBatch>") -> bytes:
    return f"{root}{header}<Records>{records_xml}</Records></AchievementBatch>".encode()


def _refusal(content: bytes) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, BatchFormat.XML)
    return refused.value


def _both_readers_refuse(content: bytes) -> BatchRefused:
    """The refusal of `content`, after checking that the plain reading leaves it to expat (it takes no attribute below
    the root) and that expat refuses it on its own too."""
    assert plain_xml(content) is None
    with pytest.raises(BatchRefused):
        _parse_with_expat(content)
    return _refusal(content)


# --- an attribute below the root is RS001, named, where its element starts ---------------------------------------


@pytest.mark.parametrize(
    ("content", "column", "detail"),
    [
        (
            _batch(records_xml='<Record Action="Withdraw"><ULN>1000000043</ULN><Grade>Pass</Grade></Record>'),
            154,
            '<Record> has an attribute Action="Withdraw"; only <AchievementBatch> may have attributes, so write the'
            " value as an element: <Action>Withdraw</Action> inside <Record>",
        ),
        (
            _batch(records_xml='<Record ULN="1000000043" Grade="Merit"/>'),
            154,
            '<Record> has an attribute ULN="1000000043"; only <AchievementBatch> may have attributes, so write the'
            " value as an element: <ULN>1000000043</ULN> inside <Record>",
        ),
        (
            _batch(records_xml='<Record action="Withdraw"><ULN>1000000043</ULN></Record>'),
            154,
            '<Record> has an attribute action="Withdraw"; only <AchievementBatch> may have attributes, so write the'
            " value as an element: <Action>Withdraw</Action> inside <Record>",
        ),
        (
            _batch(records_xml='<Record><ULN Grade="R&amp;D">1000000043</ULN></Record>'),
            162,
            '<ULN> has an attribute Grade="R&D"; only <AchievementBatch> may have attributes, so write the value as an'
            " element: <Grade>R&amp;D</Grade> inside <Record>",
        ),
        (
            _batch(header=HEADER_XML.replace("<Header>", '<Header JobType="Provisional">')),
            19,
            '<Header> has an attribute JobType="Provisional"; only <AchievementBatch> may have attributes, so write'
            " the value as an element: <JobType>Provisional</JobType> inside <Header>",
        ),
        (
            _batch(header=HEADER_XML.replace("<AwardingOrganisation>", '<AwardingOrganisation id="7">')),
            27,
            '<AwardingOrganisation> has an attribute id="7"; only <AchievementBatch> may have attributes, so remove it',
        ),
        (
            _batch().replace(b"<Records>", b'<Records count="1">'),
            145,
            '<Records> has an attribute count="1"; only <AchievementBatch> may have attributes, so remove it',
        ),
        (
            _batch(records_xml='<Record xml:lang="cy"><ULN>1000000043</ULN></Record>'),
            154,
            '<Record> has an attribute xml:lang="cy"; only <AchievementBatch> may have attributes, so remove it',
        ),
        (
            _batch(
                records_xml='<Record><Grade xsi:nil="true"/></Record>',
                root='<AchievementBatch xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
            ),
            216,
            '<Grade> has an attribute xsi:nil="true"; only <AchievementBatch> may have attributes, so remove it',
        ),
    ],
    ids=[
        "record-action",
        "record-of-attributes-only",
        "record-action-lower-case",
        "value-element",
        "header",
        "header-value",
        "records",
        "xml-lang",
        "xsi-nil",
    ],
)
def test_an_attribute_below_the_root_is_refused_naming_it_and_saying_how_to_write_a_field(
    content: bytes, column: int, detail: str
) -> None:
    refusal = _both_readers_refuse(content)

    assert (refusal.code, refusal.line, refusal.column, refusal.detail) == (BatchCode.MALFORMED, 1, column, detail)


def test_a_withdrawal_written_as_an_attribute_is_refused_not_judged_as_a_create() -> None:
    """The fuzzing report's case: `<Record Action="Withdraw">` was read as a record without an action (a Create)."""
    content = xml_document(HEADER, records(3)).replace(
        b"<Record><Action>Create</Action>", b'<Record Action="Withdraw">'
    )

    refusal = _both_readers_refuse(content)

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, 5, 5)
    assert "<Action>Withdraw</Action> inside <Record>" in refusal.detail


def test_an_attribute_on_any_element_below_the_root_is_refused_by_both_readings() -> None:
    content = xml_document(HEADER, records(3))
    names = sorted(set(re.findall(rb"<(\w+)>", content)) - {b"AchievementBatch"})
    assert len(names) > 15
    for name in names:
        changed = content.replace(b"<" + name + b">", b"<" + name + b' data-x="1">', 1)
        refusal = _both_readers_refuse(changed)
        assert refusal.code is BatchCode.MALFORMED
        assert refusal.detail.startswith(f'<{name.decode()}> has an attribute data-x="1"'), refusal.detail
        assert refusal.line is not None and refusal.column is not None


def test_attributes_on_the_root_are_still_ignored_by_both_readings() -> None:
    content = xml_document(HEADER, records(3)).replace(
        b"<AchievementBatch>",
        b'<AchievementBatch xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        b' xsi:noNamespaceSchemaLocation="achievement-batch.xsd" version="2" xml:lang="en">',
    )

    plain = plain_xml(content)
    expat = _parse_with_expat(content)

    assert isinstance(plain, ParsedBatch)
    assert plain == expat == parse_batch(content, BatchFormat.XML)
    assert [record.action for record in expat.records] == ["Create"] * 3


def test_an_attribute_said_back_is_escaped_and_cut_short() -> None:
    value = "a&#10;&#13;Your file was ACCEPTED&#x202E;&#x2028;gnp.exe" + "Z" * 5_000
    refusal = _both_readers_refuse(_batch(records_xml=f'<Record Grade="{value}"/>'))

    assert not UNSAFE_IN_A_MESSAGE.search(refusal.detail), refusal.detail
    # expat normalises the line breaks of an attribute value written as references to spaces: none of them is lost
    assert 'Grade="a\\n\\rYour file was ACCEPTED\\u202e\\u2028gnp.exe' in refusal.detail
    assert "Z…</Grade> inside <Record>" in refusal.detail
    assert len(refusal.detail) < 400


# --- a namespace URI is said back escaped ------------------------------------------------------------------------

HOSTILE_URI = "urn:a&#10;&#10;Line two: your file was ACCEPTED&#x202E;gnp.exe&#x2028;&#x85;&#9;&#x9F;"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            f'<AchievementBatch xmlns="{HOSTILE_URI}"/>'.encode(),
            'remove xmlns="urn:a\\n\\nLine two: your file was ACCEPTED\\u202egnp.exe\\u2028\\x85\\t\\x9f"',
        ),
        (
            f'<x:AchievementBatch xmlns:x="{HOSTILE_URI}"/>'.encode(),
            'remove xmlns:x="urn:a\\n\\nLine two: your file was ACCEPTED\\u202egnp.exe\\u2028\\x85\\t\\x9f" and the x:'
            " before element names",
        ),
        (
            _batch(records_xml=f'<Record xmlns="{HOSTILE_URI}"><ULN>1000000043</ULN></Record>'),
            "<Record> is in a namespace: a batch's elements are in no namespace, so remove xmlns=\"urn:a\\n\\nLine two:"
            ' your file was ACCEPTED\\u202egnp.exe\\u2028\\x85\\t\\x9f"',
        ),
    ],
    ids=["root-default-namespace", "root-prefixed", "record-default-namespace"],
)
def test_a_namespace_uri_is_said_back_escaped(content: bytes, said: str) -> None:
    refusal = _refusal(content)

    assert refusal.code is BatchCode.MALFORMED
    assert not UNSAFE_IN_A_MESSAGE.search(refusal.detail), refusal.detail
    assert said in refusal.detail


def test_a_root_in_a_hostile_namespace_is_named_escaped() -> None:
    refusal = _refusal(f'<AchievementBatch xmlns="{HOSTILE_URI}"/>'.encode())

    assert refusal.detail.startswith(
        "the root element must be <AchievementBatch>, not <{urn:a\\n\\nLine two: your file was ACCEPTED\\u202egnp.exe"
    )
    assert (refusal.line, refusal.column) == (1, 1)


def test_a_plain_namespace_uri_is_still_said_as_the_file_writes_it() -> None:
    refusal = _refusal(b'<x:AchievementBatch xmlns:x="urn:example:lrs"/>')

    assert refusal.detail == (
        "the root element must be <AchievementBatch>, not <{urn:example:lrs}AchievementBatch>: a batch's elements are"
        ' in no namespace, so remove xmlns:x="urn:example:lrs" and the x: before element names'
    )
