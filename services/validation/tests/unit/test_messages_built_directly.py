"""The decision's messages built through their slots are the messages their class builds (decision 0114)."""

from __future__ import annotations

import dataclasses

from validation.decision_store import OutgoingMessage
from validation.messages import _message


def test_a_message_built_through_its_slots_is_the_message_its_class_builds() -> None:
    built = _message("lrs.plr.events.v1", "1000000043", b'{"data":{}}')

    assert built == OutgoingMessage("lrs.plr.events.v1", "1000000043", b'{"data":{}}')
    assert dataclasses.astuple(built) == ("lrs.plr.events.v1", "1000000043", b'{"data":{}}')
    assert hash(built) == hash(OutgoingMessage("lrs.plr.events.v1", "1000000043", b'{"data":{}}'))
