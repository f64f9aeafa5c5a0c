"""A centre's report of a failed QCF result is refused as a batch's record is (RV010, in the rule's own words:
DOMAIN.md §5 rule 4, decision 0196): a unit reference is QCF by its form, a qualification by the shipped catalogue's
framework. Nothing is remembered, asked of the registry or published for it. Other results of the same
qualifications, and failed results of qualifications outside the QCF, are taken as before."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import centre_router
from plr_projector.consumer import Topics
from plr_projector.endpoints import projector_of

ULN = "1000000043"
PROVIDER = "10004567"


class Projector:
    """A read model linking the provider to a learner who is not erased; a registry that says so; a log that takes
    what is published. Records whatever the route did."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.published: list[bytes] = []
        self.topics = Topics()
        self.pool = self
        self.model = self
        self.producer = self

    def acquire(self) -> Any:
        @contextlib.asynccontextmanager
        async def connection() -> AsyncIterator[Projector]:
            yield self

        return connection()

    async def learner_group(self, _connection: Any, uln: str, *, with_links: bool) -> Any:
        return SimpleNamespace(ulns=(uln,), linked_providers=frozenset({PROVIDER}))

    async def any_erased(self, _connection: Any, _ulns: Any) -> bool:
        return False

    async def fetchval(self, query: str, *_args: Any) -> object:
        self.asked.append(query)
        return False

    async def send_and_wait(self, _topic: str, value: bytes, key: bytes) -> Any:
        self.published.append(value)
        return SimpleNamespace(partition=0, offset=7)


async def _report(projector: Projector, qualification_number: str, grade: str) -> httpx.Response:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(centre_router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(f"provider:{PROVIDER}")
    app.dependency_overrides[projector_of] = lambda: projector
    report = {"uln": ULN, "qualification_number": qualification_number, "grade": grade, "award_date": "2021-03-03"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr") as client:
        return await client.post("/v1/centre/achievements", json=report)


@pytest.mark.parametrize(
    ("qualification_number", "grade", "said"),
    [
        ("F/601/0001", "Fail", "Grade 'Fail' is a failed result for QCF F/601/0001"),  # a unit in the catalogue
        ("K/501/5773", "U", "Grade 'U' is a failed result for QCF K/501/5773"),
        ("Z/999/9999", "X", "Grade 'X' is a failed result for QCF Z/999/9999"),  # a unit by its form alone
        ("500/0001/9", "X", "Grade 'X' is a failed result for QCF 500/0001/9"),  # a QCF qualification, by catalogue
        ("50000020", " Fail ", "Grade 'Fail' is a failed result for QCF 500/0002/0"),  # 8 characters; trimmed
        ("F/601/0001", "FAIL", "Grade 'Fail' is a failed result for QCF F/601/0001"),  # a centre's grade is free text
        ("K/501/5773", "u", "Grade 'U' is a failed result for QCF K/501/5773"),
    ],
)
async def test_a_failed_qcf_result_is_refused_rv010_in_the_rules_words_and_nothing_is_published(
    qualification_number: str, grade: str, said: str
) -> None:
    projector = Projector()
    answer = await _report(projector, qualification_number, grade)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "RV010"
    assert problem["detail"] == f"{said}: failed QCF units and qualifications are not uploaded."
    assert projector.published == []
    assert projector.asked == []  # refused before its key is remembered or the registry asked


@pytest.mark.parametrize(
    ("qualification_number", "grade"),
    [
        ("F/601/0001", "Pass"),  # a QCF unit achieved
        ("500/0001/9", "Merit"),  # a QCF qualification achieved
        ("100/5001/2", "U"),  # NQF: U is a result of a GCSE, not a failed QCF result
        ("100/5007/3", "Fail"),  # NQF
        ("610/0818/7", "Fail"),  # RQF, from the Ofqual register snapshot
    ],
)
async def test_other_results_are_taken_as_before(qualification_number: str, grade: str) -> None:
    projector = Projector()
    answer = await _report(projector, qualification_number, grade)
    assert answer.status_code == 202, answer.text
    assert len(projector.published) == 1
