"""`POST /v1/admin/users/{username}/reset-password` sent twice at once (two operators, a script's retry): both were
answered 200 with a password and only one of them worked. It sets the password only if it is still the one the
request read (the portal's confirmation does the same): the other answers 409 and sets none."""

from __future__ import annotations

import asyncio
from typing import Any

from services.portal.tests.unit.stubbed_portal import OperatorKey, StubbedPortal, stubbed_portal

from portal.accounts import Role

BEARER = {"Authorization": "Bearer lrs_k_s"}


def _another_reset_lands_first(portal: StubbedPortal, username: str) -> list[str]:
    """The first set_password call is preceded by another operator's reset of the same account; returns the
    password that reset gave."""
    original = portal.accounts.set_password
    given: list[str] = []

    async def other_first(*args: Any, **kwargs: Any) -> Any:
        portal.accounts.set_password = original  # type: ignore[method-assign]
        given.append(await portal.auth.reset_password(username, by="operator:other"))
        return await original(*args, **kwargs)

    portal.accounts.set_password = other_first  # type: ignore[method-assign]
    return given


def test_a_reset_that_lost_the_race_sets_no_password_and_says_who_set_it() -> None:
    portal = stubbed_portal()
    portal.app.state.credentials = OperatorKey()
    portal.account("nia", Role.AO)
    client = portal.client()
    given = _another_reset_lands_first(portal, "nia")

    answer = client.post("/v1/admin/users/nia/reset-password", headers=BEARER)

    assert answer.status_code == 409, answer.text
    assert "was set meanwhile by operator:other" in answer.json()["detail"]
    assert asyncio.run(portal.auth.sign_in("nia", given[0])).session is not None  # the other's works


def test_a_reset_alone_answers_the_password_that_works() -> None:
    portal = stubbed_portal()
    portal.app.state.credentials = OperatorKey()
    portal.account("kai", Role.AO)

    answer = portal.client().post("/v1/admin/users/kai/reset-password", headers=BEARER)

    assert answer.status_code == 200
    assert asyncio.run(portal.auth.sign_in("kai", answer.json()["password"])).session is not None
