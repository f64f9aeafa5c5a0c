"""An AO's challenge contact asked for at an address whose AO id is of the wrong form is refused in words, not with
the pattern's regular expression; `rn9093` is the AO RN9093, as a batch's header and the CLI read it."""

from __future__ import annotations

from .test_contact_access import CONTACT, Contacts, _client


async def test_an_ao_id_of_the_wrong_form_is_refused_in_words() -> None:
    contacts = Contacts()
    async with _client("operator:ops", contacts) as client:
        answer = await client.get("/v1/ao/XX/challenge-contact")

    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == "path.ao_id: an AO id is RN followed by 1 to 8 digits, e.g. RN9093"


async def test_an_ao_id_in_lower_case_is_the_aos_own() -> None:
    contacts = Contacts()
    async with _client("ao:RN9093", contacts) as client:
        written = await client.put("/v1/ao/rn9093/challenge-contact", json=CONTACT)
        read = await client.get("/v1/ao/rn9093/challenge-contact")

    assert written.status_code == 200, written.text
    assert read.status_code == 200, read.text
    assert contacts.writes == ["RN9093"]
