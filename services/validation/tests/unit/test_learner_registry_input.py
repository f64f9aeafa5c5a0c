"""The learner registry's routes check what they take at the door: names, reasons, ULNs in the path and
the import's bytes that could not be stored are a 422 problem before the registry is asked anything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import structlog

from lrs_domain.identifiers import TEMPORARY_ULN, has_valid_uln_check_digit
from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.learner_registry import Erasure, ErasurePreview, LearnerNotHeldError, RegistryImport

ULN = "1000000043"
NOT_HELD = "5555555554"  # a valid ULN the registry below holds nothing for
HELD_MISTYPED = "1000000044"  # a ULN whose check digit is wrong, which an AO's batch named: held
OPERATOR = "operator:ops"
PROVIDER = "provider:10004567"
CSV_HEADER = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"


class Registry:
    """The registry a request may reach: it takes what it is given, and tells the test what that was."""

    def __init__(self) -> None:
        self.registered: list[Learner] = []
        self.imported_by: str | None = None
        self.reasons: list[str] = []
        self.held_temporary = False  # a key an AO's batch made for the temporary ULN before decision 0154
        self.same_person: tuple[str, ...] = ()  # the learner's other ULNs, merged with theirs
        self.erased_before: Erasure | None = None
        self.previewed: list[str] = []

    async def register_learner(self, learner: Learner, registered_by_provider: str | None) -> bool:
        self.registered.append(learner)
        return True

    async def register_learners(self, learners: Sequence[Learner], *, imported_by: str) -> RegistryImport:
        self.registered.extend(learners)
        self.imported_by = imported_by
        return RegistryImport(new=len(learners), updated=0, unchanged=0, merged=0)

    async def erase(self, uln: str, erased_by: str, reason: str, with_key: str | None = None) -> tuple[Erasure, bool]:
        held = uln == HELD_MISTYPED or (uln == TEMPORARY_ULN and self.held_temporary)
        if uln == NOT_HELD or (not held and not has_valid_uln_check_digit(uln)):
            raise LearnerNotHeldError(uln[-4:])
        self.reasons.append(reason)
        return Erasure(uuid.uuid4(), uln, erased_by, reason, datetime.now(UTC)), True

    async def same_learner(self, uln: str) -> list[str]:
        return list(self.same_person)

    async def erasure_preview(self, uln: str) -> ErasurePreview:
        self.previewed.append(uln)
        held = uln == HELD_MISTYPED or (uln == TEMPORARY_ULN and self.held_temporary)
        if uln == NOT_HELD or (not held and not has_valid_uln_check_digit(uln)):
            raise LearnerNotHeldError(uln[-4:])
        return ErasurePreview(uln, self.same_person, self.erased_before)

    async def merge(self, master_uln: str, merged_uln: str, merged_by: str | None = None) -> bool:
        self.merged = (master_uln, merged_uln)
        return True

    async def link_provider(self, uln: str, ukprn: str, linked_by: str) -> None:
        self.linked = (uln, ukprn, linked_by)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the request reached the registry ({name})")


class Credentials:
    """The identity store as the erasure route uses it: it revokes the erased learners' keys."""

    def __init__(self) -> None:
        self.revoked: list[str] = []

    async def revoke_principal(self, principal: Principal, *, by: str | None = None, erased: bool = False) -> int:
        self.revoked.append(str(principal))
        return 0


@pytest.fixture
def registry() -> Registry:
    return Registry()


def _client(registry: Registry, principal: str = OPERATOR) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    app.state.credentials = Credentials()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


def _registration(**changes: Any) -> dict[str, Any]:
    return {"uln": ULN, "given_name": "Lily", "family_name": "McCarthy", **changes}


