"""A control character at either end of a text is refused as one inside it, not stripped away by a model that strips
white space (property walk, finding 3): Python's `str.strip()` takes U+000B, U+000C and U+001C to U+001F for white
space, so "Lily\\x0b" would have been stored as "Lily" by the registry API while a batch's file is refused for it."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from lrs_contracts.text import WHITE_SPACE, OneLineText, StorableText


class _Stripped(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: OneLineText
    note: StorableText = ""


@pytest.mark.parametrize("value", ["Lily\x0b", "\x1cA", "\x0cLily", "Lily\x1f"])
def test_a_control_character_at_an_end_is_refused_naming_it(value: str) -> None:
    with pytest.raises(ValidationError, match="holds the control character U\\+00"):
        _Stripped(name=value)
    with pytest.raises(ValidationError, match="holds the control character U\\+00"):
        _Stripped(name="Lily", note=value)


@pytest.mark.parametrize("value", [" Lily ", "Lily\t", "\u00a0Lily\n", "Lily\u3000"])
def test_white_space_at_the_ends_is_still_trimmed(value: str) -> None:
    assert _Stripped(name=value).name == "Lily"


def test_the_white_space_trimmed_holds_no_control_character() -> None:
    assert not {"\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f"} & set(WHITE_SPACE)
    assert {" ", "\t", "\r", "\n", "\u00a0"} <= set(WHITE_SPACE)
