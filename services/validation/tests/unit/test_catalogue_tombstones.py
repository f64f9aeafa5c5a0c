"""A qualification a reference load removed leaves `lrs.reference.qualifications.v1`: after the load's rows, the
publisher sends a tombstone (its key, a null value) for each key of the previous load the new one lacks, so
compaction drops the key and a reader following the topic (the Sandpit's validation) forgets it."""

from __future__ import annotations

from typing import Any

from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.reference import Catalogue, Qualification
from lrs_platform.consumer import Message
from validation.catalogue_publisher import publish_catalogue
from validation.sandpit_catalogue import HeldRow, held_row, whole_latest_load

TOPIC = "lrs.reference.qualifications.v1"


def _qualification(number: str, pathway: str | None = None) -> Qualification:
    return Qualification(
        qualification_number=number,
        pathway=pathway,
        title=f"Qualification {number}",
        awarding_organisation_id="RN5133",
        awarding_organisation_name="Test Awarding Body",
        level="Level 2",
        qualification_type="GCSE (9 to 1)",
        framework=Framework.RQF,
        kind=QualificationKind.QUALIFICATION,
        grade_set=("9", "1", "U"),
    )


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(self, topic: str, *, key: bytes, value: bytes | None) -> Any:
        self.sent.append((topic, key, value))

        async def delivered() -> None:
            return None

        return delivered()


FIRST = Catalogue.of(
    [
        _qualification("60000001"),
        _qualification("60000002"),
        _qualification("60000003", "A"),
        _qualification("60000003", "B"),
    ]
)
SECOND = Catalogue.of([_qualification("60000001"), _qualification("60000003", "A"), _qualification("60000004")])


async def test_each_key_the_new_load_lacks_gets_a_tombstone_after_the_loads_rows() -> None:
    producer = _Producer()

    sent = await publish_catalogue(producer, SECOND, 2, previous=FIRST)

    assert sent == 3  # the rows of the load
    assert [value is None for _, _, value in producer.sent] == [False, False, False, True, True]
    assert [key for _, key, value in producer.sent if value is None] == [b"60000002|", b"60000003|B"]
    assert {topic for topic, _, _ in producer.sent} == {TOPIC}


async def test_a_reader_of_both_loads_holds_the_new_load_whole_and_nothing_it_removed() -> None:
    producer = _Producer()
    await publish_catalogue(producer, FIRST, 1)
    await publish_catalogue(producer, SECOND, 2, previous=FIRST)

    held: dict[str, HeldRow] = {}
    for offset, (topic, key, value) in enumerate(producer.sent):
        read = held_row(Message(topic, 0, offset, key, value))
        assert read is not None
        if read[1] is None:
            held.pop(read[0], None)  # what compaction, and the Sandpit's follower, make of a tombstone
        else:
            held[read[0]] = read[1]

    assert sorted(held) == ["60000001|", "60000003|A", "60000004|"]
    load = whole_latest_load(held, caught_up=True)
    assert load is not None and load.version == 2 and len(load.qualifications) == 3


async def test_no_tombstone_without_a_previous_load_or_when_nothing_was_removed() -> None:
    first, again = _Producer(), _Producer()

    await publish_catalogue(first, FIRST, 1)
    await publish_catalogue(again, FIRST, 2, previous=FIRST)

    assert all(value is not None for _, _, value in first.sent + again.sent)
    assert len(again.sent) == 4
