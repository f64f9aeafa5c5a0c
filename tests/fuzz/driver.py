"""Sends hypothesis-made hostile batches to a real ingest and sorts its answers.

Every answer must be `202` (queued for validation) or a `4xx` with an `application/problem+json`
body; a `5xx`, a 4xx of another kind or a dropped connection is a failure. No shrinking: a failing
case is recorded and the run goes on, so one run says everything that is wrong and always sends the
number of cases asked for.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from tests.faults.harness import AO, FINAL_GRADE, QUALIFICATION, FaultSystem, RowWork
from tests.faults.matrix import RowResult, no_fault, run_row
from tests.fuzz.strategies import Case, cases
from tests.support.learners import new_learner

from lrs_contracts.codes import MAX_BATCH_BYTES


@dataclass
class FuzzResult:
    sent: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # "202", "422", "closed early (over 6 MB)", ...
    by_format: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        answers = ", ".join(f"{answer}: {count:,}" for answer, count in sorted(self.answers.items()))
        formats = ", ".join(f"{fmt} {count:,}" for fmt, count in sorted(self.by_format.items()))
        return f"{self.sent:,} cases ({formats}); answers {answers}; {len(self.failures)} failures"

    def judge(self, case: Case, response: httpx.Response | None, error: Exception | None) -> None:
        self.sent += 1
        self.by_format[case.fmt] += 1
        if response is None:
            # a server may stop reading an over-limit upload and close; anything smaller must be answered
            answer = "closed early (over 6 MB)" if len(case.body) > MAX_BATCH_BYTES else type(error).__name__
            self.answers[answer] += 1
            if len(case.body) <= MAX_BATCH_BYTES:
                self.failures.append(f"no answer ({type(error).__name__}: {error}) to {case.describe()}")
            return
        status = response.status_code
        self.answers[str(status)] += 1
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        if status != 202 and not (400 <= status < 500 and problem):
            self.failures.append(f"{status} {response.text[:300]!r} to {case.describe()}")


def fuzz_ingest(
    ingest_url: str,
    token: str,
    *,
    count: int,
    ao_id: str,
    learners: list[dict[str, str]],
    qualification: str,
    grade: str,
) -> FuzzResult:
    """Sends at least `count` cases (blocking: run it in a worker thread)."""
    result = FuzzResult()
    strategy = cases(ao_id, learners, qualification, grade)
    # a connection per case: a case that breaks one cannot be blamed on the next case that reuses it
    with httpx.Client(
        base_url=ingest_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        while result.sent < count:

            @settings(
                max_examples=count - result.sent,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(strategy)
            def send(case: Case) -> None:
                headers = {"Content-Type": case.content_type} if case.content_type else {}
                try:
                    response = client.post("/v1/batches", content=case.body, headers=headers)
                except httpx.TransportError as error:
                    result.judge(case, None, error)
                    return
                result.judge(case, response, None)

            send()
    return result


async def fuzz_then_a_normal_row(
    system: FaultSystem, count: int, records: int, within: float
) -> tuple[FuzzResult, RowResult, RowWork | None]:
    """The fuzz against the system's ingest, then a normal row submitted behind every fuzzed batch of
    the same AO: it completes, with its emails, only if every consumer got past all the fuzz sent."""
    learners = [new_learner() for _ in range(5)]
    await system.register(learners)
    fuzzed = await asyncio.to_thread(
        fuzz_ingest,
        system.url("ingest"),
        await system.key_for(f"ao:{AO}"),
        count=count,
        ao_id=AO,
        learners=learners,
        qualification=QUALIFICATION,
        grade=FINAL_GRADE,
    )
    row, work = await run_row(system, no_fault("after the fuzz"), records, within)
    return fuzzed, row, work
