"""The sample batches through the real services, in each format (samples/README.md).

For each of CSV, XML and JSON the three sample files (sample-100, rules-showcase,
rules-showcase-provisional) are submitted in order as Pearson (RN9093), with every registered
learner's ULN replaced by a fresh one so that the formats, and other test runs, never share state.
Then:
- every record gets the outcome its MIS identifier names (`SHOW-002:RV002`, `PROV-001:RV017+RV016`);
- the three formats give every record the same status and codes;
- `lrs batch check` on the files as submitted reports, for every record, the service's codes less the
  ones only the server can know (RV004, RV012-RV017).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable, Mapping
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import decided, register
from tests.support.learners import random_uln
from tests.support.waiting import eventually

from lrs_cli.main import main as lrs
from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import ParsedBatch, parse_batch, write_batch

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
AO = "RN9093"
BATCHES = ("sample-100", "rules-showcase", "rules-showcase-provisional")  # in submission order
FORMATS = tuple(BatchFormat)
CONTENT_TYPES = {BatchFormat.CSV: "text/csv", BatchFormat.XML: "application/xml", BatchFormat.JSON: "application/json"}
FIRST_LINE = {BatchFormat.CSV: 4, BatchFormat.XML: 1, BatchFormat.JSON: 1}  # DOMAIN.md §7
SERVER_ONLY = frozenset({"RV004", "RV012", "RV013", "RV014", "RV015", "RV016", "RV017"})


@dataclass(frozen=True)
class Outcome:
    status: str
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubmittedFile:
    """One sample file as submitted in one format, and what the service and the checker said of it."""

    batch: ParsedBatch
    view: dict[str, Any]
    service: dict[int, Outcome]  # by line, as the service numbers it
    offline: dict[int, Outcome]  # by line, from `lrs batch check`; records it does not list are omitted
    offline_report: str

    def by_position(self, outcomes: Mapping[int, Outcome]) -> dict[int, Outcome]:
        offset = FIRST_LINE[self.batch.format] - 1
        return {line - offset: outcome for line, outcome in outcomes.items()}


# --- learners ------------------------------------------------------------------------------------


def reference_learners() -> dict[str, dict[str, str]]:
    text = (ROOT / "reference" / "sample-learners.csv").read_text(encoding="utf-8-sig")
    return {row["ULN"]: row for row in csv.DictReader(io.StringIO(text))}


def order_preserving_fresh_ulns(replaced: Iterable[str], kept: Iterable[str]) -> dict[str, str]:
    """A fresh valid ULN for each of `replaced`, sorting among themselves and `kept` as the originals do,
    so that the samples stay ordered by ULN except where they mean not to be (WV002)."""
    kept = set(kept)
    mapping: dict[str, str] = {}
    run: list[str] = []
    lower: str | None = None
    for uln in [*sorted(set(replaced) | kept), None]:
        if uln is not None and uln not in kept:
            run.append(uln)
            continue
        fresh: set[str] = set()
        for _ in range(1000 * len(run)):
            if len(fresh) == len(run):
                break
            candidate = random_uln()
            if (lower is None or candidate > lower) and (uln is None or candidate < uln) and candidate not in kept:
                fresh.add(candidate)
        assert len(fresh) == len(run), f"no room for {len(run)} ULNs between {lower} and {uln}"
        mapping.update(zip(run, sorted(fresh), strict=True))
        run, lower = [], uln
    return mapping


def learners_to_register(mapping: Mapping[str, str], registry: Mapping[str, dict[str, str]]) -> list[dict[str, str]]:
    """The reference learners under their new ULNs, masters first (a merged learner names its master)."""
    rows = sorted((registry[uln] for uln in mapping), key=lambda row: row["MasterULN"] != "")
    return [
        {
            "uln": mapping[row["ULN"]],
            "given_name": row["GivenName"],
            "family_name": row["FamilyName"],
            "date_of_birth": row["DateOfBirth"],
            "gender": row["Gender"],
            "ability_to_share": row["AbilityToShare"],
            "master_uln": mapping[row["MasterULN"]] if row["MasterULN"] else "",
        }
        for row in rows
    ]


def with_ulns(batch: ParsedBatch, mapping: Mapping[str, str]) -> ParsedBatch:
    records = tuple(
        record.model_copy(update={"uln": mapping.get(record.uln or "", record.uln)}) for record in batch.records
    )
    return ParsedBatch(batch.header, records, batch.format)


# --- expectations and reports --------------------------------------------------------------------


def documented_outcome(mis_identifier: str | None) -> Outcome:
    """What samples/README.md says a record gets.

    The outcome after the last ':' is the error codes in order (`RV017+RV016`), else the warnings
    (`WV001`), else `no-op` or `accepted`. sample-100 records carry no outcome: they are accepted.
    """
    if mis_identifier is None or ":" not in mis_identifier:
        return Outcome("accepted")
    outcome = mis_identifier.rsplit(":", 1)[1]
    if outcome in ("accepted", "no-op"):
        return Outcome(outcome.replace("-", "_"))
    codes = tuple(outcome.split("+"))
    if all(code.startswith("WV") for code in codes):
        return Outcome("accepted", warnings=codes)
    return Outcome("rejected", errors=codes)


def parse_report(report: str) -> dict[int, Outcome]:
    """The records `lrs batch check` lists (rejected, or with warnings), by line (`record N` in XML and JSON)."""
    listed: dict[int, Outcome] = {}
    line: int | None = None
    for text in report.splitlines():
        if text.startswith(("line ", "record ")):  # a CSV record's row; an XML or JSON record's position
            head = text.split(":", 1)[0].split()
            line = int(head[1])
            listed[line] = Outcome(text.rsplit(": ", 1)[1])
        elif text.startswith("    ") and line is not None:
            code = text.split()[0].rstrip(":")  # `    RV020: ...` has no field name
            known = listed[line]
            if code.startswith("WV"):
                listed[line] = Outcome(known.status, known.errors, (*known.warnings, code))
            else:
                listed[line] = Outcome(known.status, (*known.errors, code), known.warnings)
        else:
            line = None
    return listed


def check_offline(path: Path) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        exit_code = lrs(["batch", "check", str(path)])
    assert exit_code == 0, out.getvalue()
    return out.getvalue()


# --- the run -------------------------------------------------------------------------------------


async def submit_file(system: SystemUnderTest, content: bytes, fmt: BatchFormat) -> str:
    async with await system.client("ingest", f"ao:{AO}") as client:
        response = await client.post("/v1/batches", content=content, headers={"Content-Type": CONTENT_TYPES[fmt]})
    assert response.status_code == 202, response.text
    assert "Idempotent-Replay" not in response.headers, "a resubmission was answered with an earlier batch"
    return str(response.json()["batch_id"])


async def service_outcomes(system: SystemUnderTest, batch_id: str, count: int) -> dict[int, Outcome]:
    async with await system.client("ingest", f"ao:{AO}") as client:

        async def every_record() -> list[dict[str, Any]] | None:
            response = await client.get(f"/v1/batches/{batch_id}/records", params={"page_size": 1000})
            assert response.status_code == 200, response.text
            records: list[dict[str, Any]] = response.json()["records"]
            return records if len(records) == count else None

        records = await eventually(every_record, within=30, what=f"the {count} record outcomes of {batch_id}")
    return {
        record["line"]: Outcome(
            record["status"],
            tuple(finding["code"] for finding in record["errors"]),
            tuple(finding["code"] for finding in record["warnings"]),
        )
        for record in records
    }


async def submit_samples(system: SystemUnderTest, fmt: BatchFormat, folder: Path) -> dict[str, SubmittedFile]:
    originals = {}
    for name in BATCHES:
        content = (SAMPLES / f"{name}.{fmt.value}").read_bytes()
        originals[name] = parse_batch(content, fmt)
        # the writers reproduce the sample files, so what is submitted differs from them in ULNs only
        assert write_batch(originals[name], fmt) == content, f"{name}.{fmt.value} is not as the writer writes it"

    registry = reference_learners()
    used = {record.uln for batch in originals.values() for record in batch.records if record.uln}
    registered = {uln for uln in used if uln in registry}
    masters = {registry[uln]["MasterULN"] for uln in registered} - {""}
    assert len(registered) > 80, "the samples should be about registered learners"
    mapping = order_preserving_fresh_ulns(registered | masters, kept=used - registered)
    await register(system, learners_to_register(mapping, registry))

    submitted = {}
    for name in BATCHES:
        batch = with_ulns(originals[name], mapping)
        content = write_batch(batch, fmt)
        path = folder / f"{name}.{fmt.value}"
        path.write_bytes(content)
        batch_id = await submit_file(system, content, fmt)
        view = await decided(system, AO, batch_id, within=60)  # before the next: each sees the one before
        report = check_offline(path)
        submitted[name] = SubmittedFile(
            batch, view, await service_outcomes(system, batch_id, len(batch.records)), parse_report(report), report
        )
    return submitted


@pytest.fixture(scope="module")
async def runs(
    system: SystemUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> dict[BatchFormat, dict[str, SubmittedFile]]:
    # the formats share nothing (each has its own learners), so they run side by side
    results = await asyncio.gather(
        *(submit_samples(system, fmt, tmp_path_factory.mktemp(f"samples-{fmt.value}")) for fmt in FORMATS)
    )
    return dict(zip(FORMATS, results, strict=True))


# --- the acceptance points -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.value)
def test_every_record_gets_the_outcome_its_mis_identifier_names(
    runs: dict[BatchFormat, dict[str, SubmittedFile]], fmt: BatchFormat
) -> None:
    for name, submitted in runs[fmt].items():
        first = FIRST_LINE[fmt]
        assert sorted(submitted.service) == list(range(first, first + len(submitted.batch.records))), name
        assert submitted.view["status"] == "completed", (name, submitted.view)
        wrong = {}
        for record in submitted.batch.records:
            got = submitted.service[record.line]
            expected = documented_outcome(record.mis_identifier)
            if expected.status == "rejected":
                got = Outcome(got.status, got.errors)  # the README names a rejected record's errors only
            if got != expected:
                wrong[record.line] = (record.mis_identifier, got)
        assert not wrong, f"{name}.{fmt.value}: {wrong}"


def test_the_three_formats_give_every_record_the_same_outcome(
    runs: dict[BatchFormat, dict[str, SubmittedFile]],
) -> None:
    for name in BATCHES:
        by_format = {fmt: runs[fmt][name].by_position(runs[fmt][name].service) for fmt in FORMATS}
        assert by_format[BatchFormat.CSV] == by_format[BatchFormat.XML], name
        assert by_format[BatchFormat.JSON] == by_format[BatchFormat.XML], name
        counts = {fmt: runs[fmt][name].view["counts"] for fmt in FORMATS}
        assert counts[BatchFormat.CSV] == counts[BatchFormat.XML] == counts[BatchFormat.JSON], (name, counts)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.value)
def test_the_offline_checker_never_disagrees_with_the_service(
    runs: dict[BatchFormat, dict[str, SubmittedFile]], fmt: BatchFormat
) -> None:
    for name, submitted in runs[fmt].items():
        assert submitted.offline_report.startswith(f"{name}.{fmt.value}: {len(submitted.batch.records)} records")
        disagreements = {}
        for line, service in submitted.service.items():
            knowable = Outcome(
                "rejected" if set(service.errors) - SERVER_ONLY else "accepted",
                tuple(code for code in service.errors if code not in SERVER_ONLY),
                service.warnings,
            )
            offline = submitted.offline.get(line, Outcome("accepted"))
            if offline != knowable:
                disagreements[line] = {"service": service, "offline": offline}
        assert not disagreements, f"{name}.{fmt.value}: {disagreements}"
        assert set(submitted.offline) <= set(submitted.service), "the checker lists lines the file does not have"
