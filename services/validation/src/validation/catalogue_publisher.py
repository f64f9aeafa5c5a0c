"""Mirrors the catalogue onto the compacted `lrs.reference.qualifications.v1` for other readers.

PostgreSQL (`validation.qualifications`, versioned by `reference_loads`) is the decider's source of
truth; the topic lets analysts and other services follow the catalogue without reading our tables.
Keys are `QAN|pathway`, so compaction keeps the latest row of each. Every row of a load says how many rows the
load published (`rows_in_load`): a reader holding that many rows of the newest load holds it whole, and the keys
still holding an older load's row are qualifications the newest load removed (the Sandpit's validation follows
the topic so: `validation.sandpit_catalogue`).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from lrs_contracts.envelope import deterministic_id
from lrs_contracts.reference import QualificationPublished
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import REFERENCE_QUALIFICATIONS
from lrs_domain.reference import Catalogue


async def publish_catalogue(
    producer: AIOKafkaProducer, catalogue: Catalogue, version: int, topic: str = REFERENCE_QUALIFICATIONS.name
) -> int:
    """Publishes every row of load `version`; `topic` is live's own but in tests (a private copy)."""
    sent = []
    rows_in_load = sum(len(rows) for rows in catalogue.rows.values())
    for rows in catalogue.rows.values():
        for row in rows:
            key = f"{row.qualification_number}|{row.pathway or ''}"
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
    return len(sent)
