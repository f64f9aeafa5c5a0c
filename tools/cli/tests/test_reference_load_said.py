"""`lrs reference load` says what the load changed (added, removed, changed, as stored), sends the operator's
`--allow-removals` and `--allow-ao-changes`, and shows a refusal in the command's own words: the file and the
parser's reason, or the counts and the option that allows the load."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lrs_cli.admin_commands import load_reference
from lrs_cli.client import AnswerError
from lrs_contracts.codes import ProblemCode
from lrs_platform.problems import PROBLEM_MEDIA_TYPE


class Answering:
    """A connection whose validation answers the load with `status` and `answer`, keeping the request."""

    sandpit = False

    def __init__(self, status: int, answer: dict[str, Any]) -> None:
        self._status, self._answer = status, answer
        self.asked: list[httpx.Request] = []

    def _answer_for(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        media = PROBLEM_MEDIA_TYPE if self._status >= 400 else "application/json"
        return httpx.Response(self._status, json=self._answer, headers={"Content-Type": media})

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self._answer_for), base_url="http://validation")


LOADED = {
    "awarding_organisations": 126,
    "qualifications": 8113,
    "added": 1,
    "removed": 0,
    "changed": 2,
    "catalogue_version": 5,
}


def test_a_load_says_what_it_added_removed_and_changed() -> None:
    validation = Answering(200, LOADED)

    said = load_reference(validation)  # type: ignore[arg-type]

    assert said == (
        "loaded 8,113 qualifications of 126 awarding organisations (catalogue version 5): 1 added, 0 removed, 2 changed"
    )
    assert validation.asked[0].url.params.multi_items() == []


def test_the_operators_allowances_are_sent() -> None:
    validation = Answering(200, LOADED)

    load_reference(validation, allow_removals=True, allow_ao_changes=True)  # type: ignore[arg-type]

    assert dict(validation.asked[0].url.params) == {"allow_removals": "true", "allow_ao_changes": "true"}


def test_a_refused_load_names_the_option_that_allows_it() -> None:
    refused = {
        "type": "/problems/REFERENCE_LOAD_UNCONFIRMED",
        "title": "The reference load needs confirming",
        "status": 409,
        "code": ProblemCode.REFERENCE_LOAD_UNCONFIRMED,
        "detail": "8,112 → 20: 8,092 qualifications would be removed (more than 5% of the catalogue; if that is"
        " meant, query.allow_removals allows it). Nothing was loaded.",
    }

    with pytest.raises(AnswerError) as error:
        load_reference(Answering(409, refused))  # type: ignore[arg-type]

    assert "8,112 → 20: 8,092 qualifications would be removed" in str(error.value)
    assert "if that is meant, --allow-removals allows it). Nothing was loaded." in str(error.value)
    assert error.value.code == ProblemCode.REFERENCE_LOAD_UNCONFIRMED
