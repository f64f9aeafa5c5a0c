"""A Submit while Kafka is away (review 2 of session 60, findings 1, 2, 4 and 5). Ingest stores the batch and answers
503 naming it; its own view says `not_published` only once the request that stored it must have been answered (its
publish timeout plus a margin, 40 s), so the page the AO is sent to says, at once and by itself, that the LRS could not
queue the batch and to upload the same file again, and does not follow a batch nothing processes. The page's
following passes `not_published` on, so a page opened before ingest said it is drawn again saying it. A poll that
fails while ingest is away keeps no session (decision 0040, later note); ingest's other 429s are the busy page; and
the Submit waits for ingest longer than ingest's own bound for a publish in progress, and the file's reading."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch
from services.portal.tests.unit.test_sending_a_file_again import _checked

from ingest.config import IngestSettings
from ingest.views import PUBLISH_MARGIN
from portal.accounts import Role
from portal.config import PortalSettings
from portal.sessions import token_hash

NOT_QUEUED = str(uuid.uuid4())
PUBLISH_TIMEOUT = timedelta(seconds=IngestSettings.model_fields["publish_timeout_seconds"].default)
ROW_LOCK_TIMEOUT = timedelta(seconds=IngestSettings.model_fields["row_lock_timeout_seconds"].default)
NOT_PUBLISHED = "This batch was not published when it was sent (Kafka did not take it). Send the same file again."


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _stored(received: timedelta, **changes: Any) -> dict[str, Any]:
    """Ingest's view of the batch, stored `received` ago and not published."""
    received_at = (datetime.now(UTC) - received).isoformat()
    stored = {"status": "received", "failure_reason": None, "decided_at": None, "received_at": received_at}
    return batch(**{"batch_id": NOT_QUEUED, **stored, **changes})


def _answering(view: dict[str, Any], _: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=view)


def _kafka_away(portal: StubbedPortal, view: dict[str, Any]) -> None:
    problem = {
        "type": "about:blank",
        "title": "The batch could not be queued",
        "status": 503,
        "detail": "Kafka did not take the batch, so nothing of it was accepted. Send it again later.",
        "instance": f"/v1/batches/{NOT_QUEUED}",
    }
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(503, json=problem, headers={"Retry-After": "5"}))
    portal.on("GET", f"ingest/v1/batches/{NOT_QUEUED}", lambda _: httpx.Response(200, json=view))


def test_the_page_after_a_submit_kafka_did_not_take_says_to_upload_the_file_again_and_does_not_follow_it(
    portal: StubbedPortal,
) -> None:
    # the 503 comes about 30 s after the batch was stored: ingest's view does not say `not_published` yet
    received = timedelta(seconds=31)
    assert received <= PUBLISH_TIMEOUT + PUBLISH_MARGIN
    _kafka_away(portal, _stored(received))
    client, person, kept = _checked(portal)

    answer = client.post("/batches/submit", data=form(person, **kept))
    shown = client.get(answer.headers["location"])

    assert answer.status_code == 303 and answer.headers["location"].startswith(f"/batches/{NOT_QUEUED}")
    assert shown.status_code == 200
    assert "data-not-published" in shown.text
    assert "The LRS could not queue this batch when it was sent" in shown.text
    assert 'href="/batches/new">Upload the same file again</a>' in shown.text
    assert 'data-decided="true"' in shown.text  # nothing processes it: the page does not follow it
    assert "This page updates itself" not in shown.text


def test_a_batch_queued_since_is_not_said_to_be_unqueued(portal: StubbedPortal) -> None:
    """The file sent again (in another tab, say) queued the batch: the address Submit gave says nothing of it then."""
    queued = _stored(timedelta(seconds=31), status="accepted")
    portal.on("GET", f"ingest/v1/batches/{NOT_QUEUED}", lambda _: httpx.Response(200, json=queued))
    client, _ = portal.signed_in()

    shown = client.get(f"/batches/{NOT_QUEUED}", params={"not_queued": "1"})

    assert shown.status_code == 200
    assert "data-not-published" not in shown.text
    assert 'data-decided="false"' in shown.text and "This page updates itself" in shown.text


