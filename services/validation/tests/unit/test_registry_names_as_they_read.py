"""The learner registry refuses a name holding what a reader cannot see or tell from one ordinary space (a no-break
or other unusual space, a TAB, two spaces in a row, a soft hyphen, a zero-width space, a joiner or direction mark in a
Latin-only name, a byte order mark, a tag character: `lrs_contracts.text.unseen_in_name`), as a batch's name is RV021
for it (`lrs_domain.rules.check_name_characters`). A learner registered as `Mary<U+00A0>Ann` could be matched by no
batch record: one written as registered is RV021, one written as the name reads RV004. Refused in a registration
(`POST /v1/learners`, a provider's or an operator's: 422 naming the field, the character and its position) and in a
learner file (`POST /v1/learners/import`: its line and column), never quoting the name. So too a name holding '?' or
U+FFFD where a letter was lost when the file was saved (`lrs_contracts.text.lost_letter_in_name`, `LOST`;
test_registry_names_lost_letters.py says more of them)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from lrs_contracts.batch import SubmittedRecord
from lrs_domain.reference import Learner
from lrs_domain.reference_data import ReferenceDataError
from lrs_domain.rules import check_name_characters
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.learner_registry import NAME_UNSEEN, RegistryImport, parse_learners_csv

ULN, OTHER = "1000000043", "1026893096"
HEADER = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"

# a name, and what the registry says of it after the field or column: as the batch's RV021 says it after "Given name "
UNSEEN = [
    ("Mary\u00a0Ann", "holds U+00A0 (a no-break space) at character 5: write an ordinary space"),
    ("Mary  Ann", "holds 2 spaces in a row at character 5: separate the name's words with one space"),
    ("Li\tly", "holds U+0009 (a tab) at character 3: write an ordinary space"),
    ("Mary\u3000Ann", "holds U+3000 (an ideographic space) at character 5: write an ordinary space"),
    ("O'Neil\u00adSmith", "holds U+00AD (a soft hyphen) at character 7, which shows as nothing: delete it"),
    ("Mary\u200bAnn", "holds U+200B (a zero-width space) at character 5, which shows as nothing: delete it"),
    ("\u200bLily", "holds U+200B (a zero-width space) at character 1, which shows as nothing: delete it"),
    ("Ann\u200dMarie", "holds U+200D (a zero-width joiner) at character 4, which shows as nothing: delete it"),
    ("O'Neil-Smith\u200e", "holds U+200E (a left-to-right mark) at character 13, which shows as nothing: delete it"),
    ("O'Neil-Smith\ufeff", "holds U+FEFF (a byte order mark) at character 13, which shows as nothing: delete it"),
    ("Lily\U000e0041", "holds U+E0041 (a tag character) at character 5, which shows as nothing: delete it"),
]
SAVE_AGAIN = 'save it again from the original as UTF-8 (in Excel, "CSV UTF-8 (Comma delimited)")'
# a name where a letter was lost when the file was saved in an encoding without it, and what is said of it
LOST = [
    ("Ll?r", f"holds '?' at character 3, where a letter was lost when the file was saved: {SAVE_AGAIN}"),
    ("?", f"holds '?' at character 1, where a letter was lost when the file was saved: {SAVE_AGAIN}"),
    (
        "Gw\ufffdr",
        f"holds U+FFFD (the replacement character) at character 3, where a letter was lost when the file was saved:"
        f" {SAVE_AGAIN}",
    ),
    # counted as a reader counts: the circumflex written apart is no character of its own
    ("Sia\u0302n ?yn", f"holds '?' at character 6, where a letter was lost when the file was saved: {SAVE_AGAIN}"),
]
# written on purpose, or trimmed: registered as before
ACCEPTED = [
    ("Mary Ann", "Mary Ann"),
    ("O'Neill-Byrne", "O'Neill-Byrne"),
    ("李", "李"),
    ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),  # ZWNJ
    ("\u0915\u094d\u200d\u0937", "\u0915\u094d\u200d\u0937"),  # a Devanagari ZWJ
    ("\u00a0Mary\u00a0", "Mary"),  # spaces of any kind at either end are trimmed
]


class Registry:
    """Takes whatever reaches it, recording it."""

    def __init__(self) -> None:
        self.registered: list[Learner] = []

    async def register_learner(self, learner: Learner, registered_by_provider: str | None) -> bool:
        self.registered.append(learner)
        return True

    async def register_learners(self, learners: Sequence[Learner], *, imported_by: str) -> RegistryImport:
        self.registered.extend(learners)
        return RegistryImport(new=len(learners), updated=0, unchanged=0, merged=0)


def _client(principal: str, registry: Registry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def _register(principal: str, registry: Registry, **names: str) -> httpx.Response:
    body: dict[str, Any] = {"uln": ULN, "given_name": "Lily", "family_name": "McCarthy", "date_of_birth": "2005-01-02"}
    async with _client(principal, registry) as client:
        return await client.post("/v1/learners", json={**body, **names})


def _unquoted(name: str, said: str) -> bool:
    """The name is not quoted in what is said: a name of one character ("?") is the character, which is named."""
    return len(name.strip()) == 1 or name.strip() not in said


@pytest.mark.parametrize(("name", "said"), UNSEEN + LOST)
def test_the_registry_says_of_a_name_what_a_batchs_rv021_says(name: str, said: str) -> None:
    [finding] = check_name_characters(SubmittedRecord(line=4, given_name=name, family_name="McCarthy"))

    assert (finding.code, finding.message) == ("RV021", f"Given name {said}.")


@pytest.mark.parametrize("principal", ["provider:10004567", "operator:ops"])
@pytest.mark.parametrize("field", ["given_name", "family_name"])
@pytest.mark.parametrize(("name", "said"), UNSEEN + LOST)
async def test_a_registration_of_a_name_holding_what_a_reader_cannot_see_is_a_422_naming_the_field_and_character(
    principal: str, field: str, name: str, said: str
) -> None:
    registry = Registry()
    answer = await _register(principal, registry, **{field: name})

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "INVALID_REQUEST"
    assert answer.json()["detail"] == f"body.{field}: {said}"
    assert _unquoted(name, answer.text)
    assert registry.registered == []


@pytest.mark.parametrize(("name", "registered"), ACCEPTED)
async def test_a_registration_of_a_name_written_on_purpose_is_registered(name: str, registered: str) -> None:
    registry = Registry()
    answer = await _register("operator:ops", registry, given_name=name, family_name=name)

    assert answer.status_code == 201, answer.text
    [learner] = registry.registered
    assert (learner.given_name, learner.family_name) == (registered, registered)


async def test_a_name_of_invisible_characters_alone_is_still_refused_as_one_no_reader_sees() -> None:
    answer = await _register("operator:ops", Registry(), given_name="\u200b\u00a0\u2060")

    assert answer.json()["detail"] == f"body.given_name: {NAME_UNSEEN}"


@pytest.mark.parametrize("column", ["GivenName", "FamilyName"])
@pytest.mark.parametrize(("name", "said"), UNSEEN + LOST)
def test_a_learner_file_naming_a_learner_so_is_refused_by_line_column_and_character(
    column: str, name: str, said: str
) -> None:
    names = f"{name},McCarthy" if column == "GivenName" else f"Lily,{name}"
    text = f"{HEADER}{OTHER},Amelia,Brown,2004-03-02,2,1,\n\n{ULN},{names},2005-01-02,2,1,\n"

    with pytest.raises(ReferenceDataError) as refused:
        parse_learners_csv(text)

    assert str(refused.value) == f"line 4: {column} {said}"
    assert ULN not in str(refused.value) and _unquoted(name, str(refused.value))


def test_the_first_such_name_in_the_file_is_named() -> None:
    text = f"{HEADER}{OTHER},Amelia,Brown\u200b,2004-03-02,2,1,\n{ULN},Mary\u00a0Ann,McCarthy,2005-01-02,2,1,\n"

    with pytest.raises(ReferenceDataError) as refused:
        parse_learners_csv(text)

    assert str(refused.value) == (
        "line 2: FamilyName holds U+200B (a zero-width space) at character 6, which shows as nothing: delete it"
    )


@pytest.mark.parametrize(("name", "registered"), ACCEPTED)
def test_a_learner_file_of_names_written_on_purpose_is_read_as_before(name: str, registered: str) -> None:
    [learner] = parse_learners_csv(f'{HEADER}{ULN},"{name}","{name}",2005-01-02,2,1,\n')

    assert (learner.given_name, learner.family_name) == (registered, registered)


async def test_an_import_of_such_a_file_is_a_422_and_nothing_is_registered() -> None:
    registry = Registry()
    async with _client("operator:ops", registry) as client:
        answer = await client.post(
            "/v1/learners/import",
            content=f"\ufeff{HEADER}{ULN},Mary\u00a0Ann,McCarthy,2005-01-02,2,1,\n".encode(),
            headers={"content-type": "text/csv"},
        )

    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == (
        "line 2: GivenName holds U+00A0 (a no-break space) at character 5: write an ordinary space"
    )
    assert registry.registered == []
