"""The key form's label says its limit and holds no more from one constant (review walk, finding 11): the field was a
hand copy of `ui.text_input` with the limit written twice in the page, so the hint and the input's `maxlength` could
drift from the key store's `MAX_LABEL_CHARACTERS` and from each other."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import stubbed_portal

from portal.accounts import Role
from portal.web import account_pages


def test_the_hint_and_the_input_follow_the_limit_passed_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(account_pages, "MAX_LABEL_CHARACTERS", 60)
    client, _ = stubbed_portal().signed_in(Role.OPERATOR)

    page = client.get("/ops/accounts").text

    [label_input] = [line for line in page.splitlines() if 'id="label" name="label"' in line]
    assert 'maxlength="60"' in label_input
    assert 'aria-describedby="label-hint"' in label_input
    assert '<div id="label-hint" class="govuk-hint">Who or what will use it, in 60 characters or fewer</div>' in page
