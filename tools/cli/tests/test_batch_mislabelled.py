"""A batch file whose extension names another format than its content plainly is: `lrs` takes the format (and the
Content-Type it sends) from the extension and has no option to say otherwise, so both `batch check` and ingest's
RS001 on `batch submit` end with what to do in CLI terms: rename the file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lrs_cli.batch_commands import mislabelled_hint, submit
from lrs_cli.check_command import check
from lrs_cli.client import CommandError
from lrs_contracts.batch import BatchFormat
from lrs_domain.formats.mislabel import plainly_other_format  # the check's, shared with the portal's

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples"


@pytest.mark.parametrize(
    ("content", "fmt", "plainly"),
    [
        (b'  <?xml version="1.0"?><Batch/>', BatchFormat.CSV, BatchFormat.XML),
        (b'\n{"header": {}}', BatchFormat.CSV, BatchFormat.JSON),
        (b"[]", BatchFormat.XML, BatchFormat.JSON),
        ((SAMPLES / "sample-100.csv").read_bytes(), BatchFormat.JSON, BatchFormat.CSV),
        (b"<Batch/>", BatchFormat.XML, None),  # what it is named
        (b"not, any, format", BatchFormat.JSON, None),  # no CSV heading line: not plainly CSV
    ],
)
def test_the_format_a_file_plainly_is_when_it_is_not_the_one_its_name_says(
    content: bytes, fmt: BatchFormat, plainly: BatchFormat | None
) -> None:
    assert plainly_other_format(content, fmt) is plainly


def test_checking_a_csv_file_named_json_says_to_rename_it_not_only_what_the_json_parser_stumbled_on(
    tmp_path: Path,
) -> None:
    mislabelled = tmp_path / "results.json"
    mislabelled.write_bytes((SAMPLES / "sample-100.csv").read_bytes())

    with pytest.raises(CommandError) as refused:
        check(str(mislabelled), None)

    assert str(refused.value).startswith("RS001: the whole file is refused")
    hint = str(refused.value).splitlines()[-1]
    assert hint.startswith("results.json looks like CSV: rename it to results.csv (lrs reads and sends a batch file")


def test_checking_an_xml_file_named_csv_says_to_rename_it_xml(tmp_path: Path) -> None:
    mislabelled = tmp_path / "results.csv"
    mislabelled.write_bytes((SAMPLES / "sample-100.xml").read_bytes())

    with pytest.raises(CommandError, match=r"rename it to results\.xml"):
        check(str(mislabelled), None)


RS001_MISLABELLED = {
    "title": "Batch refused",
    "code": "RS001",
    "detail": "the body is labelled application/json but looks like CSV: send it with Content-Type: text/csv",
}


class _Ingest:
    """Ingest refusing the body as the real one does when its label and its content disagree."""

    sandpit = False

    def __init__(self, answer: dict[str, str]) -> None:
        self.answer = answer

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "ingest"
        return httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(422, json=self.answer)


def test_submitting_a_mislabelled_file_adds_to_ingests_content_type_advice_what_to_do_with_lrs(tmp_path: Path) -> None:
    mislabelled = tmp_path / "results.json"
    mislabelled.write_bytes((SAMPLES / "sample-100.csv").read_bytes())

    with pytest.raises(CommandError) as refused:
        submit(_Ingest(RS001_MISLABELLED), str(mislabelled), None)  # type: ignore[arg-type]

    first, hint = str(refused.value).splitlines()
    assert first.startswith("HTTP 422: RS001") and "looks like CSV" in first
    assert hint.startswith("results.json looks like CSV: rename it to results.csv")


def test_another_refusal_is_reported_as_ingest_gave_it() -> None:
    other = httpx.Response(422, json={"code": "RS001", "detail": "malformed CSV: line 3 has 12 fields, not 31"})
    not_a_problem = httpx.Response(422, text="<html>")

    assert mislabelled_hint("results.csv", other) is None
    assert mislabelled_hint("results.csv", not_a_problem) is None
