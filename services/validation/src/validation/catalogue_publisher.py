"""Mirrors the catalogue onto the compacted `lrs.reference.qualifications.v1` for other readers.

PostgreSQL (`validation.qualifications`, versioned by `reference_loads`) is the decider's source of
truth; the topic lets analysts and other services follow the catalogue without reading our tables.
Keys are `QAN|pathway`, so compaction keeps the latest row of each. Every row of a load says how many rows the
load published (`rows_in_load`): a reader holding that many rows of the newest load holds it whole. A qualification
the load no longer has (a key of the `previous` load it lacks) is given a tombstone (the key, a null value) once
every row of the load is on the log: compaction then drops the key, and a reader following the topic forgets it (the
Sandpit's validation follows the topic so: `validation.sandpit_catalogue`). Loads published before tombstones left
a removed qualification's key holding an older load's row: such a key is one the newest load removed too.
"""

from __future__ import annotations

import asyncio
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
    previous: Catalogue | None = None,
) -> int:
    """Publishes every row of load `version`, then a tombstone for each key of the `previous` load (the catalogue
    this load replaced) it lacks; `topic` is live's own but in tests (a private copy). Returns the rows published.
    The topic has one partition and the producer is idempotent: the tombstones follow the rows, sent only once every
    row is on the log (a load that failed half-way removes nothing)."""
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
    if previous is not None:
        removed = sorted(keys_of(previous) - keys_of(catalogue))
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
    onto the topic, and a tombstone for each qualification the load it replaced had and it lacks."""
    replaced, _ = await store.current()
    organisations, qualifications = await store.load(files)
    catalogue, _ = await store.current()
    version = await store.version()
    await publish_catalogue(producer, catalogue, version, topic, previous=replaced)
    return ReferenceLoad(organisations, qualifications, version)
