from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import Port, ServiceSettings


class ValidationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VALIDATION_", extra="ignore", frozen=True)

    port: Port = 8002
    consumer_group: str = "validation"
    reference_dir: Path | None = None  # None: the files shipped in lrs_domain.reference_files
    load_reference_on_start: bool = True
    # Names the transactional producer `validation-<id>`: kept across restarts of one instance (on Kubernetes the
    # pod's name), so a restarted process fences its killed predecessor and aborts the transaction it left
    # open at once, instead of `read_committed` readers waiting for the broker's timeout. Random when unset;
    # never shared by two instances running at the same time.
    instance_id: str | None = None
    live_database_url: str | None = Field(
        default=None,
        description="the Sandpit's only: live's database, whose learner keys open the live registrations"
        " the Sandpit copies (read only: keys are found there, never issued or erased)",
    )
