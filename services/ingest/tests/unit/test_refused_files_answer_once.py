"""An Idempotency-Key is answered once, refused files included (OpenAPI walk, finding 5), through the route as a
client meets it: a key that made a batch answers any other file under it, one ingest refuses included, 409
IDEMPOTENCY_KEY_REUSED, filing nothing; a refused file sent again under its key is answered with its first refusal
(`Idempotent-Replay: true`), filing nothing; a refused file does not hold its key, so a corrected file under it is a
new batch, which holds it from then on. And the batch list's `status` filter offers only the states it takes, while
the records page says the batch's status as its view does (finding 1)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

import httpx
import pytest
from fastapi import FastAPI
from services.ingest.tests.unit.test_ingest_key_reused import NoMaintenance, Settings
from services.ingest.tests.unit.test_ingest_service import AO, FakePublisher, FakeRepository, batch_file, make
from services.ingest.tests.unit.test_ingest_views import row

from ingest import api
from ingest.maintenance import MaintenanceStore
from ingest.repository import RecordsRead, Refusal, StoredRefusal
from ingest.service import DecisionSignal
from ingest.submission import BatchStatus, refusal_key
from ingest.uploads import UploadGate
from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import MAX_BATCH_BYTES, ProblemCode
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.maintenance import Closure

OPERATOR = Principal.parse("operator:ops")
NOT_A_BATCH = b"whatever"


@dataclass
class RefusalsKept(FakeRepository):
    """The fake repository, its refusals kept as PostgreSQL keeps them: one per AO and `refusal_key`."""

    by_refusal_key: dict[tuple[str | None, str], StoredRefusal] = field(default_factory=dict)

    async def insert_refused(  # type: ignore[override]  # the repository's answer, which the plain fake drops
        self,
        batch_id: uuid.UUID,
        *,
        ao_id: str | None,
        refusal: Refusal,
        fmt: BatchFormat | None = None,
        refusal_key: str | None = None,
        **_: Any,
    ) -> StoredRefusal | None:
        if refusal_key is not None and (ao_id, refusal_key) in self.by_refusal_key:
            return self.by_refusal_key[(ao_id, refusal_key)]
        self.refusals.append((batch_id, ao_id, refusal))
        if refusal_key is not None and ao_id is not None:
            self.by_refusal_key[(ao_id, refusal_key)] = StoredRefusal(batch_id, refusal, fmt.value if fmt else None)
        return None


@dataclass
class Ingest:
    client: httpx.AsyncClient
    repository: RefusalsKept
    publisher: FakePublisher
    app: FastAPI


@pytest.fixture
async def ingest() -> AsyncIterator[Ingest]:
    # as bootstrap builds it: a batch file is bounded while it streams (RS002), not by the default body limit
    app: FastAPI = build_app(
        "ingest", title="Ingest", description="", lifespan=noop_lifespan, body_limits={"/v1/batches": None}
    )
    api.install(app)
    app.state.decision_signal = DecisionSignal()
    repository, publisher = RefusalsKept(), FakePublisher()
    app.state.submissions = make(repository, publisher)
    app.state.batches = repository
    app.state.settings = Settings()
    app.state.maintenance = NoMaintenance()
    app.state.uploads = UploadGate(per_caller=4, overall=16)
    app.dependency_overrides[current_principal] = lambda: AO
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield Ingest(client, repository, publisher, app)


async def send(ingest: Ingest, content: bytes | Iterator[bytes], key: str | None) -> httpx.Response:
    headers = {"Content-Type": "text/csv" if content == NOT_A_BATCH else "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    if isinstance(content, bytes):
        return await ingest.client.post("/v1/batches", content=content, headers=headers)
    return await ingest.client.post("/v1/batches", content=_streamed(content), headers=headers)


async def _streamed(parts: Iterator[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def over_six_mb() -> Iterator[bytes]:
    """A body with no Content-Length, over the limit: refused while it streams."""
    for _ in range(MAX_BATCH_BYTES // 1_048_576 + 1):
        yield b"x" * 1_048_576


def refused_at(answer: httpx.Response) -> tuple[int, str, str]:
    """The refusal's status, code and batch (its `instance`)."""
    problem = answer.json()
    return answer.status_code, problem["code"], problem["instance"]


