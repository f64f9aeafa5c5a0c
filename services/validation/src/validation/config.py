from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import ServiceSettings


class ValidationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VALIDATION_", extra="ignore", frozen=True)

    port: int = 8002
    consumer_group: str = "validation"
    reference_dir: Path | None = None  # None: the files shipped in lrs_domain.reference_files
    load_reference_on_start: bool = True
    instance_id: str | None = None  # defaults to a random id; names the transactional producer
