"""Keyset pages' positions and the statements' filters: what a list hands out is what it reads back."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lrs_platform.database import where_given
from lrs_platform.paging import InvalidPageToken, PagePosition, beyond


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 12, 1, 19, 30, 5, 123456, tzinfo=UTC),
        datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_a_position_reads_back_from_its_token_as_it_was(at: datetime) -> None:
    position = PagePosition(at, uuid.uuid4())

    token = position.token()

    assert PagePosition.of_token(token) == position
    assert token.isascii() and "=" not in token and "/" not in token and "+" not in token  # safe in a URL as it is


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token",
        base64.urlsafe_b64encode(b"2026-12-01T19:30:05+00:00").decode(),  # no id
        base64.urlsafe_b64encode(b"yesterday|" + str(uuid.uuid4()).encode()).decode(),
        base64.urlsafe_b64encode(b"2026-12-01T19:30:05+00:00|not-a-uuid").decode(),
        base64.urlsafe_b64encode(b"2026-12-01T19:30:05|" + str(uuid.uuid4()).encode()).decode(),  # no zone
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        # times whose UTC form is outside years 1 to 9999: no row's, and PostgreSQL could not be sent them
        base64.urlsafe_b64encode(b"0001-01-01T00:00:00+14:00|" + str(uuid.uuid4()).encode()).decode(),
        base64.urlsafe_b64encode(b"9999-12-31T23:59:00-10:00|" + str(uuid.uuid4()).encode()).decode(),
    ],
)
def test_a_token_no_list_handed_out_is_refused_as_such(token: str) -> None:
    with pytest.raises(InvalidPageToken, match="pass back its `next` as it is"):
        PagePosition.of_token(token)


def test_the_conditions_beyond_a_position_bound_the_time_first_then_break_ties_by_id() -> None:
    position = PagePosition(datetime(2026, 12, 1, tzinfo=UTC), uuid.uuid4())

    newest_first, values = beyond(position, at="raised_at", row_id="challenge_id", newest_first=True, first=3)
    oldest_first, _ = beyond(position, at="erased_at", row_id="erasure_id", newest_first=False)

    assert newest_first == ["raised_at <= $3", "(raised_at < $3 OR challenge_id > $4)"]
    assert values == [position.at, position.id]
    assert oldest_first == ["erased_at >= $1", "(erased_at > $1 OR erasure_id > $2)"]


def test_a_filter_of_several_values_matches_any_and_one_of_a_single_value_is_an_equality() -> None:
    where, values = where_given(
        {"ao_id": "RN5133", "uln": ["1000000043", "1000000051"], "state": ("raised",), "topic": None},
        also=["raised_at <= $1"],
        first=2,
    )

    assert where == " WHERE raised_at <= $1 AND ao_id = $2 AND uln = ANY($3) AND state = $4"
    assert values == ["RN5133", ["1000000043", "1000000051"], "raised"]
    assert where_given({"uln": frozenset()}) == (" WHERE uln = ANY($1)", [[]])  # none of no values: no row
