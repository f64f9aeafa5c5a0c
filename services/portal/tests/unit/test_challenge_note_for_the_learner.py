"""The note an AO gives resolving a challenge in the portal is for the learner, who reads it in their challenge
list: it is the AO's words alone, never led by "Corrected by batch <id>" (an id the learner can do nothing with).
The correcting batch is named apart, in `correcting_batch_id`, which the AO's own page shows and links."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

CHALLENGE_ID = uuid.UUID("5d3f1a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c")
CORRECTING = str(uuid.uuid4())
REASON = "We checked the marks and your grade is now Distinction."


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _challenge(**changes: object) -> dict[str, object]:
    return {
        "challenge_id": str(CHALLENGE_ID),
        "achievement_id": str(uuid.uuid4()),
        "ao_id": "RN9093",
        "uln": "1000000043",
        "reason": "The grade is wrong.",
        "state": "acknowledged",
        "raised_at": "2026-11-30T10:00:00Z",
        "acknowledged_at": "2026-11-30T10:30:00Z",
        "resolved_at": None,
        "resolution": None,
        "note": None,
        "correcting_batch_id": None,
        **changes,
    }


def _with_the_challenge(portal: StubbedPortal) -> None:
    stored = _challenge()
    portal.on("GET", f"challenges/v1/challenges/{CHALLENGE_ID}", lambda _: httpx.Response(200, json=stored))
    listed = {
        "items": [{"batch_id": CORRECTING, "status": "completed", "batch_reference": "REF",
                   "received_at": "2026-11-30T11:00:00Z", "decided_at": "2026-11-30T11:00:05Z"}],
        "total": 1, "page": 1, "page_size": 50,
    }  # fmt: skip
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=listed))
    correcting = {"items": [{"batch_id": CORRECTING, "decided_at": "2026-11-30T11:00:05Z"}]}
    portal.on(
        "GET",
        f"challenges/v1/challenges/{CHALLENGE_ID}/correcting-batches",
        lambda _: httpx.Response(200, json=correcting),
    )

    def resolve(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        stored.update(state="resolved", resolved_at="2026-12-01T09:00:00Z", **sent)
        return httpx.Response(200, json=stored)

    portal.on("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve", resolve)


def test_a_correction_with_a_reason_keeps_the_aos_words_alone_as_the_learners_note(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    _with_the_challenge(portal)

    answer = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve",
        data=form(person, resolution="corrected", batch_id=CORRECTING, reason=REASON),
    )

    assert answer.status_code == 303
    (sent,) = portal.sent_to("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve")
    assert json.loads(sent.content) == {"resolution": "corrected", "note": REASON, "correcting_batch_id": CORRECTING}


def test_the_aos_page_still_names_and_links_the_correcting_batch(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    _with_the_challenge(portal)
    client.post(
        f"/challenges/{CHALLENGE_ID}/resolve",
        data=form(person, resolution="corrected", batch_id=CORRECTING, reason=REASON),
    )

    page = client.get(f"/challenges/{CHALLENGE_ID}").text

    assert f'Data corrected</span> by batch <a class="govuk-link" href="/batches/{CORRECTING}">{CORRECTING}</a>' in page
    assert REASON in page and "Corrected by batch" not in page
