"""What a browser keeps of a page in its history (the address and the title) holds no learner's full ULN: a
challenge's title shows the ULN masked as logs do (the page itself shows it whole)."""

from __future__ import annotations

import re

from services.portal.tests.unit.stubbed_portal import stubbed_portal
from services.portal.tests.unit.test_challenge_pages import CHALLENGE_ID, challenge, with_a_challenge


def test_a_challenge_page_is_titled_with_the_uln_masked_and_shows_it_whole() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()
    with_a_challenge(portal, challenge())

    shown = client.get(f"/challenges/{CHALLENGE_ID}").text

    title = re.search(r"<title>(.*?)</title>", shown, re.DOTALL)
    assert title is not None
    assert title.group(1).startswith("Challenge to an achievement of ULN ******0043 ")
    assert '<h1 class="govuk-heading-l">Challenge to an achievement of ULN 1000000043</h1>' in shown
