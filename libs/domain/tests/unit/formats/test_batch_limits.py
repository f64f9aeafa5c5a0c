from collections.abc import AsyncIterator

import pytest
from libs.domain.tests.unit.formats.batch_documents import HEADER, document, records

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, BatchCode
from lrs_domain.formats import BatchRefused, is_plausible_email, parse_batch, read_limited, refuse_if_too_large


class CountingChunks:
    """An upload arriving in chunks, counting what the reader pulled."""

    def __init__(self, total: int, chunk_size: int) -> None:
        self.total = total
        self.chunk_size = chunk_size
        self.pulled_bytes = 0
        self.pulled_chunks = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        remaining = self.total
        while remaining > 0:
            chunk = b"x" * min(self.chunk_size, remaining)
            remaining -= len(chunk)
            self.pulled_bytes += len(chunk)
            self.pulled_chunks += 1
            yield chunk


async def test_an_upload_of_exactly_the_limit_is_read_whole() -> None:
    upload = CountingChunks(MAX_BATCH_BYTES, 65_536)

    content = await read_limited(upload)

    assert len(content) == MAX_BATCH_BYTES
    assert upload.pulled_bytes == MAX_BATCH_BYTES


@pytest.mark.parametrize("chunk_size", [1_000_000, 65_536, 7])
async def test_one_byte_over_the_limit_is_rs002_and_nothing_past_the_crossing_chunk_is_pulled(
    chunk_size: int,
) -> None:
    upload = CountingChunks(50 * MAX_BATCH_BYTES, chunk_size)

    with pytest.raises(BatchRefused) as refused:
        await read_limited(upload)

    assert refused.value.code is BatchCode.TOO_LARGE
    chunks_within_limit = MAX_BATCH_BYTES // chunk_size
    assert upload.pulled_chunks == chunks_within_limit + 1
    assert upload.pulled_bytes <= MAX_BATCH_BYTES + chunk_size


async def test_six_megabytes_and_one_byte_is_refused_after_reading_only_that() -> None:
    upload = CountingChunks(MAX_BATCH_BYTES + 1, 65_536)

    with pytest.raises(BatchRefused) as refused:
        await read_limited(upload)

    assert refused.value.code is BatchCode.TOO_LARGE
    assert upload.pulled_bytes == MAX_BATCH_BYTES + 1


async def test_a_smaller_limit_can_be_given() -> None:
    with pytest.raises(BatchRefused):
        await read_limited(CountingChunks(11, 4), limit=10)

    assert await read_limited(CountingChunks(10, 4), limit=10) == b"x" * 10


@pytest.mark.parametrize(
    ("address", "plausible"),
    [
        ("a@b.co", True),
        ("results.team+lrs@mail.example.ac.uk", True),
        ("r" * 64 + "@" + "d" * 177 + ".example.org", True),  # 254 characters
        ("r" * 64 + "@" + "d" * 178 + ".example.org", False),
        # the part before the @: RFC 5321's 64 octets, RFC 5322's dot-atom (door walk, finding 6)
        ("r" * 64 + "@example.org", True),
        ("r" * 65 + "@example.org", False),
        ("é" * 32 + "@example.org", True),  # 64 octets in UTF-8
        ("é" * 32 + "r@example.org", False),
        ("a..b@example.org", False),
        (".ab@example.org", False),
        ("ab.@example.org", False),
        ("first.last.name@example.org", True),
        ("", False),
        ("results", False),
        ("results@example", False),
        ("@example.org", False),
        ("a@@example.org", False),
        ("a@b@example.org", False),
        ("a@.example.org", False),
        ("a@example.org.", False),
        ("a b@example.org", False),
        ("a@example.org\n", False),
        ("zoë.brontë@exämple.org", True),
        ("x,results@example.org", False),  # a list: mailed to x and to results
        ("results@example.org;x@y.org", False),
        ("Results <results@example.org>", False),
        ('"results"@example.org', False),
        ("results@example.org (team)", False),
        ("results@[192.0.2.1]", False),
        ("results@exa\ufeffmple.org", False),  # shows nothing
        ("results\u200b@example.org", False),
        ("results@example.org\u2028", False),
        ("res\x85ults@example.org", False),
        # an RFC 2047 encoded word decodes to a line break in a header (the walk-through's injected Bcc)
        ("x@=?utf-8?q?ao=2Eexample=0D=0ABcc=3A_y?=.example", False),
        ("=?utf-8?q?x=0D=0ABcc=3A_y?=@ao.example", False),
        ("x@-ao.example", False),
        ("x@ao-x.example", True),
        ("a@b_c.example", False),  # a label is letters, digits and inner hyphens: no A-label form, no relay's
        ("a@bü_cher.example", False),
        ("a@\u0939\u093f\u0928\u094d\u0926\u0940.\u092d\u093e\u0930\u0924", True),  # Hindi: vowel signs and a virama
        ("a@\u0ba4\u0bae\u0bbf\u0bb4\u0bcd.example", True),  # Tamil
        ("a@\u093f\u0928.example", False),  # a label cannot begin with a vowel sign
    ],
)
def test_plausible_email_is_a_simple_documented_check(address: str, plausible: bool) -> None:
    assert is_plausible_email(address) is plausible


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_ten_thousand_records_parse_in_every_format(fmt: BatchFormat) -> None:
    """The largest batch allowed parses whole; how fast is measured by bench/, not asserted here."""
    parsed = parse_batch(document(fmt, HEADER, records(MAX_BATCH_RECORDS)), fmt)
    assert len(parsed.records) == MAX_BATCH_RECORDS
    assert parsed.records[-1].line == parsed.records[0].line + MAX_BATCH_RECORDS - 1


def test_a_whole_file_too_large_is_refused_with_its_size() -> None:
    with pytest.raises(BatchRefused) as refused:
        refuse_if_too_large(6_296_483)

    assert refused.value.detail == "the file is 6,296,483 bytes, more than the 6,291,456 a batch may be"
