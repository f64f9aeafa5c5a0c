"""What `lrs batch submit` and `lrs batch check` refuse themselves, before any service is asked: a file over 6 MB
(RS002, exit status 1, as ingest would refuse it) and a file whose format neither its name nor its first bytes tell
(a usage error, exit status 2, as docs/operations.md's table says of a value the command itself refuses). With
--json, each prints the shape the command prints for every other refusal of the whole file, so that a script reads
one shape for one outcome; the reason stays on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrs_cli import batch_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.codes import BATCH_CODE_TITLES, MAX_BATCH_BYTES, BatchCode

from .offline import refuse_the_network

UNTELLABLE = "cannot tell the format of results.txt: use .csv, .xml or .json"


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_the_network(monkeypatch, batch_commands)


@pytest.fixture
def untellable(tmp_path: Path) -> Path:
    path = tmp_path / "results.txt"
    path.write_bytes(b"some notes, not a batch\n")
    return path


@pytest.fixture
def oversized(tmp_path: Path) -> Path:
    path = tmp_path / "big.csv"
    with path.open("wb") as file:
        file.truncate(MAX_BATCH_BYTES + 1)  # sparse: takes no disk
    return path


@pytest.mark.usefixtures("no_server")
def test_submit_json_of_a_file_over_the_limit_prints_the_refusal_as_ingest_s_are(
    oversized: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batch", "submit", str(oversized), "--json"])

    out, err = capsys.readouterr()
    assert code == ExitCode.FAILED
    printed = json.loads(out)
    assert set(printed) == {"batch_id", "status", "refusal"}
    assert (printed["batch_id"], printed["status"]) == (None, "refused")
    refusal = printed["refusal"]
    assert (refusal["code"], refusal["status"], refusal["type"]) == ("RS002", 413, "/problems/RS002")
    assert refusal["title"] == BATCH_CODE_TITLES[BatchCode.TOO_LARGE] and "instance" not in refusal
    assert "RS002: the whole file is refused: the file is 6,291,457 bytes" in " ".join(err.split())


@pytest.mark.usefixtures("no_server")
def test_submit_of_a_file_over_the_limit_says_to_split_it(oversized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The refusal said what was wrong but not what to do, which only the problem page said (a CLI walk-through)."""
    code = main(["batch", "submit", str(oversized)])

    err = " ".join(capsys.readouterr().err.split())
    assert code == ExitCode.FAILED
    assert "more than the 6,291,456 a batch may be. Split the file: a batch is at most 6 MB (6,291,456 bytes)." in err


@pytest.mark.usefixtures("no_server")
def test_submit_of_a_file_of_no_format_it_can_tell_is_a_usage_error(
    untellable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batch", "submit", str(untellable)])

    out, err = capsys.readouterr()
    assert code == ExitCode.USAGE
    assert out == ""
    assert err == f"lrs: {UNTELLABLE}\n"


@pytest.mark.usefixtures("no_server")
def test_submit_json_of_a_file_of_no_format_it_can_tell_prints_the_refusal_too(
    untellable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batch", "submit", str(untellable), "--json"])

    out, err = capsys.readouterr()
    assert code == ExitCode.USAGE
    refusal = {"type": "/problems/RS001", "title": BATCH_CODE_TITLES[BatchCode.MALFORMED], "status": 422}
    assert json.loads(out) == {
        "batch_id": None,
        "status": "refused",
        "refusal": {**refusal, "detail": UNTELLABLE, "code": "RS001"},
    }
    assert UNTELLABLE in err


@pytest.mark.parametrize("as_json", [False, True])
def test_check_of_a_file_of_no_format_it_can_tell_is_a_usage_error_as_submit_s(
    as_json: bool, untellable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batch", "check", str(untellable), *(["--json"] if as_json else [])])

    out, err = capsys.readouterr()
    assert code == ExitCode.USAGE
    assert err == f"lrs: {UNTELLABLE}\n"
    if as_json:
        printed = json.loads(out)
        assert printed["file"] == "results.txt"
        assert (printed["refusal"]["code"], printed["refusal"]["detail"]) == ("RS001", UNTELLABLE)
    else:
        assert out == ""
