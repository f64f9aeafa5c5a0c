"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read from the environment. Shared infrastructure addresses have no prefix; the rest do.

    `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` are the same for every service locally, so they
    are read unprefixed; anything service-specific uses the service's prefix (e.g. `INGEST_PORT`).
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    database_url: str = Field(default="postgresql://postgres@127.0.0.1:5432/lrs", validation_alias="DATABASE_URL")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    log_json: bool | None = None  # None: JSON unless stdout is a terminal