def _assert_refused(answer: httpx.Response, *naming: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    for name in naming:
        assert name in answer.json()["detail"]


async def test_names_are_registered_trimmed_and_counted_once_trimmed(registry: Registry) -> None:
    longest = "L" * 35
    async with _client(registry, PROVIDER) as client:
        answer = await client.post("/v1/learners", json=_registration(given_name=f"  {longest} ", family_name="King\t"))
    assert answer.status_code == 201, answer.text
    [learner] = registry.registered
    assert (learner.given_name, learner.family_name) == (longest, "King")


async def test_a_name_is_counted_composed_as_a_batch_counts_it(registry: Registry) -> None:
    """35 letters written decomposed (36 code points) are registered, by one registration and by a learner file,
    as sent (decision 0167); a name that composes to more than 35 is refused, naming its length."""
    decomposed = "L" * 33 + "e\u0301n"
    async with _client(registry) as client:
        one = await client.post("/v1/learners", json=_registration(given_name=decomposed))
        imported = await client.post(
            "/v1/learners/import",
            content=f"{CSV_HEADER}{ULN},Lily,{decomposed},,,,\n".encode(),
            headers={"content-type": "text/csv"},
        )
        composing_longer = await client.post("/v1/learners", json=_registration(family_name="K" + "\u0f43" * 34))
    assert one.status_code == 201, one.text
    assert imported.status_code == 201, imported.text
    assert [(learner.given_name, learner.family_name) for learner in registry.registered] == [
        (decomposed, "McCarthy"),
        ("Lily", decomposed),
    ]
    _assert_refused(composing_longer, "body.family_name", "69 characters long")


@pytest.mark.parametrize(
    "name",
    ["   ", "L" * 36, "Lily\x00", "\x1b[31mLily", "Lily\nMay", "Lily\ufdd0"],
    ids=["blank", "too-long", "nul", "escape", "line-break", "non-character"],
)
@pytest.mark.parametrize("field", ["given_name", "family_name"])
async def test_a_name_that_could_not_be_registered_is_refused(registry: Registry, field: str, name: str) -> None:
    async with _client(registry, PROVIDER) as client:
        answer = await client.post("/v1/learners", json=_registration(**{field: name}))
    _assert_refused(answer, f"body.{field}")


async def test_a_registration_with_a_field_it_does_not_know_is_refused_not_registered_without_it(
    registry: Registry,
) -> None:
    async with _client(registry, PROVIDER) as client:
        answer = await client.post("/v1/learners", json=_registration(dateOfBirth="2006-04-01"))
    _assert_refused(answer, "body.dateOfBirth")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"/v1/learners/{ULN}/sharing", {"ability_to_share": 1, "abilityToShare": 2}),
        (f"/v1/admin/learners/{ULN}/providers", {"ukprn": "10004567", "provider": "10000001"}),
        (f"/v1/learners/{ULN}/merge", {"merged_uln": "1000000051", "mergedUln": "1000000051"}),
        (f"/v1/admin/learners/{ULN}/erasure", {"reason": "a test learner", "erased_by": "someone else"}),
    ],
)
async def test_every_registry_body_refuses_a_field_it_does_not_know(
    registry: Registry, path: str, body: dict[str, Any]
) -> None:
    async with _client(registry) as client:
        answer = await client.post(path, json=body)
    _assert_refused(answer, "Extra inputs are not permitted")


@pytest.mark.parametrize("uln", ["%00", "abc", "0123456789", "10000000431", f"{ULN}%20"])
@pytest.mark.parametrize(
    ("principal", "path", "body"),
    [
        (PROVIDER, "/v1/learners/{uln}/sharing", {"ability_to_share": 1}),
        (OPERATOR, "/v1/learners/{uln}/sharing", {"ability_to_share": 1}),
        (OPERATOR, "/v1/admin/learners/{uln}/providers", {"ukprn": "10004567"}),
        (OPERATOR, "/v1/learners/{uln}/merge", {"merged_uln": ULN}),
        (OPERATOR, "/v1/admin/learners/{uln}/erasure", {"reason": "a test learner"}),
    ],
)
async def test_a_path_that_names_no_uln_is_refused_before_the_registry_is_asked(
    registry: Registry, uln: str, principal: str, path: str, body: dict[str, Any]
) -> None:
    async with _client(registry, principal) as client:
        answer = await client.post(path.format(uln=uln), json=body)
    _assert_refused(answer, "path.")


@pytest.mark.parametrize("uln", ["0123456789", "100000004", "10000000431", "1000000O43"])
@pytest.mark.parametrize(
    ("principal", "path", "body_of"),
    [
        (PROVIDER, "/v1/learners", lambda uln: _registration(uln=uln)),
        (OPERATOR, f"/v1/learners/{ULN}/merge", lambda uln: {"merged_uln": uln}),
    ],
    ids=["registration", "merge"],
)
async def test_a_badly_formed_uln_in_a_body_the_registry_reads_itself_is_rv001_naming_where_not_the_value(
    registry: Registry, uln: str, principal: str, path: str, body_of: Any
) -> None:
    async with _client(registry, principal) as client:
        answer = await client.post(path, json=body_of(uln))
    assert answer.status_code == 422
    problem = answer.json()
    assert (problem["code"], problem["title"]) == ("RV001", "Invalid ULN")
    assert "body." in problem["detail"] and "(RV001)" in problem["detail"]
    assert uln not in problem["detail"] and "pattern" not in problem["detail"]
    assert registry.registered == []