async def test_a_key_that_made_a_batch_answers_any_refused_file_409_and_files_nothing(ingest: Ingest) -> None:
    made = await send(ingest, batch_file(reference="MONDAY"), "results-day")
    assert made.status_code == 202
    batch_id = made.json()["batch_id"]

    # the reviewer's sequence: a file that is no batch, an empty one, one over 6 MB announced and one streamed
    for content in (NOT_A_BATCH, b"", b"x" * (MAX_BATCH_BYTES + 1), over_six_mb()):
        other = await send(ingest, content, "results-day")
        assert other.status_code == 409, other.text
        problem = other.json()
        assert (problem["code"], problem["batch_id"]) == (ProblemCode.IDEMPOTENCY_KEY_REUSED, batch_id)
        assert "idempotent-replay" not in other.headers

    assert ingest.repository.refusals == []  # nothing of them was filed
    again = await send(ingest, batch_file(reference="MONDAY"), "results-day")
    assert (again.status_code, again.json()["batch_id"], again.headers["idempotent-replay"]) == (202, batch_id, "true")
    # the batch itself, undecided, published again under its id (test_undecided_batch_sent_again.py); nothing else
    assert [values[0] for _, _, values in ingest.publisher.transactions] == [ingest.publisher.transactions[0][2][0]] * 2


async def test_a_refused_file_sent_again_under_its_key_is_answered_with_its_first_refusal(ingest: Ingest) -> None:
    first = await send(ingest, NOT_A_BATCH, "k2")
    again = await send(ingest, NOT_A_BATCH, "k2")

    assert refused_at(first)[:2] == (422, "RS001")
    assert "idempotent-replay" not in first.headers
    assert refused_at(again) == refused_at(first)  # the same refusal: same code, same batch
    assert again.json()["detail"] == first.json()["detail"]
    assert again.headers["idempotent-replay"] == "true"
    assert len(ingest.repository.refusals) == 1


async def test_a_refused_file_does_not_hold_its_key_the_corrected_file_under_it_then_does(ingest: Ingest) -> None:
    refused = await send(ingest, NOT_A_BATCH, "k3")
    corrected = await send(ingest, batch_file(), "k3")
    refused_again = await send(ingest, NOT_A_BATCH, "k3")

    assert refused.status_code == 422
    assert corrected.status_code == 202 and "idempotent-replay" not in corrected.headers  # a new batch
    # the key now names a batch: the refused file under it is another file
    assert refused_again.status_code == 409
    assert (refused_again.json()["code"], refused_again.json()["batch_id"]) == (
        ProblemCode.IDEMPOTENCY_KEY_REUSED,
        corrected.json()["batch_id"],
    )
    assert len(ingest.repository.refusals) == 1


async def test_another_refused_file_under_a_key_only_refusals_used_is_a_refusal_of_its_own(ingest: Ingest) -> None:
    first = await send(ingest, NOT_A_BATCH, "k4")
    other = await send(ingest, b"", "k4")
    first_again = await send(ingest, NOT_A_BATCH, "k4")

    assert refused_at(other)[2] != refused_at(first)[2]
    assert "idempotent-replay" not in other.headers
    assert refused_at(first_again) == refused_at(first) and first_again.headers["idempotent-replay"] == "true"
    assert len(ingest.repository.refusals) == 2


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "streamed"])
async def test_every_file_over_6_mb_under_one_key_is_answered_by_its_first_rs002(
    ingest: Ingest, announced: bool
) -> None:
    def too_large() -> bytes | Iterator[bytes]:
        return b"x" * (MAX_BATCH_BYTES + 1) if announced else over_six_mb()

    first = await send(ingest, too_large(), "k5")
    again = await send(ingest, too_large(), "k5")

    assert refused_at(first)[:2] == (413, "RS002")
    assert refused_at(again) == refused_at(first) and again.headers["idempotent-replay"] == "true"
    assert len(ingest.repository.refusals) == 1


