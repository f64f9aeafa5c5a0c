"""A /problems/<code> page is headed by the code's short title, never by the paragraph of Markdown that says what it
means (that paragraph is the page's first section), and it names docs/rules.md as a file, not as a link."""

from __future__ import annotations

import re

import pytest

from lrs_contracts.codes import CODE_EXPLANATIONS, PROBLEM_CODE_EXPLANATIONS, title_of
from lrs_platform.problems import problem_index_page, problem_page

_EVERY_CODE = [*CODE_EXPLANATIONS, *PROBLEM_CODE_EXPLANATIONS]


def _heading(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("code", _EVERY_CODE)
def test_every_problem_page_is_headed_by_a_short_title(code: str) -> None:
    title = title_of(code)
    assert title, f"{code} has no short title"
    page = problem_page(code)
    assert page is not None
    heading = _heading(page)
    assert "`" not in heading and len(heading) <= len(code) + 2 + 90, heading
    assert f"<title>{_heading(page)}</title>" in page


def test_a_service_codes_page_says_its_title_and_keeps_its_meaning_below() -> None:
    page = problem_page("BATCH_OF_ANOTHER_AO")
    assert page is not None
    assert _heading(page) == "BATCH_OF_ANOTHER_AO: The batch is another awarding organisation&#x27;s"
    assert "<dt>What it means</dt><dd>The batch header's <code>AwardingOrganisation</code>" in page


def test_docs_rules_md_is_named_as_a_file_of_the_source_code() -> None:
    page = problem_page("RV015")
    assert page is not None
    assert "the rules in full: docs/rules.md" not in page
    assert "the file docs/rules.md of the LRS source code" in page


def test_the_index_lists_every_code_by_its_short_title() -> None:
    index = problem_index_page()
    assert "`" not in index
    assert '<a href="/problems/CHALLENGE_ALREADY_OPEN">CHALLENGE_ALREADY_OPEN</a>: Challenge already open</li>' in index
