"""The learner page opened after a batch asks the projector again, without the batch, only when the projector
answered that it waited for the batch and saw none of it: the batch may have put nothing on the record. A projector
that did not answer in time, or failed, is not asked twice: the person would wait as long again, and a projector
short of connections would get the query twice."""

from __future__ import annotations

import httpx
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

from portal.accounts import Role

ULN = "1000000043"
BATCH_ID = "0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11"
ACHIEVEMENTS = "plr-projector/v1/ao/achievements"
PLR = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": []}


def _learner_page_after_batch(portal: StubbedPortal) -> httpx.Response:
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))
    client, person = portal.signed_in(Role.AO)
    page: httpx.Response = client.post(
        "/learners", data=form(person, uln=ULN, after_batch=BATCH_ID), follow_redirects=True
    )
    return page


def _asked_after_the_batch(portal: StubbedPortal) -> list[bool]:
    return ["after_batch" in request.url.params for request in portal.sent_to("GET", ACHIEVEMENTS)]


def test_a_projector_that_did_not_answer_in_time_is_not_asked_again() -> None:
    portal = stubbed_portal()

    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    portal.on("GET", ACHIEVEMENTS, time_out)

    page = _learner_page_after_batch(portal)

    assert page.status_code == 503
    assert _asked_after_the_batch(portal) == [True]


def test_a_projector_without_its_database_is_not_asked_again() -> None:
    portal = stubbed_portal()
    unavailable = {"title": "The database is unavailable", "status": 503, "code": "SERVICE_UNAVAILABLE"}
    portal.on("GET", ACHIEVEMENTS, lambda _: httpx.Response(503, headers={"Retry-After": "5"}, json=unavailable))

    page = _learner_page_after_batch(portal)

    assert page.status_code == 503
    assert _asked_after_the_batch(portal) == [True]


def test_a_batch_the_projector_saw_nothing_of_shows_the_record_as_it_is() -> None:
    portal = stubbed_portal()
    pending = {"title": "Not yet projected", "status": 503, "code": "PROJECTION_PENDING"}

    def answer(request: httpx.Request) -> httpx.Response:
        if "after_batch" in request.url.params:
            return httpx.Response(503, json=pending)
        return httpx.Response(200, json=PLR)

    portal.on("GET", ACHIEVEMENTS, answer)

    page = _learner_page_after_batch(portal)

    assert page.status_code == 200
    assert _asked_after_the_batch(portal) == [True, False]
