from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore", frozen=True)

    port: int = 8001
    instance_id: str | None = None  # names the transactional producer `ingest-<id>`; random when unset
    outcomes_group_id: str = "ingest-batch-view"
    outcomes_enabled: bool = True
    chunk_records: int = Field(default=1_000, ge=1)
    chunk_bytes: int = Field(default=1_048_576, ge=1_024, description="aim for record chunks below this size")
    kafka_start_timeout_seconds: float = Field(default=10.0, gt=0)
    publish_timeout_seconds: float = Field(default=30.0, gt=0)
    row_lock_timeout_seconds: float = Field(default=10.0, gt=0)
    max_wait_seconds: float = Field(default=30.0, ge=0, le=30)
    # a batch not final this long after it was received is looked up on the outcomes topic itself
    reconcile_after_seconds: float = Field(default=60.0, gt=0)
    reconcile_interval_seconds: float = Field(default=15.0, gt=0)
    pool_max_size: int = Field(default=10, ge=2)
