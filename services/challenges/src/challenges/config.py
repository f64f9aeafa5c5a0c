from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from challenges.domain import RaiseLimit
from lrs_platform.settings import Port, ServiceSettings


class ChallengesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHALLENGES_", extra="ignore", frozen=True)

    port: Port = 8004
    consumer_group: str = "challenges-plr-record"
    # How long a challenge that finds no achievement waits for the service to catch up with the PLR log.
    # 0: no wait, "not found" at once.
    catch_up_wait_ms: int = Field(default=3_000, ge=0)
    raises_per_achievement: int = Field(
        default=3,
        ge=1,
        description="how many times one achievement may be challenged (by its learner, under any of their ULNs,"
        " withdrawn challenges included) within `raises_window_hours`: one raise more is refused 429"
        " `CHALLENGE_RAISED_TOO_OFTEN`, its Retry-After saying when the oldest of them leaves the window",
    )
    raises_window_hours: int = Field(default=24, ge=1, description="the window `raises_per_achievement` counts in")
    reference_dir: str | None = Field(
        default=None,
        description="reference files (validation's): the AOs' names, to name the AO a learner turns to about an"
        " achievement it withdrew; default: the ones shipped in lrs_domain",
    )

    def raise_limit(self) -> RaiseLimit:
        return RaiseLimit(self.raises_per_achievement, timedelta(hours=self.raises_window_hours))
