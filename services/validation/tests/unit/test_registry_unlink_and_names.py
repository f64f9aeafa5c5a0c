"""The learner registry's routes after a review (decision 0121):

- `POST /v1/learners` answers "unchanged" (200) only to the provider whose own registration of the ULN links it; any
  other provider, one an operator linked included, gets the same 409 whatever the details it sends, so it cannot find
  a learner's date of birth or names by trying values;
- that 409 says nothing untrue to a provider whose registration's link ended ("not by you" was);
- `DELETE /v1/admin/learners/{uln}/providers/{ukprn}` ends a provider's link (operators), audited by a `provider_unlinked`
  log line naming the operator and never the full ULN; 404 when the provider is not linked; the old write paths
  outside /v1/admin (decision 0195) change nothing;
- a name of invisible characters alone (U+200B, U+2060, U+FEFF) is refused, in a registration (422 naming the field)
  and in a learner file (its line and column), as a challenge's reason is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, MutableMapping, Sequence
from datetime import date
from typing import Any

import httpx
import pytest
import structlog

from lrs_domain.reference import Learner
from lrs_domain.reference_data import ReferenceDataError
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.learner_registry import (
    NAME_UNSEEN,
    LearnerDetailsConflict,
    ProvidersLinksEnded,
    RegistryImport,
    UnknownLearnerError,
    parse_learners_csv,
)

ULN, MERGED = "1000000043", "1026893096"
REGISTERED = Learner(ULN, "Lily", "McCarthy", date(2005, 1, 2), 2, 1)
OWN, OPERATOR_LINKED, ENDED = "10004567", "10001234", "10009998"
CSV_HEADER = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"


class Registry:
    """A registry holding `REGISTERED`, linked to `OWN` by its registration and to `OPERATOR_LINKED` by an operator;
    `ENDED` registered it once and its link was ended by a learner file. Records what reached it."""

    def __init__(self, unlinked: ProvidersLinksEnded | None = None) -> None:
        self.unlinked = unlinked
        self.asked: list[tuple[str, Any]] = []

    async def register_learner(self, learner: Learner, registered_by_provider: str | None) -> bool:
        self.asked.append(("register_learner", learner))
        if (learner.given_name.casefold(), learner.family_name.casefold(), learner.date_of_birth) != (
            REGISTERED.given_name.casefold(),
            REGISTERED.family_name.casefold(),
            REGISTERED.date_of_birth,
        ):
            raise LearnerDetailsConflict(learner.uln[-4:])
        return False

    async def learners_for(self, ulns: Collection[str]) -> dict[str, Learner]:
        return {ULN: REGISTERED} if ULN in ulns else {}

    async def linked_providers(self, ulns: Collection[str]) -> frozenset[str]:
        return frozenset({OWN, OPERATOR_LINKED}) if ULN in ulns else frozenset()

    async def providers_linked_by_registration(self, ulns: Collection[str]) -> frozenset[str]:
        return frozenset({OWN}) if ULN in ulns else frozenset()

    async def unlink_provider(self, uln: str, provider_ukprn: str, *, unlinked_by: str) -> ProvidersLinksEnded:
        self.asked.append(("unlink_provider", (uln, provider_ukprn, unlinked_by)))
        if uln != ULN:
            raise UnknownLearnerError(uln[-4:])
        return self.unlinked or ProvidersLinksEnded((), 0)

    async def register_learners(self, learners: Sequence[Learner], *, imported_by: str) -> RegistryImport:
        self.asked.append(("register_learners", learners))
        return RegistryImport(new=len(learners), updated=0, unchanged=0, merged=0)


def _client(principal: str, registry: Registry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


def _registration(**changes: Any) -> dict[str, Any]:
    return {"uln": ULN, "given_name": "Lily", "family_name": "McCarthy", "date_of_birth": "2005-01-02", **changes}


async def _register(principal: str, body: dict[str, Any], registry: Registry | None = None) -> httpx.Response:
    async with _client(principal, registry or Registry()) as client:
        return await client.post("/v1/learners", json=body)


@pytest.mark.parametrize("provider", [OPERATOR_LINKED, ENDED, "10000002"], ids=["operator-linked", "ended", "never"])
async def test_a_provider_whose_own_registration_does_not_link_it_gets_one_answer_whatever_the_details(
    provider: str,
) -> None:
    matching = await _register(f"provider:{provider}", _registration())
    guessed = await _register(f"provider:{provider}", _registration(date_of_birth="2005-01-03"))

    assert (matching.status_code, matching.json()) == (guessed.status_code, guessed.json())
    assert matching.status_code == 409, matching.text
    assert matching.json()["code"] == "LEARNER_ALREADY_REGISTERED"


async def test_the_provider_whose_registration_links_it_still_hears_unchanged_and_other_details() -> None:
    matching = await _register(f"provider:{OWN}", _registration())
    other = await _register(f"provider:{OWN}", _registration(date_of_birth="2005-01-03"))

    assert (matching.status_code, matching.json()["unchanged"]) == (200, 1)
    assert other.status_code == 409, other.text
    assert "registered with other details" in other.json()["detail"]


async def test_the_409_says_nothing_untrue_to_a_provider_whose_registration_made_the_link_that_ended() -> None:
    answer = await _register(f"provider:{ENDED}", _registration())

    assert answer.status_code == 409, answer.text
    detail = answer.json()["detail"]
    assert "not by you" not in detail
    assert detail.startswith("This ULN is registered already, and no registration of yours links you to the learner")


INVISIBLE_ALONE = ["\u200b", "\u2060", "\ufeff", "\u200b \u2060\ufeff", "\u200d\u00a0\u200c"]


@pytest.mark.parametrize("field", ["given_name", "family_name"])
@pytest.mark.parametrize("name", INVISIBLE_ALONE)
async def test_a_registration_naming_a_learner_with_invisible_characters_alone_is_refused_naming_the_field(
    field: str, name: str
) -> None:
    registry = Registry()
    answer = await _register(f"provider:{OWN}", _registration(**{field: name}), registry)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "INVALID_REQUEST"
    assert answer.json()["detail"] == f"body.{field}: {NAME_UNSEEN}"
    assert registry.asked == []


# a name with something visible among invisible characters ("\u200bLily", "Zoë\u200d") is refused for what a reader
# cannot see, as a batch's RV021 refuses it: test_registry_names_as_they_read.py
@pytest.mark.parametrize("name", ["李", "O'Neill-Byrne", "Zoë"])
async def test_a_name_with_something_visible_is_registered(name: str) -> None:
    registry = Registry()
    await _register("operator:ops", _registration(given_name=name, family_name=name), registry)

    [(asked, learner)] = registry.asked
    assert (asked, learner.given_name, learner.family_name) == ("register_learner", name, name)


@pytest.mark.parametrize(("column", "row"), [("GivenName", "\u200b,McCarthy"), ("FamilyName", "Lily,\u2060\ufeff")])
def test_a_learner_file_naming_a_learner_with_invisible_characters_alone_is_refused_by_line_and_column(
    column: str, row: str
) -> None:
    text = f"{CSV_HEADER}1026893096,Amelia,Brown,2004-03-02,2,1,\n\n{ULN},{row},2005-01-02,2,1,\n"

    with pytest.raises(ReferenceDataError) as refused:
        parse_learners_csv(text)

    assert str(refused.value) == f"line 4: {column} {NAME_UNSEEN}"
    assert "\u200b" not in str(refused.value) and ULN not in str(refused.value)


async def test_an_import_of_such_a_file_is_a_422_and_nothing_is_registered() -> None:
    registry = Registry()
    async with _client("operator:ops", registry) as client:
        answer = await client.post(
            "/v1/learners/import",
            content=f"\ufeff{CSV_HEADER}{ULN},\ufeff,McCarthy,2005-01-02,2,1,\n".encode(),
            headers={"content-type": "text/csv"},
        )

    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == f"line 2: GivenName {NAME_UNSEEN}"
    assert registry.asked == []


def test_a_learner_file_of_visible_names_is_read_as_before() -> None:
    [learner] = parse_learners_csv(f"{CSV_HEADER}{ULN},Lily,McCarthy,2005-01-02,2,1,\n")

    assert (learner.given_name, learner.family_name) == ("Lily", "McCarthy")


def _lines(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


async def test_an_unlink_ends_the_link_and_is_audited_with_the_operator_and_the_uln_masked() -> None:
    registry = Registry(ProvidersLinksEnded((ULN, MERGED), 1))
    async with _client("operator:alex", registry) as client:
        with structlog.testing.capture_logs() as logs:
            answer = await client.delete(f"/v1/admin/learners/{ULN}/providers/{OPERATOR_LINKED}")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ukprn": OPERATOR_LINKED, "links_ended": 2, "learner_keys_revoked": 1}
    assert registry.asked == [
        ("unlink_provider", (ULN, OPERATOR_LINKED, f"operator:alex (unlink of provider {OPERATOR_LINKED})"))
    ]
    (line,) = _lines(logs, "provider_unlinked")
    assert line["by"] == "operator:alex"
    assert (line["ukprn"], line["links_ended"], line["learner_keys_revoked"]) == (OPERATOR_LINKED, 2, 1)
    assert line["uln"].endswith(ULN[-4:]) and line["uln"] != ULN
    assert not any(uln in str(entry) for entry in logs for uln in (ULN, MERGED))


async def test_an_unlink_of_a_provider_not_linked_is_a_404_problem_and_of_an_unregistered_uln_too() -> None:
    async with _client("operator:alex", Registry()) as client:
        with structlog.testing.capture_logs() as logs:
            not_linked = await client.delete(f"/v1/admin/learners/{ULN}/providers/10000002")
            unregistered = await client.delete(f"/v1/admin/learners/{MERGED}/providers/10000002")

    for answer in (not_linked, unregistered):
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    assert not_linked.json()["title"] == "Provider not linked"
    assert unregistered.json()["code"] == "LEARNER_NOT_REGISTERED"
    assert _lines(logs, "provider_unlinked") == []


@pytest.mark.parametrize("principal", [f"provider:{OWN}", f"learner:{ULN}", "ao:RN9093"])
async def test_only_an_operator_unlinks(principal: str) -> None:
    registry = Registry(ProvidersLinksEnded((ULN,), 0))
    async with _client(principal, registry) as client:
        answer = await client.delete(f"/v1/admin/learners/{ULN}/providers/{OWN}")

    assert answer.status_code == 403, answer.text
    assert registry.asked == []


async def test_an_unlink_naming_a_ukprn_that_is_not_8_digits_is_a_422_before_the_registry_is_asked() -> None:
    registry = Registry()
    async with _client("operator:alex", registry) as client:
        answer = await client.delete(f"/v1/admin/learners/{ULN}/providers/1000456")

    assert answer.status_code == 422, answer.text
    assert registry.asked == []


async def test_the_old_write_paths_outside_admin_change_nothing() -> None:
    """Decision 0195: links are made and ended under /v1/admin; the path the Ingress routes is read-only."""
    registry = Registry(ProvidersLinksEnded((ULN,), 0))
    async with _client("operator:alex", registry) as client:
        linked = await client.post(f"/v1/learners/{ULN}/providers", json={"ukprn": ENDED})
        unlinked = await client.delete(f"/v1/learners/{ULN}/providers/{OWN}")

    assert linked.status_code == 405, linked.text
    assert linked.headers["allow"] == "GET, HEAD"
    assert unlinked.status_code == 404, unlinked.text
    assert registry.asked == []