@pytest.mark.parametrize(
    ("role", "scopes", "path"),
    [
        (Role.AO, frozenset(), f"/batches/{NOT_QUEUED}/status.json"),
        (Role.OPERATOR, frozenset({"support"}), f"/ops/batches/{NOT_QUEUED}/status.json"),
    ],
)
def test_a_batch_page_following_its_status_is_told_once_ingest_says_it_was_not_published(
    portal: StubbedPortal, role: Role, scopes: frozenset[str], path: str
) -> None:
    """portal.js draws the page again on `not_published`: it then says to upload the same file again."""
    views = {"in flight": _stored(timedelta(seconds=5)), "not published": _stored(timedelta(minutes=2))}
    views["not published"]["not_published"] = NOT_PUBLISHED
    client, _ = portal.signed_in(role, scopes)

    followed = {}
    for name, view in views.items():
        portal.on("GET", f"ingest/v1/batches/{NOT_QUEUED}", functools.partial(_answering, view))
        followed[name] = client.get(path)

    assert followed["in flight"].json() == {"status": "received", "decided": False, "not_published": False}
    assert followed["not published"].json() == {"status": "received", "decided": False, "not_published": True}


def _ingest_away(_: httpx.Request) -> httpx.Response:
    problem = {"title": "Service unavailable", "status": 503, "detail": "The database is unavailable"}
    return httpx.Response(503, json=problem, headers={"Retry-After": "5"})


def _batch_gone(_: httpx.Request) -> httpx.Response:
    problem = {"title": "Not found", "status": 404, "detail": "No such batch"}
    return httpx.Response(404, json=problem)


@pytest.mark.parametrize("ingest", [_ingest_away, _batch_gone], ids=["unavailable", "not-found"])
@pytest.mark.parametrize(
    ("role", "scopes", "path"),
    [
        (Role.AO, frozenset(), f"/batches/{NOT_QUEUED}/status.json"),
        (Role.OPERATOR, frozenset({"support"}), f"/ops/batches/{NOT_QUEUED}/status.json"),
    ],
)
def test_a_batch_pages_following_that_fails_does_not_keep_the_session(
    portal: StubbedPortal, role: Role, scopes: frozenset[str], path: str, ingest: Any
) -> None:
    """portal.js asks again every 1.5 s for as long as ingest is away: the error's page keeps no session either. A
    page the person asks for, failing the same way, keeps it as any page does."""
    portal.on("GET", f"ingest/v1/batches/{NOT_QUEUED}", ingest)
    client, session = portal.signed_in(role, scopes)
    row = portal.sessions.rows[token_hash(session.token)]
    ends = datetime.now(UTC) + timedelta(minutes=1)
    row["expires_at"] = ends

    followed = client.get(path)

    assert followed.status_code in (404, 503), followed.text
    assert row["expires_at"] == ends
    asked = client.get(path.removesuffix("/status.json"))
    assert asked.status_code in (404, 503)
    assert row["expires_at"] > ends + timedelta(minutes=28)


def test_too_many_uploads_at_once_on_submit_is_the_busy_page_with_its_retry_after(portal: StubbedPortal) -> None:
    detail = "4 of your files are being received or processed at the moment: send this file again in 30 seconds."
    problem = {
        "type": "about:blank",
        "title": "Too many uploads at once",
        "status": 429,
        "detail": detail + " Nothing of it was read.",
        "instance": "/v1/batches",
        "code": "TOO_MANY_REQUESTS",
        "limit": 4,
        "retry_after": 30,
    }
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(429, json=problem, headers={"Retry-After": "30"}))
    client, person, kept = _checked(portal)

    page = client.post("/batches/submit", data=form(person, **kept))

    assert page.status_code == 429 and page.headers["retry-after"] == "30"
    assert "Too many requests at once" in page.text and "That could not be done" not in page.text
    assert detail in page.text
    assert uuid.UUID(kept["upload_id"]) in portal.uploads.kept  # Back and Submit send it again


def test_the_submit_waits_past_ingests_bound_for_a_publish_and_the_files_reading() -> None:
    """Ingest's publish deadline starts once the file is read and stored (`PUBLISH_MARGIN`, the time ingest's view
    allows for that), and a publish in progress waits for a row lock too: the portal waits longer than all of it, and
    less than ingress-nginx's proxy read timeout (60 s), which would otherwise answer first."""
    submit = timedelta(seconds=PortalSettings.model_fields["submit_timeout_seconds"].default)

    assert submit >= PUBLISH_TIMEOUT + ROW_LOCK_TIMEOUT + PUBLISH_MARGIN
    assert submit < timedelta(seconds=60)
