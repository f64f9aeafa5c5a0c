"""Where a refused batch file is at fault, in words true of its format. A fault inside a JSON record is placed by
the record's position among the records, not by a line of the file: reviewers' bad key was on line 5 and the CLI
said "(line 3)". XML's refusals (and a JSON file that is not JSON at all) are placed by the file's line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.batch_commands import summary
from lrs_cli.check_command import refusal_problem
from lrs_cli.client import ExitCode, problem_text
from lrs_cli.main import main
from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import parse_batch
from lrs_domain.formats.errors import BatchRefused

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
BATCH_ID = "0b6f3f4e-59d4-4c0e-a4bb-0e4d8a3c2f11"


def json_with_a_bad_key_in_record_3() -> bytes:
    """The sample, one key a line: record 3's `ULN` (for `uln`) is on line 53 of the file."""
    document = json.loads((SAMPLES / "sample-100.json").read_bytes())
    document["records"][2]["ULN"] = document["records"][2].pop("uln")
    return json.dumps(document, indent=2).encode()


def xml_with_a_bad_element_on_line_5() -> bytes:
    lines = (SAMPLES / "sample-100.xml").read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(4, "<Nonsense/>\n")
    return "".join(lines).encode()


def refusal_of(content: bytes, fmt: BatchFormat) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, fmt)
    return refused.value


def test_the_json_parser_places_a_fault_in_a_record_by_its_position_and_xml_s_by_line_and_column() -> None:
    in_record = refusal_of(json_with_a_bad_key_in_record_3(), BatchFormat.JSON)
    assert (in_record.line, in_record.column) == (3, None)
    xml = refusal_of(xml_with_a_bad_element_on_line_5(), BatchFormat.XML)
    assert xml.line == 5 and xml.column


def test_batch_check_says_which_json_record_is_at_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(json_with_a_bad_key_in_record_3())

    code = main(["batch", "check", str(path)])

    err = capsys.readouterr().err
    assert code == ExitCode.FAILED
    assert err.startswith("lrs: RS001: the whole file is refused at record 3: record 3 has the field 'ULN'"), err


def test_batch_check_says_the_line_and_column_of_a_json_file_that_is_not_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(b'{\n  "header": {\n    "fileVersion": "1.0",,\n')

    main(["batch", "check", str(path)])

    assert capsys.readouterr().err.startswith("lrs: RS001: the whole file is refused at line 3, column 26: malformed")


def test_batch_check_says_the_line_and_column_of_an_xml_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.xml"
    path.write_bytes(xml_with_a_bad_element_on_line_5())

    main(["batch", "check", str(path)])

    assert capsys.readouterr().err.startswith("lrs: RS001: the whole file is refused at line 5, column "), "xml"


class _Ingest:
    """Ingest refusing the file as it would: its problem document of the parser's refusal."""

    sandpit = False

    def __init__(self, problem: dict[str, Any]) -> None:
        self.problem = {**problem, "instance": f"/v1/batches/{BATCH_ID}"}

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(422, json=self.problem)


@pytest.mark.parametrize(
    ("name", "content", "place"),
    [
        ("results.json", json_with_a_bad_key_in_record_3(), "(record 3)."),
        ("results.xml", xml_with_a_bad_element_on_line_5(), "(line 5, column "),
    ],
)
def test_submit_says_where_ingest_refused_the_file(
    name: str,
    content: bytes,
    place: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fmt = BatchFormat(name.rsplit(".", 1)[1])
    path = tmp_path / name
    path.write_bytes(content)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: _Ingest(refusal_problem(refusal_of(content, fmt))))

    code = main(["batch", "submit", str(path)])

    assert code == ExitCode.FAILED
    assert place in capsys.readouterr().err


def test_the_status_of_a_refused_json_batch_says_which_record_is_at_fault() -> None:
    refused = {
        "batch_id": BATCH_ID,
        "status": "refused",
        "format": "json",
        "refusal": {
            "code": "RS001",
            "title": "The file is malformed",
            "detail": "record 3 has no field 'x'",
            "line": 3,
        },
    }
    assert str(summary(refused)).endswith("RS001: record 3 has no field 'x' (record 3)")
    xml = {**refused, "format": "xml", "refusal": {**refused["refusal"], "line": 5, "column": 2}}  # type: ignore[dict-item]
    assert str(summary(xml)).endswith("(line 5, column 2)")


def test_a_problem_not_of_a_batch_file_keeps_its_line() -> None:
    body = {"code": "RS001", "title": "The file is malformed", "detail": "a NUL", "line": 3}
    assert problem_text(httpx.Response(422, json=body)).endswith("a NUL (line 3).")
    assert problem_text(httpx.Response(422, json=body), BatchFormat.JSON).endswith("a NUL (record 3).")
