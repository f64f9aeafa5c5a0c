from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import Port, ServiceSettings, loopback_host, service_url_setting


class ProjectorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTOR_", extra="ignore", frozen=True)

    port: Port = 8003
    # Prepended to every topic name this service reads and writes: isolates test runs and tenants
    # sharing one cluster (see docs/decisions/0010-plr-projector-read-model.md).
    topic_prefix: str = ""
    max_batch_records: int = Field(default=5_000, ge=1)
    poll_timeout_ms: int = Field(default=200, ge=1)
    # 0: no wait: a read asking for its writes is checked once, and answered "not yet projected" (PROJECTION_PENDING)
    # unless they are
    read_wait_max_ms: int = Field(default=30_000, ge=0)
    # each tick asks the database for the projection's figures: at least a tenth of a second, so a typo cannot spin it
    metrics_interval_seconds: float = Field(default=2.0, ge=0.1)
    run_consumer: bool = True
    # Whether operators' retries, skips, replays and rebuilds are taken here; unset, where the live projection runs.
    # True on a projector with its live projection idle and no writer beside it on its model (the benchmark's
    # rebuild, a rehearsal of one): a plr-reader (false) must leave them to the writer.
    operator_actions: bool | None = None
    # Rebuilds (decision 0033): worker processes on disjoint partition sets, none = the machine's cores.
    # 0: a rebuild replays the log through the live code path, with no bulk load (operations.md)
    rebuild_workers: int | None = Field(default=None, ge=0)
    # 'process': the projector starts its workers; 'external': they run elsewhere (an indexed Job, whose
    # parallelism and completions are then `rebuild_workers`: a rebuild plans that many, or 0, no other number).
    rebuild_launch: Literal["process", "external"] = "process"
    # With 'process', the most workers a rebuild may ask for: each holds a pass in memory (decision 0087), so a pod
    # sized for one (the Sandpit's writer) refuses `--workers 4` instead of being killed for its memory mid-load.
    rebuild_max_workers: int | None = Field(default=None, ge=1)
    # With 'external', how long a worker's row may stay 'failed' before the rebuild is failed: the Job retries a
    # failed index (backoffLimitPerIndex) after its back-off (10 s, 20 s, 40 s, ...) and the retry marks the row
    # 'running' as it begins, so a row failed for longer is one the Job has given up on.
    rebuild_worker_retry_seconds: float = Field(default=300.0, gt=0)
    # A worker whose slice holds more PLR events folds it in several passes: its memory holds one
    # pass's achievements (~0.5 KB each; at most one per event; decision 0087). The first pass keeps
    # the later passes' records in files under the spill directory (default: the temporary directory).
    rebuild_events_per_pass: int = Field(default=250_000, ge=1)
    rebuild_spill_dir: str | None = None
    # Verifiable PLR credentials (decision 0050): the public base URL that names the issuer and its
    # keys in every credential, and the key sealing the signing keys at rest (32 bytes, base64);
    # without that key the projector issues no credential.
    credential_issuer_url: str = "http://127.0.0.1:8003"
    credential_key_encryption_key: SecretStr | None = None

    @field_validator("credential_issuer_url")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        """Signed into every credential as its issuer and its keys' names, and set once, before the first: a value
        with no scheme or host, a space, or a port out of range is refused as the projector starts (`service_url_setting`,
        the check of every service URL), not found later in credentials that the LRS's own check calls forged. Plain
        http only on this machine (`make up`'s). The refusal line names the variable: the words do not again."""
        try:
            url = service_url_setting(value)
        except ValueError:
            raise ValueError("not an absolute http(s) URL with a host, like https://api.lrs.example") from None
        if not url.startswith("https://") and not loopback_host(url):
            raise ValueError("must be https:// (plain http only on this machine: localhost, 127.0.0.1)")
        return url
