import socket

import pytest
from libs.domain.tests.unit.formats.batch_documents import HEADER, records, xml_document

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, ParsedBatch, parse_batch
from lrs_domain.formats.xml_batch import plain_xml

HEADER_XML = (
    "<Header><AwardingOrganisation>RN5133</AwardingOrganisation>"
    "<NotificationEmail>results@example.org</NotificationEmail></Header>"
)
RECORD_XML = "<Record><ULN>1000000043</ULN><GivenName>Alex</GivenName></Record>"


def _batch(header: str = HEADER_XML, records_xml: str = RECORD_XML, prolog: str = "") -> bytes:
    return f"{prolog}<AchievementBatch>{header}<Records>{records_xml}</Records></AchievementBatch>".encode()


def _parse(content: bytes) -> ParsedBatch:
    return parse_batch(content, BatchFormat.XML)


def _refusal(content: bytes) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        _parse(content)
    return refused.value


EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE AchievementBatch [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<AchievementBatch><Header><AwardingOrganisation>&secret;</AwardingOrganisation></Header></AchievementBatch>"""

EXTERNAL_ENTITY_OVER_NETWORK = b"""<?xml version="1.0"?>
<!DOCTYPE AchievementBatch [<!ENTITY remote SYSTEM "http://127.0.0.1:9/steal">]>
<AchievementBatch><Header><AwardingOrganisation>&remote;</AwardingOrganisation></Header></AchievementBatch>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<AchievementBatch><Header><AwardingOrganisation>&lol9;</AwardingOrganisation></Header></AchievementBatch>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE AchievementBatch SYSTEM "http://127.0.0.1:9/batch.dtd">
<AchievementBatch/>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE AchievementBatch [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<AchievementBatch/>"""

PLAIN_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE AchievementBatch>
<AchievementBatch/>"""


@pytest.mark.parametrize(
    "content",
    [EXTERNAL_ENTITY, EXTERNAL_ENTITY_OVER_NETWORK, BILLION_LAUGHS, EXTERNAL_DTD, PARAMETER_ENTITY, PLAIN_DOCTYPE],
    ids=["external-entity", "network-entity", "billion-laughs", "external-dtd", "parameter-entity", "doctype"],
)
def test_any_doctype_or_entity_declaration_is_refused_before_anything_is_expanded(content: bytes) -> None:
    refusal = _refusal(content)

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.detail == (
        "a DOCTYPE declaration is not allowed: remove the <!DOCTYPE ...> line (a batch file has no DTD)"
    )
    assert refusal.line == 2


def test_nothing_is_fetched_while_refusing_an_external_entity(monkeypatch: pytest.MonkeyPatch) -> None:
    connections: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda _socket, address: connections.append(address))
    monkeypatch.setattr(socket, "create_connection", lambda address, *_args, **_kwargs: connections.append(address))

    assert _refusal(EXTERNAL_ENTITY_OVER_NETWORK).code is BatchCode.MALFORMED
    assert _refusal(EXTERNAL_DTD).code is BatchCode.MALFORMED
    assert connections == []


def test_an_undeclared_entity_reference_is_malformed() -> None:
    refusal = _refusal(_batch(records_xml="<Record><GivenName>&nbsp;</GivenName></Record>"))

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.line == 1


def test_the_builtin_entities_and_character_references_are_read() -> None:
    batch = _parse(
        _batch(records_xml="<Record><FamilyName>O&apos;Neill &amp; Co &#x41;&#66;&lt;&gt;&quot;</FamilyName></Record>")
    )

    assert batch.records[0].family_name == "O'Neill & Co AB<>\""


def test_cdata_comments_and_processing_instructions_are_allowed() -> None:
    batch = _parse(
        _batch(
            records_xml="<!-- first --><Record><?note x?><GivenName><![CDATA[Zoë <Z>]]></GivenName></Record>",
            prolog='<?xml version="1.0" encoding="UTF-8"?>\n<!-- generated -->\n',
        )
    )

    assert batch.records[0].given_name == "Zoë <Z>"


def test_a_utf8_byte_order_mark_and_a_utf8_declaration_in_any_case_are_read() -> None:
    utf8_with_bom = b"\xef\xbb\xbf" + _batch(records_xml="<Record><GivenName>Zoë</GivenName></Record>")
    lower_case = _batch(prolog="<?xml version='1.0' encoding='utf-8'?>", records_xml=RECORD_XML.replace("Alex", "Zoë"))

    assert _parse(utf8_with_bom).records[0].given_name == "Zoë"
    assert _parse(lower_case).records[0].given_name == "Zoë"


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "windows-1252", "US-ASCII", "UTF-16", "Shift_JIS"])
def test_a_declaration_naming_another_encoding_is_rs001_where_it_stands(encoding: str) -> None:
    content = f'<?xml version="1.0" encoding="{encoding}"?>\n'.encode() + _batch(
        records_xml="<Record><GivenName>Zoe</GivenName></Record>"
    )

    refusal = _refusal(content)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 1)
    assert f"encoding '{encoding}'" in refusal.detail and "UTF-8" in refusal.detail


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_or_utf32_file_is_rs001_even_without_a_declaration(codec: str) -> None:
    content = _batch().decode().encode(codec)
    if not codec.endswith("-be"):
        assert content[:2] in (b"\xff\xfe", b"\xfe\xff")
    else:
        content = b"\xfe\xff" + content

    refusal = _refusal(content)

    assert refusal.code == BatchCode.MALFORMED
    assert "not UTF-8" in refusal.detail and refusal.detail.endswith(": save it as UTF-8")


