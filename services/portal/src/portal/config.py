from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import ServiceSettings


def _service_url(name: str, port: int) -> str:
    return Field(
        default=f"http://127.0.0.1:{port}",
        validation_alias=AliasChoices(f"PORTAL_{name}_URL", f"LRS_{name}_URL"),
    )


class PortalSettings(ServiceSettings):
    """The portal talks to the services over HTTP only: their URLs are `LRS_<SERVICE>_URL`, as for the CLI."""

    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore", frozen=True)

    port: int = 8007
    ingest_url: str = _service_url("INGEST", 8001)
    plr_projector_url: str = _service_url("PLR_PROJECTOR", 8003)
    challenges_url: str = _service_url("CHALLENGES", 8004)
    notifier_url: str = _service_url("NOTIFIER", 8005)
    reporting_url: str = _service_url("REPORTING", 8006)
    validation_url: str = _service_url("VALIDATION", 8002)
    service_timeout_seconds: float = Field(default=30.0, gt=0)

    cookie_secure: bool = Field(default=True, description="false only for local http; https sets Secure cookies")
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    lockout_failures: int = Field(default=5, ge=1, description="consecutive failed sign-ins that lock an account")
    lockout_minutes: int = Field(default=15, ge=1)
    reference_dir: str | None = Field(
        default=None, description="catalogue for the offline checks; default: the one shipped in lrs_domain"
    )
    records_page_size: int = Field(default=50, ge=10, le=500)