MISTYPED = pytest.mark.parametrize(
    "uln",
    ["1000000042", "1000000045", "1234567890", "1000000063", "9999999999"],
    ids=["check-digit-low", "check-digit-high", "counting", "remainder-zero", "temporary"],
)


@MISTYPED
async def test_a_registration_of_a_uln_whose_check_digit_is_wrong_is_refused_at_the_door(
    registry: Registry, uln: str
) -> None:
    async with _client(registry, PROVIDER) as client:
        answer = await client.post("/v1/learners", json=_registration(uln=uln, date_of_birth="2006-04-01"))
    said = "the temporary ULN 9999999999 (RV003)" if uln == TEMPORARY_ULN else "check digit is wrong (RV002)"
    _assert_refused(answer, said, "Nothing was registered")
    # its own code, as every sibling route answers the same ULN (a caller branches on `code`), not INVALID_REQUEST
    code = "RV003" if uln == TEMPORARY_ULN else "RV002"
    assert answer.json()["code"] == code
    assert answer.json()["type"] == f"/problems/{code}"
    assert answer.json()["title"] == "Invalid ULN"
    for personal in ("Lily", "McCarthy", "2006-04-01"):
        assert personal not in answer.text
    assert registry.registered == []


async def test_a_learner_file_is_imported_as_the_operators_whose_key_sent_it(registry: Registry) -> None:
    async with _client(registry) as client:
        answer = await client.post(
            "/v1/learners/import",
            content=f"{CSV_HEADER}{ULN},Lily,McCarthy,,,,\n".encode(),
            headers={"content-type": "text/csv"},
        )
    assert answer.status_code == 201, answer.text
    assert registry.imported_by == f"{OPERATOR} (learner file)"


@MISTYPED
async def test_a_learner_file_naming_a_uln_whose_check_digit_is_wrong_is_refused_naming_its_line(
    registry: Registry, uln: str
) -> None:
    rows = f"{CSV_HEADER}{ULN},Lily,McCarthy,,,,\n{uln},Ben,Jones,,,,\n"
    async with _client(registry) as client:
        answer = await client.post("/v1/learners/import", content=rows.encode(), headers={"content-type": "text/csv"})
    _assert_refused(answer, "line 3: ULN is not a valid ULN")
    assert "Ben" not in answer.text


@pytest.mark.parametrize(
    "uln", ["1000000042", "1000000045", "1234567890", "1000000063"], ids=lambda uln: f"check-digit-{uln[-2:]}"
)
async def test_an_erasure_of_a_uln_held_nowhere_whose_check_digit_is_wrong_is_refused_as_mistyped(
    registry: Registry, uln: str
) -> None:
    async with _client(registry) as client:
        answer = await client.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "a test learner"})
    _assert_refused(answer, "check digit is wrong (RV002)", "Nothing was erased")
    assert answer.json()["code"] == "RV002"
    assert answer.json()["type"] == "/problems/RV002"
    assert registry.reasons == []


async def test_the_temporary_uln_is_never_erased_even_where_an_older_batch_left_a_key_under_it(
    registry: Registry,
) -> None:
    """Decision 0154: what AOs sent under 9999999999 is many people's; it is nobody's to erase."""
    registry.held_temporary = True
    async with _client(registry) as client:
        answer = await client.post(f"/v1/admin/learners/{TEMPORARY_ULN}/erasure", json={"reason": "a test learner"})
    _assert_refused(answer, "temporary ULN 9999999999 (RV003)", "Nothing was erased")
    assert (answer.json()["code"], answer.json()["type"]) == ("RV003", "/problems/RV003")
    assert registry.reasons == []


async def test_what_a_batch_holds_under_a_mistyped_uln_is_erased(registry: Registry) -> None:
    """No learner can ever be registered under it: erasing it locks out nobody."""
    async with _client(registry) as client:
        answer = await client.post(f"/v1/admin/learners/{HELD_MISTYPED}/erasure", json={"reason": "a typo's details"})
    assert answer.status_code == 201, answer.text
    assert registry.reasons == ["a typo's details"]


