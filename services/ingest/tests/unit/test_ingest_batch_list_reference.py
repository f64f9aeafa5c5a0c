"""`GET /v1/batches?reference=…` asks for the batches of that BatchReference (a migration's file names), of the
AO's own batches only whatever else the request says; a list without it asks as before."""

from __future__ import annotations

from typing import Any

import httpx

from .test_ingest_batch_list_after import AO, Batches, ingest  # noqa: F401


async def test_a_reference_narrows_the_aos_own_list(ingest: tuple[httpx.AsyncClient, Batches]) -> None:  # noqa: F811
    client, batches = ingest

    answer = await client.get("/v1/batches", params={"reference": "MIGRATION 0042", "ao_id": AO, "page_size": 5})

    assert answer.status_code == 200
    asked: dict[str, Any] = batches.asked[0]
    assert (asked["ao_id"], asked["reference"], asked["limit"]) == (AO, "MIGRATION 0042", 5)


async def test_an_empty_reference_is_422(ingest: tuple[httpx.AsyncClient, Batches]) -> None:  # noqa: F811
    client, batches = ingest

    answer = await client.get("/v1/batches", params={"reference": ""})

    assert answer.status_code == 422 and batches.asked == []
