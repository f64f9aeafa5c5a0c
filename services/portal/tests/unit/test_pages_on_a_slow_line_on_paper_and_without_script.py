"""What the reflow walk found (review "reflow"): the static files come compressed (gzip) and, under their version's
address, kept by the browser for a year, with the portal's security headers still on; the pages themselves are not
compressed (they carry the session's CSRF token beside what the address asked: BREACH). The class that draws the
phone's menu closed is set before the page is drawn, by a script file of the portal's own (the CSP stays strict). A
batch's page says "updates itself" only where script runs it, and always offers Check again; a direct entry's page
offers no "Go to a record" and no positions in a file it did not come from; on paper, the batch page says only one
page of its records is printed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch, batch_page

from lrs_domain.direct_entry import direct_entry_reference
from portal.web.common import SECURITY_HEADERS

ONE_YEAR = "public, max-age=31536000, immutable"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _versioned(portal: StubbedPortal) -> str:
    """Where the pages load the static files: their version's address, as the portal named it as it started."""
    root: str = portal.app.state.static_root
    return root


def _static_addresses(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


@pytest.mark.parametrize(
    "file",
    [
        "portal.css",
        "portal.js",
        "vendor/govuk-frontend/govuk-frontend.min.css",
        "vendor/govuk-frontend/govuk-frontend.min.js",
    ],
)
def test_a_static_file_comes_gzipped_kept_a_year_under_its_version_with_the_security_headers(
    portal: StubbedPortal, file: str
) -> None:
    answer = portal.client().get(f"{_versioned(portal)}/{file}", headers={"Accept-Encoding": "gzip"})

    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.num_bytes_downloaded < len(answer.content)  # httpx has unzipped what came smaller
    assert answer.headers["cache-control"] == ONE_YEAR
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value


def test_every_page_names_its_static_files_under_their_version_and_the_plain_address_is_asked_again(
    portal: StubbedPortal,
) -> None:
    client = portal.client()
    shown = client.get("/sign-in", headers={"Accept-Encoding": "gzip"})

    addresses = _static_addresses(shown.text)
    assert len(addresses) == 4 and all(address.startswith(_versioned(portal) + "/") for address in addresses)
    for address in addresses:
        assert client.get(address).status_code == 200
    assert client.get("/static/portal.css").headers["cache-control"] == "no-cache"  # asked again, answered 304
    assert client.get("/static/v/0123456789ab/portal.css").headers["cache-control"] == "no-cache"  # another version


def test_a_page_is_not_compressed(portal: StubbedPortal) -> None:
    """A page holds the session's CSRF token next to what its address asked for: compressed, its length could tell
    the token to someone watching the line (BREACH)."""
    client, _ = portal.signed_in()
    shown = client.get("/account/password", headers={"Accept-Encoding": "gzip"})

    assert shown.status_code == 200 and len(shown.content) > 1000
    assert "content-encoding" not in shown.headers
    assert shown.headers["cache-control"] == "no-store"
    assert shown.num_bytes_downloaded == len(shown.content)


def test_the_menu_is_drawn_closed_from_the_first_paint_by_a_script_file_of_the_portal(portal: StubbedPortal) -> None:
    shown = portal.client().get("/sign-in")

    body = shown.text.split('<body class="govuk-template__body">', 1)[1]
    first = body.lstrip().split("\n", 1)[0]
    assert re.fullmatch(rf'<script src="{re.escape(_versioned(portal))}/supported.js"></script>', first)
    script = portal.client().get(f"{_versioned(portal)}/supported.js")
    assert script.status_code == 200 and 'classList.add("govuk-frontend-supported")' in script.text
    assert "'unsafe-inline'" not in shown.headers["content-security-policy"]


WAITING = {"status": "received", "decided_at": None, "failure_reason": None}
HELD = {"count": 1, "since": "2026-11-30T10:02:00Z"}


@pytest.mark.parametrize(
    "changes",
    [
        WAITING,
        {**WAITING, "maintenance": {"reason": "upgrade", "until": None, "message": "waits"}},
        {**WAITING, "status": "accepted", "held_in_dead_letters": HELD},
    ],
    ids=["queued", "maintenance", "held in dead letters"],
)
def test_a_waiting_batch_says_it_updates_itself_only_where_script_runs_and_always_offers_check_again(
    changes: dict[str, Any],
) -> None:
    html = batch_page(batch(**changes))

    status = html.split('id="batch-status"', 1)[1].split("</div>", 1)[0]
    assert re.search(r'<span class="portal-js-only">[^<]*updates itself when it is done\.?</span>', status)
    without_script = re.sub(r'<span class="portal-js-only">.*?</span>', "", status)
    assert "updates itself" not in without_script
    assert '?wait=20">Check again</a>' in status


def test_a_direct_entrys_page_offers_no_go_to_a_record_and_no_positions_in_a_file() -> None:
    entry = batch(
        status="completed",
        format="json",
        batch_reference=direct_entry_reference("0f1e2d3c-0000-4000-8000-000000000000"),
        counts={"total": 1, "accepted": 1, "rejected": 0, "warnings": 0, "no_ops": 0},
        failure_reason=None,
    )
    from_a_file = batch(
        status="completed", counts={"total": 2, "accepted": 2, "rejected": 0, "warnings": 0, "no_ops": 0}
    )

    typed, sent = batch_page(entry), batch_page(from_a_file)

    assert 'data-form="go-to-record"' not in typed and "in the file" not in typed
    assert "What the CSV" in typed  # its columns are still explained
    assert 'data-form="go-to-record"' in sent and "position (XML, JSON) in the file" in sent


def test_a_printed_batch_page_says_only_one_page_of_its_records_is_on_paper() -> None:
    done = batch(status="completed", counts={"total": 77, "accepted": 77, "rejected": 0, "warnings": 0, "no_ops": 0})

    assert "data-printed-page" not in batch_page(done)
    paged = batch_page(done, page=1, last_page=2, total=77)
    [said] = re.findall(r'<p class="govuk-body portal-print-only" data-printed-page>([^<]*)</p>', paged)
    assert said.startswith("Only page 1 of 2 of the records is printed.")
