"""A batch page following a batch that Kafka did not take (review 2 of session 60, finding 1). Ingest's view says
`not_published` once the request that stored the batch must have been answered, and the page's following passes it
on (`status.json`): the page, drawn again, says to upload the same file again, and follows the batch no longer. Here
the page and its following reach the portal as they would; what they answer says the batch waits, then that it was
not published (Kafka is not stopped for it: the other modules share it)."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Page, Route, expect
from tests.portal.conftest import PortalSystem
from tests.portal.flows import SAMPLES, upload

pytestmark = pytest.mark.integration


async def test_a_batch_page_is_drawn_again_once_its_batch_was_not_published(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    url = portal_system.url
    batch_id = (await upload(ao_page, url, SAMPLES / "sample-100.csv")).batch_id
    draws: list[str] = []

    async def drawn(route: Route) -> None:
        """The batch page: drawn first as it is while the batch waits, then as the portal draws it."""
        draws.append(route.request.url)
        answer = await route.fetch(max_redirects=0)
        body = await answer.text()
        if len(draws) == 1:
            body = body.replace('data-decided="true"', 'data-decided="false"')
        else:
            body = body.replace('id="batch-status"', 'id="batch-status" data-drawn-again')
        await route.fulfill(response=answer, body=body)

    async def not_published(route: Route) -> None:
        answer = await route.fetch(max_redirects=0)
        said = {"status": "received", "decided": False, "not_published": True}
        await route.fulfill(response=answer, body=json.dumps(said) if answer.status == 200 else None)

    await ao_page.route(f"{url}/batches/{batch_id}", drawn)
    await ao_page.route(f"{url}/batches/{batch_id}/status.json", not_published)
    await ao_page.goto(f"{url}/batches/{batch_id}")

    await expect(ao_page.locator("#batch-status[data-drawn-again]")).to_have_count(1)
    assert draws == [f"{url}/batches/{batch_id}"] * 2  # drawn again as it was: not said to be decided
    assert ao_page.url == f"{url}/batches/{batch_id}"
