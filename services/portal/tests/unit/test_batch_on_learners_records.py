"""A completed batch is decided before the projector puts it on learners' records (and while a learner's events are
held in dead letters, it may not for a long time): the batch page says its accepted records are on learners' records
only when the projector confirms it (`after_batch`), and otherwise that they are being added, with a way to look
again. Its link to the learners page carries the batch, and the learner page then says whether the record it shows
has the batch, not silently the record as it was."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch

from lrs_domain.identifiers import is_valid_uln
from portal.accounts import Role

BATCH_ID = uuid.uuid4()
ULN = "1000000043"
ACHIEVEMENTS = "plr-projector/v1/ao/achievements"
PENDING = {"title": "Not yet projected", "status": 503, "code": "PROJECTION_PENDING"}
COMPLETED = batch(
    batch_id=str(BATCH_ID),
    ao_id="RN9093",
    status="completed",
    failure_reason=None,
    counts={"total": 1, "accepted": 1, "rejected": 0, "warnings": 0, "no_ops": 0},
)
PLR = {"uln": ULN, "master_uln": None, "ulns": [ULN], "ao_id": "RN9093", "learning_events": []}
ON_RECORDS = "The accepted records are on learners' records"


def _portal(projector: httpx.Response | None, shown: dict[str, object] = COMPLETED) -> StubbedPortal:
    stub = stubbed_portal()
    stub.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=shown))
    stub.on(
        "GET",
        f"ingest/v1/batches/{BATCH_ID}/records",
        lambda _: httpx.Response(200, json={"records": [], "total": 0, "page": 1, "page_size": 100}),
    )
    if projector is not None:
        stub.on("GET", ACHIEVEMENTS, lambda _: projector)
    return stub


def _said(page: str) -> str:
    found = re.search(r"<p class=\"govuk-body\" data-on-records=\"(\w+)\".*?</p>", page, re.DOTALL)
    assert found is not None, "the batch page says where its accepted records are"
    return found.group(0)


def test_a_batch_the_projector_has_not_applied_is_not_said_to_be_on_learners_records() -> None:
    stub = _portal(httpx.Response(503, json=PENDING))
    client, _ = stub.signed_in(Role.AO)

    page = client.get(f"/batches/{BATCH_ID}").text

    said = _said(page)
    assert ON_RECORDS not in page
    assert 'data-on-records="pending"' in said
    assert "being added to learners' records" in said and "usually takes a few seconds" in said
    assert f'href="/batches/{BATCH_ID}">Look again</a>' in said
    assert f'href="/learners?after_batch={BATCH_ID}"' in said
    (asked,) = stub.sent_to("GET", ACHIEVEMENTS)
    assert asked.url.params["after_batch"] == str(BATCH_ID)
    assert 0 <= int(asked.url.params["wait_ms"]) <= 5_000  # bounded: the page is not held for long
    # for an AO the projector judges `after_batch` by the batch's events anywhere: any ULN it reads will do
    assert is_valid_uln(asked.url.params["uln"])
    assert "ao_id" not in asked.url.params  # the AO's own key: its own batches only


def test_a_batch_the_projector_confirms_is_said_to_be_on_learners_records() -> None:
    stub = _portal(httpx.Response(200, json=PLR))
    client, _ = stub.signed_in(Role.AO)

    page = client.get(f"/batches/{BATCH_ID}").text

    said = _said(page)
    assert 'data-on-records="yes"' in said and ON_RECORDS in said
    assert f'href="/learners?after_batch={BATCH_ID}"' in said


@pytest.mark.parametrize(
    "projector",
    [None, httpx.Response(503, json={"title": "The database is unavailable", "code": "SERVICE_UNAVAILABLE"})],
)
def test_a_projector_that_cannot_say_leaves_the_page_unsure_not_wrong(projector: httpx.Response | None) -> None:
    stub = _portal(projector)
    client, _ = stub.signed_in(Role.AO)

    answer = client.get(f"/batches/{BATCH_ID}")

    assert answer.status_code == 200  # the batch page is shown: only the projector's part is unknown
    said = _said(answer.text)
    assert 'data-on-records="unknown"' in said and ON_RECORDS not in said


def test_a_batch_that_accepted_nothing_does_not_ask_the_projector() -> None:
    nothing = {**COMPLETED, "counts": {"total": 1, "accepted": 0, "rejected": 0, "warnings": 0, "no_ops": 1}}
    stub = _portal(httpx.Response(200, json=PLR), nothing)
    client, _ = stub.signed_in(Role.AO)

    page = client.get(f"/batches/{BATCH_ID}").text

    assert "data-on-records" not in page
    assert stub.sent_to("GET", ACHIEVEMENTS) == []


def test_an_operator_reading_the_batch_asks_as_the_batch_s_ao() -> None:
    stub = _portal(httpx.Response(503, json=PENDING))
    client, _ = stub.signed_in(Role.OPERATOR, frozenset({"support"}))

    page = client.get(f"/ops/batches/{BATCH_ID}").text

    assert 'data-on-records="pending"' in _said(page)
    (asked,) = stub.sent_to("GET", ACHIEVEMENTS)
    assert asked.url.params["ao_id"] == "RN9093"


def _learner_after_batch(stub: StubbedPortal) -> str:
    stub.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))
    client, person = stub.signed_in(Role.AO)
    search = client.get("/learners", params={"after_batch": str(BATCH_ID)}).text
    assert f'<input type="hidden" name="after_batch" value="{BATCH_ID}">' in search  # the search carries the batch
    page = client.post("/learners", data=form(person, uln=ULN, after_batch=str(BATCH_ID)), follow_redirects=True)
    assert page.status_code == 200
    shown: str = page.text
    return shown


def test_the_learner_page_says_the_record_may_not_show_a_batch_the_projector_has_not_applied() -> None:
    stub = stubbed_portal()

    def answer(request: httpx.Request) -> httpx.Response:
        if "after_batch" in request.url.params:
            return httpx.Response(503, json=PENDING)
        return httpx.Response(200, json=PLR)

    stub.on("GET", ACHIEVEMENTS, answer)

    page = _learner_after_batch(stub)

    assert 'data-batch-shown="pending"' in page
    assert "This record may not show batch" in page and str(BATCH_ID) in page


@pytest.mark.parametrize(("applied", "shown"), [(1, "yes"), (0, "none")])
def test_the_learner_page_says_whether_the_record_shows_the_batch(applied: int, shown: str) -> None:
    stub = stubbed_portal()
    consistency = {"after_batch": str(BATCH_ID), "waited_ms": 3.0, "batch_events_applied": applied}
    stub.on("GET", ACHIEVEMENTS, lambda _: httpx.Response(200, json={**PLR, "consistency": consistency}))

    page = _learner_after_batch(stub)

    assert f'data-batch-shown="{shown}"' in page
    (asked,) = stub.sent_to("GET", ACHIEVEMENTS)
    assert asked.url.params["after_batch"] == str(BATCH_ID) and "wait_ms" in asked.url.params
