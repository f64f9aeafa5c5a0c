"""`lrs batch status ID --records` pads each record's MIS identifier to the same terminal cells, as a terminal shows
it: a CJK character takes two cells and a combining accent none, so the codes after an identifier in Chinese, or
written decomposed (as a Mac writes it), line up with those after an ASCII one."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import httpx
import pytest
from rich.cells import cell_len

from lrs_cli import batch_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main

BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"
MIS_IDENTIFIERS = [
    "MIS-jose",
    "MIS-王芳",  # two cells a character
    unicodedata.normalize("NFD", "MIS-nguyễn"),  # 12 code points, 10 cells
    "MIS-𠮷野",  # an astral character, wide too
    "A" * 20,  # as wide as the column: one space after it, as before
]
RECORDS = [
    {
        "line": 4 + index,
        "mis_identifier": mis,
        "status": "rejected",
        "errors": [{"code": "RV004", "field": "uln", "message": "The learner's names do not match."}],
        "warnings": [],
    }
    for index, mis in enumerate(MIS_IDENTIFIERS)
]
BATCH = {
    "batch_id": BATCH_ID,
    "status": "completed",
    "format": "csv",
    "counts": {"total": len(RECORDS), "rejected": len(RECORDS)},
}


@dataclass(frozen=True)
class _Ingest(Connection):
    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/records"):
                return httpx.Response(200, json={"records": RECORDS, "total": len(RECORDS)})
            return httpx.Response(200, json=BATCH)

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


def test_the_codes_line_up_after_a_wide_or_decomposed_mis_identifier(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: _Ingest("lrs_test_key"))

    assert main(["batch", "status", BATCH_ID, "--records"]) == ExitCode.OK

    lines = [line for line in capsys.readouterr().out.splitlines() if "RV004" in line]
    assert len(lines) == len(MIS_IDENTIFIERS)
    for line, mis in zip(lines, MIS_IDENTIFIERS, strict=True):
        assert mis in line
    # the cell each line's code starts at, as a terminal shows it: after the line's place, its result, and the MIS
    # identifier's 20 cells with a space either side
    assert [cell_len(line[: line.index("RV004")]) for line in lines] == [len("  line     4  rejected  ") + 20 + 1] * 5
    assert lines[-1].endswith(f" {'A' * 20} RV004 ULN: The learner's names do not match.")


def test_an_identifier_wider_than_the_column_is_never_cut() -> None:
    wide = "MIS-" + "王" * 10  # 24 cells
    said = batch_commands.record_line({**RECORDS[0], "mis_identifier": wide}).plain

    assert f" {wide} RV004" in said
