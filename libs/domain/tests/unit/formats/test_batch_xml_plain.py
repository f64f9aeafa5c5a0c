"""The plain reading of XML files (`plain_xml`) agrees with expat's: where it reads a file at all, it
reads the same header and records, and it takes every file written plainly."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from libs.domain.tests.unit.formats.batch_documents import HEADER, records, xml_document

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import BatchRefused, ParsedBatch, parse_batch, write_xml
from lrs_domain.formats.limits import HEADER_ATTRIBUTE_BY_HEADING, RECORD_ATTRIBUTE_BY_HEADING
from lrs_domain.formats.xml_batch import _in_schema_order, _plain, plain_xml

HEADINGS = list(RECORD_ATTRIBUTE_BY_HEADING)
HEADER_HEADINGS = [
    name for name in HEADER_ATTRIBUTE_BY_HEADING if name not in ("AwardingOrganisation", "NotificationEmail", "JobType")
]
SPACE = st.sampled_from(["", " ", "\n", "\r\n", "\t  ", "\r"])
# Text as files hold it: characters, references, line breaks, spaces to trim.
TEXT = st.one_of(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="<&", exclude_categories=["Cc", "Cs"]), max_size=12
    ),
    st.lists(
        st.sampled_from(
            [
                "a",
                "9",
                " ",
                "/",
                "\t",
                "\n",
                "\r",
                "\u00e9",
                "&amp;",
                "&#233;",
                "&#x1F600;",
                "&#13;",
                "&gt;",
                "&apos;",
                "&quot;",
                "&#32;",
                ">",
            ]
        ),
        max_size=8,
    ).map("".join),
)
PROLOGS = [
    "",
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    "<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
    '\ufeff<?xml version="1.0"?>',
]
ROOTS = [
    "<AchievementBatch>",
    '<AchievementBatch xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="batch.xsd">',
]
# One change to a plainly written file, which the plain reading must either read as expat does or leave.
CHANGES = [
    ("<Records>", "<Records><!-- a comment -->"),
    ("<Records>", "<Records><?pi x?>"),
    ("<Records>", "<Records><Record><Grade><![CDATA[x]]></Grade></Record>"),
    ("<Records>", "<Records><Record><Grade/></Record>"),
    ("<Records>", "<Records><Record><Grade >4</Grade ></Record>"),
    ("<Records>", "<Records><Record><Grade>4</Action></Record>"),
    ("<Records>", "<Records><Record><Unknown>4</Unknown></Record>"),
    ("<Records>", "<Records><Record><Record>4</Record></Record>"),
    ("<Records>", "<Records><Record><Grade>4</Grade><Grade>5</Grade></Record>"),
    ("<Records>", "<Records><Record>text</Record>"),
    ("<Records>", "<Records>\u00a0<Record></Record>"),
    ("<Records>", "<Records><Record><Grade>&unknown;</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>R&D</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>&#0;</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>&#xFFFE;</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>&#xD800;</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>\ufffe</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>\x01</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>a]]>b</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>" + "x" * 1_100 + "</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>&#x2028;&#133;</Grade></Record>"),
    ("<Records>", "<Records><Record><Grade>\u2028\u0085</Grade></Record>"),
    ("<Header>", "<Header><FileVersion>1</FileVersion><FileVersion>2</FileVersion>"),
    ("<Header>", "<Header><Record>1</Record>"),
    ("<Header>", "<Header><BatchReference>a&#10;b</BatchReference>"),
    ("<Header>", "<Header><JobType>Interim</JobType>"),
    ("<AchievementBatch", "<!DOCTYPE AchievementBatch><AchievementBatch"),
    ("<AchievementBatch", '<?xml version="1.0" encoding="ISO-8859-1"?><AchievementBatch'),
    ("<AchievementBatch", '<?xml version="1.1"?><AchievementBatch'),
    ("<AchievementBatch", " <AchievementBatch"),
    ("<AchievementBatch>", '<AchievementBatch xmlns="urn:batch">'),
    ("<AchievementBatch>", '<AchievementBatch xsi:type="x">'),
    ("<AchievementBatch>", "<AchievementBatch a='1' a='2'>"),
    ("<AchievementBatch>", "<AchievementBatch a='<'>"),
    ("</AchievementBatch>", "</AchievementBatch><!-- after -->"),
    ("</AchievementBatch>", "</AchievementBatch>trailing"),
    ("</Records>", "</Records><Records></Records>"),
    ("<Records>", "<Records></Records><Records>"),
]


@st.composite
def record(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(HEADINGS), unique=True, max_size=5))
    space = draw(SPACE)
    inner = "".join(f"{space}<{name}>{draw(TEXT)}</{name}>" for name in names)
    return f"<Record>{inner}{draw(SPACE)}</Record>"


@st.composite
def document(draw: st.DrawFn) -> bytes:
    header = "".join(
        f"<{name}>{draw(TEXT).replace(chr(10), '').replace(chr(13), '').replace('&#13;', '')}</{name}>"
        for name in draw(st.lists(st.sampled_from(HEADER_HEADINGS), unique=True, max_size=3))
    )
    header = (
        "<AwardingOrganisation>RN5133</AwardingOrganisation>"
        "<NotificationEmail>results@example.org</NotificationEmail>" + header
    )
    space = draw(SPACE)
    body = space.join(draw(st.lists(record(), min_size=1, max_size=4)))
    text = (
        f"{draw(st.sampled_from(PROLOGS))}{draw(st.sampled_from(ROOTS))}{space}<Header>{header}</Header>{space}"
        f"<Records>{body}</Records>{space}</AchievementBatch>"
    )
    if draw(st.integers(0, 3)) == 0:
        old, new = draw(st.sampled_from(CHANGES))
        text = text.replace(old, new, 1)
    return text.encode(draw(st.sampled_from(["utf-8"] * 9 + ["utf-16"])), errors="surrogatepass")


# Records as programs write them, each value in the schema's order; some values are not as that reading
# takes them (to trim, empty, a reference, a character to check, too long), and those files are read by the
# plain reading of any order or left to expat.
VALUE_IN_ORDER = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="<&", exclude_categories=["Cs"]), max_size=12),
    TEXT,
    st.sampled_from(["Pass", "x", "1000000043", " padded ", "\u00a0nbsp", "tail\u2003", "", "y" * 1_024, "z" * 1_025]),
)


@st.composite
def record_in_schema_order(draw: st.DrawFn) -> str:
    names = [name for name in HEADINGS if draw(st.integers(0, 4))]
    inner = "".join(f"{draw(SPACE)}<{name}>{draw(VALUE_IN_ORDER)}</{name}>" for name in names)
    return f"{draw(SPACE)}<Record>{inner}{draw(SPACE)}</Record>"


@st.composite
def document_in_schema_order(draw: st.DrawFn) -> bytes:
    header = (
        "<AwardingOrganisation>RN5133</AwardingOrganisation><NotificationEmail>results@example.org</NotificationEmail>"
    )
    body = "".join(draw(st.lists(record_in_schema_order(), min_size=1, max_size=5)))
    text = (
        f"{draw(st.sampled_from(PROLOGS))}{draw(st.sampled_from(ROOTS))}{draw(SPACE)}<Header>{header}</Header>"
        f"{draw(SPACE)}<Records>{body}{draw(SPACE)}</Records>{draw(SPACE)}</AchievementBatch>{draw(SPACE)}"
    )
    if draw(st.integers(0, 3)) == 0:
        old, new = draw(st.sampled_from(CHANGES))
        text = text.replace(old, new, 1)
    return text.encode()


def expat_reading(content: bytes) -> ParsedBatch | BatchRefused:
    try:
        return parse_batch_with_expat(content)
    except BatchRefused as refusal:
        return refusal


def parse_batch_with_expat(content: bytes) -> ParsedBatch:
    from lrs_domain.formats.xml_batch import _parse_with_expat

    return _parse_with_expat(content)


def same(plain: ParsedBatch, expat: ParsedBatch) -> None:
    assert plain == expat
    for ours, theirs in zip(plain.records, expat.records, strict=True):
        assert ours.model_fields_set == theirs.model_fields_set
        assert ours.model_dump_json() == theirs.model_dump_json()


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(document())
def test_a_file_read_plainly_is_read_as_expat_reads_it(content: bytes) -> None:
    plain = plain_xml(content)
    if plain is not None:
        expat = expat_reading(content)
        assert isinstance(expat, ParsedBatch), f"expat refuses what the plain reading took: {expat}"
        same(plain, expat)


def test_files_written_plainly_are_read_plainly() -> None:
    rows = records(50)
    rows[3] = {**rows[3], "given_name": 'Zoë & Ann <née> "O\'Brien"', "grade": None}
    for content in (
        xml_document(HEADER, rows),
        xml_document(HEADER, rows).replace(b"\n", b"\r\n"),
        write_xml(parse_batch(xml_document(HEADER, rows), BatchFormat.XML)),
        xml_document(HEADER, rows).replace(b"<AchievementBatch>", ROOTS[1].encode()),
    ):
        plain = plain_xml(content)
        assert plain is not None
        same(plain, parse_batch_with_expat(content))


def test_a_file_that_is_refused_is_left_to_expat_which_says_where() -> None:
    content = xml_document(HEADER, records(3)).replace(b"<ULN>", b"<ULN>\x01", 1)
    assert plain_xml(content) is None
    refusal = expat_reading(content)
    assert isinstance(refusal, BatchRefused)
    assert refusal.line is not None


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(document_in_schema_order())
def test_a_file_in_schema_order_is_read_as_expat_reads_it(content: bytes) -> None:
    plain = plain_xml(content)
    if plain is not None:
        expat = expat_reading(content)
        assert isinstance(expat, ParsedBatch), f"expat refuses what the plain reading took: {expat}"
        same(plain, expat)


def test_records_in_schema_order_are_read_by_one_match_each_as_the_plain_reading_reads_them() -> None:
    rows = records(50)
    rows[3] = {**rows[3], "given_name": "Zoë Ann Ó Súilleabháin", "grade": None, "credits": "10"}
    rows[7] = {**rows[7], "mis_identifier": "x" * 1_024}
    content = write_xml(parse_batch(xml_document(HEADER, rows), BatchFormat.XML))
    text = content.decode()
    root = text.index("<AchievementBatch>")
    in_order = _in_schema_order(text, root)
    assert in_order is not None
    read_plainly = _plain(text, root)
    assert read_plainly is not None
    same(in_order, read_plainly)
    same(in_order, parse_batch_with_expat(content))


def test_a_record_not_in_schema_order_leaves_the_file_to_the_plain_reading() -> None:
    rows = records(5)
    content = write_xml(parse_batch(xml_document(HEADER, rows), BatchFormat.XML)).decode()
    root = content.index("<AchievementBatch>")
    assert _in_schema_order(content, root) is not None
    for changed in (
        content.replace("<Action>Create</Action>", "", 1).replace("</Record>", "<Action>Create</Action></Record>", 1),
        content.replace("<Action>Create</Action>", "<Action> Create</Action>", 1),
        content.replace("<Action>Create</Action>", "<Action></Action>", 1),
        content.replace("<Action>Create</Action>", "<Action>Create&#32;</Action>", 1),
        content.replace("<Action>Create</Action>", f"<Action>{'x' * 1_025}</Action>", 1),
        content.replace("</Record>", "</Record><!-- a comment -->", 1),
    ):
        assert _in_schema_order(changed, root) is None
        plain = plain_xml(changed.encode())
        expat = expat_reading(changed.encode())
        if plain is not None:
            assert isinstance(expat, ParsedBatch)
            same(plain, expat)


def test_a_character_xml_does_not_have_refuses_the_file_even_where_trimming_would_drop_it() -> None:
    rows = records(3)
    for character in ("\x0b", "\x0c", "\x1c", "\x1f"):
        for value in (f"Merit{character}", f"{character}Merit", character):
            content = xml_document(HEADER, rows).replace(b"<Grade>Merit</Grade>", f"<Grade>{value}</Grade>".encode(), 1)
            assert plain_xml(content) is None
            refusal = expat_reading(content)
            assert isinstance(refusal, BatchRefused)
            with pytest.raises(BatchRefused) as refused:
                parse_batch(content, BatchFormat.XML)
            assert (refused.value.code, refused.value.line) == (refusal.code, refusal.line)


@pytest.mark.parametrize(
    ("reference", "read_as"),
    [
        ("&#" + "0" * 5_000 + "77;", "M"),  # leading zeros: the character all the same
        ("&#x" + "0" * 5_000 + "4D;", "M"),
        ("&#" + "9" * 5_000 + ";", None),  # past U+10FFFF, and past what int() reads: expat's refusal
        ("&#1114112;", None),
        ("&#x110000;", None),
    ],
)
def test_a_character_reference_of_any_length_is_read_or_refused_as_expat_does(
    reference: str, read_as: str | None
) -> None:
    content = xml_document(HEADER, records(1)).replace(
        b"<Grade>Merit</Grade>", f"<Grade>{reference}erit</Grade>".encode(), 1
    )
    assert reference.encode() in content
    if read_as is None:
        with pytest.raises(BatchRefused) as refused:
            parse_batch(content, BatchFormat.XML)
        assert refused.value.code == "RS001"
    else:
        assert parse_batch(content, BatchFormat.XML).records[0].grade == read_as + "erit"
