"""Someone else's words shown on a page (a learner's challenge reason) cannot reorder what the reader sees."""

from __future__ import annotations

from portal.web.common import TEMPLATES


def test_a_learners_bidirectional_overrides_are_shown_as_code_points_on_every_page_that_shows_their_words() -> None:
    shown = TEMPLATES.from_string(
        '{% import "_macros.html" as ui %}{{ ui.erasable(words) }}|{{ ui.erasable(words, limit=9) }}'
    )
    page = shown.render(words="Grade \u202eC ton ,B\u202c <b>")
    assert page == "Grade [U+202E]C ton ,B[U+202C] &lt;b&gt;|Grade [U+202E]C "
