"""`lrs batch check` and `lrs batch submit` on files as an exams officer's office software writes them (office walk,
findings 1 to 3): Notepad's "Unicode" (UTF-16) under its own name, `results.txt`, is refused here as UTF-16, in
ingest's words, not "cannot tell the format"; a spreadsheet workbook is refused here as one, with how to save the
CSV, whatever its name; and the portal template's example record left in a file is warned of (the file can still be
sent), as the portal's check warns of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrs_cli import batch_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_domain.formats.json_batch import TEMPLATE_EXAMPLE_MIS_IDENTIFIER

from .offline import refuse_the_network

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "sample-100.csv"
ZIP_START = b"PK\x03\x04\x14\x00\x00\x00\x08\x00"
OLE_START = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SAVE_AS_CSV = (
    "open it in the spreadsheet and save it as CSV (in Excel, File > Save As > 'CSV UTF-8 (Comma delimited)'), then"
    " submit the .csv file"
)


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_the_network(monkeypatch, batch_commands)


@pytest.fixture
def notepad_unicode(tmp_path: Path) -> Path:
    path = tmp_path / "results.txt"
    path.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("utf-16"))  # little-endian, with a byte order mark
    return path


@pytest.mark.parametrize("command", ["check", "submit"])
@pytest.mark.usefixtures("no_server")
def test_notepads_unicode_txt_is_refused_here_as_utf16(
    command: str, notepad_unicode: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batch", command, str(notepad_unicode)])

    err = " ".join(capsys.readouterr().err.split())
    assert code == ExitCode.FAILED
    assert (
        "RS001: the whole file is refused at line 1, column 1: the file is UTF-16, not UTF-8: save it as UTF-8" in err
    )
    assert "cannot tell the format" not in err


@pytest.mark.usefixtures("no_server")
def test_submit_json_of_a_utf16_txt_prints_the_refusal_as_ingest_s_are(
    notepad_unicode: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batch", "submit", str(notepad_unicode), "--json"])

    printed = json.loads(capsys.readouterr().out)
    assert code == ExitCode.FAILED
    assert (printed["batch_id"], printed["status"]) == (None, "refused")
    assert printed["refusal"]["code"] == "RS001"
    assert printed["refusal"]["detail"] == "the file is UTF-16, not UTF-8: save it as UTF-8"
    assert (printed["refusal"]["line"], printed["refusal"]["column"]) == (1, 1)


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("results.xlsx", ZIP_START, ".xlsx"),
        ("results.numbers", ZIP_START, ".numbers"),
        ("results.xls", OLE_START, ".xls"),
        ("results.csv", ZIP_START, ".xlsx, .ods or .numbers"),  # renamed, as "use .csv" told it
    ],
)
@pytest.mark.parametrize("command", ["check", "submit"])
@pytest.mark.usefixtures("no_server")
def test_a_spreadsheet_workbook_is_refused_here_as_one_with_how_to_save_the_csv(
    command: str, name: str, content: bytes, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content + bytes(range(256)))

    code = main(["batch", command, str(path)])

    err = " ".join(capsys.readouterr().err.split())
    assert code == ExitCode.FAILED
    assert f"RS001: the whole file is refused: the file is a spreadsheet workbook ({kind}), not a batch file:" in err
    assert SAVE_AS_CSV in err
    assert "cannot tell the format" not in err and "is not UTF-8" not in err


def _with_example(tmp_path: Path) -> Path:
    """sample-100.csv's first two records, the first as the template's example, as an officer leaves it."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    example = lines[3].replace("PE-2024-0001", TEMPLATE_EXAMPLE_MIS_IDENTIFIER.lower())  # any case
    path = tmp_path / "results.csv"
    path.write_bytes(("\r\n".join([*lines[:3], example, lines[4]]) + "\r\n").encode("utf-8-sig"))
    return path


WARNING = (
    "Line 4 (ULN ******0043) is the template's example record (MISIdentifier EXAMPLE-DELETE-ME), not one of your"
    " learners: delete it, then check the file again. Sent, it would be recorded on that learner's record, or"
    " rejected (RV004) and counted towards failing the whole batch (more than 30% rejected, RS005)"
)


def test_check_warns_of_the_templates_example_record_left_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batch", "check", str(_with_example(tmp_path))])

    out = " ".join(capsys.readouterr().out.split())
    assert code == ExitCode.OK  # a warning: the file can still be sent
    assert f"WARNING: {WARNING}" in out


def test_check_json_says_the_warning_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["batch", "check", str(_with_example(tmp_path)), "--json"])

    out, err = capsys.readouterr()
    assert code == ExitCode.OK
    json.loads(out)
    assert WARNING in " ".join(err.split())


def test_the_sample_files_have_no_such_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["batch", "check", str(SAMPLE)])

    assert code == ExitCode.OK
    assert "template's example record" not in capsys.readouterr().out
