"""Someone else's words shown on a page (a learner's challenge reason) cannot reorder what the reader sees."""

from __future__ import annotations

import re
from pathlib import Path

import portal
from portal.web.common import TEMPLATES


def test_a_learners_bidirectional_overrides_are_shown_as_code_points_on_every_page_that_shows_their_words() -> None:
    shown = TEMPLATES.from_string(
        '{% import "_macros.html" as ui %}{{ ui.erasable(words) }}|{{ ui.erasable(words, limit=9) }}'
    )
    page = shown.render(words="Grade \u202eC ton ,B\u202c <b>")
    assert page == "Grade [U+202E]C ton ,B[U+202C] &lt;b&gt;|Grade [U+202E]C "


def test_an_aos_mis_identifier_is_shown_with_its_bidirectional_controls_as_code_points() -> None:
    """An MIS identifier is an AO's free text (ingest keeps a bidirectional override in it): every template printing
    one shows its controls as code points, as a learner's words are."""
    templates = Path(portal.__file__).parent / "templates"
    printed = [
        (template.name, expression.strip())
        for template in sorted(templates.glob("*.html"))
        for expression in re.findall(r"{{(.*?)}}", template.read_text(encoding="utf-8"))
        if "mis_identifier" in expression and not expression.strip().startswith("ui.text_input")  # what one typed
    ]
    assert printed, "no template prints an MIS identifier"
    assert [(name, expression) for name, expression in printed if "| bidi_shown" not in expression] == []
    shown = TEMPLATES.from_string("{{ (mis_identifier or '') | bidi_shown }}").render(mis_identifier="MIS\u202eX")
    assert shown == "MIS[U+202E]X"
