from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import ServiceSettings


class ChallengesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHALLENGES_", extra="ignore", frozen=True)

    port: int = 8004
    consumer_group: str = "challenges-plr-record"
    # How long a challenge that finds no achievement waits for the service to catch up with the PLR log.
    catch_up_wait_ms: int = 3_000
    reference_dir: str | None = Field(
        default=None,
        description="reference files (validation's): the AOs' names, to name the AO a learner turns to about an"
        " achievement it withdrew; default: the ones shipped in lrs_domain",
    )