def test_bytes_that_are_not_utf8_in_a_utf8_document_are_malformed_with_line_and_column() -> None:
    content = _batch(records_xml="<Record>\n<GivenName>Zo#</GivenName></Record>").replace(b"#", b"\xeb")

    refusal = _refusal(content)

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, 2, 14)
    assert refusal.detail == (
        'byte 0xEB is not UTF-8: save the file as UTF-8, with encoding="UTF-8" or no encoding in its XML declaration'
    )


@pytest.mark.parametrize("declared", [True, False], ids=["declared-utf8", "undeclared"])
def test_a_file_saved_as_windows_1252_names_the_byte_that_is_not_utf8_where_it_stands(declared: bool) -> None:
    """ "Siân" in Windows-1252 is `Si\\xe2n`, which expat calls "not well-formed (invalid token)"."""
    document = xml_document(HEADER, records(3))
    content = (document if declared else document.split(b"\n", 1)[1]).decode().encode("cp1252")
    line = content[: content.index(b"\xe2")].count(b"\n") + 1

    refusal = _refusal(content)

    assert plain_xml(content) is None  # the plain reading leaves every file that is not UTF-8 to expat
    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, line)
    assert refusal.column == len(content.split(b"\n")[line - 1].split(b"\xe2")[0]) + 1
    assert refusal.detail.startswith("byte 0xE2 is not UTF-8: save the file as UTF-8")


def test_a_fault_before_a_byte_that_is_not_utf8_is_reported_as_itself() -> None:
    content = b"<AchievementBatch>\n<Header></Head>\n<Records>Si\xe2n</Records></AchievementBatch>"

    refusal = _refusal(content)

    assert (refusal.code, refusal.line, refusal.detail) == (BatchCode.MALFORMED, 2, "malformed XML: mismatched tag")


@pytest.mark.parametrize("encoding", ["utf8", "UTF8", "utf_8"])
def test_a_declaration_naming_utf8_by_a_name_xml_does_not_know_says_to_write_utf8(encoding: str) -> None:
    """expat reads `utf8` as a one-byte encoding and refuses the first character beyond ASCII: the name is refused
    whatever the file holds."""
    content = _batch(prolog=f'<?xml version="1.0" encoding="{encoding}"?>\n')

    refusal = _refusal(content)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 1)
    assert refusal.detail == (
        f"the XML declaration names encoding {encoding!r}, which XML parsers do not take for UTF-8 (its name is"
        ' "UTF-8"): write encoding="UTF-8", or no encoding'
    )


@pytest.mark.parametrize(
    ("content", "line", "column"),
    [
        (b"", 1, 1),
        (b"<AchievementBatch>", 1, 19),
        (b"<AchievementBatch>\n<Header>\n</Head>\n</AchievementBatch>", 3, 3),
        (b"<AchievementBatch/>\n<AchievementBatch/>", 2, 1),
        (b"not xml at all", 1, 1),
    ],
)
def test_malformed_xml_is_rs001_with_line_and_column(content: bytes, line: int, column: int) -> None:
    refusal = _refusal(content)

    assert (refusal.code, refusal.line, refusal.column) == (BatchCode.MALFORMED, line, column)
    assert refusal.detail.startswith("malformed XML")


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"<Batch/>", "the root element must be <AchievementBatch>, not <Batch>"),
        (
            b'<x:AchievementBatch xmlns:x="urn:example:other"/>',
            "the root element must be <AchievementBatch>, not <{urn:example:other}AchievementBatch>",
        ),
        (_batch(prolog="").replace(b"<AchievementBatch>", b'<AchievementBatch xmlns="urn:lrs">'), "root element"),
        (_batch(header=HEADER_XML + "<Footer/>"), "<AchievementBatch> holds <Header> and <Records>, not <Footer>"),
        (_batch(header=HEADER_XML + HEADER_XML), "<Header> appears twice"),
        (b"<AchievementBatch><Records/>" + HEADER_XML.encode() + b"</AchievementBatch>", "must come before"),
        (b"<AchievementBatch><Records/></AchievementBatch>", "must come before"),
        (_batch(header=HEADER_XML.replace("Notification", "Contact")), "<Header> has no element <ContactEmail>"),
        (_batch(records_xml="<Record><Uln>1000000043</Uln></Record>"), "<Record> has no element <Uln>"),
        (_batch(records_xml="<Record><ULN>1</ULN><ULN>2</ULN></Record>"), "<ULN> appears twice in one <Record>"),
        (_batch(records_xml="<Learner/>"), "<Records> holds only <Record> elements, not <Learner>"),
        (_batch(records_xml="<Record><ULN><Digits>1</Digits></ULN></Record>"), "<ULN> holds a value"),
        (_batch(header=HEADER_XML.replace("RN5133", "RN<b>5133</b>")), "<AwardingOrganisation> holds a value"),
        (_batch(records_xml="<Record>1000000043</Record>"), "text '1000000043' is not allowed here"),
        (_batch(records_xml=RECORD_XML + "stray"), "text 'stray' is not allowed here"),
    ],
)
def test_an_unexpected_structure_is_malformed_with_its_position(content: bytes, detail: str) -> None:
    refusal = _refusal(content)

    assert refusal.code is BatchCode.MALFORMED
    assert detail in refusal.detail
    assert refusal.line == 1
    assert refusal.column is not None


