"""Mirrors the catalogue onto the compacted `lrs.reference.qualifications.v1` for other readers.

PostgreSQL (`validation.qualifications`, versioned by `reference_loads`) is the decider's source of
truth; the topic lets analysts and other services follow the catalogue without reading our tables.
Keys are `QAN|pathway`, so compaction keeps the latest row of each. Every row of a load says how many rows the
load published (`rows_in_load`): a reader holding that many rows of the newest load holds it whole. A qualification
the load no longer has (a key the topic may hold a row of, `validation.published_catalogue_keys`, that the load lacks)
is given a tombstone (the key, a null value) once every row of the load is on the log: compaction then drops the key,
and a reader following the topic forgets it (the Sandpit's validation follows the topic so:
`validation.sandpit_catalogue`). The keys published are kept in the store, and replaced by the load's own only once
every row and tombstone is acknowledged: an operator's retry of a load whose publishing failed (Kafka away) still
tombstones what it removed, and two loads at once take turns. Loads published before tombstones, and the first load
published after (it found no keys kept), left a removed qualification's key holding an older load's row: such a key
is one the newest load removed too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import NamedTuple

from aiokafka import AIOKafkaProducer

from lrs_contracts.envelope import deterministic_id
from lrs_contracts.reference import QualificationPublished
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import REFERENCE_QUALIFICATIONS
from lrs_domain.reference import Catalogue
from validation.reference_store import ReferenceFiles, ReferenceStore


def catalogue_key(qualification_number: str, pathway: str | None) -> str:
    """A row's key on the topic: `QAN|pathway`, the pathway empty when the row has none."""
    return f"{qualification_number}|{pathway or ''}"


def keys_of(catalogue: Catalogue) -> set[str]:
    return {catalogue_key(row.qualification_number, row.pathway) for rows in catalogue.rows.values() for row in rows}


async def publish_catalogue(
    producer: AIOKafkaProducer,
    catalogue: Catalogue,
    version: int,
    topic: str = REFERENCE_QUALIFICATIONS.name,
    published: Iterable[str] = (),
) -> int:
    """Publishes every row of load `version`, then a tombstone for each key of `published` (the keys the topic may
    hold rows of) it lacks; `topic` is live's own but in tests (a private copy). Returns the rows published. The
    topic has one partition and the producer is idempotent: the tombstones follow the rows, sent only once every row
    is on the log (a load that failed half-way removes nothing; `load_and_publish` has its retry remove it)."""
    sent = []
    rows_in_load = sum(len(rows) for rows in catalogue.rows.values())
    for rows in catalogue.rows.values():
        for row in rows:
            key = catalogue_key(row.qualification_number, row.pathway)
            event = QualificationPublished(
                qualification_number=row.qualification_number,
                pathway=row.pathway,
                title=row.title,
                awarding_organisation_id=row.awarding_organisation_id,
                awarding_organisation_name=row.awarding_organisation_name,
                level=row.level,
                qualification_type=row.qualification_type,
                framework=row.framework,
                kind=row.kind,
                grade_set=row.grade_set,
                source=f"reference load {version}",
                rows_in_load=rows_in_load,
            )
            envelope = wrap(
                event,
                source="validation",
                correlation_id=f"reference-load-{version}",
                event_id=deterministic_id("reference", version, key),
            )
            sent.append(await producer.send(topic, key=key.encode(), value=encode(envelope)))
    await asyncio.gather(*sent)
    removed = sorted(set(published) - keys_of(catalogue))
    if removed:
        await asyncio.gather(*[await producer.send(topic, key=key.encode(), value=None) for key in removed])
    return len(sent)


class ReferenceLoad(NamedTuple):
    organisations: int
    qualifications: int
    version: int


async def load_and_publish(
    store: ReferenceStore, producer: AIOKafkaProducer, files: ReferenceFiles, topic: str = REFERENCE_QUALIFICATIONS.name
) -> ReferenceLoad:
    """An operator's reload (`POST /v1/admin/reference/load`): `files` into the store, then every row of the new load
    onto the topic, and a tombstone for each qualification published before that it lacks (`publish_newest_load`).
    One load and its publishing at a time: a second waits, then tombstones against what this one published."""
    async with store.publishing():
        organisations, qualifications = await store.load(files)
        version = await _publish_newest(store, producer, topic)
    return ReferenceLoad(organisations, qualifications, version)


async def publish_newest_load(
    store: ReferenceStore, producer: AIOKafkaProducer, topic: str = REFERENCE_QUALIFICATIONS.name
) -> int:
    """Puts the store's newest load onto the topic (live's first start, its load of the shipped files), as
    `load_and_publish` does; returns its version."""
    async with store.publishing():
        return await _publish_newest(store, producer, topic)


async def _publish_newest(store: ReferenceStore, producer: AIOKafkaProducer, topic: str) -> int:
    """Under `store.publishing()`. The keys published before, with the load's own noted before any row is sent (a
    send that fails half-way may have left some on the log); the rows, the tombstones of the keys it lacks; and, only
    once each is acknowledged, the load's keys as all the topic holds rows of. Anything failing leaves the keys kept,
    so the operator's retry (or the next load) sends the tombstones again."""
    catalogue, _ = await store.current()
    version = await store.version()
    keys = keys_of(catalogue)
    published = await store.published_keys()
    await store.add_published_keys(keys)
    await publish_catalogue(producer, catalogue, version, topic, published=published)
    await store.keep_published_keys(keys)
    return version
