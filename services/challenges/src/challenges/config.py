from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import ServiceSettings


class ChallengesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHALLENGES_", extra="ignore", frozen=True)

    port: int = 8004
