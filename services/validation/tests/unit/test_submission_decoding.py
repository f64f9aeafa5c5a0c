"""The decider reads the submitted-batch topic in one validation pass, exactly as the registry reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.event_examples import envelopes

from lrs_contracts.registry import decode
from validation.batch_assembly import decode_submission

ON_THE_TOPIC = [
    "lrs.batch.submitted.v1",
    "lrs.batch.records.submitted.v1",
    "lrs.batch.submission.completed.v1",
    "lrs.sandpit.reset.requested.v1",
]


def as_registry_reads_it(raw: bytes) -> tuple[Any, Any] | str:
    try:
        envelope, payload = decode(raw)
    except ValueError as error:
        return type(error).__name__
    return envelope.event_id, payload


def as_decider_reads_it(raw: bytes) -> tuple[Any, Any] | str:
    try:
        event_id, payload = decode_submission(raw)
    except ValueError as error:
        return type(error).__name__
    return event_id, payload


@pytest.mark.parametrize("event_type", ON_THE_TOPIC)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_every_kind_of_message_on_the_topic_reads_as_the_registry_reads_it(
    event_type: str, data: st.DataObject
) -> None:
    raw = json.dumps(data.draw(envelopes(event_type))).encode()
    read = as_decider_reads_it(raw)
    assert read == as_registry_reads_it(raw)
    assert not isinstance(read, str), read
    _, payload = read
    assert payload.model_fields_set == decode(raw)[1].model_fields_set


@settings(max_examples=100, deadline=None)
@given(data=st.data(), cut=st.integers(0, 400), junk=st.binary(max_size=3))
def test_a_broken_message_is_refused_as_the_registry_refuses_it(data: st.DataObject, cut: int, junk: bytes) -> None:
    raw = json.dumps(data.draw(envelopes("lrs.batch.records.submitted.v1"))).encode()
    broken = raw[:cut] + junk + raw[cut + len(junk) :]
    assert as_decider_reads_it(broken) == as_registry_reads_it(broken)
