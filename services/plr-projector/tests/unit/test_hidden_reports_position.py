"""The position a page of hidden centre reports hands out (`next`, read back as `after`): its provider and its place
by ULN among that provider's ended links, never the ULN itself (the list masks ULNs); anything no page handed out is
refused (the route answers 422)."""

from __future__ import annotations

import base64

import pytest

from lrs_platform.paging import InvalidPageToken
from plr_projector.store import HiddenReportsPosition


def test_a_position_reads_back_as_it_was_handed_out() -> None:
    position = HiddenReportsPosition("10004567", 12)

    assert HiddenReportsPosition.of_token(position.token()) == position
    assert "=" not in position.token()


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "not-a-position",
        "%%%",
        _token("10004567"),
        _token("10004567|"),
        _token("10004567|0"),
        _token("10004567|-1"),
        _token("10004567|1|2"),
        _token("1000456|1"),
        _token("1000456X|1"),
        _token("10004567|\u0661"),  # a digit, but not an ASCII one
        _token("10004567|99999999999"),
        _token("2026-12-06T10:00:00+00:00|3b9e0d7c-2f43-4e0a-9b36-5c1d2a7e0001"),  # another list's
    ],
)
def test_a_position_no_page_handed_out_is_refused(token: str) -> None:
    with pytest.raises(InvalidPageToken, match=r"^query\.after: not a page position this list handed out"):
        HiddenReportsPosition.of_token(token)
