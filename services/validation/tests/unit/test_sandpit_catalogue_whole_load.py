"""Which of live's catalogue loads the Sandpit applies (decision 0060, `validation.sandpit_catalogue`): the newest
one it holds whole. Every load republishes every row under its key `QAN|pathway` and says how many rows it
published; a key still holding an older load's row is a qualification the newest load removed."""

from __future__ import annotations

from typing import Any

import pytest

from lrs_contracts.envelope import deterministic_id
from lrs_contracts.reference import Framework, QualificationKind, QualificationPublished
from lrs_contracts.registry import encode, wrap
from lrs_domain.reference import Catalogue, Qualification
from lrs_platform.consumer import Message
from validation.catalogue_publisher import publish_catalogue
from validation.sandpit_catalogue import HeldRow, WholeLoad, held_row, load_version, whole_latest_load

TOPIC = "lrs.reference.qualifications.v1"


def _qualification(number: str) -> Qualification:
    return Qualification(
        qualification_number=number,
        pathway=None,
        title=f"Qualification {number}",
        awarding_organisation_id="RN5133",
        awarding_organisation_name="Test Awarding Body",
        level="Level 2",
        qualification_type="GCSE (9 to 1)",
        framework=Framework.RQF,
        kind=QualificationKind.QUALIFICATION,
        grade_set=("9", "8", "7", "6", "5", "4", "3", "2", "1", "U"),
    )


def _held(*loads: tuple[int, int | None, list[str]]) -> dict[str, HeldRow]:
    """The topic read in order: each load (version, rows it says it published, its numbers); a later load's row
    replaces the earlier one of its key, as compaction would."""
    held: dict[str, HeldRow] = {}
    offset = 0
    for version, rows_in_load, numbers in loads:
        for number in numbers:
            held[f"{number}|"] = HeldRow((0, offset), version, rows_in_load, _qualification(number))
            offset += 1
    return held


def _numbers(load: WholeLoad | None) -> tuple[int, list[str]] | None:
    return None if load is None else (load.version, [row.qualification_number for row in load.qualifications])


def test_the_newest_load_held_whole_is_chosen_and_what_it_removed_is_not_in_it() -> None:
    held = _held((1, 3, ["60000001", "60000002", "60000003"]), (2, 3, ["60000001", "60000003", "60000004"]))

    assert _numbers(whole_latest_load(held, caught_up=False)) == (2, ["60000001", "60000003", "60000004"])


def test_a_load_still_arriving_is_not_applied_and_nothing_older_is_whole_meanwhile() -> None:
    held = _held((1, 3, ["60000001", "60000002", "60000003"]), (2, 3, ["60000001", "60000003"]))

    assert whole_latest_load(held, caught_up=True) is None  # load 2 has 2 of its 3 rows; load 1 is overwritten


def test_while_a_load_arrives_with_new_keys_only_the_load_before_is_still_whole() -> None:
    held = _held((1, 2, ["60000001", "60000002"]), (2, 3, ["60000009"]))

    assert _numbers(whole_latest_load(held, caught_up=True)) == (1, ["60000001", "60000002"])


def test_an_older_publishers_load_is_applied_only_once_caught_up_and_only_the_newest() -> None:
    held = _held((1, None, ["60000001", "60000002"]), (2, None, ["60000001", "60000003"]))

    assert whole_latest_load(held, caught_up=False) is None
    assert _numbers(whole_latest_load(held, caught_up=True)) == (2, ["60000001", "60000003"])


def test_a_load_that_says_its_size_after_an_older_publishers_is_applied_when_whole() -> None:
    held = _held((1, None, ["60000001", "60000002"]), (2, 2, ["60000001", "60000003"]))

    assert _numbers(whole_latest_load(held, caught_up=False)) == (2, ["60000001", "60000003"])


def test_a_load_older_than_the_one_applied_is_not_applied_again() -> None:
    # after a restart, the topic read from its start: load 1 (not yet compacted away) is whole, load 2 still arriving
    held = _held((1, 3, ["60000001", "60000002", "60000003"]), (2, 4, ["60000004"]))
    assert _numbers(whole_latest_load(held, caught_up=False)) == (1, ["60000001", "60000002", "60000003"])

    assert whole_latest_load(held, caught_up=False, not_before=2) is None  # the Sandpit has load 2: it keeps it


def test_nothing_held_is_no_load() -> None:
    assert whole_latest_load({}, caught_up=True) is None


@pytest.mark.parametrize(
    ("source", "correlation_id", "version"),
    [
        ("reference load 7", "reference-load-7", 7),
        ("reference load 12", None, 12),
        ("an analyst's copy", "reference-load-3", 3),
        ("an analyst's copy", "something else", None),
    ],
)
def test_the_load_is_read_from_the_source_or_the_correlation_id(
    source: str, correlation_id: str | None, version: int | None
) -> None:
    assert load_version(source, correlation_id) == version


def _published(number: str, version: int, rows_in_load: int | None, **fields: Any) -> bytes:
    event = QualificationPublished(
        qualification_number=number,
        title=f"Qualification {number}",
        awarding_organisation_id="RN5133",
        awarding_organisation_name="Test Awarding Body",
        qualification_type="GCSE (9 to 1)",
        framework=Framework.RQF,
        kind=QualificationKind.QUALIFICATION,
        grade_set=("9", "1"),
        source=f"reference load {version}",
        rows_in_load=rows_in_load,
        **fields,
    )
    envelope = wrap(
        event,
        source="validation",
        correlation_id=f"reference-load-{version}",
        event_id=deterministic_id("reference", version, number),
    )
    return encode(envelope)


def test_a_message_is_read_into_its_key_and_row_and_a_tombstone_empties_its_key() -> None:
    message = Message(TOPIC, 0, 5, b"60000001|B", _published("60000001", 4, 8113, pathway="B"))

    read = held_row(message)

    assert read is not None
    key, row = read
    assert key == "60000001|B"
    assert row is not None and (row.version, row.rows_in_load, row.offset) == (4, 8113, (0, 5))
    assert row.qualification.pathway == "B" and row.qualification.grade_set == ("9", "1")
    assert held_row(Message(TOPIC, 0, 6, b"60000001|B", None)) == ("60000001|B", None)


def test_a_message_that_cannot_be_read_is_refused_for_parking() -> None:
    with pytest.raises(ValueError, match="Invalid JSON"):
        held_row(Message(TOPIC, 0, 1, b"x|", b"not json"))


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, *, key: bytes, value: bytes) -> Any:
        self.sent.append((topic, key, value))

        async def delivered() -> None:
            return None

        return delivered()


async def test_every_row_a_load_publishes_says_how_many_rows_the_load_published() -> None:
    producer = _Producer()
    catalogue = Catalogue.of(_qualification(number) for number in ("60000001", "60000002", "60000003"))

    sent = await publish_catalogue(producer, catalogue, 9)

    assert sent == 3
    rows = [held_row(Message(topic, 0, offset, key, value)) for offset, (topic, key, value) in enumerate(producer.sent)]
    assert {(row[1].version, row[1].rows_in_load) for row in rows if row is not None and row[1] is not None} == {(9, 3)}
    held = {row[0]: row[1] for row in rows if row is not None and row[1] is not None}
    assert _numbers(whole_latest_load(held, caught_up=False)) == (9, ["60000001", "60000002", "60000003"])
