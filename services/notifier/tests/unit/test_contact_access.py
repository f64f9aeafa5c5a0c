"""Who may read and set an AO's challenge contact, and where: another AO is refused alike whether or not a
contact exists; the Sandpit, which runs no challenges, refuses everyone (decision 0060)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from lrs_contracts.environments import Environment
from lrs_domain.reference_files import load_register
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from notifier.api import router
from notifier.emails import ChallengeContact
from notifier.store import StoredContact

CONTACT = {"given_name": "Sam", "family_name": "Sbx", "telephone": "01632 960 001", "email": "sbx@pearson.example"}


class Contacts:
    """A contact store in memory, noting every write."""

    def __init__(self, stored: dict[str, ChallengeContact] | None = None) -> None:
        self.stored = dict(stored or {})
        self.writes: list[str] = []

    async def get(self, ao_id: str) -> StoredContact | None:
        contact = self.stored.get(ao_id)
        return StoredContact(ao_id, contact, "ao:" + ao_id, datetime(2026, 12, 3, tzinfo=UTC)) if contact else None

    async def put(
        self, ao_id: str, contact: ChallengeContact, updated_by: str, *, with_key: str | None = None
    ) -> StoredContact:
        self.writes.append(ao_id)
        self.stored[ao_id] = contact
        return StoredContact(ao_id, contact, updated_by, datetime(2026, 12, 3, tzinfo=UTC), with_key)


def _client(principal: str, contacts: Contacts, environment: Environment = Environment.LIVE) -> httpx.AsyncClient:
    app = build_app("notifier", title="Notifier", description="", lifespan=noop_lifespan, environment=environment)
    app.include_router(router)
    app.state.contacts = contacts
    app.state.register = frozenset(load_register())
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier")


async def _answers(principal: str, contacts: Contacts, environment: Environment) -> list[httpx.Response]:
    async with _client(principal, contacts, environment) as client:
        path = "/v1/ao/RN9093/challenge-contact"
        return [await client.get(path), await client.put(path, json=CONTACT)]


@pytest.mark.parametrize("principal", ["ao:RN9093", "operator:ops"])
async def test_the_sandpit_refuses_a_challenge_contact_as_live_only_and_stores_nothing(principal: str) -> None:
    contacts = Contacts()
    for answer in await _answers(principal, contacts, Environment.SANDPIT):
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "LIVE_ONLY"
        assert "The Sandpit has no Event Data Challenges" in answer.json()["detail"]
    assert contacts.writes == []


@pytest.mark.parametrize("stored", [{}, {"RN9093": ChallengeContact("Ada", "Byrne", "01632 960 000", "a@ao.uk")}])
async def test_another_ao_is_refused_alike_whether_or_not_the_contact_exists(stored: dict[str, Any]) -> None:
    contacts = Contacts(stored)
    answers = await _answers("ao:RN9037", contacts, Environment.LIVE)
    for answer in answers:
        assert answer.status_code == 403
        assert answer.json()["detail"] == "An awarding organisation sees and sets only its own challenge contact."
    assert contacts.writes == []


async def test_the_ao_itself_is_told_it_has_none_then_sets_it_on_live() -> None:
    contacts = Contacts()
    missing, put = await _answers("ao:RN9093", contacts, Environment.LIVE)
    assert missing.status_code == 404
    assert put.status_code == 200
    assert put.json()["email"] == CONTACT["email"]
    assert contacts.writes == ["RN9093"]


async def test_the_sandpit_asks_a_caller_without_a_key_for_one_before_saying_live_only() -> None:
    app = build_app(
        "notifier", title="Notifier", description="", lifespan=noop_lifespan, environment=Environment.SANDPIT
    )
    app.include_router(router)
    app.state.contacts = Contacts()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as client:
        answer = await client.get("/v1/ao/RN9093/challenge-contact")
    assert answer.status_code == 401, answer.text


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("email", "challenges at ao.example", "is not an email address: write one like challenges@ao.example"),
        ("email", "a b@ao.example", "with one @ followed by a domain that has a dot in it, and no spaces"),
        ("telephone", "ring reception", "is not a telephone number: write 6 to 25 digits"),
        ("telephone", "12", "like 01632 960 000 or +44 1632 960000"),
    ],
)
async def test_a_bad_email_or_telephone_is_refused_in_words_a_clerk_can_act_on(
    field: str, value: str, words: str
) -> None:
    """The answer quoted the regular expression: "String should match pattern '^[^@\\s\\x00-…'"."""
    contacts = Contacts()
    async with _client("ao:RN9093", contacts) as client:
        answer = await client.put("/v1/ao/RN9093/challenge-contact", json=CONTACT | {field: value})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "INVALID_REQUEST"
    assert problem["detail"].startswith(f"body.{field}: ") and words in problem["detail"]
    assert "pattern" not in problem["detail"] and "[0-9]" not in problem["detail"] and "\\s" not in problem["detail"]
    assert contacts.writes == []


async def test_an_operator_cannot_set_a_contact_for_an_ao_not_in_the_register() -> None:
    """A mistyped number kept a contact no challenge reaches, while the real AO's notices stayed held."""
    contacts = Contacts()
    async with _client("operator:ops", contacts) as client:
        answer = await client.put("/v1/ao/RN33374791/challenge-contact", json=CONTACT)
    assert (answer.status_code, answer.json()["detail"]) == (
        404,
        "RN33374791 is not an awarding organisation in the register: check the number.",
    )
    assert contacts.writes == []


async def test_another_ao_is_refused_before_its_body_is_judged() -> None:
    """It was told what was wrong with the fields it sent (422) for a contact it may not set at all."""
    contacts = Contacts()
    async with _client("ao:RN9037", contacts) as client:
        answer = await client.put("/v1/ao/RN9093/challenge-contact", json={"email": "not an address"})
    assert (answer.status_code, answer.json()["detail"]) == (
        403,
        "An awarding organisation sees and sets only its own challenge contact.",
    )


async def test_a_malformed_ao_id_in_the_path_is_refused_once() -> None:
    """The route and its caller check both declared the path's `ao_id`, so its one fault was listed twice."""
    contacts = Contacts()
    async with _client("operator:ops", contacts) as client:
        answer = await client.put("/v1/ao/RN-9093/challenge-contact", json=CONTACT)
    assert answer.status_code == 422
    assert answer.json()["detail"].count("path.ao_id") == 1
    assert contacts.writes == []
