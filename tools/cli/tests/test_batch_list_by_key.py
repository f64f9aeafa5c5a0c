"""`lrs batch list --key-id ID` (after a key leaked: which batches it sent) asks ingest for the batches of that key on
every page it reads; a whole key pasted instead of its id is a usage error that names its id and never prints the
key (its secret would reach the terminal or a CI log); without it, asks as before."""

from __future__ import annotations

import pytest

from lrs_cli.client import ExitCode

from .test_batch_list_after import ArrivingBatches, _list

KEY_ID = "0123456789abcdef"
SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"


def test_a_key_id_is_asked_for_on_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = ArrivingBatches(450)

    assert _list(ingest, "--all", "--key-id", KEY_ID, monkeypatch=monkeypatch) == ExitCode.OK

    assert [asked.get("submitted_with_key") for asked in ingest.asked] == [KEY_ID] * 3


def test_without_a_key_id_none_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = ArrivingBatches(3)

    assert _list(ingest, monkeypatch=monkeypatch) == ExitCode.OK

    assert "submitted_with_key" not in ingest.asked[0]


@pytest.mark.parametrize("pasted", [f"lrs_{KEY_ID}_{SECRET}", f"lrs_sbx_{KEY_ID}_{SECRET}"])
def test_a_whole_key_is_refused_naming_its_id_never_its_secret(
    pasted: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = ArrivingBatches(3)

    assert _list(ingest, "--key-id", pasted, monkeypatch=monkeypatch) == ExitCode.USAGE

    said = capsys.readouterr()
    assert ingest.asked == [] and KEY_ID in said.err and SECRET not in said.err + said.out


@pytest.mark.parametrize("given", ["0123", f"{KEY_ID}{SECRET}", "lrs_0123"])
def test_what_is_no_key_id_is_a_usage_error(
    given: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = ArrivingBatches(3)

    assert _list(ingest, "--key-id", given, monkeypatch=monkeypatch) == ExitCode.USAGE

    said = capsys.readouterr().err
    assert ingest.asked == [] and "16 characters, 0-9 and a-f" in said
    assert SECRET not in said
