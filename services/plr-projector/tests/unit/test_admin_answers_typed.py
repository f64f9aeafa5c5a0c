"""The operators' admin answers go out through their response models (`admin_models`) byte for byte as their
builders make them: no key dropped, renamed, reordered or added, no number turned into another. A builder whose
answer loses a key the model names fails here (the route answers 500), not in the portal or `lrs projector`."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import admin_router, operation_problem
from plr_projector.dead_letters import _still_failing, parked_view
from plr_projector.endpoints import projector_of
from plr_projector.operations import OperationError, Refusal
from plr_projector.rebuild_jobs import EndedRebuild, RebuildJob, Rebuilds, RebuildSettings
from plr_projector.replays import Replays
from plr_projector.store import ParkedRow, ProjectorDeadLetterAction

MOMENT = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
TARGETS = {("lrs.plr.events.v1", 0): 600, ("lrs.plr.events.v1", 1): 400}
COMPARISON: dict[str, Any] = {  # as `store.compare_models` makes it, and `Rebuilds.compare` dates it
    "identical": False,
    "counts": {"live": {"achievements": 3, "parked": 0}, "rebuilt": {"achievements": 2, "parked": 0}},
    "learners_compared": 2,
    "learners_differing": 1,
    "differing_ulns_masked": ["******0043"],
    "global_checksums_differing": ["centres"],
    "compared_at": MOMENT.isoformat(),
}


# the instants the builders write (`isoformat`), which the models type `date-time` and send with `Z`, as every other
# answer writes one
INSTANTS = frozenset({"started_at", "finished_at", "compared_at", "parked_at", "last_tried_at", "acted_at"})


def _as_sent_before(content: Any) -> bytes:
    """What the route answered when it sent its builder's dict as it was (FastAPI's `JSONResponse.render`), but for
    its UTC instants, written with `Z` rather than `+00:00`."""
    return json.dumps(
        _instants_with_z(content), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


def _instants_with_z(content: Any) -> Any:
    if isinstance(content, dict):
        return {
            key: value.removesuffix("+00:00") + "Z"
            if key in INSTANTS and isinstance(value, str) and value.endswith("+00:00")
            else _instants_with_z(value)
            for key, value in content.items()
        }
    if isinstance(content, list):
        return [_instants_with_z(item) for item in content]
    return content


def _rebuild_under_way(comparison: dict[str, Any] | None) -> Rebuilds:
    runner: Any = SimpleNamespace(positions={("lrs.plr.events.v1", 0): 600}, stats=SimpleNamespace(last_error=None))
    rebuilds = Rebuilds(pool=None, live=None, make_runner=None, probe=None, settings=RebuildSettings())  # type: ignore[arg-type]
    rebuilds.job = RebuildJob(
        rebuild_id=7,
        schema="plr_rebuild_7",
        runner=runner,
        targets=TARGETS,
        started_by="operator:ops",
        started_at=MOMENT,
        resumed_monotonic=0.0,
        resumed_done=0,
        workers=1,
        phase="loading",
        comparison=comparison,
        worker_rows=[
            {
                "worker": 0,
                "state": "running",
                "passes": 2,
                "passes_done": 1,
                "events_total": 1000,
                "events_read": 700,
                "cpu_seconds": 3.0,
                "error": None,
            }
        ],
    )
    return rebuilds


def _ended_rebuild() -> Rebuilds:
    rebuilds = Rebuilds(pool=None, live=None, make_runner=None, probe=None, settings=RebuildSettings())  # type: ignore[arg-type]
    rebuilds._ended = EndedRebuild(6, "switched", "operator:ops", MOMENT)
    return rebuilds


class _ReplayRows:
    """plr_ops.replays as `Replays.status` reads it."""

    def __init__(self, row: dict[str, Any] | None) -> None:
        self.row = row

    async def fetchrow(self, query: str, *args: object) -> dict[str, Any] | None:
        return self.row


def _replays(row: dict[str, Any] | None) -> Replays:
    return Replays(pool=_ReplayRows(row), live=None, probe=None, bootstrap_servers="", chunk=1)  # type: ignore[arg-type]


def _replay_row(state: str, result: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "replay_id": 4,
        "requested": "2026-12-01T00:00:00Z",
        "requested_by": "operator:ops",
        "state": state,
        "result": json.dumps(result) if result is not None else None,
        "started_at": MOMENT,
        "finished_at": MOMENT if state != "running" else None,
    }


PARKED = ParkedRow(
    topic="lrs.plr.events.v1",
    partition=1,
    offset=42,
    park_key="9990000043",
    reason="error",
    error="ValueError: out of range",
    event_id=uuid.UUID(int=7),
    event_type="lrs.plr.achievement.recorded.v1",
    message_key=b"9990000043",
    value=b"{}",
    kafka_timestamp_ms=0,
    attempts=2,
    parked_at=MOMENT,
    last_tried_at=None,
)
ACTION = ProjectorDeadLetterAction(
    action="retry",
    operator="operator:ops",
    reason=None,
    replaced=True,
    consumer="plr-projector",
    topic="lrs.plr.events.v1",
    partition=1,
    offset=42,
    event_id=str(uuid.UUID(int=7)),
    event_type="lrs.plr.achievement.recorded.v1",
    applied=1,
    skipped=0,
    still_parked=0,
    duplicates=0,
    acted_at=MOMENT,
    batch_id=str(uuid.UUID(int=8)),
)
DRAINED = [
    {
        "topic": "lrs.plr.events.v1",
        "learner": "9990000043",
        "applied": 2,
        "duplicates": 1,
        "skipped": 0,
        "still_parked": 0,
        "error": None,
    },
    _still_failing("lrs.learner.events.v1", "9990000043", 3, "ValueError: out of range"),
]


class _DeadLetters:
    async def listing(self, key: str | None, topic: str | None, limit: int) -> tuple[list[dict[str, Any]], int]:
        return [parked_view(PARKED)], 12

    async def actions(self, limit: int) -> list[ProjectorDeadLetterAction]:
        return [
            ACTION,
            ProjectorDeadLetterAction(
                **{**ACTION.__dict__, "duplicates": None, "reason": "bad data", "batch_id": None}
            ),
        ]

    async def retry(self, *args: object, **kwargs: object) -> list[dict[str, Any]]:
        return DRAINED

    async def skip(self, *args: object, **kwargs: object) -> list[dict[str, Any]]:
        return DRAINED


class _Rebuilds:
    """What `Rebuilds` answers once a rebuild has caught up: its comparison, switch and abandon."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.answer = status

    def status(self) -> dict[str, Any]:
        return self.answer

    async def start(self, operator: str, workers: int | None) -> dict[str, Any]:
        return self.answer

    async def compare(self) -> dict[str, Any]:
        return COMPARISON

    async def switch(self, operator: str) -> dict[str, Any]:
        return {"state": "switched", "rebuild_id": 7, "live_schema": "plr", "retired_schema": "plr_retired_7"}

    async def abandon(self, operator: str) -> dict[str, Any]:
        return {"state": "abandoned", "rebuild_id": 7}