async def test_an_erasure_of_a_uln_with_a_wrong_check_digit_is_still_forbidden_to_an_ao(registry: Registry) -> None:
    async with _client(registry, "ao:RN5133") as client:
        answer = await client.post("/v1/admin/learners/1000000042/erasure", json={"reason": "a test learner"})
    assert answer.status_code == 403, answer.text


async def test_an_erasure_of_a_uln_the_registry_holds_nothing_for_is_refused_404(registry: Registry) -> None:
    async with _client(registry) as client:
        answer = await client.post(f"/v1/admin/learners/{NOT_HELD}/erasure", json={"reason": "a test learner"})
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["title"] == "No learner held with this ULN"
    assert "Nothing was erased" in problem["detail"]
    assert registry.reasons == []


async def test_before_erasing_an_operator_reads_every_uln_merged_with_the_learner_that_would_be_erased(
    registry: Registry,
) -> None:
    """Erasing one ULN of a merged learner erases them all: the operator is told which before confirming."""
    registry.same_person = ("4751158642", "5449721047")
    async with _client(registry) as client:
        answer = await client.get(f"/v1/admin/learners/{ULN}/erasure")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"uln": ULN, "erased_with": ["4751158642", "5449721047"], "erased": False, "erasure": None}
    assert registry.reasons == []  # nothing erased


async def test_the_preview_of_an_erased_learner_says_when_and_by_whom_and_what_was_erased_with_them(
    registry: Registry,
) -> None:
    erased_at = datetime(2027, 5, 3, 8, 15, tzinfo=UTC)
    registry.erased_before = Erasure(uuid.uuid4(), ULN, OPERATOR, "created in error", erased_at)
    registry.same_person = ("5449721047",)
    async with _client(registry) as client:
        answer = await client.get(f"/v1/admin/learners/{ULN}/erasure")
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert (preview["erased"], preview["erased_with"]) == (True, ["5449721047"])
    assert preview["erasure"] == {
        "erasure_id": str(registry.erased_before.erasure_id),
        "uln": ULN,
        "erased_by": OPERATOR,
        "erased_with_key": None,
        "erased_at": "2027-05-03T08:15:00Z",
        "reason": "created in error",
    }


@pytest.mark.parametrize(
    ("uln", "status", "code"),
    [(NOT_HELD, 404, "NOT_FOUND"), ("1000000042", 422, "RV002"), (TEMPORARY_ULN, 422, "RV003")],
    ids=["not-held", "check-digit", "temporary"],
)
async def test_the_preview_refuses_a_uln_as_the_erasure_would(
    registry: Registry, uln: str, status: int, code: str
) -> None:
    registry.held_temporary = True  # refused all the same (decision 0154)
    async with _client(registry) as client:
        answer = await client.get(f"/v1/admin/learners/{uln}/erasure")
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert registry.previewed == ([] if uln == TEMPORARY_ULN else [uln])


async def test_the_preview_is_for_operators_only(registry: Registry) -> None:
    async with _client(registry, "ao:RN5133") as client:
        answer = await client.get(f"/v1/admin/learners/{ULN}/erasure")
    assert answer.status_code == 403, answer.text
    assert registry.previewed == []


@pytest.mark.parametrize(
    "reason",
    ["", "   ", "\n\t", "mistake\x00", "mistake\x1b[2J", "mistake \ufffe"],
    ids=["empty", "blank", "blank-lines", "nul", "escape", "non-character"],
)
async def test_an_erasure_reason_that_says_nothing_or_could_not_be_stored_is_refused(
    registry: Registry, reason: str
) -> None:
    async with _client(registry) as client:
        answer = await client.post(f"/v1/admin/learners/{ULN}/erasure", json={"reason": reason})
    _assert_refused(answer, "body.reason")


async def test_an_erasure_reason_over_several_lines_is_audited_trimmed(registry: Registry) -> None:
    async with _client(registry) as client:
        answer = await client.post(
            f"/v1/admin/learners/{ULN}/erasure", json={"reason": " Loaded by mistake.\r\n\tTicket 4711. "}
        )
    assert answer.status_code == 201, answer.text
    assert registry.reasons == ["Loaded by mistake.\r\n\tTicket 4711."]


