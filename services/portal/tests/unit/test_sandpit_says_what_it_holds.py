"""Where AO staff start in the Sandpit they are told what it holds (Sandpit walk, findings 1, 2, 4 and 7): it starts
empty and holds none of their live achievements, so an Update, Withdraw or Reinstate of a live result needs its Create
sent there first; it checks learners against live's registry, so they use their real learners' details and cannot
register any there; it resets itself after 30 days without a batch. The SANDPIT banner's title bar is orange, its
title legible on it; the operators' table of Sandpit keys says "Sandpit" once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal
from services.portal.tests.unit.test_batch_pages import page
from services.portal.tests.unit.test_chart_colours_contrast import contrast
from services.portal.tests.unit.test_inline_code_breaks_on_a_phone import rules
from services.portal.tests.unit.test_sandpit_keys import ACCOUNTS, AO, Sandpit, _table, _with_sandpit

import portal
from portal.accounts import Role

ORANGE = "#f47738"
GOVUK_CSS = Path(portal.__file__).parent / "static" / "vendor" / "govuk-frontend" / "govuk-frontend.min.css"


def _words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _sandpit(path: str) -> dict[str, object]:
    _, user = stubbed_portal().signed_in()
    return {"sandpit": True, "base": "/sandpit", "current_path": path, "user": user}


def test_the_sandpit_home_says_it_holds_only_what_was_sent_to_it_and_how_to_rehearse_with_learners() -> None:
    home = _words(page("sandpit_home.html", batches=[], **_sandpit("/sandpit")))

    assert "answers exactly as live would" not in home
    assert "it starts empty: it holds none of your live achievements, only what you have sent to it since it" in home
    assert "first send that achievement's Create to the Sandpit" in home
    assert "the Sandpit rejects the record (RV012, no such achievement) where live would accept it" in home
    assert "use your real learners' ULNs, names and dates of birth as they are registered" in home
    assert "no one can register a learner in the Sandpit" in home
    assert "A Sandpit that has been sent no batch or direct entry for 30 days is reset on its own" in home
    assert "no one has used" not in home


def test_the_sandpit_banner_and_upload_page_say_it_holds_none_of_the_live_achievements() -> None:
    upload = page("upload.html", errors={}, **_sandpit("/sandpit/batches/new"))
    banner = _words(upload.split('data-environment="sandpit"', 1)[1].split("</div>\n    </div>", 1)[0])
    live_upload = page("upload.html", errors={})

    assert "it holds none of your live achievements" in banner
    assert "the same checks and results as live" not in banner
    assert "send the achievement's Create here first" in _words(upload)
    assert "data-sandpit-holds" not in live_upload


def test_the_sandpit_banners_title_bar_is_orange_with_legible_black_text() -> None:
    found = rules()
    banner = dict(
        (name.strip(), value.strip())
        for name, value in (part.split(":", 1) for part in found[".portal-sandpit-banner"].split(";") if ":" in part)
    )

    # govuk-frontend 6 paints the title bar and border from these variables, not the banner's background-color
    header = re.search(r"\.govuk-notification-banner__header\{([^}]*)\}", GOVUK_CSS.read_text(encoding="utf-8"))
    assert header is not None
    assert "background-color:var(--_govuk-notification-banner-colour)" in header.group(1)
    assert "color:var(--_govuk-notification-banner-title-text-colour)" in header.group(1)
    assert banner["--_govuk-notification-banner-colour"] == ORANGE
    title = banner["--_govuk-notification-banner-title-text-colour"]
    assert contrast(title, ORANGE) >= 4.5, f"{title} on {ORANGE}: {contrast(title, ORANGE):.2f}:1"
    assert "color: #0b0c0c" in found[".portal-sandpit-banner .govuk-notification-banner__title"]
    assert contrast("#0b0c0c", ORANGE) >= 4.5


@pytest.fixture
def with_sandpit(monkeypatch: pytest.MonkeyPatch) -> tuple[StubbedPortal, Sandpit]:
    portal = stubbed_portal()
    return portal, _with_sandpit(portal, monkeypatch)


def test_the_operators_table_of_sandpit_keys_says_sandpit_once(with_sandpit: tuple[StubbedPortal, Sandpit]) -> None:
    portal, _ = with_sandpit
    client, _ = portal.signed_in(Role.OPERATOR, ACCOUNTS)

    for path, caption in (
        (f"/ops/accounts?keys_of={AO}", f"Sandpit API keys of {AO}"),
        ("/ops/accounts", "Sandpit AO API keys"),
    ):
        table = _table(client.get(path).text, "sandpit-keys")
        shown = re.search(r"<caption[^>]*>(.*?)</caption>", table, re.DOTALL)
        assert shown is not None
        assert _words(shown.group(1)) == caption
