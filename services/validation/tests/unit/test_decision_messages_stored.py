"""A decision's messages are stored as they are and read back the same, whichever format stored them."""

from __future__ import annotations

import struct

import orjson
from hypothesis import given
from hypothesis import strategies as st

from validation.decision_store import OutgoingMessage, decode_messages, encode_messages

messages_strategy = st.lists(
    st.builds(
        OutgoingMessage,
        topic=st.sampled_from(["lrs.plr.events.v1", "lrs.batch.outcomes.v1", "sandpit.lrs.plr.events.v1"]),
        key=st.text(max_size=40),
        value=st.text(max_size=300).map(str.encode),
    ),
    max_size=30,
)


@given(messages_strategy)
def test_stored_messages_are_read_back_as_they_were(messages: list[OutgoingMessage]) -> None:
    assert decode_messages(encode_messages(messages)) == tuple(messages)


@given(messages_strategy)
def test_decisions_stored_before_as_a_json_array_are_read_back(messages: list[OutgoingMessage]) -> None:
    stored_before = orjson.dumps([[m.topic, m.key, m.value.decode()] for m in messages])
    assert decode_messages(stored_before) == tuple(messages)


def test_stored_messages_take_their_own_size_and_a_few_bytes_each() -> None:
    value = b'{"event_id":"e","data":{"key":{"uln":"1000000043"},"note":"say \\"hi\\""}}'
    messages = [OutgoingMessage("lrs.plr.events.v1", "1000000043", value)] * 100
    overhead = len(encode_messages(messages)) - sum(len(m.topic) + len(m.key) + len(m.value) for m in messages)
    assert overhead <= 8 * len(messages) + 32


@given(messages_strategy)
def test_decisions_stored_framed_before_compression_are_read_back(messages: list[OutgoingMessage]) -> None:
    framed = [b"\x00framed-messages-1\n"]
    for m in messages:
        topic, key = m.topic.encode(), m.key.encode()
        framed += (struct.pack(">HHI", len(topic), len(key), len(m.value)), topic, key, m.value)
    assert decode_messages(b"".join(framed)) == tuple(messages)


def test_a_large_decision_is_stored_in_a_fraction_of_its_size() -> None:
    messages = [
        OutgoingMessage("lrs.plr.events.v1", f"{1_000_000_000 + line}", f'{{"line":{line},"grade":"A*"}}'.encode() * 30)
        for line in range(2_000)
    ]
    stored = encode_messages(messages)
    assert len(stored) * 4 < sum(len(m.value) for m in messages)
    assert decode_messages(stored) == tuple(messages)