class _Connection:
    async def __aenter__(self) -> _Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Model:
    async def parked_depth(self, connection: object) -> dict[str, int]:
        return {"error": 1, "blocked": 3}


def _projector(rebuild_status: dict[str, Any], replay_row: dict[str, Any] | None = None) -> Any:
    live = SimpleNamespace(
        positions={("lrs.plr.events.v1", 0): 600, ("lrs.learner.events.v1", 0): 3},
        lag=lambda: {
            "lrs.plr.events.v1": {"events": 0, "seconds": 0.0},
            "lrs.learner.events.v1": {"events": 2, "seconds": 1.5},
        },
        stats=SimpleNamespace(events=603, batches=9, last_error=None),
    )
    topics = SimpleNamespace(physical=lambda topic: f"sandpit.{topic}", logical=lambda topic: topic)
    return SimpleNamespace(
        takes_operator_actions=True,
        pool=SimpleNamespace(acquire=_Connection),
        model=_Model(),
        live=live,
        topics=topics,
        rebuilds=_Rebuilds(rebuild_status),
        replays=_replays(replay_row),
        dead_letters=_DeadLetters(),
    )


@pytest.fixture
async def app_of() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def client(projector: Any) -> httpx.AsyncClient:
        app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
        app.include_router(admin_router)
        app.add_exception_handler(OperationError, operation_problem)
        app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
        app.dependency_overrides[projector_of] = lambda: projector
        clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr"))
        return clients[-1]

    yield client
    for each in clients:
        await each.aclose()


REBUILD_STATUSES = {
    "idle": Rebuilds(pool=None, live=None, make_runner=None, probe=None).status(),  # type: ignore[arg-type]
    "idle after one ended": _ended_rebuild().status(),
    "loading": _rebuild_under_way(None).status(),
    "compared": _rebuild_under_way(COMPARISON).status(),
}


