"""A page of the batch view read from chunk rows (decision 0111): only the chunks that hold it are read,
and it answers as the records stored a row each answered (line order, a line once, the total of a status)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.repository import PagePlan, StoredChunk, page_of, page_plan

BATCH_ID = uuid.uuid4()
STATUSES = ("accepted", "rejected", "no_op")


def stored(chunk_index: int, lines: list[int], statuses: list[str], applied: int) -> tuple[StoredChunk, bytes]:
    outcomes = [{"line": line, "status": status} for line, status in zip(lines, statuses, strict=True)]
    accepted, rejected, no_ops = (statuses.count(status) for status in STATUSES)
    summary = StoredChunk(chunk_index, min(lines), max(lines), accepted, rejected, no_ops, applied)
    return summary, orjson.dumps({"data": {"outcomes": outcomes}})


def by_line(outcomes: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(outcome["line"], outcome["status"]) for outcome in outcomes]


def test_a_page_reads_the_chunks_that_hold_it_and_no_other() -> None:
    # ten chunks of 100 lines, every tenth line rejected
    chunks = [
        stored(index, list(range(1 + 100 * index, 101 + 100 * index)), ["accepted"] * 9 * 10 + ["rejected"] * 10, index)
        for index in range(10)
    ]
    summaries = [summary for summary, _ in chunks]

    def read(status: str | None, limit: int | None, offset: int) -> tuple[list[int], int, int | None]:
        plan = page_plan(summaries, status, limit, offset)
        return [chunk.chunk_index for chunk in plan.chunks], plan.skipped, plan.total

    assert read(None, 100, 0) == ([0], 0, 1_000)
    assert read(None, 100, 100) == ([1], 100, 1_000)
    assert read(None, 100, 150) == ([1, 2], 100, 1_000)
    assert read(None, 10, 999) == ([9], 900, 1_000)
    assert read(None, 10, 1_000) == ([], 1_000, 1_000)
    assert read("rejected", 20, 25) == ([2, 3, 4], 20, 100)
    assert read("rejected", None, 95) == ([9], 90, 100)
    assert read("no_op", 100, 0) == ([], 0, 0)
    assert read(None, None, 0) == (list(range(10)), 0, 1_000)
    # a line held twice: every chunk is read, and the total counted from them
    overlapping = [*summaries, stored(10, [150, 151], ["rejected", "rejected"], 10)[0]]
    plan = page_plan(overlapping, None, 10, 0)
    assert (len(plan.chunks), plan.total) == (11, None)


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[StoredChunk, bytes]]:
    """Chunks of one batch: their lines apart, or (sometimes) sharing some, each applied in turn."""
    count = draw(st.integers(0, 6))
    overlap = draw(st.booleans())
    applied = draw(st.permutations(list(range(count))))  # the order chunks were applied in
    chunks = []
    start = 1
    for index in range(count):
        if overlap:
            lines = draw(st.lists(st.integers(1, 30), min_size=1, max_size=8, unique=True))
        else:
            size = draw(st.integers(1, 8))
            lines = draw(st.permutations(list(range(start, start + size))))
            start += size + draw(st.integers(0, 3))
        statuses = draw(st.lists(st.sampled_from(STATUSES), min_size=len(lines), max_size=len(lines)))
        chunks.append(stored(draw(st.integers(-3, 50)) * 100 + index, lines, statuses, applied[index]))
    return chunks


@settings(max_examples=300, deadline=None)
@given(
    batches(),
    st.sampled_from([None, *STATUSES]),
    st.none() | st.integers(1, 12),
    st.integers(0, 40),
)
def test_a_page_answers_as_the_records_stored_a_row_each_answered(
    chunks: list[tuple[StoredChunk, bytes]], status: str | None, limit: int | None, offset: int
) -> None:
    # as rows keyed by line: each chunk in the order applied overwrote the lines it holds
    rows: dict[int, dict[str, Any]] = {}
    for _summary, document in sorted(chunks, key=lambda chunk: chunk[0].applied):
        rows.update((outcome["line"], outcome) for outcome in orjson.loads(document)["data"]["outcomes"])
    of_status = [rows[line] for line in sorted(rows) if status is None or rows[line]["status"] == status]
    end = None if limit is None else offset + limit

    plan = page_plan([summary for summary, _ in chunks], status, limit, offset)
    documents = {summary.chunk_index: document for summary, document in chunks}
    page, total = page_of(
        BATCH_ID, plan, {c.chunk_index: documents[c.chunk_index] for c in plan.chunks}, status, limit, offset
    )
    assert (by_line(page), total) == (by_line(of_status[offset:end]), len(of_status))
    if plan.total is not None:  # lines apart: a chunk read holds a line of the page
        shown = {row["line"] for row in page}
        for chunk in plan.chunks:
            held = {outcome["line"] for outcome in orjson.loads(documents[chunk.chunk_index])["data"]["outcomes"]}
            assert held & shown, (chunk, shown)


def test_an_empty_plan_answers_an_empty_page() -> None:
    assert page_of(BATCH_ID, PagePlan([], 0, 0), {}, None, 10, 0) == ([], 0)
