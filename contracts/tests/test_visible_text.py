"""`has_visible_text`: the one rule for text that must say something to whoever reads it (a challenge's reason and
note, an AO's challenge contact's names). Spaces, line breaks, control and format characters and the few others
that show as nothing are not enough; one character a reader sees among them is."""

from __future__ import annotations

import pytest

from lrs_contracts.text import has_visible_text


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "\u200b\u200b",  # zero-width spaces
        "\ufeff \u2060",  # a byte order mark, a word joiner
        "\u200d\n\t\u00a0",  # a zero-width joiner, a line break, a tab, a no-break space
        "\u202e\u2066\u2069",  # bidirectional controls
        "\u3164\u2800\uffa0",  # Hangul fillers, the braille blank
        "\u034f\u17b4\u180b\ufe0f\U000e0100",  # a grapheme joiner, a Khmer vowel, variation selectors
        "\x00\x7f\u0085\u2028\u2029\u3000",  # controls, line and paragraph separators, an ideographic space
    ],
)
def test_nothing_a_reader_sees_is_not_visible_text(text: str | None) -> None:
    assert not has_visible_text(text)


@pytest.mark.parametrize("text", ["5", "\u200bThe grade is a 5", "\u2060é\u2060", "👩\u200d💻", "李"])
def test_one_character_a_reader_sees_is_visible_text(text: str) -> None:
    assert has_visible_text(text)
