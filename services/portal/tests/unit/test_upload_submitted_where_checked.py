"""A checked file is submitted only in the environment it was checked in: a file checked in the Sandpit is not found by
live's submit, even in a form made by hand, nor one checked live by the Sandpit's (the upload says so, and nothing
is sent)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal, with_a_sandpit

ROOT = Path(__file__).resolve().parents[4]
SAMPLE = (ROOT / "samples" / "sample-100.csv").read_bytes()
LIVE, SANDPIT = "", "/sandpit"
GONE = "That upload is no longer here: upload the file again."


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found is not None, name
    return found.group(1)


def ingest_of(prefix: str) -> str:
    return "sandpit-ingest/v1/batches" if prefix == SANDPIT else "ingest/v1/batches"


def with_both(monkeypatch: pytest.MonkeyPatch) -> StubbedPortal:
    portal = with_a_sandpit(stubbed_portal(), monkeypatch)
    for prefix in (LIVE, SANDPIT):
        portal.on("POST", ingest_of(prefix), lambda _: httpx.Response(202, json={"batch_id": str(uuid.uuid4())}))
    return portal


@pytest.mark.parametrize(("checked_in", "submitted_in"), [(SANDPIT, LIVE), (LIVE, SANDPIT)])
def test_a_file_checked_in_one_environment_is_not_submitted_in_the_other(
    checked_in: str, submitted_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = with_both(monkeypatch)
    client, person = portal.signed_in()
    checked = client.post(
        f"{checked_in}/batches/check", data=form(person), files={"batch_file": ("s.csv", SAMPLE, "text/csv")}
    )
    sealed = {"upload_id": hidden(checked.text, "upload_id"), "upload_key": hidden(checked.text, "upload_key")}

    elsewhere = client.post(f"{submitted_in}/batches/submit", data=form(person, **sealed))
    where_checked = client.post(f"{checked_in}/batches/submit", data=form(person, **sealed))

    assert checked.status_code == 200
    assert elsewhere.status_code == 404
    assert GONE in elsewhere.text
    assert not portal.sent_to("POST", ingest_of(submitted_in))
    assert where_checked.status_code == 303
    assert where_checked.headers["location"].startswith(f"{checked_in}/batches/")
    assert len(portal.sent_to("POST", ingest_of(checked_in))) == 1


def test_a_sandpit_file_submitted_already_is_not_shown_as_live_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    portal = with_both(monkeypatch)
    client, person = portal.signed_in()
    checked = client.post(
        f"{SANDPIT}/batches/check", data=form(person), files={"batch_file": ("s.csv", SAMPLE, "text/csv")}
    )
    sealed = {"upload_id": hidden(checked.text, "upload_id"), "upload_key": hidden(checked.text, "upload_key")}
    submitted = client.post(f"{SANDPIT}/batches/submit", data=form(person, **sealed))

    on_live = client.post("/batches/submit", data=form(person, **sealed))

    assert submitted.status_code == 303
    assert on_live.status_code == 404
    assert GONE in on_live.text
