"""A Sandpit reset (docs/decisions/0060-sandpit.md): an AO empties its own sandpit, through the log.

1. ingest puts `SandpitReset` on `sandpit.lrs.batch.submitted.v1` (key: AO id), after that AO's
   batches, so the decider meets it in the AO's queue;
2. the decider forgets the AO's achievement states and, in one Kafka transaction, puts one
   `SandpitAchievementsErased` per learner the AO had achievements for on `sandpit.lrs.plr.events.v1`
   (key: ULN, so it is ordered in that learner's history) and `SandpitResetApplied` on
   `sandpit.lrs.batch.outcomes.v1` (key: reset id);
3. the projector deletes the AO's achievements of that learner when it meets the erasure; ingest
   deletes the AO's batch views when it meets `SandpitResetApplied`, and the reset is `completed`.

These events never appear on a live topic.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract
from lrs_contracts.identifiers import ULN_PATTERN


class SandpitReset(Contract):
    """lrs.sandpit.reset.requested.v1 — empty this AO's sandpit. Key: AO id."""

    event_type: Literal["lrs.sandpit.reset.requested.v1"] = "lrs.sandpit.reset.requested.v1"
    reset_id: uuid.UUID
    ao_id: str
    requested_by: str = Field(description="the principal that asked, e.g. ao:RN5133 or operator:purge")
    requested_at: datetime


class SandpitAchievementsErased(Contract):
    """lrs.sandpit.achievements.erased.v1 — every achievement of `ao_id` on this learner's PLR is gone,
    with its history. Key: ULN."""

    event_type: Literal["lrs.sandpit.achievements.erased.v1"] = "lrs.sandpit.achievements.erased.v1"
    reset_id: uuid.UUID
    ao_id: str
    uln: str = Field(pattern=ULN_PATTERN)


class PartitionOffset(Contract):
    """A partition of a topic and the offset after the last message a reset covers."""

    partition: int = Field(ge=0)
    next_offset: int = Field(ge=0)


class SandpitResetApplied(Contract):
    """lrs.sandpit.reset.applied.v1 — the decider has forgotten the AO's achievements and erased them
    from the log's learners. Key: reset id.

    `plr_offsets` (of `sandpit.lrs.plr.events.v1`) are past every erasure: a PLR read with
    `min_offsets` at them sees the reset. `forgotten_batches` are the batches the decider had decided
    before it (in the order of the AO's queue, which the reset joined): a batch sent before the reset
    but queued after it is decided afresh, and its view is kept (decision 0120).
    """

    event_type: Literal["lrs.sandpit.reset.applied.v1"] = "lrs.sandpit.reset.applied.v1"
    reset_id: uuid.UUID
    ao_id: str
    learners: int = Field(ge=0, description="how many learners' PLRs held achievements of the AO")
    plr_offsets: tuple[PartitionOffset, ...] = ()
    forgotten_batches: tuple[uuid.UUID, ...] | None = Field(
        default=None,
        description="the batches whose decisions the reset forgot; absent from a decider before decision 0120, "
        "when ingest takes the batches received before the reset was requested",
    )


SANDPIT_EVENTS = (SandpitReset, SandpitAchievementsErased, SandpitResetApplied)
