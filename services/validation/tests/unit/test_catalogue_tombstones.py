"""A qualification a reference load removed leaves `lrs.reference.qualifications.v1`: after the load's rows, the
publisher sends a tombstone (its key, a null value) for each key published before that the new load lacks, so
compaction drops the key and a reader following the topic (the Sandpit's validation) forgets it. The keys published
are kept in the store (`validation.published_catalogue_keys`) and replaced only once every send is acknowledged: a
load whose publishing failed (Kafka away), retried, still tombstones what it removed (review of 5c21ed24, finding 2)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any, cast

import pytest

from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.reference import Catalogue, Qualification
from lrs_platform.consumer import Message
from validation.catalogue_publisher import keys_of, load_and_publish, publish_catalogue, publish_newest_load
from validation.reference_store import ReferenceFiles, ReferenceStore
from validation.sandpit_catalogue import HeldRow, held_row, whole_latest_load

TOPIC = "lrs.reference.qualifications.v1"


def qualification(number: str, pathway: str | None = None) -> Qualification:
    """A catalogue row of `number` (and `pathway`): the tests' own, RQF."""
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
        qualification("60000001"),
        qualification("60000002"),
        qualification("60000003", "A"),
        qualification("60000003", "B"),
    ]
)
SECOND = Catalogue.of([qualification("60000001"), qualification("60000003", "A"), qualification("60000004")])


async def test_each_key_the_new_load_lacks_gets_a_tombstone_after_the_loads_rows() -> None:
    producer = _Producer()

    sent = await publish_catalogue(producer, SECOND, 2, published=keys_of(FIRST))

    assert sent == 3  # the rows of the load
    assert [value is None for _, _, value in producer.sent] == [False, False, False, True, True]
    assert [key for _, key, value in producer.sent if value is None] == [b"60000002|", b"60000003|B"]
    assert {topic for topic, _, _ in producer.sent} == {TOPIC}


async def test_a_reader_of_both_loads_holds_the_new_load_whole_and_nothing_it_removed() -> None:
    producer = _Producer()
    await publish_catalogue(producer, FIRST, 1)
    await publish_catalogue(producer, SECOND, 2, published=keys_of(FIRST))

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
    await publish_catalogue(again, FIRST, 2, published=keys_of(FIRST))

    assert all(value is not None for _, _, value in first.sent + again.sent)
    assert len(again.sent) == 4


class _SlowProducer(_Producer):
    """Each send a round trip to the broker: another load's sends may come in between."""

    async def send(self, topic: str, *, key: bytes, value: bytes | None) -> Any:
        await asyncio.sleep(0)
        return await super().send(topic, key=key, value=value)


class _KafkaAway(Exception):
    pass


class _FailingProducer(_Producer):
    """Sends the first `succeeding` messages, then finds Kafka away."""

    def __init__(self, succeeding: int = 0) -> None:
        super().__init__()
        self.succeeding = succeeding

    async def send(self, topic: str, *, key: bytes, value: bytes | None) -> Any:
        if len(self.sent) >= self.succeeding:
            raise _KafkaAway("the broker is away")
        return await super().send(topic, key=key, value=value)


class _Store:
    """The reference store as `load_and_publish` reaches it: `load` puts the catalogue named by the files' Ofqual
    snapshot in place; the keys published, and the publishing lock, as the database keeps them."""

    def __init__(self, catalogues: dict[str, Catalogue]) -> None:
        self.catalogues = catalogues
        self.catalogue = Catalogue()
        self.loads = 0
        self.published: set[str] = set()
        self.lock = asyncio.Lock()

    async def load(self, files: ReferenceFiles) -> tuple[int, int]:
        await asyncio.sleep(0)  # a database round trip: another load may run here, unless it waits for this one
        self.catalogue = self.catalogues[files.ofqual_catalogue]
        self.loads += 1
        return 1, len(keys_of(self.catalogue))

    async def load_first(self, files: ReferenceFiles) -> bool:
        await self.load(files)
        return True

    async def current(self) -> tuple[Catalogue, dict[str, object]]:
        catalogue = self.catalogue
        await asyncio.sleep(0)  # read, then the round trip back
        return catalogue, {}

    async def version(self) -> int:
        return self.loads

    def publishing(self) -> asyncio.Lock:
        return self.lock

    async def published_keys(self) -> set[str]:
        return set(self.published)

    async def add_published_keys(self, keys: Collection[str]) -> None:
        self.published |= set(keys)

    async def keep_published_keys(self, keys: Collection[str]) -> None:
        self.published = set(keys)


