"""A reset Kafka did not take in time is kept, pending, and sent again until Kafka takes it: a publish that timed
out may have reached the topic, and the reset then be applied while ingest, had it forgotten the reset, would
answer 404 for it. Every send is the same message, which the decider applies once by the reset's id."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from ingest import sandpit_api
from ingest.publisher import PublishUnavailable
from ingest.sandpit import ResetView, SandpitResets
from lrs_contracts.envelope import utc_now
from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.registry import decode
from lrs_contracts.sandpit import SandpitReset
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.maintenance import Closure

AO = "RN5133"
SANDPIT = TopicNames(Environment.SANDPIT)


@dataclass
class Store:
    """The Sandpit's resets as `SandpitResetStore` keeps them; `asked_ago` ages every reset for `not_queued`."""

    resets: dict[uuid.UUID, ResetView] = field(default_factory=dict)
    asked_ago: timedelta = timedelta(0)

    async def add(self, reset: SandpitReset) -> None:
        self.resets[reset.reset_id] = ResetView(**reset.model_dump(exclude={"event_type"}), status="pending")

    async def mark_queued(self, reset_id: uuid.UUID) -> datetime | None:
        view = self.resets[reset_id]
        self.resets[reset_id] = view.model_copy(update={"queued_at": view.queued_at or utc_now()})
        return self.resets[reset_id].queued_at

    async def not_queued(self, asked_before: timedelta) -> list[SandpitReset]:
        return [
            SandpitReset(**view.model_dump(include={"reset_id", "ao_id", "requested_by", "requested_at"}))
            for view in self.resets.values()
            if view.status == "pending" and view.queued_at is None and self.asked_ago > asked_before
        ]

    async def get(self, reset_id: uuid.UUID, closure: Closure | None = None) -> ResetView | None:
        return self.resets.get(reset_id)

    async def forget(self, reset_id: uuid.UUID) -> None:  # what a failed publish did before
        self.resets.pop(reset_id, None)


class NoMaintenance:
    async def closure(self) -> Closure | None:
        return None


@dataclass
class Kafka:
    """The publisher: times out while `away`, else takes the message."""

    away: bool = True
    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def publish(self, topic: str, key: bytes, values: Sequence[bytes], *_: Any, **__: Any) -> None:
        if self.away:
            raise PublishUnavailable("Kafka did not commit the transaction within 30 s")
        self.sent += [(topic, key, value) for value in values]


@dataclass(frozen=True)
class AnAo:
    environment: Environment = Environment.SANDPIT

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse(f"ao:{AO}")


def _ingest(store: Store, kafka: Kafka) -> tuple[FastAPI, SandpitResets]:
    resets = SandpitResets(store, kafka, SANDPIT, publish_timeout=30.0)  # type: ignore[arg-type]
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    app.include_router(sandpit_api.router)
    app.state.credentials = AnAo()
    app.state.register = frozenset({AO})
    app.state.sandpit_resets = resets
    app.state.maintenance = NoMaintenance()
    return app, resets


async def test_a_reset_kafka_did_not_take_is_kept_said_so_and_sent_again() -> None:
    store, kafka = Store(), Kafka(away=True)
    app, resets = _ingest(store, kafka)
    headers = {"Authorization": "Bearer lrs_sbx_0123456789abcdef_x"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        refused = await client.post("/v1/sandpit/reset", headers=headers)
        problem = refused.json()
        reset_id = uuid.UUID(problem["reset_id"])

        assert refused.status_code == 503
        assert f"follow this one at /v1/sandpit/resets/{reset_id}" in problem["detail"]
        assert f"The reset is kept as {reset_id}, pending: ingest sends it again" in problem["detail"]
        assert "Do not ask for another" in problem["detail"]
        kept = await client.get(f"/v1/sandpit/resets/{reset_id}", headers=headers)
        assert kept.status_code == 200, kept.text
        assert (kept.json()["status"], kept.json()["queued_at"]) == ("pending", None)

        # not while the request that stored it may still be publishing it
        kafka.away = False
        assert await resets.queue_the_rest() == 0
        store.asked_ago = timedelta(minutes=1)
        assert await resets.queue_the_rest() == 1
        assert await resets.queue_the_rest() == 0  # taken: not sent again

        queued = (await client.get(f"/v1/sandpit/resets/{reset_id}", headers=headers)).json()
    assert queued["status"] == "pending" and queued["queued_at"] is not None
    [(topic, key, value)] = kafka.sent
    _, reset = decode(value)
    assert (topic, key) == ("sandpit.lrs.batch.submitted.v1", AO.encode())
    assert isinstance(reset, SandpitReset) and reset.reset_id == reset_id and reset.ao_id == AO


async def test_every_send_of_a_reset_is_the_same_message() -> None:
    """A timed-out send may have reached the topic: the one after it is then a copy, with the same event id."""
    store, kafka = Store(asked_ago=timedelta(minutes=1)), Kafka(away=False)
    _, resets = _ingest(store, kafka)

    view = await resets.request(AO, f"ao:{AO}")
    await store.add(SandpitReset(**view.model_dump(include={"reset_id", "ao_id", "requested_by", "requested_at"})))
    await resets.queue_the_rest()

    first, again = (decode(value) for _, _, value in kafka.sent)
    assert first[0].event_id == again[0].event_id
    assert first[1] == again[1]
