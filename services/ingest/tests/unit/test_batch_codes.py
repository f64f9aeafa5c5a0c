"""A batch's codes and its records of a code, from the chunk rows (migration 0121): each chunk keeps the codes of its
findings, so that the batch page lists a batch's codes without reading its records, and a page of the records of a
code reads only the chunks that hold it. Pure parts here; on PostgreSQL in tests/integration/test_ingest_batch_codes.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from services.ingest.tests.unit.test_ingest_key_reused import NoMaintenance
from services.ingest.tests.unit.test_ingest_service import AO
from tests.support.event_examples import envelopes

from ingest import api
from ingest.outcomes import view_event_of
from ingest.repository import (
    DecidedChunk,
    LineOutOfRange,
    LinesRepeated,
    RecordsRead,
    StoredChunk,
    _chunk_row,
    batch_codes,
    codes_in,
    codes_to_read,
    page_of,
    page_plan,
)
from lrs_contracts.environments import Environment
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_contracts.registry import encode, wrap
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan

BATCH_ID = uuid.uuid4()
STATUSES = ("accepted", "rejected", "no_op")
CODES = ("RV004", "RV020", "WV001", "WV002")


def codes_of_models(chunk: BatchRecordsDecided) -> list[str]:
    return sorted({finding.code for outcome in chunk.outcomes for finding in (*outcome.errors, *outcome.warnings)})


def encoded(chunk: BatchRecordsDecided) -> bytes:
    return encode(wrap(chunk, source="validation", correlation_id=str(chunk.batch_id)))


FINDINGS = st.lists(
    st.builds(
        Finding,
        code=st.sampled_from(CODES),
        field=st.none() | st.text(max_size=8),
        message=st.text(max_size=12) | st.sampled_from(['"code":"RV999"', 'x","code":"RV998', "code"]),
    ),
    max_size=2,
).map(tuple)
OUTCOMES = st.builds(
    RecordOutcome,
    line=st.integers(min_value=1, max_value=10_000),
    mis_identifier=st.none() | st.text(max_size=12) | st.sampled_from(["code", '"code"', '{"code":"RV997"}']),
    status=st.sampled_from(RecordStatus),
    errors=FINDINGS,
    warnings=FINDINGS,
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OUTCOMES, max_size=12, unique_by=lambda outcome: outcome.line))
def test_a_chunk_keeps_the_codes_of_its_findings_whichever_path_reads_it(outcomes: list[RecordOutcome]) -> None:
    """Texts that hold `code` or `"code":"RV999"` are no finding's: a chunk keeps the codes its models have."""
    chunk = BatchRecordsDecided(batch_id=BATCH_ID, ao_id="RN5133", chunk_index=0, outcomes=tuple(outcomes))
    raw = encoded(chunk)
    from_json = view_event_of(raw)
    assert isinstance(from_json, DecidedChunk)
    for stored in (from_json, DecidedChunk.of(chunk)):
        assert codes_in(stored.outcomes) == codes_of_models(chunk)
        if stored.first_line is not None:
            assert _chunk_row(stored)[-1] == codes_of_models(chunk)  # the row stored: COPY or upsert
    # spelt otherwise: spaced as PostgreSQL writes JSON (the chunks moved from a row a record, migration 0111), or
    # every character past ASCII escaped
    spaced = json.dumps(json.loads(raw), separators=(", ", " : ")).encode()
    escaped = json.dumps(json.loads(raw), ensure_ascii=True).encode()
    assert codes_in(spaced) == codes_in(escaped) == codes_of_models(chunk)


def test_a_code_key_spelt_with_an_escape_is_read_as_the_models_read_it() -> None:
    finding = Finding(code="RV004", message="unknown grade")
    chunk = BatchRecordsDecided(
        batch_id=BATCH_ID,
        ao_id="RN5133",
        chunk_index=0,
        outcomes=(RecordOutcome(line=1, status=RecordStatus.REJECTED, errors=(finding,)),),
    )
    raw = encoded(chunk).replace(b'"code":"RV004"', b'"\\u0063ode":"RV\\u0030\\u00304"')
    assert json.loads(raw)["data"]["outcomes"][0]["errors"][0]["code"] == "RV004"
    assert codes_in(raw) == ["RV004"]
    assert codes_in(encoded(chunk.model_copy(update={"outcomes": ()}))) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ascii_only=st.booleans())
