"""A decision's messages are stored as they are and read back the same, whichever format stored them."""

from __future__ import annotations

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
