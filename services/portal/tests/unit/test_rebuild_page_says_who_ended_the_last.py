"""The operators' rebuild page, with no rebuild running, says which rebuild was ended last, how and by whom (the
projector's `last`, from plr_ops.rebuilds' `finished_by`), as a running one's says who started it."""

from __future__ import annotations

import re

import httpx
from services.portal.tests.unit.stubbed_portal import stubbed_portal

from portal.accounts import Role

REBUILD = "plr-projector/v1/admin/rebuild"


def _last_rebuild_row(text: str) -> str:
    row = re.search(r"<div[^>]*data-last-rebuild>.*?</div>", text, re.DOTALL)
    assert row is not None, text
    return re.sub(r"<[^>]+>", " ", row.group(0))


def test_the_last_rebuild_switched_to_is_shown_with_who_switched_and_when() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.OPERATOR)
    last = {"rebuild_id": 8, "state": "switched", "finished_by": "operator:alex", "finished_at": "2026-12-06T06:29:00Z"}
    portal.on("GET", REBUILD, lambda _: httpx.Response(200, json={"state": "idle", "last": last}))

    shown = client.get("/ops/rebuild")

    assert shown.status_code == 200
    said = " ".join(_last_rebuild_row(shown.text).split())
    assert said == "Last rebuild 8, switched to by operator:alex on 6 Dec 2026, 06:29 (UK time)"


def test_no_last_rebuild_no_row() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.OPERATOR)
    portal.on("GET", REBUILD, lambda _: httpx.Response(200, json={"state": "idle"}))

    assert "data-last-rebuild" not in client.get("/ops/rebuild").text
