from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import ServiceSettings

_REPO_REFERENCE = Path(__file__).resolve().parents[4] / "reference"


class ValidationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VALIDATION_", extra="ignore", frozen=True)

    port: int = 8002
    consumer_group: str = "validation"
    reference_dir: Path = _REPO_REFERENCE
    load_reference_on_start: bool = True
    instance_id: str | None = None  # defaults to a random id; names the transactional producer
