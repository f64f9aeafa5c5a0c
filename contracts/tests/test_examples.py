"""The example messages the docs show (`lrs_contracts.examples`): one per event type, each one a message the
services would read as written, valid against its committed schema snapshot, and true to the domain."""

from __future__ import annotations

import base64
import importlib
import json
import re
from collections import Counter
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from lrs_contracts import examples, topics
from lrs_contracts.compatibility import snapshot_path
from lrs_contracts.dead_letters import HEADER_NAMES, VALUE_OMITTED, DeadLetter
from lrs_contracts.environments import SANDPIT_PREFIX, Environment
from lrs_contracts.examples import DEAD_LETTER_EXAMPLE, EXAMPLES, EventExample, example_of
from lrs_contracts.fast_decode import decode_fast
from lrs_contracts.registry import EVENT_TYPES, decode, encode

BY_TYPE = {example.event_type: example for example in EXAMPLES}
EVENT_TYPE_IDS = sorted(EVENT_TYPES)


def _snapshot_validator(event_type: str) -> Draft202012Validator:
    schema = json.loads(snapshot_path(event_type).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _is_valid_uln(uln: str) -> bool:
    """DOMAIN.md §2: ten digits, the first not 0; S = 10·d1 + … + 2·d9, r = S mod 11, r ≠ 0 and d10 = 10 - r."""
    if not re.fullmatch(r"[1-9][0-9]{9}", uln):
        return False
    remainder = sum(int(digit) * weight for digit, weight in zip(uln[:9], range(10, 1, -1), strict=True)) % 11
    return remainder != 0 and int(uln[9]) == 10 - remainder


def _values(value: Any, name: str = "") -> list[tuple[str, Any]]:
    """Every (field name, value) pair of a JSON document, nested ones included."""
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in [(key, item), *_values(item, key)]]
    if isinstance(value, list):
        return [pair for item in value for pair in _values(item, name)]
    return []


def test_every_registered_event_type_has_exactly_one_example() -> None:
    assert Counter(example.event_type for example in EXAMPLES) == Counter(list(EVENT_TYPES))
    assert len({example.name for example in EXAMPLES}) == len(EXAMPLES), "two examples share a name"


def test_a_missing_example_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        example_of("lrs.batch.nonexistent.v1")


@pytest.mark.parametrize("event_type", EVENT_TYPE_IDS)
def test_each_example_decodes_to_the_same_value(event_type: str) -> None:
    example = example_of(event_type)
    as_shown = json.dumps(example.message()).encode()
    for raw in (encode(example.envelope), as_shown):
        envelope, payload = decode(raw)
        assert (envelope, payload) == (example.envelope, example.payload)
        assert decode_fast(raw) == (example.envelope, example.payload)
    assert isinstance(example.payload, EVENT_TYPES[event_type])


@pytest.mark.parametrize("event_type", EVENT_TYPE_IDS)
def test_each_example_validates_against_its_committed_schema_snapshot(event_type: str) -> None:
    _snapshot_validator(event_type).validate(example_of(event_type).message()["data"])


def test_an_example_that_drifts_from_its_snapshot_is_refused() -> None:
    validator = _snapshot_validator("lrs.batch.completed.v1")
    data = example_of("lrs.batch.completed.v1").message()["data"]
    assert isinstance(data, dict)
    for drifted in (
        {name: value for name, value in data.items() if name != "counts"},
        {**data, "certificate_number": "C-1"},
        {**data, "counts": {**data["counts"], "total": "four"}},
        {**data, "batch_id": "not-a-uuid"},
    ):
        with pytest.raises(ValidationError):
            validator.validate(drifted)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_each_example_is_on_the_topic_that_carries_it(example: EventExample) -> None:
    assert example.event_type in example.topic.carries
    assert example.topic in topics.ALL_TOPICS
    sandpit = example.event_type.startswith("lrs.sandpit.")
    assert (example.environment is Environment.SANDPIT) is sandpit
    assert example.topic_name == (SANDPIT_PREFIX if sandpit else "") + example.topic.name


def _expected_key(example: EventExample) -> str:
    """The message key as `lrs_contracts.topics` declares it for the example's topic."""
    data = example.message()["data"]
    assert isinstance(data, dict)
    if example.event_type == "lrs.sandpit.reset.applied.v1":  # its own summary: "Key: reset id."
        return str(data["reset_id"])
    name = example.topic.name
    if name == topics.BATCH_SUBMITTED.name:
        return str(data["ao_id"])
    if name == topics.BATCH_OUTCOMES.name:
        return str(data["batch_id"])
    if name == topics.PLR_EVENTS.name:
        return str(data["key"]["uln"] if "key" in data else data["uln"])
    if name == topics.LEARNER_EVENTS.name:
        return str(data.get("master_uln", data.get("uln")))
    if name == topics.REFERENCE_QUALIFICATIONS.name:
        return f"{data['qualification_number']}|{data['pathway'] or ''}"
    if name == topics.CHALLENGE_EVENTS.name:
        return str(data["achievement_id"])
    if name == topics.MAINTENANCE.name:
        return "schedule"
    assert example.topic.key == "AO id|yyyy-mm"
    return f"{data['ao_id']}|{data['period']}"


