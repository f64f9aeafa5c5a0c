"""`lrs batch check` on the project's sample batch files (samples/README.md).

Every showcase record's MIS identifier ends with the outcome the service gives it (`SHOW-002:RV002`,
`PROV-001:RV017+RV016`, `SHOW-003:no-op`). The offline checker must report that outcome wherever it is
one it can know: everything except learner verification (RV004) and achievement state (RV012-RV017).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from lrs_cli.main import main
from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BATCH_CODE_TITLES, MAX_BATCH_BYTES, BatchCode
from lrs_domain.formats import HEADER_FIELDS, RECORD_FIELDS, parse_batch
from lrs_platform.problems import Problem

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples"
SHOWCASES = ("rules-showcase", "rules-showcase-provisional")
FORMATS = ("csv", "xml", "json")
SERVER_ONLY = frozenset({"RV004", "RV012", "RV013", "RV014", "RV015", "RV016", "RV017"})
CSV_FIRST_RECORD_ROW = 4  # DOMAIN.md §7: a CSV record's line is its row, an XML/JSON record's its position

_RECORD_HEAD = re.compile(r"^(?:line|record) (\d+)(?: \[(.*)\])?: (\w+)$")  # CSV: line (its row); XML, JSON: record
_FINDING = re.compile(r"^    ([A-Z]{2}\d{3})\b")


@dataclass(frozen=True)
class Reported:
    status: str
    codes: tuple[str, ...]


def run_check(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    exit_code = main(["batch", "check", str(path)])
    captured = capsys.readouterr()
    return exit_code, captured.out, captured.err


def reported_records(report: str) -> dict[int, Reported]:
    """line → what the report says about it; records it does not list were accepted without findings."""
    records: dict[int, Reported] = {}
    line: int | None = None
    for text in report.splitlines():
        if head := _RECORD_HEAD.match(text):
            line = int(head[1])
            records[line] = Reported(head[3], ())
        elif (finding := _FINDING.match(text)) and line is not None:
            records[line] = Reported(records[line].status, (*records[line].codes, finding[1]))
        else:
            line = None
    return records


def offline_expectation(mis_identifier: str) -> Reported | None:
    """What the checker should report for a showcase record; None: nothing (accepted, no findings)."""
    outcome = mis_identifier.rsplit(":", 1)[1]
    if outcome in ("accepted", "no-op"):
        return None
    codes = tuple(code for code in outcome.split("+") if code not in SERVER_ONLY)
    if not codes:
        return None  # only the server can tell: offline the record looks fine
    return Reported("rejected" if any(code.startswith("RV") for code in codes) else "accepted", codes)


def position_numbered(report: str) -> str:
    """A CSV report with every line number (`line 7 [...]`, `Line 67 of this batch`) made a record's position, as an
    XML or JSON report says it (`record 4 [...]`, `Record 64 of this batch`), and WV002's `from this line` `from this
    record`."""
    numbered = re.sub(
        r"\b([Ll])ine (\d+)",
        lambda match: f"{'R' if match[1] == 'L' else 'r'}ecord {int(match[2]) - CSV_FIRST_RECORD_ROW + 1}",
        report,
    )
    return numbered.replace("from this line", "from this record")


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_100_projects_a_pass(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    exit_code, out, err = run_check(capsys, SAMPLES / f"sample-100.{fmt}")

    assert (exit_code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"sample-100.{fmt}: 100 records"
    assert reported_records(out) == {}
    assert "100 would be accepted, 0 rejected (0.0%), 0 warnings" in lines
    assert any(line.startswith("PROJECTED OUTCOME: passes the RS005 threshold") for line in lines)


def in_headings(report: str) -> str:
    """A JSON file's report with each field named by its CSV heading instead of its JSON key."""
    for field in (*HEADER_FIELDS, *RECORD_FIELDS):
        report = re.sub(rf"(RV\d{{3}}|WV\d{{3}}) {field.json_key}:", rf"\1 {field.heading}:", report)
    return report


@pytest.mark.parametrize("showcase", SHOWCASES)
def test_the_three_formats_of_a_showcase_give_the_same_report(
    capsys: pytest.CaptureFixture[str], showcase: str
) -> None:
    reports = {}
    for fmt in FORMATS:
        exit_code, out, err = run_check(capsys, SAMPLES / f"{showcase}.{fmt}")
        assert (exit_code, err) == (0, ""), fmt
        first, *rest = out.splitlines()
        assert first.startswith(f"{showcase}.{fmt}: "), first
        reports[fmt] = "\n".join(rest)

    # JSON names fields by its keys (`awardDate`), XML and CSV by their headings (`AwardDate`): nothing else differs
    assert in_headings(reports["json"]) == reports["xml"]
    assert "QualificationNumber:" in reports["xml"] and "qualificationNumber:" in reports["json"]
    # the only difference CSV may make is its line numbering: rows, the first record on row 4
    assert position_numbered(reports["csv"]) == reports["xml"]
    assert reports["csv"] != reports["xml"], "the CSV report should number records by row"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("showcase", SHOWCASES)
def test_each_record_gets_the_code_its_mis_identifier_names(
    capsys: pytest.CaptureFixture[str], showcase: str, fmt: str
) -> None:
    path = SAMPLES / f"{showcase}.{fmt}"
    records = parse_batch(path.read_bytes(), BatchFormat(fmt)).records
    exit_code, out, err = run_check(capsys, path)
    assert (exit_code, err) == (0, "")
    reported = reported_records(out)

    expected = {}
    for record in records:
        assert record.mis_identifier is not None and ":" in record.mis_identifier, record
        expectation = offline_expectation(record.mis_identifier)
        if expectation is not None:
            expected[record.line] = expectation
    assert reported == expected
    # the MIS identifiers are echoed against the lines they belong to
    mis_by_line = {record.line: record.mis_identifier for record in records}
    for text in out.splitlines():
        if head := _RECORD_HEAD.match(text):
            assert head[2] == mis_by_line[int(head[1])]


def test_the_showcases_exercise_every_code_the_checker_can_know(capsys: pytest.CaptureFixture[str]) -> None:
    seen: set[str] = set()
    for showcase in SHOWCASES:
        _, out, _ = run_check(capsys, SAMPLES / f"{showcase}.xml")
        seen.update(code for record in reported_records(out).values() for code in record.codes)

    offline_codes = ({f"RV{number:03d}" for number in range(1, 23)} - SERVER_ONLY) | {"WV001", "WV002"}
    assert seen == offline_codes


def test_a_malformed_csv_is_refused_whole_with_rs001(capsys: pytest.CaptureFixture[str]) -> None:
    # the learner list, uploaded by mistake: a CSV whose headings are not a batch's
    exit_code, out, err = run_check(capsys, ROOT / "reference" / "sample-learners.csv")

    assert (exit_code, out) == (1, "")
    assert err.startswith("lrs: RS001: the whole file is refused at line 1"), err


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_truncated_file_is_refused_whole_with_rs001(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    content = (SAMPLES / f"rules-showcase.{fmt}").read_bytes()
    truncated = tmp_path / f"rules-showcase.{fmt}"
    truncated.write_bytes(content[: len(content) // 2])

    exit_code, out, err = run_check(capsys, truncated)

    assert (exit_code, out) == (1, "")
    assert err.startswith("lrs: RS001: the whole file is refused at line "), err
    assert f"malformed {fmt.upper()}" in err


def test_a_file_refused_whole_in_json_says_why_on_stdout_as_submit_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    utf16 = tmp_path / "results.csv"
    utf16.write_bytes((SAMPLES / "rules-showcase.csv").read_text(encoding="utf-8").encode("utf-16"))

    exit_code = main(["batch", "check", str(utf16), "--json"])

    printed = json.loads(capsys.readouterr().out)
    assert exit_code == 1
    assert set(printed) == {"file", "refusal"} and printed["file"] == "results.csv"
    refusal = printed["refusal"]
    assert refusal["code"] == "RS001" and refusal["detail"]
    # ingest's problem document, as `lrs batch submit --json` prints it: no instance, as no batch was made
    assert refusal == Problem(
        status=422,
        title=BATCH_CODE_TITLES[BatchCode.MALFORMED],
        detail=refusal["detail"],
        code="RS001",
        line=refusal.get("line"),
        column=refusal.get("column"),
    ).model_dump(exclude_none=True)


def test_a_file_over_the_size_limit_in_json_is_ingest_s_413(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    large = tmp_path / "results.csv"
    large.write_bytes(b"x" * (MAX_BATCH_BYTES + 1))

    assert main(["batch", "check", str(large), "--json"]) == 1

    refusal = json.loads(capsys.readouterr().out)["refusal"]
    assert (refusal["code"], refusal["status"], refusal["type"]) == ("RS002", 413, "/problems/RS002")
    assert refusal["title"] == BATCH_CODE_TITLES[BatchCode.TOO_LARGE] and "instance" not in refusal