@pytest.mark.parametrize(
    ("root", "detail"),
    [
        (
            '<AchievementBatch xmlns="urn:example:lrs">',
            "the root element must be <AchievementBatch>, not <{urn:example:lrs}AchievementBatch>: a batch's elements"
            ' are in no namespace, so remove xmlns="urn:example:lrs"',
        ),
        (
            '<x:AchievementBatch xmlns:x="urn:example:lrs">',
            "the root element must be <AchievementBatch>, not <{urn:example:lrs}AchievementBatch>: a batch's elements"
            ' are in no namespace, so remove xmlns:x="urn:example:lrs" and the x: before element names',
        ),
    ],
    ids=["default-namespace", "prefixed"],
)
def test_a_root_element_in_a_namespace_says_to_remove_the_namespace_it_names(root: str, detail: str) -> None:
    content = _batch().replace(b"<AchievementBatch>", root.encode())
    if root.startswith("<x:"):
        content = content.replace(b"</AchievementBatch>", b"</x:AchievementBatch>")

    refusal = _refusal(content)

    assert (refusal.code, refusal.line, refusal.column, refusal.detail) == (BatchCode.MALFORMED, 1, 1, detail)


def test_an_element_inside_the_batch_in_a_namespace_says_so() -> None:
    refusal = _refusal(_batch(records_xml='<Record xmlns="urn:example:lrs"><ULN>1000000043</ULN></Record>'))

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.detail == (
        '<Record> is in a namespace: a batch\'s elements are in no namespace, so remove xmlns="urn:example:lrs"'
    )


@pytest.mark.parametrize(("written", "meant"), [("Uln", "ULN"), ("givenName", "GivenName"), ("CREDITS", "Credits")])
def test_an_element_named_in_another_case_names_the_one_meant(written: str, meant: str) -> None:
    refusal = _refusal(_batch(records_xml=f"<Record><{written}>1</{written}></Record>"))

    assert refusal.code is BatchCode.MALFORMED
    assert (
        refusal.detail == f"<Record> has no element <{written}>: element names are case-sensitive, so write <{meant}>"
    )


def test_a_header_element_named_in_another_case_names_the_one_meant() -> None:
    refusal = _refusal(_batch(header=HEADER_XML.replace("AwardingOrganisation", "AWARDINGORGANISATION")))

    assert refusal.detail == (
        "<Header> has no element <AWARDINGORGANISATION>: element names are case-sensitive, so write"
        " <AwardingOrganisation>"
    )


def test_a_structural_fault_is_reported_at_its_line() -> None:
    content = xml_document(HEADER, records(3)).replace(b"<Grade>", b"<Result>", 1).replace(b"</Grade>", b"</Result>", 1)

    refusal = _refusal(content)

    assert (refusal.code, refusal.line) == (BatchCode.MALFORMED, 5)


def test_a_file_without_a_header_is_malformed() -> None:
    assert _refusal(b"<AchievementBatch/>").code is BatchCode.MALFORMED


def test_a_header_without_records_element_or_with_an_empty_one_is_rs006() -> None:
    assert _refusal(b"<AchievementBatch>" + HEADER_XML.encode() + b"</AchievementBatch>").code is BatchCode.NO_RECORDS
    assert _refusal(_batch(records_xml="")).code is BatchCode.NO_RECORDS


def test_empty_and_absent_elements_are_both_none_and_values_are_trimmed() -> None:
    batch = _parse(
        _batch(
            records_xml="<Record><ULN>\n  1000000043\n</ULN><GivenName/><FamilyName>  </FamilyName></Record><Record/>"
        )
    )

    assert [(record.line, record.uln, record.given_name, record.family_name) for record in batch.records] == [
        (1, "1000000043", None, None),
        (2, None, None, None),
    ]


def test_attributes_are_ignored_so_a_schema_location_is_allowed() -> None:
    content = _batch().replace(
        b"<AchievementBatch>",
        b'<AchievementBatch xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        b' xsi:noNamespaceSchemaLocation="achievement-batch.xsd">',
    )

    assert _parse(content).records[0].uln == "1000000043"
