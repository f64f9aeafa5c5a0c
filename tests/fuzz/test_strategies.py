"""The fuzz starts from batches the parsers accept, so its poison lands deep, not at the first byte."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from tests.fuzz.strategies import (
    HEADINGS,
    NON_CHARACTERS,
    RECORD_HEADINGS,
    Case,
    as_csv,
    as_json,
    as_xml,
    cases,
    huge_text,
    plausible_values,
)

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import MAX_BATCH_BYTES
from lrs_domain.formats import parse_batch

LEARNER = {"uln": "1000000043", "given_name": "Lily", "family_name": "McCarthy", "date_of_birth": "1999-11-27"}


def _plausible_batch() -> dict[str, object]:
    values = plausible_values("RN9008", LEARNER, "100/5001/2", "A")
    return {
        "header": {heading: values[heading] for heading in HEADINGS},
        "records": [{heading: values[heading] for heading in RECORD_HEADINGS}] * 2,
    }


@pytest.mark.parametrize(
    ("fmt", "body"),
    [
        (BatchFormat.CSV, as_csv(_plausible_batch(), "\r\n").encode()),
        (BatchFormat.XML, as_xml(_plausible_batch(), raw=False, prologue="", entity=None).encode()),
        (BatchFormat.JSON, json.dumps(as_json(_plausible_batch())).encode()),
    ],
)
def test_the_unpoisoned_batch_is_read_in_every_format(fmt: BatchFormat, body: bytes) -> None:
    parsed = parse_batch(body, fmt)
    assert parsed.header.awarding_organisation == "RN9008"
    assert [record.uln for record in parsed.records] == ["1000000043", "1000000043"]


MUST_MAKE: dict[str, Callable[[Case], bool]] = {
    "a NUL byte in a CSV file": lambda case: b"\x00" in case.body and case.fmt == "csv",
    "a lone surrogate as UTF-8 bytes": lambda case: b"\xed\xa0" in case.body or b"\xed\xbf" in case.body,
    "a JSON-escaped lone surrogate": lambda case: (
        case.fmt == "json" and bool(re.search(rb"\\u[dD][89a-fA-F]", case.body))
    ),
    "a carriage return inside a field": lambda case: (
        (case.fmt == "json" and b"\\r" in case.body)
        or (case.fmt == "xml" and (b"\r" in case.body or b"&#13;" in case.body))
    ),
    "a non-character": lambda case: (
        any(character.encode() in case.body for character in NON_CHARACTERS)
        or bool(re.search(rb"\\u(fd[de]|fff[ef])", case.body, re.IGNORECASE))
    ),
    "an XML entity expansion": lambda case: b"<!ENTITY d" in case.body,
    "no content type at all": lambda case: case.content_type is None,
}


def test_the_fuzz_makes_every_kind_of_poison() -> None:
    made: set[str] = set()

    @settings(
        max_examples=1_500,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases("RN9008", [LEARNER], "100/5001/2", "A", huge_fields=False))  # huge ones: the test below
    def generate(case: Case) -> None:
        assert case.content_type is None or case.content_type == case.content_type.strip() != ""
        made.update(what for what, found in MUST_MAKE.items() if found(case))

    generate()

    assert set(MUST_MAKE) - made == set()


def test_huge_fields_reach_past_the_6_mb_limit() -> None:
    sizes: list[int] = []

    @settings(max_examples=30, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(huge_text())
    def generate(text: str) -> None:
        sizes.append(len(text.encode("utf-8", "surrogatepass")))

    generate()

    assert min(sizes) > 9_900  # whole characters of up to 4 bytes
    assert max(sizes) > MAX_BATCH_BYTES
