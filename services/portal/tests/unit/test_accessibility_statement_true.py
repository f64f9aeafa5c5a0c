"""The accessibility statement says what is true of the portal: its example of a page whose Back asks to send a form
again without JavaScript is one still drawn as a form's answer (the check of an uploaded file), not a learner's page,
which is asked by GET since look-ups redirect (test_learner_looked_up_by_get)."""

from __future__ import annotations

from services.portal.tests.unit.stubbed_portal import stubbed_portal
from services.portal.tests.unit.test_help_for_anyone import words

from portal.web.common import TEMPLATES


def test_the_statements_back_without_javascript_example_is_a_page_drawn_from_a_form() -> None:
    statement = stubbed_portal().client().get("/help/accessibility").text

    back = words(next(item for item in statement.split("<li>") if "Confirm Form Resubmission" in item))

    assert "the check of a file you uploaded" in back
    assert "such as a learner's page after you looked them up" not in back
    assert "A learner's page after you looked them up is not one of these" in back
    # what the statement says of each page, as the pages are: the check is drawn as the upload's answer
    check = TEMPLATES.loader.get_source(TEMPLATES, "check.html")[0]  # type: ignore[union-attr]
    assert "data-drawn-from-post" in check
