"""The advice the portal shows for a code (a record's "What to do", a batch's) is printed as plain text, as it is in
emails and the CLI: a `fix` of a batch, record or warning code carries no Markdown, so no backtick reaches a reader.
RV021's advice said "no `?` or U+FFFD" and "the action `Create`, `Update` …" with the backticks on the page."""

from __future__ import annotations

import re

import pytest

from portal.explanations import ALL_CODES, explain

# a code span, emphasis, or a link: the Markdown docs/rules.md and the /problems pages render
_MARKDOWN = re.compile(r"`|\*\*|\]\(|(?<![\w])_[^_\s][^_]*_(?![\w])")


@pytest.mark.parametrize("code", ALL_CODES)
def test_the_advice_of_every_code_has_no_markdown(code: str) -> None:
    advice = explain(code).advice
    assert not _MARKDOWN.search(advice), f"{code}: {advice}"


def test_rv021_names_the_lost_letter_in_words_a_reader_can_see() -> None:
    advice = explain("RV021").advice
    assert "U+FFFD" not in advice
    assert "no ? or \N{REPLACEMENT CHARACTER} (a letter lost when the file was saved" in advice
    assert "the action Create, Update, Withdraw or Reinstate." in advice


def test_rv015_says_what_to_do_and_does_not_say_there_is_nothing_to_do() -> None:
    advice = explain("RV015").advice
    assert "nothing to do" not in advice
    assert "Take it out of the file before you send the file again" in advice
    assert "30% limit (RS005)" in advice


def test_rv007_and_rs005_say_what_to_do_where_they_are_read() -> None:
    assert "Leave this record out of your batches." in explain("RV007").advice
    rs005 = explain("RS005").advice
    assert "listed below" not in rs005 and "listed on the batch's page" in rs005
    assert "records that were accepted" not in rs005 and "records that passed their checks" in rs005
