"""`lrs users disable` says which of an operator's own API keys went with their account, and when the account is its
AO's challenge contact; `lrs users duties` names the keys that still do more than the new duties."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli.client import Connection
from lrs_cli.user_commands import disable, set_duties

OPS2 = {
    "username": "ops2",
    "display_name": "Ops Two",
    "role": "operator",
    "ao_id": None,
    "email": None,
    "disabled": True,
    "locked": False,
    "scopes": ["support"],
}
DUAL_A = {**OPS2, "username": "dual.a", "display_name": "Dee Dual", "role": "ao", "ao_id": "RN9093", "scopes": []}


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The portal's answer each test sets, to every request."""
    answer: dict[str, Any] = {}
    real_client = httpx.Client

    def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=json.dumps(answer)))
        return real_client(*args, **{**kwargs, "transport": transport})

    monkeypatch.setattr(httpx, "Client", fake_client)
    monkeypatch.setenv("LRS_PORTAL_URL", "http://127.0.0.1:8007")
    return answer


CONNECTION = Connection(api_key="lrs_test_key")


def test_disabling_an_operator_says_how_many_of_their_keys_were_revoked_and_which(answered: dict[str, Any]) -> None:
    answered.update(
        {
            **OPS2,
            "keys_revoked": [
                {"key_id": "fd334aabdc83fdb7", "label": "ops2 laptop", "scopes": []},
                {"key_id": "0123456789abcdef", "label": None, "scopes": ["support"]},
            ],
            "challenge_contact": None,
        }
    )

    said = disable(CONNECTION, "ops2").splitlines()

    assert said == [
        "disabled ops2 (Ops Two, operator with duties support, disabled); its sessions are ended",
        "2 API keys of operator:ops2 were revoked with it: ops2 laptop (key fd334aabdc83fdb7), key 0123456789abcdef",
    ]


def test_disabling_an_operator_without_keys_says_none_was_live(answered: dict[str, Any]) -> None:
    answered.update({**OPS2, "keys_revoked": [], "challenge_contact": None})

    assert disable(CONNECTION, "ops2").splitlines()[1] == "no API key of operator:ops2 was live"


def test_disabling_the_aos_challenge_contact_says_whom_to_ask(answered: dict[str, Any]) -> None:
    contact = {"ao_id": "RN9093", "email": "dee@shared.example", "set_by": "dual.a"}
    answered.update({**DUAL_A, "keys_revoked": [], "challenge_contact": contact})

    said = disable(CONNECTION, "dual.a").splitlines()

    assert said == [
        "disabled dual.a (Dee Dual, AO user of RN9093, disabled); its sessions are ended",
        "dee@shared.example is RN9093's challenge contact (set by dual.a): ask the AO to set another on its Challenge"
        " contact page",
    ]


def test_narrowing_duties_names_the_keys_that_still_do_more(answered: dict[str, Any]) -> None:
    beyond = [{"key_id": "fd334aabdc83fdb7", "label": "ops2 laptop", "scopes": []}]
    answered.update({**OPS2, "disabled": False, "keys_beyond_duties": beyond})

    said = set_duties(CONNECTION, "ops2", ["support"], every_duty=False).splitlines()

    assert said[1] == (
        "1 API key of operator:ops2 still does more than these duties: ops2 laptop (key fd334aabdc83fdb7): every duty;"
        " it stays until revoked: lrs credentials revoke --principal operator:ops2"
    )