def test_any_chunk_the_schema_snapshot_allows_keeps_its_models_codes(data: st.DataObject, ascii_only: bool) -> None:
    event_type = BatchRecordsDecided.model_fields["event_type"].default
    raw = json.dumps(data.draw(envelopes(event_type)), ensure_ascii=ascii_only).encode()
    model = BatchRecordsDecided.model_validate(json.loads(raw)["data"])
    try:
        stored = view_event_of(raw)
    except (LinesRepeated, LineOutOfRange):
        return
    assert isinstance(stored, DecidedChunk)
    assert codes_in(stored.outcomes) == codes_of_models(model)


# --- a batch's codes and a page of the records of a code, from the chunks' rows ----------------------------------


def stored(
    chunk_index: int, outcomes: list[dict[str, Any]], applied: int, *, codes_kept: bool
) -> tuple[StoredChunk, bytes]:
    document = orjson.dumps({"data": {"outcomes": outcomes}})
    accepted, rejected, no_ops = (sum(outcome["status"] == status for outcome in outcomes) for status in STATUSES)
    lines = [outcome["line"] for outcome in outcomes]
    codes = codes_in(document) if codes_kept else None
    return StoredChunk(chunk_index, min(lines), max(lines), accepted, rejected, no_ops, applied, codes), document


FOUND = st.lists(st.sampled_from(CODES).map(lambda code: {"code": code, "field": None, "message": "m"}), max_size=2)


@st.composite
def chunked_batches(draw: st.DrawFn) -> list[tuple[StoredChunk, bytes]]:
    """Chunks of one batch: their lines apart or (sometimes) sharing some, applied in turn, each with its codes
    kept or (stored before migration 0121) not."""
    count = draw(st.integers(0, 6))
    overlap = draw(st.booleans())
    applied = draw(st.permutations(list(range(count))))
    chunks = []
    start = 1
    for index in range(count):
        if overlap:
            lines = draw(st.lists(st.integers(1, 30), min_size=1, max_size=8, unique=True))
        else:
            size = draw(st.integers(1, 8))
            lines = draw(st.permutations(list(range(start, start + size))))
            start += size + draw(st.integers(0, 3))
        outcomes = [
            {"line": line, "status": draw(st.sampled_from(STATUSES)), "errors": draw(FOUND), "warnings": draw(FOUND)}
            for line in lines
        ]
        chunks.append(stored(index, outcomes, applied[index], codes_kept=draw(st.booleans())))
    return chunks


def as_rows(chunks: list[tuple[StoredChunk, bytes]]) -> list[dict[str, Any]]:
    """The batch's records as rows keyed by line: each chunk in the order applied overwrote the lines it holds."""
    rows: dict[int, dict[str, Any]] = {}
    for _summary, document in sorted(chunks, key=lambda chunk: chunk[0].applied):
        rows.update((outcome["line"], outcome) for outcome in orjson.loads(document)["data"]["outcomes"])
    return [rows[line] for line in sorted(rows)]


def codes(row: dict[str, Any]) -> set[str]:
    return {finding["code"] for finding in row["errors"] + row["warnings"]}


@settings(max_examples=300, deadline=None)
@given(
    chunked_batches(),
    st.sampled_from([None, *STATUSES]),
    st.sampled_from([None, *CODES]),
    st.none() | st.integers(1, 12),
    st.integers(0, 40),
)
def test_a_page_of_a_code_and_the_batchs_codes_answer_as_its_records_say(
    chunks: list[tuple[StoredChunk, bytes]], status: str | None, code: str | None, limit: int | None, offset: int
) -> None:
    rows = as_rows(chunks)
    chosen = [
        row for row in rows if (status is None or row["status"] == status) and (code is None or code in codes(row))
    ]
    end = None if limit is None else offset + limit
    summaries = [summary for summary, _ in chunks]
    documents = {summary.chunk_index: document for summary, document in chunks}

    plan = page_plan(summaries, status, limit, offset, code)
    page, total = page_of(
        BATCH_ID, plan, {c.chunk_index: documents[c.chunk_index] for c in plan.chunks}, status, limit, offset, code
    )
    read = {c.chunk_index: documents[c.chunk_index] for c in codes_to_read(summaries)}

    assert ([row["line"] for row in page], total) == ([row["line"] for row in chosen[offset:end]], len(chosen))
    assert batch_codes(summaries, read) == sorted(set().union(*map(codes, rows)))
    if code is not None and not plan.overlapping:  # a chunk whose kept codes do not name the code is not read
        assert all(chunk.codes is None or code in chunk.codes for chunk in plan.chunks)


