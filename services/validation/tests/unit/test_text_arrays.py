"""A list of text goes to PostgreSQL joined by commas only when the server's split gives it back."""

from __future__ import annotations

import pytest

from validation.text_arrays import text_array


def test_values_without_commas_go_joined_and_are_split_by_the_server() -> None:
    assert text_array(["1234567890", "60012345"], 2) == ("string_to_array($2::text, ',')", "1234567890,60012345")


@pytest.mark.parametrize("values", [["1234567890", "12,34"], ["1234567890", ""], [""], []])
def test_values_the_split_would_not_give_back_go_as_an_array(values: list[str]) -> None:
    assert text_array(values, 1) == ("$1::text[]", values)
