"""What the registry's routes tell about links (decision 0121): a provider not linked to an erased learner learns
nothing of the erasure from a registration (the same 409 as any registered ULN), and a learner file's answer says
how many providers' links it ended; which learners' details a file replaced is judged as RV004 compares them, and
only for learners no file had named before."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

import httpx
import pytest

from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.learner_registry import ErasedLearnerError, RegistryImport, identities_replaced, names_another_learner

ERASED = "4444599390"
MERGED_WITH_IT = "1000000043"  # erased with it, as one person
LINKED, LINKED_UNDER_THE_OTHER_ULN, STRANGER = "10004567", "10001234", "10009998"
CSV_HEADER = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"


class ErasedRegistry:
    """A registry in which `ERASED` was erased with `MERGED_WITH_IT`, with a provider linked under each ULN."""

    links = {ERASED: {LINKED}, MERGED_WITH_IT: {LINKED_UNDER_THE_OTHER_ULN}}

    async def register_learner(self, learner: Learner, registered_by_provider: str | None) -> bool:
        raise ErasedLearnerError(learner.uln[-4:])

    async def learners_for(self, ulns: Collection[str]) -> dict[str, Learner]:
        return {}  # erased learners are left out

    async def same_learner(self, uln: str) -> list[str]:
        return [MERGED_WITH_IT]

    async def linked_providers(self, ulns: Collection[str]) -> frozenset[str]:
        return frozenset(ukprn for uln in ulns for ukprn in self.links.get(uln, ()))

    async def register_learners(self, learners: Sequence[Learner], *, imported_by: str) -> RegistryImport:
        return RegistryImport(
            new=0, updated=len(learners), unchanged=0, merged=0, provider_links_ended=2, sharing_choices_reset=1
        )

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the request reached the registry ({name})")


def _client(principal: str) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.state.learner_registry = ErasedRegistry()
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def _register(principal: str) -> httpx.Response:
    async with _client(principal) as client:
        return await client.post("/v1/learners", json={"uln": ERASED, "given_name": "Theo", "family_name": "Brown"})


async def test_a_provider_not_linked_to_an_erased_learner_gets_the_409_of_any_registered_uln() -> None:
    answer = await _register(f"provider:{STRANGER}")
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "LEARNER_ALREADY_REGISTERED"
    assert "erased" not in answer.text.lower()


@pytest.mark.parametrize(
    "principal",
    ["operator:ops", f"provider:{LINKED}", f"provider:{LINKED_UNDER_THE_OTHER_ULN}"],
    ids=["an operator", "a provider linked under the ULN", "a provider linked under a ULN erased with it"],
)
async def test_an_operator_and_a_linked_provider_are_told_the_learner_was_erased(principal: str) -> None:
    answer = await _register(principal)
    assert answer.status_code == 410, answer.text
    assert answer.json()["code"] == "LEARNER_ERASED"


async def test_a_learner_files_answer_says_how_many_provider_links_and_sharing_choices_it_ended() -> None:
    async with _client("operator:ops") as client:
        answer = await client.post(
            "/v1/learners/import",
            content=f"{CSV_HEADER}{MERGED_WITH_IT},Lily,McCarthy,2005-01-02,2,1,\n".encode(),
            headers={"content-type": "text/csv"},
        )
    assert answer.status_code == 201, answer.text
    assert answer.json() == {
        "registered": 0,
        "updated": 1,
        "unchanged": 0,
        "merged": 0,
        "provider_links_ended": 2,
        "sharing_choices_reset": 1,
    }


def _held(given_name: str, family_name: str, born: date | None, in_file: int | None = None) -> dict[str, object]:
    """A registry row as an import reads it: `in_file` the ability to share the last learner file said (None: no
    file has named the learner yet, only a provider's registration)."""
    return {
        "given_name": given_name,
        "family_name": family_name,
        "date_of_birth": born,
        "ability_to_share_in_file": in_file,
    }


def _in_file(uln: str, given_name: str, family_name: str, born: date | None) -> Learner:
    return Learner(uln, given_name, family_name, born, 0, 1)


def test_a_learner_whose_names_or_date_of_birth_a_file_replaced_is_found_as_rv004_compares_them() -> None:
    born = date(2005, 1, 2)
    latest = {
        "1000000001": _in_file("1000000001", "Amelia", "Realperson", born),  # squatted under other names
        "1000000002": _in_file("1000000002", "LILY", " mccarthy ", born),  # only the case and spaces
        "1000000003": _in_file("1000000003", "Lily", "McCarthy", date(2005, 1, 3)),  # another date of birth
        "1000000004": _in_file("1000000004", "Lily", "McCarthy", born),  # registered meanwhile: not read before
        "1000000005": _in_file("1000000005", "Lily", "McCarthy", born),  # new
        "1000000006": _in_file("1000000006", "Lily", "McCarthy", born),  # a date of birth where none was
        "1000000007": _in_file("1000000007", "Lily", "McCarthy", None),  # the date of birth left out
        "1000000008": _in_file("1000000008", "Lily", "Carthy", None),  # other names, no date of birth given
    }
    held = {
        "1000000001": _held("Placeholder", "Placeholder", None),
        "1000000002": _held("Lily", "McCarthy", born),
        "1000000003": _held("Lily", "McCarthy", born),
        "1000000006": _held("Lily", "McCarthy", None),
        "1000000007": _held("Lily", "McCarthy", born),
        "1000000008": _held("Lily", "McCarthy", born),
    }
    changed = {uln: uln == "1000000005" for uln in latest}

    replaced = identities_replaced(latest, held, changed)

    assert replaced == ["1000000001", "1000000003", "1000000004", "1000000008"]


def test_a_learner_a_file_named_before_keeps_a_providers_link_through_a_later_files_corrections() -> None:
    """A file that named the learner confirmed the ULN was theirs (whatever it said of sharing, 0 included): a later
    file correcting their names or date of birth is the same learner's new details, not another learner."""
    born = date(2005, 1, 2)
    latest = {
        uln: _in_file(uln, "Lily", "Smith", date(2005, 2, 1)) for uln in ("1000000001", "1000000002", "1000000003")
    }
    held = {
        "1000000001": _held("Lily", "McCarthy", born, in_file=1),
        "1000000002": _held("Lily", "McCarthy", born, in_file=0),
        "1000000003": _held("Lily", "McCarthy", born),  # a provider's registration alone
    }

    replaced = identities_replaced(latest, held, dict.fromkeys(latest, False))

    assert replaced == ["1000000003"]


@pytest.mark.parametrize(
    ("registered", "named", "another"),
    [
        (("Lily", "McCarthy", date(2005, 1, 2)), (" LILY", "mccarthy ", date(2005, 1, 2)), False),
        (("Lily", "McCarthy", None), ("Lily", "McCarthy", date(2005, 1, 2)), False),
        (("Lily", "McCarthy", date(2005, 1, 2)), ("Lily", "McCarthy", None), False),
        (("Lily", "McCarthy", date(2005, 1, 2)), ("Lily", "McCarthy", date(2005, 1, 3)), True),
        (("Lily", "McCarthy", None), ("Lilly", "McCarthy", None), True),
        (("Lily", "McCarthy", None), ("Lily", "Mc Carthy", date(2005, 1, 2)), True),
    ],
    ids=[
        "case and spaces",
        "a date added",
        "a date left out",
        "another date",
        "another given name",
        "another family name",
    ],
)
def test_details_name_another_learner_as_rv004_compares_them(
    registered: tuple[str, str, date | None], named: tuple[str, str, date | None], another: bool
) -> None:
    assert names_another_learner(_held(*registered), *named) is another
