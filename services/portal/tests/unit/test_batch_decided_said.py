"""A batch page that followed its batch reloads itself once the batch is decided, with a marker (`decided=1`) that
has it say the outcome in a banner taking focus: the live region that followed the status went with the reload.
Every batch page's title says the batch's status."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch

import portal
from portal.accounts import Role

BATCH_ID = uuid.uuid4()
NOTHING = {"total": None, "accepted": None, "rejected": None, "warnings": None, "no_ops": None}
REFUSAL = {"code": "RS001", "title": "The file is malformed", "detail": None, "line": None}
SCRIPT = Path(portal.__file__).parent / "static" / "portal.js"
SHOWN = {
    "completed": batch(
        status="completed", failure_reason=None, counts={"total": 1, "accepted": 1, "rejected": 0, "no_ops": 0}
    ),
    "failed": batch(
        status="failed", failure_code="RS005", counts={"total": 3, "accepted": 1, "rejected": 2, "no_ops": 0}
    ),
    "refused": batch(status="refused", refusal=REFUSAL, failure_reason=None, counts=NOTHING),
    "abandoned": batch(),
    "validating": batch(status="validating", failure_reason=None, decided_at=None, counts=NOTHING),
}


def portal_showing(status: str) -> tuple[StubbedPortal, Any]:
    stub = stubbed_portal()
    shown = {**SHOWN[status], "batch_id": str(BATCH_ID)}
    stub.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=shown))
    stub.on(
        "GET",
        f"ingest/v1/batches/{BATCH_ID}/records",
        lambda _: httpx.Response(200, json={"records": [], "total": 0, "page": 1, "page_size": 100}),
    )
    client, _ = stub.signed_in(Role.AO)
    return stub, client


def banner(html: str) -> str | None:
    found = re.search(
        r'<div class="govuk-notification-banner[^"]*" role="alert"[^>]*data-decided-banner.*?</div>\s*</div>',
        html,
        re.DOTALL,
    )
    return found.group(0) if found else None


@pytest.mark.parametrize(
    ("status", "title", "said"),
    [
        ("completed", "Completed: Batch REF-7", "The batch was checked: completed."),
        ("failed", "Failed (RS005): Batch REF-7", "The batch was checked: failed (RS005)."),
        ("refused", "Refused (RS001): Batch REF-7", "The batch was checked: refused (RS001)."),
        ("abandoned", "Abandoned: Batch REF-7", "The batch was abandoned: the LRS could not finish checking it."),
    ],
)
def test_the_page_reloaded_on_the_decision_says_the_outcome_in_a_focused_banner(
    status: str, title: str, said: str
) -> None:
    _, client = portal_showing(status)

    reloaded = client.get(f"/batches/{BATCH_ID}", params={"decided": "1"})
    visited = client.get(f"/batches/{BATCH_ID}")

    assert reloaded.status_code == 200
    assert f"<title>{title} \u2013 LRS Organisation Portal</title>" in reloaded.text
    shown = banner(reloaded.text)
    assert shown is not None and said in shown
    assert 'data-module="govuk-notification-banner"' in shown  # govuk-frontend focuses a banner that is an alert
    assert banner(visited.text) is None  # said only after following the batch
    assert f"<title>{title} \u2013 LRS Organisation Portal</title>" in visited.text


def test_a_batch_still_being_checked_is_titled_so_and_announces_nothing_yet() -> None:
    _, client = portal_showing("validating")

    page = client.get(f"/batches/{BATCH_ID}", params={"decided": "1"})  # a marker before its time

    assert "<title>Validating: Batch REF-7 \u2013 LRS Organisation Portal</title>" in page.text
    assert banner(page.text) is None and 'data-decided="false"' in page.text


def test_the_script_reloads_with_the_marker_and_drops_it_once_said() -> None:
    script = SCRIPT.read_text()

    assert 'searchParams.set("decided", "1")' in script and "window.location.reload()" not in script
    assert 'searchParams.delete("decided")' in script
