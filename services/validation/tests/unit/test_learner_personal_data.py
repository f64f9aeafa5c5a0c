"""`GET /v1/admin/learners/{uln}/personal-data` (decision 0191): what the registry holds about a learner, for an
operator answering their subject access request. Only operators with the erasure's scope (or a key without scopes)
read it; it names every ULN of the learner, the master first; an erased learner's answer holds no details; the read is
logged with the ULN masked and no personal data, and audited (who, when, the reason given) before it is answered, the
answer listing the learner's earlier disclosures; a reason is one line of at most 500 characters."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
import pytest
import structlog

from lrs_contracts.environments import Environment
from lrs_contracts.learner import AbilityToShare
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.disclosures import Disclosure
from validation.learner_registry import (
    Erasure,
    HeldAbout,
    RecordedProviderLink,
    RecordedSharingChange,
    RegistryRow,
)

MASTER = "1000000043"
MERGED = "1000000051"
ERASED = "5555555554"
NEVER_HELD = "1000000078"
MISTYPED = "1000000044"
AT = datetime(2026, 11, 3, 10, 30, tzinfo=UTC)
ERASED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GIVEN, FAMILY, BORN = "Quenivere", "Zdravkowitzka", date(1977, 12, 29)


def _row(uln: str, master: str | None = None, *, erased: bool = False) -> RegistryRow:
    return RegistryRow(
        uln=uln,
        given_name=None if erased else GIVEN,
        family_name=None if erased else FAMILY,
        date_of_birth=None if erased else BORN,
        gender=None if erased else 2,
        ability_to_share=int(AbilityToShare.SHARES),
        master_uln=master,
        updated_at=AT,
        erased_at=ERASED_AT if erased else None,
    )


HELD = {
    # asked by its merged ULN: the master comes first
    MERGED: HeldAbout(
        uln=MERGED,
        master_uln=MASTER,
        registrations=(_row(MASTER), _row(MERGED, MASTER)),
        provider_links=(RecordedProviderLink(MERGED, "10004567", "provider:10004567", AT),),
        sharing_changes=(RecordedSharingChange(MASTER, AbilityToShare.SHARES, f"learner:{MASTER}", AT, 2),),
        erasures=(),
    ),
    ERASED: HeldAbout(
        uln=ERASED,
        master_uln=ERASED,
        registrations=(_row(ERASED, erased=True),),
        provider_links=(),
        sharing_changes=(RecordedSharingChange(ERASED, AbilityToShare.UNABLE_TO_SHARE, "operator:desk", AT, 1),),
        erasures=(Erasure(uuid.uuid4(), ERASED, "operator:dpo", "test learner loaded into production", ERASED_AT),),
    ),
}


class Registry:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def held_about(self, uln: str) -> HeldAbout | None:
        self.asked.append(uln)
        return HELD.get(uln)


EARLIER = Disclosure(uuid.uuid4(), MASTER, "operator:desk", AT, "SAR 2026-117", reason_erased=False)


class Disclosures:
    """The audit of disclosures, holding one earlier disclosure under the master ULN."""

    def __init__(self, *, failing: bool = False) -> None:
        self.failing = failing
        self.recorded: list[Disclosure] = []

    async def record(self, uln: str, read_by: str, reason: str | None) -> Disclosure | None:
        if self.failing:
            raise ConnectionRefusedError("the database is down")
        if uln not in HELD:
            return None
        disclosure = Disclosure(uuid.uuid4(), uln, read_by, ERASED_AT, reason, reason_erased=False)
        self.recorded.append(disclosure)
        return disclosure

    async def earlier(self, disclosure: Disclosure, learners_ulns: Collection[str]) -> list[Disclosure]:
        return [EARLIER] if MASTER in learners_ulns else []


@dataclass(frozen=True)
class OneKey:
    """The identity store, knowing one key: whose it is and its scopes."""

    principal: str
    scopes: frozenset[str] = frozenset()
    environment: Environment = Environment.LIVE

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse(self.principal, self.scopes)


async def _read(
    uln: str,
    principal: str = "operator:dpo",
    scopes: frozenset[str] = frozenset(),
    *,
    params: dict[str, str] | None = None,
    disclosures: Disclosures | None = None,
) -> httpx.Response:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.credentials = OneKey(principal, scopes)
    app.state.learner_registry = Registry()
    app.state.disclosures = disclosures or Disclosures()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        return await client.get(
            f"/v1/admin/learners/{uln}/personal-data",
            params=params,
            headers={"Authorization": "Bearer lrs_0123456789abcdef_x"},
        )


@pytest.mark.parametrize(
    ("principal", "scopes", "code"),
    [
        ("ao:RN9093", frozenset(), "FORBIDDEN"),
        (f"learner:{MERGED}", frozenset(), "FORBIDDEN"),
        ("provider:10004567", frozenset(), "FORBIDDEN"),
        ("operator:desk", frozenset({"support", "registry"}), "OPERATOR_SCOPE_MISSING"),
    ],
)
async def test_only_operators_with_the_erasure_scope_read_it(principal: str, scopes: frozenset[str], code: str) -> None:
    answer = await _read(MERGED, principal, scopes)

    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == code
    assert GIVEN not in answer.text


@pytest.mark.parametrize("scopes", [frozenset(), frozenset({"erasure"}), frozenset({"support", "erasure"})])
async def test_an_operator_with_the_erasure_scope_or_none_reads_it(scopes: frozenset[str]) -> None:
    answer = await _read(MERGED, scopes=scopes)

    assert answer.status_code == 200, answer.text


async def test_the_answer_holds_every_uln_of_the_learner_master_first_with_what_is_held() -> None:
    with structlog.testing.capture_logs() as logs:
        answer = await _read(MERGED)

    assert answer.status_code == 200, answer.text
    held = answer.json()
    assert (held["uln"], held["ulns"], held["erased"], held["erased_at"]) == (MERGED, [MASTER, MERGED], False, None)
    assert held["what_was_erased"] is None
    assert [
        (row["uln"], row["given_name"], row["family_name"], row["date_of_birth"], row["gender"], row["merged_into"])
        for row in held["registered_details"]
    ] == [(MASTER, GIVEN, FAMILY, "1977-12-29", 2, None), (MERGED, GIVEN, FAMILY, "1977-12-29", 2, MASTER)]
    assert held["registered_details"][0]["last_changed_at"] == "2026-11-03T10:30:00Z"
    assert held["ability_to_share"] == 1
    assert held["sharing_changes"] == [
        {"uln": MASTER, "ability_to_share": 1, "changed_by": f"learner:{MASTER}", "changed_at": "2026-11-03T10:30:00Z"}
    ]
    assert held["providers"] == [
        {"uln": MERGED, "ukprn": "10004567", "linked_since": "2026-11-03T10:30:00Z", "linked_by": "provider:10004567"}
    ]
    assert held["merges"] == [{"merged_uln": MERGED, "master_uln": MASTER}]
    assert held["erasures"] == []

    [read] = [entry for entry in logs if entry["event"] == "learner_personal_data_read"]
    assert (read["uln"], read["by"], read["ulns"]) == ("******0051", "operator:dpo", 2)
    said = str(logs)
    assert not [value for value in (MASTER, MERGED, GIVEN, FAMILY, "1977-12-29") if value in said]


async def test_an_erased_learners_answer_says_what_was_erased_and_holds_no_details() -> None:
    answer = await _read(ERASED)

    assert answer.status_code == 200, answer.text
    held = answer.json()
    assert (held["erased"], held["erased_at"], held["ability_to_share"]) == (True, "2026-12-01T09:00:00Z", None)
    assert "given name, family name, date of birth and gender" in held["what_was_erased"]
    [row] = held["registered_details"]
    assert (row["given_name"], row["family_name"], row["date_of_birth"], row["gender"]) == (None, None, None, None)
    assert [(erasure["uln"], erasure["erased_by"]) for erasure in held["erasures"]] == [(ERASED, "operator:dpo")]
    assert held["sharing_changes"][0]["changed_by"] == "operator:desk"  # kept through the erasure (0166)


async def test_a_uln_never_held_is_not_found() -> None:
    answer = await _read(NEVER_HELD)

    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "LEARNER_NOT_REGISTERED"


@pytest.mark.parametrize(("uln", "code"), [(MISTYPED, "RV002"), ("9999999999", "RV003")])
async def test_a_uln_no_learner_can_have_is_refused_as_elsewhere(uln: str, code: str) -> None:
    answer = await _read(uln)

    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code


async def test_the_sandpit_refuses_it() -> None:
    app = build_app(
        "validation", title="Validation", description="", lifespan=noop_lifespan, environment=Environment.SANDPIT
    )
    app.include_router(router)
    app.state.credentials = OneKey("operator:dpo", environment=Environment.SANDPIT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        answer = await client.get(
            f"/v1/admin/learners/{MASTER}/personal-data", headers={"Authorization": "Bearer lrs_sbx_0123456789abcdef_x"}
        )

    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "SANDPIT_READ_ONLY"


async def test_the_answer_is_audited_first_and_lists_the_learners_earlier_disclosures() -> None:
    disclosures = Disclosures()

    answer = await _read(MERGED, params={"reason": "  SAR 2026-201 "}, disclosures=disclosures)

    assert answer.status_code == 200, answer.text
    [recorded] = disclosures.recorded
    assert (recorded.uln, recorded.read_by, recorded.reason) == (MERGED, "operator:dpo", "SAR 2026-201")  # trimmed
    held = answer.json()
    assert held["disclosure"] == {
        "disclosure_id": str(recorded.disclosure_id),
        "uln": MERGED,
        "read_by": "operator:dpo",
        "read_at": "2026-12-01T09:00:00Z",
        "reason": "SAR 2026-201",
        "reason_erased": False,
    }
    assert [(each["uln"], each["read_by"], each["reason"]) for each in held["earlier_disclosures"]] == [
        (MASTER, "operator:desk", "SAR 2026-117")
    ]


async def test_an_answer_whose_audit_cannot_be_written_is_not_sent() -> None:
    answer = await _read(MERGED, disclosures=Disclosures(failing=True))

    assert answer.status_code == 503, answer.text
    assert GIVEN not in answer.text


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("SAR\nfrom the learner", "line break"),
        ("SAR \u202efrom", "bidirectional control"),
        ("   ", "blank"),
        ("x" * 501, "500"),
    ],
)
async def test_a_reason_that_is_not_one_line_of_at_most_500_characters_is_refused(reason: str, said: str) -> None:
    disclosures = Disclosures()

    answer = await _read(MERGED, params={"reason": reason}, disclosures=disclosures)

    assert answer.status_code == 422, answer.text
    assert said in answer.text
    assert disclosures.recorded == []
    assert GIVEN not in answer.text
