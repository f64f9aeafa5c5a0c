"""`lrs batch list --reference TEXT` (a migration's thousands of batches): asks ingest for the batches of that
BatchReference on every page it reads; without it, asks as before."""

from __future__ import annotations

import pytest

from lrs_cli.client import ExitCode

from .test_batch_list_after import ArrivingBatches, _list


def test_a_reference_is_asked_for_on_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = ArrivingBatches(450)

    assert _list(ingest, "--all", "--reference", "MIGRATION 0042", monkeypatch=monkeypatch) == ExitCode.OK

    assert len(ingest.asked) == 3
    assert [asked.get("reference") for asked in ingest.asked] == ["MIGRATION 0042"] * 3


def test_without_a_reference_none_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = ArrivingBatches(3)

    assert _list(ingest, monkeypatch=monkeypatch) == ExitCode.OK

    assert "reference" not in ingest.asked[0]


def test_an_empty_reference_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = ArrivingBatches(3)

    assert _list(ingest, "--reference", "", monkeypatch=monkeypatch) == ExitCode.USAGE

    assert ingest.asked == [] and "BatchReference is 1 to 1,000 characters" in capsys.readouterr().err
