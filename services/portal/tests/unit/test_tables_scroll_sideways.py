"""A data table wider than a phone's screen scrolls sideways in a region of its own, not the whole page (GOV.UK's
pattern): each is wrapped by `ui.scrolling_table`, a focusable region named as its caption names the table, and
the portal's stylesheet lets that region, not the page, scroll."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

import portal
from portal.accounts import Role

CSS = Path(portal.__file__).parent / "static" / "portal.css"
WRAPPED = re.compile(
    r'<div class="portal-table-scroll" role="region" aria-label="(?P<label>[^"]+)" tabindex="0">\s*'
    r'<table class="govuk-table"[^>]*>\s*<caption[^>]*>(?P<caption>[^<]+)</caption>'
)


def wrapped_tables(page: str) -> list[tuple[str, str]]:
    """(region label, table caption) of every data table on `page`, wrapped or not (an unwrapped one: ('', ''))."""
    found = [(match["label"], match["caption"]) for match in WRAPPED.finditer(page)]
    return found + [("", "")] * (page.count('<table class="govuk-table"') - len(found))


def challenge(challenge_id: str, state: str) -> dict[str, object]:
    return {
        "challenge_id": challenge_id,
        "achievement_id": "66666666-7777-4888-9999-000000000000",
        "ao_id": "RN9093",
        "uln": "1000000043",
        "reason": "My grade was a 5.",
        "state": state,
        "raised_at": "2026-11-30T10:00:00Z",
        "acknowledged_at": None,
        "resolved_at": "2026-12-01T09:00:00Z" if state == "resolved" else None,
        "resolution": "upheld" if state == "resolved" else None,
        "note": None,
        "personal_data_erased": False,
        "achievement": None,
        "correcting_batch_id": None,
    }


def with_challenges(portal: StubbedPortal) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        state = "resolved" if "resolved" in request.url.params.get_list("state") else "raised"
        items = [challenge("0c9e6b2a-7d1f-4e3a-9b5c-2a8f6d4e1b37", state)]
        return httpx.Response(200, json={"items": items, "next": None})

    portal.on("GET", "challenges/v1/challenges", answer)


def test_the_challenge_lists_tables_scroll_in_a_region_named_as_the_table() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()
    with_challenges(portal)

    assert wrapped_tables(client.get("/challenges").text) == [
        ("Challenges: Open", "Open"),
        ("Challenges: Resolved, newest first", "Resolved, newest first"),
    ]
    assert wrapped_tables(client.get("/challenges/resolved").text) == [
        ("Challenges: Resolved, newest first", "Resolved, newest first")
    ]


def test_every_mi_table_scrolls_in_a_region_named_as_the_table() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)
    for report in ("submissions", "timeliness", "plr-timeliness", "rejections", "challenges"):
        portal.on("GET", f"reporting/v1/reports/{report}", lambda _: httpx.Response(200, json={"items": []}))

    tables = wrapped_tables(client.get("/mi?months=3").text)

    assert len(tables) == 8
    assert all(label == caption and caption.endswith(": the numbers") for label, caption in tables)


def test_the_region_scrolls_sideways_and_shows_when_it_has_the_keyboard() -> None:
    rules = dict(re.findall(r"^(\.portal-table-scroll[^{]*?)\s*\{([^}]*)\}", CSS.read_text(), re.MULTILINE))

    assert "overflow-x: auto" in rules[".portal-table-scroll"]
    assert "outline: 3px solid #ffdd00" in rules[".portal-table-scroll:focus"]


def test_the_region_holds_the_hidden_texts_of_its_table() -> None:
    """`govuk-visually-hidden` text is `position: absolute`: placed by the nearest positioned box, which must be the
    region, or it stretches the page sideways on a phone (the browser tests measure it at 320 pixels wide)."""
    rules = dict(re.findall(r"^(\.portal-[a-z-]+)\s*\{([^}]*)\}", CSS.read_text(), re.MULTILINE))

    assert "position: relative" in rules[".portal-table-scroll"]
    assert "flex-wrap: wrap" in rules[".portal-account-bar"]  # its links go onto a second line rather than off


def test_every_data_table_of_every_template_is_wrapped_to_scroll_on_its_own() -> None:
    """A table added later without the wrapper would make its whole page scroll sideways on a phone again."""
    templates = Path(portal.__file__).parent / "templates"
    opened = re.compile(r"\{%\s*call\s+\w+\.scrolling_table\(")
    unwrapped = []
    for template in sorted(templates.glob("*.html")):
        lines = template.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.lstrip().startswith('<table class="govuk-table"'):
                before = lines[number - 1] if number else ""
                if not (opened.search(before) or opened.search(line)):
                    unwrapped.append(f"{template.name}:{number + 1}")
    assert unwrapped == []