def test_the_codes_of_a_batch_whose_chunks_keep_them_read_no_outcome() -> None:
    rejected = [{"line": 1, "status": "rejected", "errors": [{"code": "RV004"}], "warnings": []}]
    warned = [{"line": 2, "status": "accepted", "errors": [], "warnings": [{"code": "WV001"}]}]
    chunks = [stored(0, rejected, 1, codes_kept=True)[0], stored(1, warned, 2, codes_kept=True)[0]]
    assert codes_to_read(chunks) == []
    assert batch_codes(chunks, {}) == ["RV004", "WV001"]
    # the records of a code: only the chunk that holds it is read
    assert [chunk.chunk_index for chunk in page_plan(chunks, None, 100, 0, "WV001").chunks] == [1]
    assert page_plan(chunks, "rejected", 100, 0, "WV001").chunks == []


# --- the API ------------------------------------------------------------------------------------------------


@dataclass
class Asked:
    status: str | None
    code: str | None
    limit: int | None
    offset: int


class CodedBatch:
    """A decided batch of one record shown; it notes what the API asked of it."""

    def __init__(self) -> None:
        self.asked: list[Asked] = []

    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> dict[str, Any]:
        return {"batch_id": batch_id, "status": "completed", "format": "csv"}

    async def records_and_codes(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> RecordsRead:
        self.asked.append(Asked(status, code, limit, offset))
        row = {
            "line": 4,
            "mis_identifier": "MIS-4",
            "action": "Create",
            "uln_masked": "******0043",
            "status": "rejected",
            "errors": [{"code": "RV004", "field": "grade", "message": "unknown grade"}],
            "warnings": [],
            "achievement_id": None,
        }
        return RecordsRead([row], 7, ["RV004", "WV001"])


@dataclass(frozen=True)
class LiveSettings:
    environment: Environment = Environment.LIVE


@pytest.fixture
async def ingest() -> AsyncIterator[tuple[httpx.AsyncClient, CodedBatch]]:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    batch = CodedBatch()
    app.state.batches = batch
    app.state.settings = LiveSettings()
    app.state.maintenance = NoMaintenance()
    app.dependency_overrides[current_principal] = lambda: AO
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        yield client, batch


async def test_the_records_answer_says_the_batchs_codes_and_takes_a_code(
    ingest: tuple[httpx.AsyncClient, CodedBatch],
) -> None:
    client, batch = ingest
    batch_id = uuid.uuid4()

    answer = await client.get(f"/v1/batches/{batch_id}/records", params={"code": "RV004", "status": "rejected"})
    plain = await client.get(f"/v1/batches/{batch_id}/records", params={"page": 3, "page_size": 50})

    assert answer.status_code == plain.status_code == 200, (answer.text, plain.text)
    assert answer.json()["codes"] == plain.json()["codes"] == ["RV004", "WV001"]
    assert answer.json()["total"] == 7
    assert batch.asked == [Asked("rejected", "RV004", 100, 0), Asked(None, None, 50, 100)]


@pytest.mark.parametrize("code", ["RS005", "rv004", "RV0041", "RV004\n", "X"])
async def test_a_code_that_is_no_findings_is_refused(ingest: tuple[httpx.AsyncClient, CodedBatch], code: str) -> None:
    client, batch = ingest
    answer = await client.get(f"/v1/batches/{uuid.uuid4()}/records", params={"code": code})
    assert (answer.status_code, answer.json()["code"]) == (422, "INVALID_REQUEST"), answer.text
    assert batch.asked == []
