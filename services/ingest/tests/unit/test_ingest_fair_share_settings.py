"""The two bounds a results-day noisy-neighbour walk asked for (findings 1 and 4): an AO's waiting batches, whatever
their records (decision 0171's later note), and a caller's results downloads sent at once (the upload gate's
mechanism, decision 0185). Their settings, their defaults, and the 429's words for the batch limit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from ingest.api import _deferred, _records_waiting_at_the_limit
from ingest.config import IngestSettings
from ingest.repository import Waiting
from ingest.uploads import TooManyUploads, UploadGate
from lrs_platform.identity import Principal, PrincipalKind


def test_the_defaults_bound_batches_waiting_and_downloads_at_once() -> None:
    settings = IngestSettings()
    # 250 decisions at ~50 ms each are about the ~12 s of a partition's work 100,000 records are
    assert (settings.max_waiting_records_per_ao, settings.max_waiting_batches_per_ao) == (100_000, 250)
    assert (settings.max_downloads_per_caller, settings.downloads_retry_after_seconds) == (3, 5)


def test_the_bounds_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_MAX_WAITING_BATCHES_PER_AO", "40")
    monkeypatch.setenv("INGEST_MAX_DOWNLOADS_PER_CALLER", "2")
    monkeypatch.setenv("INGEST_DOWNLOADS_RETRY_AFTER_SECONDS", "7")
    settings = IngestSettings()
    assert (settings.max_waiting_batches_per_ao, settings.max_downloads_per_caller) == (40, 2)
    assert settings.downloads_retry_after_seconds == 7


def test_the_batch_limit_may_be_turned_off_and_a_download_limit_may_not() -> None:
    assert IngestSettings(max_waiting_batches_per_ao=0).max_waiting_batches_per_ao == 0
    with pytest.raises(ValidationError):
        IngestSettings(max_waiting_batches_per_ao=-1)
    with pytest.raises(ValidationError):
        IngestSettings(max_downloads_per_caller=0)


class Batches:
    def __init__(self, waiting: Waiting) -> None:
        self.waiting = waiting

    async def records_waiting(self, ao_id: str, *, publishing_seconds: float) -> Waiting:
        return self.waiting

    async def find_by_dedup(self, ao_id: str, dedup_key: str) -> Any:
        return None


def _ao() -> Principal:
    return Principal(PrincipalKind.AO, f"RN{uuid.uuid4().int % 10**8:08d}")


async def test_either_limit_met_holds_the_ao_and_each_turned_off_alone_holds_nothing() -> None:
    both = IngestSettings(max_waiting_records_per_ao=100, max_waiting_batches_per_ao=5)
    for waiting, held in ((Waiting(99, 4), False), (Waiting(5, 5), True), (Waiting(100, 1), True)):
        answer = await _records_waiting_at_the_limit(_ao(), Batches(waiting), both, None)  # type: ignore[arg-type]
        assert (answer == waiting) if held else answer is None, waiting
    records_only = IngestSettings(max_waiting_records_per_ao=100, max_waiting_batches_per_ao=0)
    assert await _records_waiting_at_the_limit(_ao(), Batches(Waiting(5, 10_000)), records_only, None) is None  # type: ignore[arg-type]
    batches_only = IngestSettings(max_waiting_records_per_ao=0, max_waiting_batches_per_ao=5)
    assert await _records_waiting_at_the_limit(_ao(), Batches(Waiting(10**6, 4)), batches_only, None) is None  # type: ignore[arg-type]
    operator = Principal(PrincipalKind.OPERATOR, "ops")
    assert await _records_waiting_at_the_limit(operator, Batches(Waiting(5, 5)), both, None) is None  # type: ignore[arg-type]


def test_the_429_names_the_limit_that_was_met() -> None:
    settings = IngestSettings(max_waiting_records_per_ao=100, max_waiting_batches_per_ao=5)
    batches = _deferred(_ao(), Waiting(7, 5), settings).problem.model_dump(mode="json")
    assert batches["detail"].startswith(
        "5 of your batches are waiting for their decision (at most 5 may wait, however few records each holds)"
    )
    assert (batches["records_waiting"], batches["limit"], batches["batches_waiting"], batches["batch_limit"]) == (
        7,
        100,
        5,
        5,
    )
    records = _deferred(_ao(), Waiting(100, 5), settings).problem.model_dump(mode="json")
    assert records["detail"].startswith("100 records of your batches are waiting for their decision (at most 100")


def test_a_gate_without_an_overall_limit_bounds_each_caller_only() -> None:
    gate = UploadGate(per_caller=1, overall=None)
    with gate.admit("ao:RN1"), gate.admit("ao:RN2"), gate.admit("operator:ops"):
        with pytest.raises(TooManyUploads) as busy, gate.admit("ao:RN1"):
            pass
        assert (busy.value.limit, busy.value.per_caller, gate.held) == (1, True, 3)
    assert gate.held == 0