def _expected_correlation(example: EventExample) -> str:
    """What the envelope's `correlation_id` description says this kind of event carries."""
    data = example.message()["data"]
    assert isinstance(data, dict)
    if "reset_id" in data:
        return str(data["reset_id"])
    if "challenge_id" in data:
        return str(data["challenge_id"])
    if "report_id" in data:
        return str(data["report_id"])
    if "provenance" in data:
        return str(data["provenance"]["batch_id"])
    if "batch_id" in data:
        return str(data["batch_id"])
    if example.topic is topics.LEARNER_EVENTS:
        return f"learner:{example.key[-4:]}"
    if example.topic is topics.REFERENCE_QUALIFICATIONS:
        return "reference-load-" + str(data["source"]).removeprefix("reference load ")
    if example.topic is topics.MAINTENANCE:
        return f"maintenance-{data['version']}"
    assert example.topic.name.startswith("lrs.reporting."), example.name
    return example.key


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_each_example_has_its_topics_key_and_the_correlation_id_its_kind_carries(example: EventExample) -> None:
    assert example.key == _expected_key(example)
    assert example.envelope.correlation_id == _expected_correlation(example)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_each_example_agrees_with_the_domain(example: EventExample) -> None:
    message = example.message()
    for name, value in _values(message):
        if name in {"uln", "master_uln", "merged_uln"} and value is not None:
            assert _is_valid_uln(value), f"{example.name}: {name} {value} has no valid check digit"
        if name == "uln_masked":
            assert re.fullmatch(r"\*{6}[0-9]{4}", value), f"{example.name}: {value} is not a masked ULN"
        if name in {"personal", "reason_sealed", "note_sealed"} and value is not None:
            assert re.fullmatch(r"s1\.[A-Za-z0-9_-]+", value), f"{example.name}: {name} is not in the sealed form"
            body = value.removeprefix("s1.")
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if name in {"ao_id", "awarding_organisation", "awarding_organisation_id"}:
            assert re.fullmatch(r"RN[0-9]{1,8}", value), f"{example.name}: {value} is not an AO id"
        if name in {"ukprn", "centre_ukprn", "provider_ukprn"} and value is not None:
            assert re.fullmatch(r"[0-9]{8}", value), f"{example.name}: {value} is not a UKPRN"
        if name == "period":
            assert re.fullmatch(r"20[0-9]{2}-(0[1-9]|1[0-2])", value)
    assert example.envelope.occurred_at.year >= 2006
    assert example.summary.endswith(".") and example.summary[:1].isupper(), example.name


def test_the_uln_check_is_the_domains() -> None:
    valid = ["1000000043", "1026893096", "6936002314", "4444599390"]
    invalid = ["1000000042", "1000000063", "0123456789", "1234567890", "9999999999"]
    assert all(_is_valid_uln(uln) for uln in valid)
    assert not any(_is_valid_uln(uln) for uln in invalid)


def test_examples_are_the_same_on_every_import() -> None:
    """The docs are generated from them and compared byte for byte: nothing random or clock-dependent."""
    first = [example.message() for example in EXAMPLES]
    reloaded = importlib.reload(examples)
    assert [example.message() for example in reloaded.EXAMPLES] == first


def test_the_dead_letter_example_is_a_parked_message_as_a_consumer_writes_it() -> None:
    example = DEAD_LETTER_EXAMPLE
    parked = example.parked
    headers = example.headers()
    assert list(headers) == [name for name in HEADER_NAMES if name != VALUE_OMITTED]  # its value is in it
    assert DeadLetter.from_headers([(name, value.encode()) for name, value in headers.items()]) == example.letter
    assert headers["lrs-original-topic"] == parked.topic_name
    assert example.topic_name == f"{parked.topic_name}.dlq"
    assert (headers["lrs-event-id"], headers["lrs-event-type"]) == (str(parked.envelope.event_id), parked.event_type)
    assert decode(encode(parked.envelope)) == (parked.envelope, parked.payload)
    assert parked.key == _expected_key(parked)
    abandoned = example_of("lrs.batch.abandoned.v1").payload
    assert getattr(abandoned, "batch_id") == getattr(parked.payload, "batch_id")  # noqa: B009 - typed as Contract
