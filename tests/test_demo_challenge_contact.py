"""`make up` gives the sample AO a challenge contact the way an AO does: its own key, the notifier's API."""

from __future__ import annotations

import json

import httpx
import pytest
from scripts.dev.demo import SAMPLE_CHALLENGE_CONTACT, set_challenge_contact

from notifier.api import ChallengeContactUpdate

NOTIFIER_URL = "http://notifier.test"
AO_KEY = {"Authorization": "Bearer lrs_sample_ao_key"}


async def test_the_sample_ao_puts_its_challenge_contact_with_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[httpx.Request] = []

    def notifier(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"ao_id": "RN9093", **json.loads(request.content)})

    monkeypatch.setenv("LRS_NOTIFIER_URL", NOTIFIER_URL)
    async with httpx.AsyncClient(transport=httpx.MockTransport(notifier)) as client:
        await set_challenge_contact(client, AO_KEY, "RN9093")

    [request] = sent
    assert (request.method, str(request.url)) == ("PUT", f"{NOTIFIER_URL}/v1/ao/RN9093/challenge-contact")
    assert request.headers["Authorization"] == AO_KEY["Authorization"]
    assert json.loads(request.content) == SAMPLE_CHALLENGE_CONTACT


def test_the_notifier_accepts_the_sample_contact_at_the_local_mailbox_address() -> None:
    contact = ChallengeContactUpdate.model_validate(SAMPLE_CHALLENGE_CONTACT)

    assert contact.email == "challenges@pearson.example"


async def test_a_refused_contact_stops_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    def notifier(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"title": "Unprocessable Content"})

    monkeypatch.setenv("LRS_NOTIFIER_URL", NOTIFIER_URL)
    async with httpx.AsyncClient(transport=httpx.MockTransport(notifier)) as client:
        with pytest.raises(httpx.HTTPStatusError):
            await set_challenge_contact(client, AO_KEY, "RN9093")
