"""`POST /v1/admin/learners/{uln}/correction` (UK GDPR Art. 16): an operator with the registry's scope corrects a
learner's details as the same person, saying why (a reason a reader sees, as a dead letter's skip is refused without
one); the route refuses, in words and with the API's problem codes, a body that gives no detail, an unknown ULN, an
erased learner and a correction that changes nothing. `GET /v1/admin/learners/{uln}/corrections` lists them, paged
like the link changes. The registry's pure parts: which fields a correction changes on which ULN, byte for byte."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.paging import PagePosition
from validation.api import router
from validation.learner_registry import (
    DetailsCorrection,
    ErasedLearnerError,
    NothingToCorrectError,
    Rectification,
    UnknownLearnerError,
    corrected_learner,
    fields_changed,
)
from validation.learner_registry_api import DetailsCorrectionRequest

ULN, MERGED, ERASED, UNKNOWN, SAME = "1000000043", "7770000016", "5555555554", "1026893096", "1000000051"
AT = datetime(2026, 12, 8, 9, tzinfo=UTC)


class Registry:
    """Answers a correction as the store does for `ULN` (merged with `MERGED`), refuses the others as it would, and
    notes each correction asked."""

    def __init__(self, kept: int = 0) -> None:
        self.corrected: list[tuple[str, DetailsCorrection, str, str, str | None]] = []
        self.kept = [
            Rectification(
                uuid.UUID(int=number),
                (ULN, MERGED),
                ("family_name",),
                f"SAR-{number}",
                "operator:dpo",
                AT + timedelta(minutes=number),
            )
            for number in range(kept, 0, -1)
        ]

    async def correct_details(
        self, uln: str, correction: DetailsCorrection, *, reason: str, corrected_by: str, with_key: str | None = None
    ) -> Rectification:
        self.corrected.append((uln, correction, reason, corrected_by, with_key))
        if uln == UNKNOWN:
            raise UnknownLearnerError(uln[-4:])
        if uln == ERASED:
            raise ErasedLearnerError(uln[-4:])
        if uln == SAME:
            raise NothingToCorrectError(uln[-4:])
        fields = tuple(correction.given())
        return Rectification(uuid.UUID(int=1), (ULN, MERGED), fields, reason, corrected_by, AT, with_key)

    async def same_learner(self, uln: str) -> list[str]:
        return [MERGED] if uln == ULN else []

    async def erasures(self, uln: str) -> list[object]:
        return []

    async def learners_for(self, ulns: Collection[str]) -> dict[str, object]:
        return {ULN: object()} if ULN in ulns else {}

    async def rectifications(
        self, ulns: Collection[str], limit: int = 100, *, after: PagePosition | None = None
    ) -> list[Rectification]:
        found = [each for each in self.kept if after is None or each.corrected_at < after.at]
        return found[:limit]

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the request reached the registry ({name})")


def _client(principal: Principal, registry: Registry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: principal
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


OPERATOR = Principal.parse("operator:dpo", frozenset({"registry"}))


async def test_a_correction_names_the_ulns_and_fields_it_changed_never_the_values() -> None:
    registry = Registry()
    operator = Principal(OPERATOR.kind, OPERATOR.id, OPERATOR.scopes, key_id="key-17")
    async with _client(operator, registry) as client:
        answer = await client.post(
            f"/v1/admin/learners/{ULN}/correction",
            json={"given_name": " Siobhán ", "family_name": "O'Connor", "reason": "SAR-117: the learner asked"},
        )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "rectification_id": str(uuid.UUID(int=1)),
        "ulns": [ULN, MERGED],
        "fields": ["given_name", "family_name"],
        "reason": "SAR-117: the learner asked",
        "corrected_by": "operator:dpo",
        "corrected_with_key": "key-17",
        "corrected_at": "2026-12-08T09:00:00Z",
    }
    [(uln, correction, reason, by, key)] = registry.corrected
    assert (uln, reason, by, key) == (ULN, "SAR-117: the learner asked", "operator:dpo", "key-17")
    assert correction == DetailsCorrection(given_name="Siobhán", family_name="O'Connor")  # trimmed


@pytest.mark.parametrize(
    "body",
    [
        {"family_name": "Murphy"},
        {"family_name": "Murphy", "reason": None},
        {"family_name": "Murphy", "reason": "  \u200b "},
    ],
    ids=["left out", "null", "nothing visible"],
)
async def test_a_correction_without_a_reason_a_reader_sees_is_refused_in_words(body: dict[str, Any]) -> None:
    registry = Registry()
    async with _client(OPERATOR, registry) as client:
        answer = await client.post(f"/v1/admin/learners/{ULN}/correction", json=body)

    assert answer.status_code == 422, answer.text
    assert "Say why the learner's details are corrected" in answer.json()["detail"]
    assert registry.corrected == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"family_name": "Murphy", "reason": "SAR-117: surname should read MURPHY"}, "family name"),
        ({"given_name": "Aoife", "reason": "aoife asked, case 12"}, "given name"),
        ({"date_of_birth": "2005-01-02", "reason": "born 02/01/2005, case 12"}, "date of birth"),
    ],
)
async def test_a_reason_holding_the_details_it_corrects_is_refused_as_it_outlives_an_erasure(
    body: dict[str, Any], named: str
) -> None:
    registry = Registry()
    async with _client(OPERATOR, registry) as client:
        answer = await client.post(f"/v1/admin/learners/{ULN}/correction", json=body)

    assert answer.status_code == 422, answer.text
    assert f"The reason holds the learner's {named}" in answer.json()["detail"]
    assert "Murphy" not in answer.json()["detail"] and "2005" not in answer.json()["detail"]
    assert registry.corrected == []


def test_a_reason_holding_a_detail_only_inside_a_word_is_taken() -> None:
    body = {"given_name": "Ed", "family_name": "Lee", "reason": "Learner requested a correction via the Leeds office"}
    assert DetailsCorrectionRequest.model_validate(body).reason.startswith("Learner requested")


async def test_a_correction_giving_no_detail_is_refused_before_the_registry_is_asked() -> None:
    registry = Registry()
    async with _client(OPERATOR, registry) as client:
        answer = await client.post(f"/v1/admin/learners/{ULN}/correction", json={"reason": "SAR-117"})

    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "INVALID_REQUEST"
    assert "at least one of given_name, family_name, date_of_birth and gender" in answer.json()["detail"]
    assert registry.corrected == []


@pytest.mark.parametrize(
    ("uln", "status", "code", "said"),
    [
        (UNKNOWN, 404, "LEARNER_NOT_REGISTERED", "No learner is registered under this ULN"),
        (ERASED, 410, "LEARNER_ERASED", "erased: they have no details left to correct"),
        (SAME, 409, "CONFLICT", "holds these details already: nothing was changed or recorded"),
        ("1000000044", 422, "RV002", "Nothing was changed"),
    ],
    ids=["unknown", "erased", "changes nothing", "wrong check digit"],
)
async def test_refusals_are_said_with_the_apis_codes(uln: str, status: int, code: str, said: str) -> None:
    async with _client(OPERATOR, Registry()) as client:
        answer = await client.post(
            f"/v1/admin/learners/{uln}/correction", json={"date_of_birth": "2006-03-14", "reason": "SAR-117"}
        )

    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert said in answer.json()["detail"]


async def test_a_name_is_checked_as_a_registrations_is() -> None:
    registry = Registry()
    async with _client(OPERATOR, registry) as client:
        answer = await client.post(
            f"/v1/admin/learners/{ULN}/correction", json={"given_name": "Sio\u00a0bhan", "reason": "SAR-117"}
        )

    assert answer.status_code == 422, answer.text
    assert registry.corrected == []


@pytest.mark.parametrize("principal", [f"learner:{ULN}", "provider:10004567", "ao:RN5"])
async def test_only_an_operator_corrects_details(principal: str) -> None:
    registry = Registry()
    async with _client(Principal.parse(principal), registry) as client:
        answer = await client.post(f"/v1/admin/learners/{ULN}/correction", json={"gender": 2, "reason": "SAR"})

    assert answer.status_code == 403, answer.text
    assert registry.corrected == []


async def test_the_corrections_are_listed_newest_first_and_paged() -> None:
    registry = Registry(kept=3)
    async with _client(OPERATOR, registry) as client:
        first = await client.get(f"/v1/admin/learners/{ULN}/corrections", params={"limit": 2})
        rest = await client.get(
            f"/v1/admin/learners/{ULN}/corrections", params={"limit": 2, "after": first.json()["next"]}
        )

    assert first.status_code == 200, first.text
    assert first.json()["ulns"] == [ULN, MERGED]
    assert [each["reason"] for each in first.json()["corrections"] + rest.json()["corrections"]] == [
        "SAR-3",
        "SAR-2",
        "SAR-1",
    ]
    assert first.json()["corrections"][0]["fields"] == ["family_name"]
    assert rest.json()["next"] is None


def test_the_fields_changed_are_those_that_differ_byte_for_byte_on_each_uln() -> None:
    rows = [
        {"uln": ULN, "given_name": "Siobahn", "family_name": "O'Connor", "date_of_birth": None, "gender": 2},
        {"uln": MERGED, "given_name": "Siobahn", "family_name": "O'Conor", "date_of_birth": None, "gender": 2},
    ]
    given = DetailsCorrection(family_name="O'Connor", gender=2).given()

    assert fields_changed(rows, given) == {MERGED: ("family_name",)}
    assert fields_changed(rows, DetailsCorrection(given_name="siobahn").given()) == {
        ULN: ("given_name",),
        MERGED: ("given_name",),
    }  # a correction of case alone is one
    assert fields_changed(rows, DetailsCorrection(gender=2).given()) == {}


def test_a_corrected_learner_keeps_the_rows_sharing_and_merge() -> None:
    row = {
        "uln": MERGED,
        "given_name": "Niamh",
        "family_name": "Kelli",
        "date_of_birth": date(2003, 2, 1),
        "gender": 2,
        "ability_to_share": 2,
        "master_uln": ULN,
    }
    learner = corrected_learner(row, DetailsCorrection(family_name="Kelly").given())

    assert (learner.given_name, learner.family_name, learner.date_of_birth) == ("Niamh", "Kelly", date(2003, 2, 1))
    assert (learner.ability_to_share, learner.master_uln) == (2, ULN)
