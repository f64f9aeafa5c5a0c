"""An AO's challenge contact is named by something a reader sees: a given or family name of invisible characters alone
(a zero-width space) would head the AO's challenge emails and show on its portal page as a blank. The rule is the one
a challenge's reason and note keep (`lrs_contracts.text.has_visible_text`); the refusal is the 422 every other bad
contact field gets, naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from services.notifier.tests.unit.test_contact_access import Contacts, _client

from lrs_platform.problems import invalid_request
from notifier.api import NAME_UNSEEN, ChallengeContactUpdate
from notifier.emails import ChallengeContact

GOOD = {"given_name": "Ada", "family_name": "Bee", "telephone": "+44 20 7946 0000", "email": "c@rn9093.example"}
PATH = "/v1/ao/RN9093/challenge-contact"

INVISIBLE_ALONE = [
    "\u200b",  # a zero-width space
    "\u200b \u200b",
    "\ufeff\u2060",  # a byte order mark, a word joiner
    "\u200d\u00a0\u200c",  # a zero-width joiner, a no-break space, a zero-width non-joiner
    "\u3164\u2800",  # a Hangul filler, the braille blank
    "\u034f\ufe0f",  # a combining grapheme joiner, a variation selector
]


@pytest.mark.parametrize("field", ["given_name", "family_name"])
@pytest.mark.parametrize("name", INVISIBLE_ALONE)
def test_a_name_with_nothing_a_reader_sees_is_refused_naming_the_field(field: str, name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ChallengeContactUpdate.model_validate(GOOD | {field: name})

    assert [issue["loc"] for issue in refused.value.errors()] == [(field,)]
    assert invalid_request(refused.value.errors(), ("body",)).detail == f"body.{field}: {NAME_UNSEEN}"


@pytest.mark.parametrize("name", ["\u200bAda", "Zoë\u200d", "李", "O'Neill-Byrne", "\u2060X\u2060"])
def test_a_name_with_something_visible_among_invisible_characters_is_taken(name: str) -> None:
    taken = ChallengeContactUpdate.model_validate(GOOD | {"given_name": name, "family_name": name})

    assert (taken.given_name, taken.family_name) == (name, name)


async def test_a_put_of_a_zero_width_space_for_a_name_is_a_422_problem_and_nothing_is_stored() -> None:
    contacts = Contacts()
    async with _client("ao:RN9093", contacts) as client:
        answer = await client.put(PATH, json=GOOD | {"given_name": "\u200b"})

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "INVALID_REQUEST"
    assert answer.json()["detail"] == f"body.given_name: {NAME_UNSEEN}"
    assert contacts.writes == []


async def test_a_name_stored_before_the_rule_is_still_answered_so_the_ao_can_set_another() -> None:
    contacts = Contacts({"RN9093": ChallengeContact("\u200b", "Bee", "+44 20 7946 0000", "c@rn9093.example")})
    async with _client("ao:RN9093", contacts) as client:
        stored = await client.get(PATH)
        replaced = await client.put(PATH, json=GOOD)

    assert stored.status_code == 200
    assert stored.json()["given_name"] == "\u200b"
    assert replaced.status_code == 200
    assert replaced.json()["given_name"] == "Ada"
