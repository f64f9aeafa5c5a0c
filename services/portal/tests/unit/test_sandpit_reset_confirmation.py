"""A reset's confirmation says only what is true: a batch still uploading when the reset was sent is kept
(decision 0120), so "no Sandpit batches now" would not be."""

from __future__ import annotations

import re

from services.portal.tests.unit.stubbed_portal import stubbed_portal
from services.portal.tests.unit.test_batch_pages import page


def test_the_confirmation_says_what_went_and_what_was_kept() -> None:
    _, user = stubbed_portal().signed_in()
    sandpit = {"sandpit": True, "base": "/sandpit", "current_path": "/sandpit/reset", "user": user}
    reset = {"reset_id": "r1", "ao_id": "RN9093", "status": "completed"}

    done = page("sandpit_reset.html", reset=reset, done=True, **sandpit)

    panel = re.search(r'<div class="govuk-panel__body">(.*?)</div>', done, re.DOTALL)
    assert panel is not None
    assert panel.group(1) == (
        "Everything RN9093 sent to the Sandpit before the reset is gone; a batch still uploading when you reset is kept"
    )
    assert "has no Sandpit batches" not in done
