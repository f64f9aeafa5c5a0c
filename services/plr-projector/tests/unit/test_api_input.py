"""What the projector's routes take is checked at the door: nothing reaches the PLR log or PostgreSQL that
the projection could not store (audit of bad input)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import httpx
import pytest

from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.database import LARGEST_BIGINT
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import admin_router, centre_router, credential_router, plr_router
from plr_projector.consumer import Topics
from plr_projector.credential_routes import credential_signing_of
from plr_projector.endpoints import projector_of
from plr_projector.projection import PROJECTED_TOPICS, stream_of
from plr_projector.read_your_writes import BatchScope, batch_scope


class Untouched:
    """A projector no request here may reach: any attribute read fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the request reached the projector ({name})")


def _client(principal: str, projector: Any = None, key_id: str | None = None) -> httpx.AsyncClient:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    for router in (plr_router, centre_router, admin_router, credential_router):
        app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: replace(Principal.parse(principal), key_id=key_id)
    app.dependency_overrides[projector_of] = (lambda: projector) if projector is not None else Untouched
    app.dependency_overrides[credential_signing_of] = Untouched
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr")


@pytest.mark.parametrize("field", ["provider_name", "subject", "grade", "qualification_number"])
@pytest.mark.parametrize("value", ["Maths\x00", "Pass\x1b", "Merit\nDistinction", "x\ud800"])
async def test_a_centre_achievement_that_could_not_be_stored_is_refused_and_never_sent(field: str, value: str) -> None:
    body = {"uln": "1000000043", "qualification_number": "601/4491/X", field: value}
    async with _client("provider:10000001") as client:
        # escaped as JSON writes it: a lone surrogate has no UTF-8 form to send
        answer = await client.post(
            "/v1/centre/achievements", content=json.dumps(body), headers={"content-type": "application/json"}
        )
    assert answer.status_code == 422
    assert f"body.{field}" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v1/admin/dlq", {"learner": "1000000043\x00"}),
        ("GET", "/v1/admin/dlq", {"topic": "lrs.plr.events.v1\x00"}),
        ("POST", "/v1/admin/dlq/1000000043%00/retry", {}),
        ("POST", "/v1/admin/dlq/1000000043/skip", {"topic": "\x00"}),
        ("GET", "/v1/admin/replay", {"replay_id": str(LARGEST_BIGINT + 1)}),
        ("GET", "/v1/ao/achievements", {"uln": "1000000043", "ao_id": "RN5133\x00"}),
    ],
)
async def test_an_operators_filter_or_id_postgresql_could_not_take_is_a_422(
    method: str, path: str, params: dict[str, str]
) -> None:
    async with _client("operator:ops") as client:
        answer = await client.request(method, path, params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


class DeadLettersSeen:
    """A projector whose dead letters note the stream key each request names."""

    takes_operator_actions = True  # the projector that writes: a reader refuses retry and skip

    def __init__(self, environment: Environment = Environment.LIVE) -> None:
        self.dead_letters = self
        self.topics = Topics(environment=environment)
        self.keys: list[str | None] = []
        self.topics_named: list[str | None] = []
        self.expected_heads: list[Collection[tuple[str, int, int]] | None] = []
        self.with_keys: list[str | None] = []

    async def listing(self, key: str | None, topic: str | None, limit: int) -> tuple[list[Any], int]:
        self.keys.append(key)
        self.topics_named.append(topic)
        return [], 0

    async def retry(
        self,
        key: str,
        topic: str | None,
        operator: str,
        replacement: bytes | None,
        reason: str | None,
        *,
        with_key: str | None = None,
    ) -> list[Any]:
        self.keys.append(key)
        self.topics_named.append(topic)
        self.with_keys.append(with_key)
        return []

    async def skip(
        self,
        key: str,
        topic: str | None,
        operator: str,
        reason: str | None,
        *,
        expected_heads: Collection[tuple[str, int, int]] | None = None,
        with_key: str | None = None,
    ) -> list[Any]:
        self.keys.append(key)
        self.topics_named.append(topic)
        self.expected_heads.append(expected_heads)
        self.with_keys.append(with_key)
        return []


@pytest.mark.parametrize("named", ["sandpit.lrs.plr.events.v1", "lrs.plr.events.v1"])
async def test_the_sandpits_dead_letters_are_named_by_their_topic_as_kafka_names_it_or_as_contracts_do(
    named: str,
) -> None:
    projector = DeadLettersSeen(Environment.SANDPIT)
    async with _client("operator:ops", projector) as client:
        answers = [
            await client.get("/v1/admin/dlq", params={"topic": named}),
            await client.post("/v1/admin/dlq/1000000043/retry", params={"topic": named}),
            await client.post("/v1/admin/dlq/1000000043/skip", params={"topic": named}, json={"reason": "fixed"}),
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 200], answers[-1].text
    assert projector.topics_named == ["lrs.plr.events.v1"] * 3


async def test_a_skip_passes_on_the_heads_confirmed_by_their_topic_as_parked_events_keep_it() -> None:
    """The portal sends the places of the poisons it showed; the Sandpit's topic is kept under its contract name."""
    projector = DeadLettersSeen(Environment.SANDPIT)
    confirmed = [{"topic": "sandpit.lrs.plr.events.v1", "partition": 3, "offset": 16}]
    async with _client("operator:ops", projector) as client:
        answers = [
            await client.post("/v1/admin/dlq/1000000043/skip", json={"reason": "fixed", "heads": confirmed}),
            await client.post("/v1/admin/dlq/1000000043/skip", json={"reason": "fixed"}),
            await client.post(
                "/v1/admin/dlq/1000000043/skip", json={"reason": "fixed", "heads": [{"topic": "", "partition": -1}]}
            ),
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 422], answers[-1].text
    assert projector.expected_heads == [{("lrs.plr.events.v1", 3, 16)}, None]


@pytest.mark.parametrize("body", [None, {}, {"reason": None}, {"reason": " \n "}, {"heads": []}])
async def test_a_skip_without_a_reason_is_refused_and_skips_nothing(body: dict[str, Any] | None) -> None:
    """As every consumer's skip (lrs_platform.parking_api): the reason is kept with the record of the skip."""
    projector = DeadLettersSeen(Environment.SANDPIT)
    async with _client("operator:ops", projector) as client:
        answer = await client.post("/v1/admin/dlq/1000000043/skip", json=body)

    assert answer.status_code == 422, answer.text
    assert "Say why the message is dropped" in answer.text
    assert projector.keys == []


@pytest.mark.parametrize("topic", PROJECTED_TOPICS)
async def test_an_operator_can_name_a_parked_message_without_a_key(topic: str) -> None:
    """A keyless message is a stream of its own, named by its position: the dead-letter routes take the name."""
    _, key = stream_of(topic, 2**31 - 1, 2**63 - 1, None)
    projector = DeadLettersSeen()
    async with _client("operator:ops", projector) as client:
        answers = [
            await client.get("/v1/admin/dlq", params={"learner": key}),
            await client.post(f"/v1/admin/dlq/{key}/retry"),
            await client.post(f"/v1/admin/dlq/{key}/skip", json={"reason": "drill"}),
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 200], answers[-1].text
    assert projector.keys == [key, key, key]


MISTYPED_ULN = "1000000044"  # 1000000043 with its last digit mistyped: no learner can have it


@pytest.mark.parametrize(
    ("principal", "method", "path", "params", "body"),
    [
        ("provider:10000001", "GET", f"/v1/learners/{MISTYPED_ULN}/plr", {}, None),
        ("operator:ops", "GET", f"/v1/learners/{MISTYPED_ULN}/plr", {}, None),
        ("ao:RN5133", "GET", f"/v1/learners/{MISTYPED_ULN}/plr", {}, None),
        ("ao:RN5133", "GET", "/v1/ao/achievements", {"uln": MISTYPED_ULN}, None),
        ("operator:ops", "GET", "/v1/ao/achievements", {"uln": MISTYPED_ULN, "ao_id": "RN5133"}, None),
        ("operator:ops", "GET", f"/v1/learners/{MISTYPED_ULN}/plr/credential", {}, None),
        (
            "provider:10000001",
            "POST",
            "/v1/centre/achievements",
            {},
            {"uln": MISTYPED_ULN, "qualification_number": "601/4491/X"},
        ),
    ],
)
async def test_a_uln_with_a_wrong_check_digit_is_answered_rv002_before_any_access_check(
    principal: str, method: str, path: str, params: dict[str, str], body: dict[str, str] | None
) -> None:
    """Not "not linked" (a provider) nor an empty PLR: the caller mistyped it, and is told so."""
    async with _client(principal) as client:
        answer = await client.request(method, path, params=params, json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "RV002"
    assert "check digit" in problem["detail"]
    assert MISTYPED_ULN not in problem["detail"]  # masked, as every ULN in a message


class SandpitProjectorStatus:
    """A Sandpit projector at offset 87 of its PLR log's partition 5, 3 events behind."""

    def __init__(self) -> None:
        from lrs_contracts.environments import Environment
        from plr_projector.consumer import Topics

        self.topics = Topics(environment=Environment.SANDPIT)
        self.takes_operator_actions = True  # the projector that writes: a reader refuses its status (409)
        self.pool = self
        self.model = self
        self.live = self
        self.rebuilds = self
        self.positions = {("lrs.plr.events.v1", 5): 87}
        self.stats = type("Stats", (), {"events": 87, "batches": 2, "last_error": None})()

    def acquire(self) -> Any:
        import contextlib

        @contextlib.asynccontextmanager
        async def connection() -> Any:
            yield self

        return connection()

    async def parked_depth(self, _connection: Any) -> dict[str, int]:
        return {"error": 0, "blocked": 0}

    def lag(self) -> dict[str, dict[str, Any]]:
        return {"lrs.plr.events.v1": {"events": 3, "seconds": 1.5}}

    def status(self) -> dict[str, Any]:
        return {"state": "idle"}


async def test_the_sandpit_projectors_status_names_the_topics_it_reads_as_kafka_names_them() -> None:
    """An operator looking up `lrs.plr.events.v1:5` in Kafka would read live's partition, not the Sandpit's."""
    async with _client("operator:ops", SandpitProjectorStatus()) as client:
        answer = await client.get("/v1/admin/projector")
    assert answer.status_code == 200, answer.text
    status = answer.json()
    assert status["offsets"] == {"sandpit.lrs.plr.events.v1:5": 87}
    assert status["lag"] == {"sandpit.lrs.plr.events.v1": {"events": 3, "seconds": 1.5}}


@pytest.mark.parametrize(
    ("uln", "code", "said"),
    [
        (MISTYPED_ULN, "RV002", "The ULN's check digit is wrong (RV002)"),
        ("9999999999", "RV003", "This is the temporary ULN 9999999999 (RV003), which no learner has"),
    ],
)
async def test_a_uln_asked_about_is_refused_in_words_for_a_read_not_a_batch_upload(
    uln: str, code: str, said: str
) -> None:
    """The record rules' words are about uploading ("cannot be uploaded", "check with the centre or learner"): a
    learner reading their own PLR is neither uploading nor able to ask themself."""
    async with _client(f"learner:{uln}") as client:
        answer = await client.get(f"/v1/learners/{uln}/plr")
    assert (answer.status_code, answer.json()["code"]) == (422, code)
    assert answer.json()["detail"].startswith(said)
    assert "uploaded" not in answer.text and "centre or learner" not in answer.text


ULNS = ("1000000043", "1000000051")


@pytest.mark.parametrize(
    ("principal", "scope"),
    [
        ("ao:RN5133", BatchScope(ao_id="RN5133")),
        ("operator:ops", BatchScope()),
        ("provider:10000001", BatchScope(ulns=ULNS)),
        ("learner:1000000043", BatchScope(ulns=ULNS)),
    ],
)
def test_an_ao_waits_only_for_its_own_batches_a_reader_only_for_a_batch_on_the_plr_read(
    principal: str, scope: BatchScope
) -> None:
    """An `after_batch` read by an AO counts only its own batch's events: another AO's batch reads, to it, as one
    that put nothing on the PLR (decision 0003). A learner or a provider counts only the batch's events on the PLR
    it reads, so a batch about anyone else answers as an unknown id does; an operator any batch."""
    assert batch_scope(Principal.parse(principal), ULNS) == scope


async def test_a_retry_and_a_skip_pass_on_the_key_the_operator_acted_with() -> None:
    """Kept beside the operator in the record of the action (`acted_with_key`), as every service's dead letters."""
    projector = DeadLettersSeen()
    async with _client("operator:ops", projector, key_id="27ef900d5a1c3b44") as client:
        answers = [
            await client.post("/v1/admin/dlq/1000000043/retry"),
            await client.post("/v1/admin/dlq/1000000043/skip", json={"reason": "fixed"}),
        ]
    assert [answer.status_code for answer in answers] == [200, 200], answers[-1].text
    assert projector.with_keys == ["27ef900d5a1c3b44", "27ef900d5a1c3b44"]