@pytest.mark.parametrize("status", REBUILD_STATUSES.values(), ids=REBUILD_STATUSES.keys())
async def test_rebuild_answers_are_sent_as_built(status: dict[str, Any], app_of: Any) -> None:
    client = app_of(_projector(status))
    for method, path, built in [
        ("GET", "/v1/admin/rebuild", status),
        ("POST", "/v1/admin/rebuild", status),
        ("POST", "/v1/admin/rebuild/compare", COMPARISON),
        ("POST", "/v1/admin/rebuild/switch", await _Rebuilds(status).switch("")),
        ("DELETE", "/v1/admin/rebuild", await _Rebuilds(status).abandon("")),
    ]:
        answer = await client.request(method, path)
        assert answer.status_code in (200, 202), (path, answer.text)
        assert answer.content == _as_sent_before(built), path


async def test_the_projectors_status_is_sent_as_built(app_of: Any) -> None:
    status = _rebuild_under_way(COMPARISON).status()
    answer = await app_of(_projector(status)).get("/v1/admin/projector")
    assert answer.status_code == 200, answer.text
    assert answer.content == _as_sent_before(
        {
            "offsets": {"sandpit.lrs.learner.events.v1:0": 3, "sandpit.lrs.plr.events.v1:0": 600},
            "lag": {
                "sandpit.lrs.plr.events.v1": {"events": 0, "seconds": 0.0},
                "sandpit.lrs.learner.events.v1": {"events": 2, "seconds": 1.5},
            },
            "events_handled": 603,
            "batches": 9,
            "last_error": None,
            "dead_letters": {"error": 1, "blocked": 3},
            "rebuild": status,
        }
    )


REPLAY_ROWS = {
    "none yet": None,
    "running": _replay_row("running", None),
    "finished": _replay_row("finished", {"learners": 2, "events": 9, "seconds": 0.25}),
    "failed": _replay_row("failed", {"error": "KafkaError: gone"}),
}


@pytest.mark.parametrize("row", REPLAY_ROWS.values(), ids=REPLAY_ROWS.keys())
async def test_replay_answers_are_sent_as_built(row: dict[str, Any] | None, app_of: Any) -> None:
    built = await _replays(row).status()
    answer = await app_of(_projector({"state": "idle"}, row)).get("/v1/admin/replay")
    assert answer.status_code == 200, answer.text
    assert answer.content == _as_sent_before(built)


async def test_dead_letter_answers_are_sent_as_built(app_of: Any) -> None:
    client = app_of(_projector({"state": "idle"}))
    dead_letters = _DeadLetters()
    for method, path, built in [
        ("GET", "/v1/admin/dlq", {"parked": [parked_view(PARKED)], "total": 12}),
        ("GET", "/v1/admin/dlq/actions", {"actions": [action.view() for action in await dead_letters.actions(1)]}),
        ("POST", "/v1/admin/dlq/9990000043/retry", {"results": DRAINED}),
        ("POST", "/v1/admin/dlq/9990000043/skip", {"results": DRAINED}),
    ]:
        answer = await client.request(method, path, json={"reason": "drill"} if path.endswith("/skip") else None)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.content == _as_sent_before(built), path


async def test_an_answer_that_lost_a_key_is_refused_not_sent(app_of: Any) -> None:
    renamed = {key if key != "learners_differing" else "differing": value for key, value in COMPARISON.items()}
    projector = _projector({"state": "idle"})
    projector.rebuilds.compare = lambda: _returning(renamed)
    answer = await app_of(projector).post("/v1/admin/rebuild/compare")
    assert answer.status_code == 500  # the model refused it: never "0 of 2 learners differ"


async def _returning(answer: dict[str, Any]) -> dict[str, Any]:
    return answer


async def test_an_operations_refusal_is_its_problem(app_of: Any) -> None:
    projector = _projector({"state": "idle"})

    async def refused() -> dict[str, Any]:
        raise OperationError(Refusal.NOT_NOW, "No rebuild", "No rebuild is running. Start a rebuild first.")

    projector.rebuilds.compare = refused
    answer = await app_of(projector).post("/v1/admin/rebuild/compare")
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["title"] == "No rebuild"
    assert answer.json()["instance"] == "/v1/admin/rebuild/compare"
