"""Operations state on `lrs.operations.maintenance.v1` (compacted; one key: `schedule`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract

MAINTENANCE_KEY = b"schedule"


class MaintenanceWindow(Contract):
    """A planned window: batches are accepted but not decided from `starts_at` until `ends_at`."""

    window_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    reason: str = Field(min_length=1, max_length=500)


class MaintenancePause(Contract):
    """An unplanned pause: batches are accepted but not decided until an operator resumes."""

    since: datetime
    reason: str = Field(min_length=1, max_length=500)


class MaintenanceScheduleChanged(Contract):
    """lrs.maintenance.schedule.changed.v1 — the whole maintenance schedule after an operator changed it.

    Every window not yet over (the past and the cancelled ones are left out) and the unplanned pause,
    if one is on. Each change gets a higher `version` within its `schedule_id`: a reader keeps the
    highest it has seen, so two ingest instances publishing at once cannot leave an older schedule in
    force; a new `schedule_id` (ingest's database made anew) replaces the schedule whatever its version.
    """

    event_type: Literal["lrs.maintenance.schedule.changed.v1"] = "lrs.maintenance.schedule.changed.v1"
    schedule_id: uuid.UUID
    version: int = Field(ge=1)
    windows: tuple[MaintenanceWindow, ...] = ()
    pause: MaintenancePause | None = None
