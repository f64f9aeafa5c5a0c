"""Who set an AO's challenge contact is kept with the id of the key they called with (as a batch keeps
`submitted_with_key`): an operator reads both; the AO reads its own key's id, as it reads a batch's, and only "an LRS
operator" for a change an operator made."""

from __future__ import annotations

import httpx
import pytest
from services.notifier.tests.unit.test_contact_access import CONTACT, Contacts

from lrs_domain.reference_files import load_register
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal, PrincipalKind
from notifier.api import router

PATH = "/v1/ao/RN9093/challenge-contact"
AO = Principal(PrincipalKind.AO, "RN9093", key_id="1fbcd3a539863d9a")  # a portal session's key
DESK = Principal(PrincipalKind.OPERATOR, "desk", key_id="0a1b2c3d4e5f6789")


def _client(principal: Principal, contacts: Contacts) -> httpx.AsyncClient:
    app = build_app("notifier", title="Notifier", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.contacts = contacts
    app.state.register = frozenset(load_register())
    app.dependency_overrides[current_principal] = lambda: principal
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier")


class KeptContacts(Contacts):
    """The fake store, answering a read with what the last write kept (its principal and key)."""

    async def put(self, ao_id, contact, updated_by, *, with_key=None):  # type: ignore[no-untyped-def]
        self.last = await super().put(ao_id, contact, updated_by, with_key=with_key)
        return self.last

    async def get(self, ao_id):  # type: ignore[no-untyped-def]
        return getattr(self, "last", None)


async def test_the_aos_change_keeps_its_key_and_both_it_and_an_operator_read_it() -> None:
    contacts = KeptContacts()
    async with _client(AO, contacts) as client:
        put = await client.put(PATH, json=CONTACT)
        got = await client.get(PATH)
    assert put.status_code == got.status_code == 200, put.text
    assert contacts.last.updated_by == "ao:RN9093" and contacts.last.updated_with_key == "1fbcd3a539863d9a"
    for answer in (put, got):
        assert answer.json()["updated_by"] == "ao:RN9093"
        assert answer.json()["updated_with_key"] == "1fbcd3a539863d9a"
    async with _client(DESK, contacts) as client:
        seen = (await client.get(PATH)).json()
    assert (seen["updated_by"], seen["updated_with_key"]) == ("ao:RN9093", "1fbcd3a539863d9a")


@pytest.mark.parametrize("reader", [AO, DESK], ids=["the AO", "an operator"])
async def test_an_operators_change_keeps_its_key_which_only_operators_read(reader: Principal) -> None:
    contacts = KeptContacts()
    async with _client(DESK, contacts) as client:
        put = await client.put(PATH, json=CONTACT)
    assert put.status_code == 200, put.text
    assert contacts.last.updated_with_key == "0a1b2c3d4e5f6789"
    async with _client(reader, contacts) as client:
        seen = (await client.get(PATH)).json()
    if reader.is_operator:
        assert (seen["updated_by"], seen["updated_with_key"]) == ("operator:desk", "0a1b2c3d4e5f6789")
    else:
        assert (seen["updated_by"], seen["updated_with_key"]) == ("an LRS operator", None)
