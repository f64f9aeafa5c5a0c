"""Operators with the support duty look up any AO's batch by its id and read it as its AO's users do, list an AO's
batches (or every AO's), and read MI for one AO or all: asked of ingest and reporting as `lrs batch status|list --ao`
and `lrs reports --ao` ask, with the operator's own key."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_batch_decided_said import BATCH_ID, SHOWN

from portal.accounts import Role
from portal.web.support_pages import ao_asked, batch_asked, charts_for

SUPPORT = frozenset({"support"})
LISTED = {"items": [], "page": 1, "page_size": 25, "total": 0}
RECORDS = {"records": [], "total": 0, "page": 1, "page_size": 100}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def ingest_answers(portal: StubbedPortal, shown: dict[str, Any], listed: dict[str, Any] = LISTED) -> None:
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=shown))
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records", lambda _: httpx.Response(200, json=RECORDS))
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=listed))


def test_what_an_operator_types_is_read_as_the_services_read_it() -> None:
    assert ao_asked(" rn5133 ") == ("RN5133", None)
    assert ao_asked("") == (None, None)
    assert ao_asked("RN51 33")[1] is not None and ao_asked("ao:RN5133")[1] is not None
    assert batch_asked(f" {BATCH_ID} ") == (BATCH_ID, None)
    assert batch_asked("")[1] == "Enter the batch's id"
    assert batch_asked("REF-7")[0] is None
    assert "challenge-days" in charts_for("RN5133") and "challenge-days" not in charts_for(None)


def test_a_batch_found_by_its_id_is_shown_as_its_aos_users_see_it(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    shown = {**SHOWN["failed"], "batch_id": str(BATCH_ID), "ao_id": "RN5133", "submitted_by": "ao:RN5133"}
    ingest_answers(portal, shown)

    found = client.get("/ops/batches", params={"batch": f"  {BATCH_ID} "})
    batch = client.get(found.headers["location"])

    assert (found.status_code, found.headers["location"]) == (303, f"/ops/batches/{BATCH_ID}")
    assert batch.status_code == 200
    assert 'data-status="failed"' in batch.text and 'data-failure="RS005"' in batch.text  # as the AO reads it
    assert f"Batch {BATCH_ID} of RN5133" in batch.text and "data-batch-ao>RN5133<" in batch.text
    assert f'data-status-url="/ops/batches/{BATCH_ID}/status.json"' in batch.text
    assert f'href="/ops/batches/{BATCH_ID}/records.csv"' in batch.text
    assert f'action="/ops/batches/{BATCH_ID}"' in batch.text
    assert 'href="/batches/' not in batch.text and 'href="/learners"' not in batch.text  # the AO's pages
    assert 'href="/ops/batches?ao=RN5133"' in batch.text
    (sent,) = portal.sent_to("GET", f"ingest/v1/batches/{BATCH_ID}")
    assert sent.headers["authorization"].startswith("Bearer ")  # the operator's own key: ingest applies its rules


def test_an_unknown_or_mistyped_batch_id_is_said_on_the_form(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=LISTED))

    mistyped = client.get("/ops/batches", params={"batch": "REF-7"})
    unknown = client.get(f"/ops/batches/{BATCH_ID}")

    assert mistyped.status_code == 400 and mistyped.text.count('href="#batch"') == 1
    assert "<title>Error: AO batches" in mistyped.text and 'value="REF-7"' in mistyped.text
    assert unknown.status_code == 404
    assert f"There is no batch {BATCH_ID}: check the id the AO gave you" in unknown.text


def test_an_aos_batches_are_listed_from_ingest_with_links_to_the_operators_batch_pages(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    one = {**SHOWN["completed"], "batch_id": str(BATCH_ID), "ao_id": "RN5133", "batch_reference": "REF-7"}
    ingest_answers(portal, one, {"items": [one], "page": 2, "page_size": 25, "total": 60})

    listed = client.get("/ops/batches", params={"ao": "rn5133", "page": "2"})
    every = client.get("/ops/batches")
    wrong = client.get("/ops/batches", params={"ao": "RN 5133"})

    assert listed.status_code == 200
    first, second = portal.sent_to("GET", "ingest/v1/batches")
    assert dict(first.url.params) == {"page": "2", "page_size": "25", "ao_id": "RN5133"}
    assert dict(second.url.params) == {"page": "1", "page_size": "25"}  # every AO's
    assert "Batches of RN5133, newest first" in listed.text
    assert f'href="/ops/batches/{BATCH_ID}">REF-7</a>' in listed.text
    assert "data-ao>" not in listed.text  # one AO's: no AO column
    assert 'href="/ops/batches?ao=RN5133&amp;page=3"' in listed.text
    assert 'href="/ops/mi?ao=RN5133"' in listed.text
    assert "Every AO&#39;s batches, newest first" in every.text and "data-ao>RN5133<" in every.text
    assert wrong.status_code == 400 and 'href="#ao"' in wrong.text
    assert len(portal.sent_to("GET", "ingest/v1/batches")) == 2  # nothing asked for a mistyped AO


def test_mi_is_asked_for_the_chosen_ao_or_every_ao(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    for report in ("submissions", "timeliness", "plr-timeliness", "rejections", "challenges"):
        portal.on("GET", f"reporting/v1/reports/{report}", lambda _: httpx.Response(200, json={"items": []}))

    one = client.get("/ops/mi", params={"ao": "rn5133", "months": "3"})
    asked_for_one = [dict(sent.url.params).get("ao_id") for sent in portal.sent if sent.url.host == "reporting"]
    portal.sent.clear()
    every = client.get("/ops/mi", params={"months": "3"})
    asked_for_every = [dict(sent.url.params).get("ao_id") for sent in portal.sent if sent.url.host == "reporting"]
    csv = client.get("/ops/mi/records.csv", params={"ao": "RN5133", "months": "3"})
    no_median = client.get("/ops/mi/challenge-days.csv", params={"months": "3"})

    assert one.status_code == 200 and "Management information for RN5133" in one.text
    assert set(asked_for_one) == {"RN5133"} and len(asked_for_one) == 5  # each report once, for the 3 months
    assert 'href="/ops/mi/records.csv?months=3&amp;ao=RN5133"' in one.text
    assert 'data-chart="challenge-days"' in one.text
    assert every.status_code == 200 and "Management information for every AO" in every.text
    assert set(asked_for_every) == {None}
    assert 'data-chart="challenge-days"' not in every.text and "data-left-out" in every.text
    assert csv.status_code == 200 and 'filename="lrs-records-RN5133-' in csv.headers["content-disposition"]
    assert no_median.status_code == 404


def test_the_pages_need_the_support_duty_and_are_in_its_menu(portal: StubbedPortal) -> None:
    support, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    other, _ = portal.signed_in(Role.OPERATOR, frozenset({"dead-letters"}))
    ao_user, _ = portal.signed_in(Role.AO)
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=LISTED))

    start = support.get("/ops")
    menu = support.get("/ops/batches").text

    assert (start.status_code, start.headers["location"]) == (303, "/ops/batches")
    assert re.search(r'href="/ops/batches"[^>]*>\s*AO batches', menu) and re.search(
        r'href="/ops/mi"[^>]*>\s*AO MI', menu
    )
    for path in ("/ops/batches", f"/ops/batches/{BATCH_ID}", f"/ops/batches/{BATCH_ID}/records.csv", "/ops/mi"):
        refused = other.get(path)
        assert refused.status_code == 403 and "needs the “support” duty" in refused.text
        assert ao_user.get(path).status_code == 403
    assert 'href="/ops/batches"' not in other.get("/ops/dead-letters").text
    assert len(portal.sent_to("GET", "ingest/v1/batches")) == 1  # refused before asking ingest


def test_the_ao_pages_stay_the_aos(portal: StubbedPortal) -> None:
    """The AO's batch page, which the operator's reuses, still links to the AO's own pages."""
    client, session = portal.signed_in(Role.AO)
    ingest_answers(portal, {**SHOWN["abandoned"], "batch_id": str(BATCH_ID)})

    shown = client.get(f"/batches/{BATCH_ID}").text

    assert f'data-status-url="/batches/{BATCH_ID}/status.json"' in shown
    assert '<a class="govuk-link" href="/batches/new">upload the same file again</a>' in shown
    assert "/ops/batches" not in shown
    assert client.post("/ops/batches", data=form(session)).status_code in (403, 405)
