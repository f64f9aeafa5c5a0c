"""The projector's routes refuse an AO id or a UKPRN of the wrong form in words (as a ULN is), not with the
pattern's regular expression; an AO id in lower case is the register's in capitals, as a batch header's is."""

from __future__ import annotations

import pytest

from .test_malformed_uln_and_unseen_text import Untouched, _client


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("/v1/admin/centre-reports/hidden", {"ukprn": "12"}, "query.ukprn: a UKPRN is 8 digits"),
        (
            "/v1/ao/achievements",
            {"uln": "1000000043", "ao_id": "XX"},
            "query.ao_id: an AO id is RN followed by 1 to 8 digits, e.g. RN9093",
        ),
    ],
)
async def test_a_wrong_form_is_refused_in_words(path: str, params: dict[str, str], detail: str) -> None:
    async with _client("operator:ops") as client:
        answer = await client.get(path, params=params)

    assert answer.status_code == 422, answer.text
    assert (answer.json()["code"], answer.json()["detail"]) == ("INVALID_REQUEST", detail)
    assert Untouched.reached == []


async def test_an_ao_id_in_lower_case_is_taken() -> None:
    async with _client("operator:ops") as client:
        answer = await client.get("/v1/ao/achievements", params={"uln": "1000000043", "ao_id": "rn9093"})

    assert answer.status_code != 422, answer.text
    assert Untouched.reached  # it went on to the projector