async def test_a_learner_file_that_is_not_utf8_is_refused_as_unreadable(registry: Registry) -> None:
    latin_1 = f"{CSV_HEADER}{ULN},Zoë,McCarthy,,,,\n".encode("latin-1")
    async with _client(registry) as client:
        answer = await client.post("/v1/learners/import", content=latin_1, headers={"content-type": "text/csv"})
    _assert_refused(answer, "not UTF-8")
    assert answer.json()["title"] == "Unreadable learner file"


@pytest.mark.parametrize(
    ("row", "refused"),
    [
        (f"{ULN},Lily\x00,McCarthy,,,,", "line 2: GivenName holds the control character U+0000"),
        (f"{ULN},Lily,{'M' * 36},,,,", "line 2: FamilyName is 36 characters long"),
        # more digits than Python's `int` reads: the column's words, not Python's (sys.set_int_max_str_digits)
        (f"{ULN},Lily,McCarthy,,{'9' * 5000},,", "line 2: Gender must be one of 0, 1, 2, 9"),
        (f"{ULN},Lily,McCarthy,,1,{'1' * 4301},", "line 2: AbilityToShare must be one of 0, 1, 2"),
    ],
)
async def test_a_learner_file_with_a_name_that_could_not_be_registered_is_refused_naming_its_line(
    registry: Registry, row: str, refused: str
) -> None:
    async with _client(registry) as client:
        answer = await client.post(
            "/v1/learners/import", content=f"{CSV_HEADER}{row}\n".encode(), headers={"content-type": "text/csv"}
        )
    _assert_refused(answer, refused)
    assert "Lily" not in answer.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (f"/v1/learners/{ULN}/sharing", {"ability_to_share": True}, "body.ability_to_share"),
        (f"/v1/learners/{ULN}/sharing", {"ability_to_share": False}, "body.ability_to_share"),
        ("/v1/learners", _registration(ability_to_share=True), "body.ability_to_share"),
        ("/v1/learners", _registration(gender=True), "body.gender"),
        (f"/v1/learners/{ULN}/sharing", {"ability_to_share": "2"}, "body.ability_to_share"),
        ("/v1/learners", _registration(gender="1"), "body.gender"),
    ],
)
async def test_true_or_false_or_text_is_not_read_as_a_coded_choice(
    registry: Registry, path: str, body: dict[str, Any], field: str
) -> None:
    async with _client(registry) as client:
        answer = await client.post(path, json=body)
    _assert_refused(answer, field)
    assert answer.json()["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize(
    "date_of_birth", ["9999-12-31", "0001-01-01", "1899-12-31", "1999-11-27T00:00:00", "19991127", 944_006_400]
)
async def test_a_date_of_birth_no_learner_has_is_refused_without_repeating_it(
    registry: Registry, date_of_birth: object
) -> None:
    async with _client(registry, PROVIDER) as client:
        answer = await client.post("/v1/learners", json=_registration(date_of_birth=date_of_birth))
    _assert_refused(answer, "body.date_of_birth")
    assert str(date_of_birth) not in answer.text


async def test_a_date_of_birth_written_yyyy_mm_dd_in_range_is_registered(registry: Registry) -> None:
    async with _client(registry, PROVIDER) as client:
        answer = await client.post("/v1/learners", json=_registration(date_of_birth="1900-01-01"))
    assert answer.status_code == 201, answer.text


