from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lrs_platform.http import OWN_BODY_IDLE_SECONDS
from lrs_platform.settings import Port, ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore", frozen=True)

    port: Port = 8001
    # Names the transactional producer `ingest-<id>`: kept across restarts of one instance (on Kubernetes the
    # pod's name), so a restarted process fences its killed predecessor and aborts the transaction it left
    # open at once, instead of `read_committed` readers waiting for the broker's timeout. Random when unset;
    # never shared by two instances running at the same time.
    instance_id: str | None = None
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
    # An AO's batches wait in one queue with the other AOs' of their partition: while this many of its records
    # wait for their decision, its next batch is answered 429 with Retry-After (decision 0171). 0: no limit.
    max_waiting_records_per_ao: int = Field(default=100_000, ge=0)
    # ... and while this many of its batches wait, whatever their size: a decision costs about 50 ms however few
    # records the batch holds, so 250 one-record batches are about the partition time of 100,000 records (~12 s)
    # that the record limit allows; the portal's direct entry (a one-record batch a Send, each then waited for)
    # has a handful waiting at most. 0: no limit.
    max_waiting_batches_per_ao: int = Field(default=250, ge=0)
    busy_retry_after_seconds: int = Field(default=30, ge=1, le=3_600)
    # An upload is held in memory while it is read (up to 6 MB): one that sends nothing for this long is answered
    # 408 and dropped, and at most this many are read at once per caller and per replica; one more is answered
    # 429 with Retry-After before its body is read (decision 0185).
    # below the services' backstop for a route bounding its own body (`OWN_BODY_IDLE_SECONDS`), so this one answers
    upload_idle_seconds: float = Field(default=30.0, gt=0, lt=OWN_BODY_IDLE_SECONDS)
    max_uploads_per_caller: int = Field(default=4, ge=1)
    max_uploads: int = Field(default=16, ge=1)
    uploads_retry_after_seconds: int = Field(default=5, ge=1, le=3_600)
    # A batch's results CSV is built on the event loop a slice at a time while it is sent: at most this many are
    # sent at once per caller (the upload gate's mechanism); one more is answered 429 with Retry-After.
    max_downloads_per_caller: int = Field(default=3, ge=1)
    downloads_retry_after_seconds: int = Field(default=5, ge=1, le=3_600)
    reference_dir: str | None = Field(
        default=None,
        description="reference files (validation's): the register of AOs an operator may reset the Sandpit of;"
        " default: the ones shipped in lrs_domain",
    )
