from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import ServiceSettings


class ValidationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VALIDATION_", extra="ignore", frozen=True)

    port: int = 8002
    consumer_group: str = "validation"
    reference_dir: Path | None = None  # None: the files shipped in lrs_domain.reference_files
    load_reference_on_start: bool = True
    instance_id: str | None = None  # defaults to a random id; names the transactional producer
    live_database_url: str | None = Field(
        default=None,
        description="the Sandpit's only: live's database, whose learner keys open the live registrations"
        " the Sandpit copies (read only: keys are found there, never issued or erased)",
    )
