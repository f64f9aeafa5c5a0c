"""`GET /v1/batches?submitted_with_key=…` (after a key leaked: which batches it sent) asks for the batches of that API
key: an operator's of every AO; an AO's of those it sent itself only (not one an operator sent on its behalf, whose
key is not its business); a value that is no key id (a whole key pasted) is 422, nothing asked."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from ingest import api
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal

from .test_ingest_batch_list_after import AO, Batches, NoMaintenance, Settings, ingest  # noqa: F401

KEY_ID = "0123456789abcdef"


async def test_an_aos_list_by_key_is_of_the_batches_it_sent_itself(ingest: tuple[httpx.AsyncClient, Batches]) -> None:  # noqa: F811
    client, batches = ingest

    answer = await client.get("/v1/batches", params={"submitted_with_key": KEY_ID})

    assert answer.status_code == 200, answer.text
    asked: dict[str, Any] = batches.asked[0]
    assert (asked["ao_id"], asked["submitted_with_key"], asked["submitted_by"]) == (AO, KEY_ID, f"ao:{AO}")


async def test_an_operators_list_by_key_is_of_every_ao() -> None:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    app.state.batches = batches = Batches()
    app.state.settings = Settings()
    app.state.maintenance = NoMaintenance(None)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:jo")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        answer = await client.get("/v1/batches", params={"submitted_with_key": KEY_ID})

    assert answer.status_code == 200, answer.text
    asked: dict[str, Any] = batches.asked[0]
    assert (asked["ao_id"], asked["submitted_with_key"]) == (None, KEY_ID) and "submitted_by" not in asked


async def test_a_list_without_it_asks_as_before(ingest: tuple[httpx.AsyncClient, Batches]) -> None:  # noqa: F811
    client, batches = ingest

    assert (await client.get("/v1/batches")).status_code == 200
    assert "submitted_with_key" not in batches.asked[0] and "submitted_by" not in batches.asked[0]


async def test_a_whole_key_or_no_key_id_is_422(ingest: tuple[httpx.AsyncClient, Batches]) -> None:  # noqa: F811
    client, batches = ingest

    for value in (f"lrs_{KEY_ID}_secretsecretsecret", KEY_ID.upper(), KEY_ID[:-1], ""):
        answer = await client.get("/v1/batches", params={"submitted_with_key": value})
        assert answer.status_code == 422, value

    assert batches.asked == []
