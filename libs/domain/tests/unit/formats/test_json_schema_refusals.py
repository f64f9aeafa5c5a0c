"""The published JSON batch schema (ingest's OpenAPI `JsonBatch`) says what the parser refuses a whole file for: a
client generated from it, or a document checked against it, learns that a header without `notificationEmail` and a
batch without records are refused, while the parser still refuses them with their own codes (RS007, RS006), not as
a generic fault of the model (RS001)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, JsonBatch, parse_batch

SCHEMA: dict[str, Any] = JsonBatch.model_json_schema(by_alias=True)
EXAMPLE: dict[str, Any] = SCHEMA["examples"][0]


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    document = copy.deepcopy(EXAMPLE)
    held = document
    for key in path[:-1]:
        held = held[key]
    del held[path[-1]]
    return document


def _with(path: tuple[str, ...], value: object) -> dict[str, Any]:
    document = copy.deepcopy(EXAMPLE)
    held = document
    for key in path[:-1]:
        held = held[key]
    held[path[-1]] = value
    return document


def _schema_valid(document: object) -> bool:
    return not list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(document))


def _refused_with(document: object) -> BatchCode:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(json.dumps(document).encode(), BatchFormat.JSON)
    return refused.value.code


def test_the_example_is_valid_and_accepted() -> None:
    assert _schema_valid(EXAMPLE)
    assert parse_batch(json.dumps(EXAMPLE).encode(), BatchFormat.JSON).records


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (_without(("header", "notificationEmail")), BatchCode.BAD_NOTIFICATION_EMAIL),
        (_without(("records",)), BatchCode.NO_RECORDS),
        (_with(("records",), []), BatchCode.NO_RECORDS),
    ],
    ids=["no notificationEmail", "no records key", "no records"],
)
def test_a_file_the_parser_refuses_for_a_missing_part_is_invalid_against_the_schema(
    document: dict[str, Any], code: BatchCode
) -> None:
    assert _refused_with(document) is code  # the parser's own code, not RS001
    assert not _schema_valid(document)


def test_the_schema_names_each_refusal_code_it_cannot_say_as_a_rule() -> None:
    header = SCHEMA["$defs"]["JsonBatchHeader"]["properties"]
    assert "RS007" in header["notificationEmail"]["description"]
    assert "default" not in header["notificationEmail"]  # required: no default
    assert "RS004" in header["jobType"]["description"]
    assert "RS006" in SCHEMA["properties"]["records"]["description"]
    assert _refused_with(_with(("header", "jobType"), "Interim")) is BatchCode.BAD_JOB_TYPE
    assert _refused_with(_with(("header", "notificationEmail"), "not an address")) is BatchCode.BAD_NOTIFICATION_EMAIL