async def test_a_date_of_birth_is_trimmed_as_the_names_are_and_today_is_englands(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 0176: at 00:30 on 15 June in England (23:30 UTC on the 14th) a learner born that day is registered,
    as an award of that day is accepted."""
    monkeypatch.setattr("validation.learner_registry_api.today_in_england", lambda: date(2027, 6, 15))
    async with _client(registry, PROVIDER) as client:
        born_today = await client.post("/v1/learners", json=_registration(date_of_birth=" 2027-06-15 "))
        tomorrow = await client.post("/v1/learners", json=_registration(uln=ULN, date_of_birth="2027-06-16"))
    assert born_today.status_code == 201, born_today.text
    assert registry.registered[-1].date_of_birth == date(2027, 6, 15)
    _assert_refused(tomorrow, "body.date_of_birth")


@MISTYPED
@pytest.mark.parametrize(
    ("principal", "path", "body"),
    [
        (PROVIDER, "/v1/learners/{uln}/sharing", {"ability_to_share": 1}),
        ("learner:1000000043", "/v1/learners/{uln}/sharing", {"ability_to_share": 1}),
        (OPERATOR, "/v1/admin/learners/{uln}/providers", {"ukprn": "10004567"}),
        (OPERATOR, "/v1/learners/{uln}/merge", {"merged_uln": ULN}),
        (OPERATOR, f"/v1/learners/{ULN}/merge", {"merged_uln": "{uln}"}),
    ],
)
async def test_a_registry_change_naming_a_uln_whose_check_digit_is_wrong_is_refused_as_mistyped(
    registry: Registry, uln: str, principal: str, path: str, body: dict[str, Any]
) -> None:
    """Not 403 "not linked" nor 404 "not registered": no learner can have the ULN, and the caller is told so."""
    body = {name: value.format(uln=uln) if isinstance(value, str) else value for name, value in body.items()}
    async with _client(registry, principal) as client:
        answer = await client.post(path.format(uln=uln), json=body)
    if uln == TEMPORARY_ULN:  # its own code, as the record rules give it (docs/rules.md)
        _assert_refused(answer, "temporary ULN 9999999999 (RV003)", "Nothing was changed")
        assert answer.json()["code"] == "RV003"
        return
    _assert_refused(answer, "check digit is wrong (RV002)", "Nothing was changed")
    assert answer.json()["code"] == "RV002"


@pytest.mark.parametrize("content_type", ["application/json", "application/xml", "application/x-www-form-urlencoded"])
async def test_a_learner_file_labelled_other_than_csv_is_refused_not_read_as_csv(
    registry: Registry, content_type: str
) -> None:
    rows = f"{CSV_HEADER}{ULN},Lily,McCarthy,,0,1,\n"
    async with _client(registry) as client:
        answer = await client.post("/v1/learners/import", content=rows.encode(), headers={"content-type": content_type})
    assert answer.status_code == 415, answer.text
    assert answer.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "Content-Type: text/csv" in answer.json()["detail"]
    assert registry.registered == []


@pytest.mark.parametrize("content_type", ["text/csv; charset=utf-8", "text/plain", None])
async def test_a_learner_file_labelled_csv_or_plain_text_or_not_at_all_is_read(
    registry: Registry, content_type: str | None
) -> None:
    rows = f"{CSV_HEADER}{ULN},Lily,McCarthy,,0,1,\n"
    headers = {"content-type": content_type} if content_type else {}
    async with _client(registry) as client:
        answer = await client.post("/v1/learners/import", content=rows.encode(), headers=headers)
    assert answer.status_code == 201, answer.text
    assert [learner.uln for learner in registry.registered] == [ULN]


async def test_a_merge_and_a_provider_link_are_logged_with_who_made_them_and_no_full_uln(registry: Registry) -> None:
    """An auditor asks who merged two ULNs or linked a provider: the log says, with the ULNs masked."""
    other = "6936002314"
    async with _client(registry) as client:
        with structlog.testing.capture_logs() as logs:
            merged = await client.post(f"/v1/learners/{ULN}/merge", json={"merged_uln": other})
            linked = await client.post(f"/v1/admin/learners/{ULN}/providers", json={"ukprn": "10004567"})

    assert (merged.status_code, linked.status_code) == (204, 204), (merged.text, linked.text)
    said = {entry["event"]: entry for entry in logs if entry["event"] in ("learners_merged", "provider_linked")}
    assert said["learners_merged"]["by"] == said["provider_linked"]["by"] == OPERATOR
    assert said["provider_linked"]["ukprn"] == "10004567"
    assert ULN not in str(said) and other not in str(said) and said["learners_merged"]["merged_uln"].endswith("2314")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/learners",
        f"/v1/learners/{ULN}/sharing",
        f"/v1/admin/learners/{ULN}/providers",
        f"/v1/learners/{ULN}/merge",
        f"/v1/admin/learners/{ULN}/erasure",
    ],
)
async def test_a_body_nested_too_deeply_to_read_is_refused_not_a_server_error(registry: Registry, path: str) -> None:
    """4 KB nested 2,000 levels ran Python's JSON parser out of stack: a 500 INTERNAL_ERROR."""
    nested = b'{"a":' * 1_000 + b"1" + b"}" * 1_000
    async with _client(registry) as client:
        answer = await client.post(path, content=nested, headers={"content-type": "application/json"})
    _assert_refused(answer, "nested too deeply")
    assert answer.json()["code"] == "MALFORMED_REQUEST"
