from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lrs_platform.settings import Port, ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore", frozen=True)

    port: Port = 8006
    app_id: str = "lrs-reporting"
    """The faust app id, which is also the Kafka consumer group."""
    topic_partitions: int = Field(default=6, ge=1)
    # how often the consumer's offsets are committed to the broker: at least a hundredth of a second, so a typo cannot
    # make it commit in a loop
    broker_commit_interval_seconds: float = Field(default=1.0, ge=0.01)
    retry_max_seconds: float = Field(default=10.0, gt=0)
    projection_lag_bound_seconds: int = Field(default=300, ge=1)
    """How long after its last event is on the PLR log a batch counts as on the PLR: the projector lag
    past which operators are alerted (`lrs_projector_lag_seconds > 300`, docs/operations.md)."""
    read_plr_log: bool = False
    """Also read `lrs.plr.events.v1` for when each batch's events reached the PLR log (decision 0037).
    Off: PLR timeliness comes from each `BatchCompleted`'s `on_plr` and broker time (decision 0107).
    Only for rebuilding the store over a log written before completions named their qualifications."""
    plr_log_max_records: int = Field(default=5000, ge=1)
    """With `read_plr_log`, the PLR log is applied in polls of up to this many events (one upsert per
    batch and qualification, and one recomputation per month, each)."""
    data_dir: Path = Path(tempfile.gettempdir()) / "lrs-reporting"
    """Faust's data directory (nothing durable lives there: the store is memory://)."""

    @property
    def plr_log_group(self) -> str:
        """The consumer group that reads the PLR log beside the faust app (decision 0037)."""
        return self.topics.group(f"{self.app_id}.plr-log")