async def test_without_a_key_or_before_an_operator_s_file_names_its_ao_each_refusal_is_filed(ingest: Ingest) -> None:
    await send(ingest, NOT_A_BATCH, None)
    keyless = await send(ingest, NOT_A_BATCH, None)
    ingest.app.dependency_overrides[current_principal] = lambda: OPERATOR
    await send(ingest, NOT_A_BATCH, "ops-key")
    operators = await send(ingest, NOT_A_BATCH, "ops-key")

    assert "idempotent-replay" not in keyless.headers and "idempotent-replay" not in operators.headers
    assert len(ingest.repository.refusals) == 4


def test_the_refusal_key_tells_content_and_key_apart() -> None:
    sha = "a" * 64
    assert refusal_key("k", sha) != refusal_key("k", None) != refusal_key("k", "b" * 64)
    assert refusal_key("k", sha) != refusal_key("k2", sha)


def test_the_refusals_declare_the_replay_header_they_may_carry(ingest: Ingest) -> None:
    responses = ingest.app.openapi()["paths"]["/v1/batches"]["post"]["responses"]
    for status in ("413", "422"):
        assert "Idempotent-Replay" in responses[status]["headers"]
    assert "a refused file does not hold its key" in ingest.app.openapi()["paths"]["/v1/batches"]["post"][
        "description"
    ].lower().replace("\n", " ")


# ------------------------------------------------------------------ finding 1: `queued`


def test_the_list_filter_offers_every_stored_state_and_not_queued(ingest: Ingest) -> None:
    (status,) = [
        parameter
        for parameter in ingest.app.openapi()["paths"]["/v1/batches"]["get"]["parameters"]
        if parameter["name"] == "status"
    ]
    offered = {value for branch in status["schema"]["anyOf"] for value in branch.get("enum", [])}

    assert offered == {state.value for state in BatchStatus} - {"queued"}
    assert set(get_args(api.StoredStatus)) == offered


async def test_the_list_refuses_queued_as_its_schema_says(ingest: Ingest) -> None:
    answer = await ingest.client.get("/v1/batches", params={"status": "queued"})
    assert (answer.status_code, answer.json()["code"]) == (422, "INVALID_REQUEST")
    assert "ask for status=accepted" in answer.json()["detail"]  # told what to ask for, not only the values


class OneHeldBatch:
    """An accepted batch with one record outcome stored."""

    def __init__(self) -> None:
        self.row = row(status="accepted", format="json", ao_id="RN5133")

    async def get(self, batch_id: uuid.UUID, *, ao_id: str | None) -> dict[str, Any]:
        return {**self.row, "batch_id": batch_id}

    async def records(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        return [], 0

    async def records_and_codes(
        self, batch_id: uuid.UUID, *, status: str | None, limit: int | None, offset: int = 0, code: str | None = None
    ) -> RecordsRead:
        return RecordsRead([], 0, [])


class Held(MaintenanceStore):
    def __init__(self) -> None:
        pass

    async def closure(self) -> Closure:
        return Closure("database upgrade", datetime(2026, 6, 2, 2, 0, tzinfo=UTC), paused=False)


@pytest.mark.parametrize("held", [True, False], ids=["held", "not held"])
async def test_the_records_page_says_the_batch_status_its_view_says(ingest: Ingest, held: bool) -> None:
    ingest.app.state.batches = OneHeldBatch()
    ingest.app.state.settings = _ViewSettings()
    ingest.app.state.maintenance = Held() if held else NoMaintenance()
    batch_id = uuid.uuid4()

    view = await ingest.client.get(f"/v1/batches/{batch_id}")
    records = await ingest.client.get(f"/v1/batches/{batch_id}/records")

    assert view.status_code == records.status_code == 200, (view.text, records.text)
    assert records.json()["batch_status"] == view.json()["status"] == ("queued" if held else "accepted")


@dataclass(frozen=True)
class _ViewSettings:
    environment: Environment = Environment.LIVE
    publish_timeout_seconds: float = 30
    max_wait_seconds: float = 0
