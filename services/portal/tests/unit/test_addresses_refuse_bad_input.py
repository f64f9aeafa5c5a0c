"""Bad input in a page's address: a query value holding a control character, a line break or a bidirectional
control, or bytes that are not UTF-8 text, is the page not found (as a value too long for its field is), never
written back into a form; a key id holding one never reaches PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stored, stubbed_portal, with_a_sandpit

from lrs_platform.credential_store import StoredKey
from portal.accounts import Role


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def is_page_not_found(answer: httpx.Response) -> bool:
    return (
        answer.status_code == 404
        and answer.headers["content-type"].startswith("text/html")
        and "Page not found" in answer.text
    )


REFUSED_QUERIES = [
    "given_name=Ann%00e",
    "given_name=Ann%1b%5b31me",
    "grade=A%01",
    "family_name=Jo%0Anes",
    "pathway=Path%E2%80%AEway",  # RIGHT-TO-LEFT OVERRIDE
    "pathway=%ED%A0%80",  # a lone surrogate's bytes: not UTF-8
    "given_name=Ann%FFe",
    "uln=10000%C2%9B43",  # C1 control: a terminal's CSI
]


@pytest.mark.parametrize("query", REFUSED_QUERIES)
@pytest.mark.parametrize("page", ["/direct-entry", "/sandpit/direct-entry"])
def test_a_direct_entry_address_holding_what_no_field_takes_is_page_not_found(
    monkeypatch: pytest.MonkeyPatch, page: str, query: str
) -> None:
    client, _ = with_a_sandpit(stubbed_portal(), monkeypatch).signed_in()

    answer = client.get(f"{page}?{query}")

    assert is_page_not_found(answer), (answer.status_code, answer.text[:500])
    assert "\ufffd" not in answer.text


@pytest.mark.parametrize("page", ["/direct-entry", "/sandpit/direct-entry"])
def test_a_direct_entry_address_in_utf8_fills_the_form_as_typed(monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    client, _ = with_a_sandpit(stubbed_portal(), monkeypatch).signed_in()

    answer = client.get(f"{page}?given_name=Si%C3%A2n&family_name=%C3%93+S%C3%BAilleabh%C3%A1in&grade=A%2A")

    assert answer.status_code == 200
    assert 'value="Siân"' in answer.text
    assert 'value="Ó Súilleabháin"' in answer.text
    assert 'value="A*"' in answer.text


@pytest.mark.parametrize(
    "query", ["next=%2Fbatches%00", "next=%2Fbatches%0D%0ASet-Cookie", "ended=page%1b", "next=%2F%ED%A0%80"]
)
def test_a_sign_in_address_holding_what_no_path_takes_is_page_not_found(portal: StubbedPortal, query: str) -> None:
    answer = portal.client().get(f"/sign-in?{query}")

    assert is_page_not_found(answer), (answer.status_code, answer.text[:500])


def test_a_sign_in_address_naming_a_page_still_leads_there(portal: StubbedPortal) -> None:
    answer = portal.client().get("/sign-in?next=%2Fbatches%3Fpage%3D2&ended=page")

    assert answer.status_code == 200
    assert 'value="/batches?page=2"' in answer.text


@pytest.mark.parametrize("key_id", ["ab%00cd", "ab%01cd", "ab%E2%80%AEcd"])
def test_asking_to_revoke_a_key_id_holding_a_control_character_is_page_not_found_before_the_keys_are_read(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch, key_id: str
) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    asked: list[str] = []
    revoked_ao_key = portal.keys.revoked_ao_key

    async def read_as_postgresql_does(key_id: str) -> StoredKey | None:
        asked.append(key_id)
        stored(key_id)
        return await revoked_ao_key(key_id)

    monkeypatch.setattr(portal.keys, "revoked_ao_key", read_as_postgresql_does)

    answer = client.get(f"/ops/keys/{key_id}/revoke")

    assert is_page_not_found(answer), (answer.status_code, answer.headers["content-type"], answer.text[:500])
    assert asked == []


def test_asking_to_revoke_an_unknown_key_id_is_still_looked_up(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    asked: list[str] = []
    revoked_ao_key = portal.keys.revoked_ao_key

    async def recorded(key_id: str) -> StoredKey | None:
        asked.append(key_id)
        return await revoked_ao_key(key_id)

    monkeypatch.setattr(portal.keys, "revoked_ao_key", recorded)

    answer = client.get("/ops/keys/abcd/revoke")

    assert is_page_not_found(answer)
    assert asked == ["abcd"]
