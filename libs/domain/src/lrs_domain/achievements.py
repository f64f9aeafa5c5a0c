"""The decider's view of one AO's achievements, and how PLR events change it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lrs_contracts.plr import AchievementData, AchievementKey, ResultStatus


@dataclass(frozen=True)
class AchievementState:
    achievement_id: uuid.UUID
    key: AchievementKey
    data: AchievementData
    status: ResultStatus
    withdrawn: bool