def _files(name: str) -> ReferenceFiles:
    return ReferenceFiles("", name, "")


def _store() -> tuple[_Store, ReferenceStore]:
    fake = _Store({"first": FIRST, "second": SECOND, "third": THIRD})
    return fake, cast(ReferenceStore, fake)


THIRD = Catalogue.of([qualification("60000001"), qualification("60000003", "A")])


def _said(producer: _Producer) -> list[tuple[str, str | None]]:
    """Each message sent: its key, and the load its row is of (None for a tombstone)."""
    said: list[tuple[str, str | None]] = []
    for topic, key, value in producer.sent:
        read = held_row(Message(topic, 0, len(said), key, value))
        assert read is not None
        said.append((read[0], None if read[1] is None else f"reference load {read[1].version}"))
    return said


def _tombstones(producer: _Producer) -> list[bytes]:
    return [key for _, key, value in producer.sent if value is None]


async def test_a_retry_of_a_load_whose_publishing_failed_still_tombstones_what_it_removed() -> None:
    fake, store = _store()
    await fake.load_first(_files("first"))
    await publish_newest_load(store, _Producer())  # the first start's load, its keys kept

    with pytest.raises(_KafkaAway):
        await load_and_publish(store, _FailingProducer(), _files("second"))
    assert fake.catalogue == SECOND  # the load is in the store, its publishing failed
    retry = _Producer()
    await load_and_publish(store, retry, _files("second"))

    assert _tombstones(retry) == [b"60000002|", b"60000003|B"]
    assert fake.published == keys_of(SECOND)


async def test_a_key_of_a_load_that_failed_half_way_is_tombstoned_by_the_next_load_that_lacks_it() -> None:
    fake, store = _store()
    await fake.load_first(_files("first"))
    await publish_newest_load(store, _Producer())

    # every row of the second load (60000004 among them) on the log, then Kafka away before its tombstones
    half_way = _FailingProducer(succeeding=len(keys_of(SECOND)))
    with pytest.raises(_KafkaAway):
        await load_and_publish(store, half_way, _files("second"))
    assert b"60000004|" in [key for _, key, _ in half_way.sent]
    third = _Producer()
    await load_and_publish(store, third, _files("third"))

    assert _tombstones(third) == [b"60000002|", b"60000003|B", b"60000004|"]
    assert fake.published == keys_of(THIRD)


async def test_two_loads_at_once_take_turns_and_tombstone_every_key_either_removed() -> None:
    fake, store = _store()
    await fake.load_first(_files("first"))
    await publish_newest_load(store, _Producer())
    producer = _SlowProducer()

    await asyncio.gather(
        load_and_publish(store, producer, _files("second")),
        load_and_publish(store, producer, _files("third")),
    )

    # the first load whole (its rows, then its tombstones), and only then the second, against what the first published
    assert _said(producer) == [
        ("60000001|", "reference load 2"),
        ("60000003|A", "reference load 2"),
        ("60000004|", "reference load 2"),
        ("60000002|", None),
        ("60000003|B", None),
        ("60000001|", "reference load 3"),
        ("60000003|A", "reference load 3"),
        ("60000004|", None),
    ]
    assert fake.published == keys_of(THIRD)


async def test_the_first_load_with_no_keys_kept_tombstones_nothing_and_keeps_its_keys() -> None:
    fake, store = _store()
    await fake.load_first(_files("first"))  # published before keys were kept
    producer = _Producer()

    await load_and_publish(store, producer, _files("second"))

    assert _tombstones(producer) == []
    assert fake.published == keys_of(SECOND)
