"""The follower of the service's own events parks an event of a type the contracts do not know at its first
attempt, as `unknown event type '…'` (docs/events.md, "Dead letters"), as the PLR projector does: it was tried three
times, with backoff, and parked as `UnknownEventType: …`. Known events it has nothing to do with are passed over."""

from __future__ import annotations

import uuid

from libs.platform.tests.unit.unknown_event_types import of_an_unknown_type, parked_by

from challenges.domain import Challenge
from challenges.recovery import CONSUMER, OwnEvents
from lrs_contracts.challenge import ChallengeAcknowledged
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_platform.consumer import Message


class _NoChallenges:
    """The service's store, holding no challenge: an acknowledgement of one it never had changes nothing."""

    def __init__(self) -> None:
        self.asked: list[uuid.UUID] = []

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        self.asked.append(challenge_id)
        return None


async def test_an_unknown_event_type_is_parked_at_its_first_attempt_and_its_key_held() -> None:
    store = _NoChallenges()
    follower = OwnEvents(store, None)  # type: ignore[arg-type]  # no key is read of what this test sends
    mine, another = (
        ChallengeAcknowledged(challenge_id=uuid.uuid4(), achievement_id=uuid.uuid4(), ao_id="RN5133") for _ in "ab"
    )
    own = encode(wrap(mine, source="challenges", correlation_id=str(mine.challenge_id)))
    unknown = of_an_unknown_type(own, "lrs.challenge.teleported.v1")
    key, other_key = str(mine.achievement_id).encode(), str(another.achievement_id).encode()

    rows, letters = await parked_by(
        CONSUMER,
        follower.apply,
        [
            Message(CHALLENGE_EVENTS.name, 3, 0, key, unknown),
            Message(CHALLENGE_EVENTS.name, 3, 1, key, own),  # held behind it
            Message(
                CHALLENGE_EVENTS.name, 3, 2, other_key, encode(wrap(another, source="challenges", correlation_id="c"))
            ),
        ],
    )

    assert [(row.offset, row.reason, row.error, row.attempts) for row in rows] == [
        (0, "error", "unknown event type 'lrs.challenge.teleported.v1'", 1),
        (1, "blocked", None, 0),
    ]
    [letter] = letters
    assert (letter.consumer, letter.error, letter.attempts) == (
        "challenges.own-events",
        "unknown event type 'lrs.challenge.teleported.v1'",
        1,
    )
    assert another.challenge_id in store.asked and mine.challenge_id not in store.asked
