"""A learner's details corrected as the same person (UK GDPR Art. 16, `POST /v1/admin/learners/{uln}/correction`), on
the running system (real Kafka and PostgreSQL): unlike a learner file replacing a provider's registered details
(decision 0121), the correction keeps the provider's link, the learner's own API key and the provider's centre report
on the PLR; it corrects every ULN of a merged learner; each correction is audited in `validation.rectifications`
(ULNs, field names, reason, who, which key, when: never the details), listed by the corrections route and in the
subject access answer, and the audit refuses being rewritten (decision 0200). An erased learner, an unknown ULN, a
correction that changes nothing and one without a reason are refused, nothing changed."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register
from tests.support.databases import prepare_validation_database
from tests.support.learners import new_learner
from tests.support.waiting import eventually

from lrs_domain.reference import Learner
from lrs_platform.credential_store import CredentialStore, IssuedKey
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import DetailsCorrection, LearnerRegistry

pytestmark = pytest.mark.integration

OPERATOR = "operator:case-worker"
CENTRE = "/v1/centre/achievements"


def _provider() -> str:
    return f"1{uuid.uuid4().int % 10**7:07d}"


async def _db(system: SystemUnderTest, query: str, *args: Any) -> list[asyncpg.Record]:
    pool = await create_pool(system.database_url, max_size=1)
    try:
        return list(await pool.fetch(query, *args))
    finally:
        await pool.close()


async def _issued(system: SystemUnderTest, *scopes: str) -> IssuedKey:
    pool = await create_pool(system.database_url, max_size=1)
    try:
        return await CredentialStore(pool).issue(Principal.parse(OPERATOR, frozenset(scopes)), label="tests")
    finally:
        await pool.close()


async def _scoped_key(system: SystemUnderTest, *scopes: str) -> str:
    return (await _issued(system, *scopes)).token


def _client(system: SystemUnderTest, service: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=system.url(service), headers={"Authorization": f"Bearer {token}"}, timeout=60.0)


async def _correct(system: SystemUnderTest, uln: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    async with _client(system, "validation", token or await _scoped_key(system, "registry")) as client:
        return await client.post(f"/v1/admin/learners/{uln}/correction", json=body)


async def _details(system: SystemUnderTest, ulns: list[str]) -> dict[str, tuple[str, str]]:
    rows = await _db(
        system, "SELECT uln, given_name, family_name FROM validation.learners WHERE uln = ANY($1::text[])", ulns
    )
    return {row["uln"]: (row["given_name"], row["family_name"]) for row in rows}


async def _registered_events(system: SystemUnderTest, uln: str) -> int:
    rows = await _db(
        system,
        "SELECT count(*) AS n FROM validation.learner_outbox WHERE partition_key = $1"
        " AND convert_from(envelope, 'UTF8') LIKE '%lrs.learner.registered.v%'",
        uln,
    )
    return int(rows[0]["n"])


async def test_a_provider_registered_learner_corrected_keeps_the_link_their_key_and_the_centre_report(
    system: SystemUnderTest,
) -> None:
    ukprn = _provider()
    learner = new_learner(given_name="Aoife", family_name="Murphey")
    uln = learner["uln"]
    async with await system.client("validation", f"provider:{ukprn}") as college:
        registered = await college.post(
            "/v1/learners", json={key: learner[key] for key in ("uln", "given_name", "family_name", "date_of_birth")}
        )
        assert registered.status_code == 201, registered.text
    async with await system.client("plr-projector", f"provider:{ukprn}") as college:

        async def reported() -> httpx.Response | None:
            answer = await college.post(
                CENTRE, json={"uln": uln, "qualification_number": "600/1166/X", "subject": "Maths", "grade": "B"}
            )
            return answer if answer.status_code == 202 else None  # 403 until the link is projected

        await eventually(reported, within=60, what="the college's centre report taken")
    learner_key = await system.key_for(f"learner:{uln}")
    registered_before = await _registered_events(system, uln)
    assert registered_before == 1  # the college's registration

    corrected = await _correct(system, uln, {"family_name": "Murphy", "reason": "SAR-2026-118: the learner asked"})

    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["ulns"], corrected.json()["fields"]) == ([uln], ["family_name"])
    assert "Murphy" not in corrected.text and "Murphey" not in corrected.text
    assert (await _details(system, [uln]))[uln] == ("Aoife", "Murphy")
    assert await _registered_events(system, uln) == registered_before + 1  # announced as a file's change is
    # the link, and nothing of it ended
    links = await _db(system, "SELECT provider_ukprn FROM validation.learner_links WHERE uln = $1", uln)
    assert [row["provider_ukprn"] for row in links] == [ukprn]
    ended = await _db(system, "SELECT 1 FROM validation.link_changes WHERE uln = $1 AND change = 'unlinked'", uln)
    assert ended == []

    # the learner log is read in order per ULN: once the projector has applied a later change of sharing, it has
    # applied the correction, and the college still reads the PLR with its report on it, as the learner does
    async with await system.client("validation", OPERATOR) as operator:
        unable = await operator.post(f"/v1/learners/{uln}/sharing", json={"ability_to_share": 2})
        assert unable.status_code == 204, unable.text
    async with await system.client("plr-projector", f"provider:{ukprn}") as college:

        async def not_shared() -> bool:
            answer = await college.get(f"/v1/learners/{uln}/plr")
            return answer.status_code == 403 and answer.json().get("code") == "WSEC0206"

        await eventually(not_shared, within=60, what="the opt-out after the correction projected")
    async with await system.client("validation", OPERATOR) as operator:
        shares = await operator.post(f"/v1/learners/{uln}/sharing", json={"ability_to_share": 1})
        assert shares.status_code == 204, shares.text

    def centre_grades(plr: dict[str, Any]) -> list[str]:
        return [event["grade"] for event in plr["learning_events"] if event["source"] == "ILR"]

    async with await system.client("plr-projector", f"provider:{ukprn}") as college:

        async def read_by_the_college() -> dict[str, Any] | None:
            answer = await college.get(f"/v1/learners/{uln}/plr")
            return answer.json() if answer.status_code == 200 else None

        assert centre_grades(await eventually(read_by_the_college, within=60, what="the college reads again")) == ["B"]
    async with _client(system, "plr-projector", learner_key) as themself:
        own = await themself.get(f"/v1/learners/{uln}/plr")
    assert own.status_code == 200, own.text  # the learner's key was not revoked
    assert centre_grades(own.json()) == ["B"]


async def test_a_merged_learner_is_corrected_on_every_uln_audited_and_listed(system: SystemUnderTest) -> None:
    master = new_learner(given_name="Niamh", family_name="Kelli")
    other = new_learner(**{key: master[key] for key in ("given_name", "family_name", "date_of_birth")})
    await register(system, [master, {**other, "master_uln": master["uln"]}])
    ulns = sorted([master["uln"], other["uln"]])
    issued = await _issued(system, "registry")
    token, key_id = issued.token, issued.key_id

    corrected = await _correct(system, other["uln"], {"family_name": "Kelly", "reason": "SAR-2026-119"}, token)

    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["ulns"] == ulns
    assert (corrected.json()["corrected_by"], corrected.json()["corrected_with_key"]) == (OPERATOR, key_id)
    assert await _details(system, ulns) == {uln: ("Niamh", "Kelly") for uln in ulns}
    assert [await _registered_events(system, uln) for uln in ulns] == [2, 2]  # the file's, then the correction's
    [audit] = await _db(
        system,
        "SELECT ulns, fields, reason, corrected_by, corrected_with_key FROM validation.rectifications"
        " WHERE ulns && $1::text[]",
        ulns,
    )
    assert dict(audit) == {
        "ulns": ulns,
        "fields": ["family_name"],
        "reason": "SAR-2026-119",
        "corrected_by": OPERATOR,
        "corrected_with_key": key_id,
    }
    # listed under either ULN, and in the subject access answer (which fields, why, by whom: never the values)
    async with _client(system, "validation", token) as client:
        listed = await client.get(f"/v1/admin/learners/{master['uln']}/corrections")
    assert listed.status_code == 200, listed.text
    assert [(each["ulns"], each["fields"]) for each in listed.json()["corrections"]] == [(ulns, ["family_name"])]
    async with _client(system, "validation", await _scoped_key(system, "erasure")) as dpo:
        held = await dpo.get(f"/v1/admin/learners/{master['uln']}/personal-data")
    assert held.status_code == 200, held.text
    [shown] = held.json()["corrections"]
    assert (shown["ulns"], shown["fields"], shown["reason"], shown["corrected_by"]) == (
        ulns,
        ["family_name"],
        "SAR-2026-119",
        OPERATOR,
    )

    # the same correction again changes nothing: refused, and nothing more audited
    again = await _correct(system, master["uln"], {"family_name": "Kelly", "reason": "SAR-2026-119"}, token)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "CONFLICT"
    assert len(await _db(system, "SELECT 1 FROM validation.rectifications WHERE ulns && $1::text[]", ulns)) == 1


async def test_an_erased_learner_an_unknown_uln_no_reason_and_another_scope_are_refused(
    system: SystemUnderTest,
) -> None:
    erased, unknown = new_learner(), new_learner()
    await register(system, [erased])
    async with await system.client("validation", OPERATOR) as operator:
        erasure = await operator.post(f"/v1/admin/learners/{erased['uln']}/erasure", json={"reason": "tests"})
        assert erasure.status_code in (200, 201), erasure.text
    body = {"given_name": "Someone", "reason": "SAR-2026-120"}

    gone = await _correct(system, erased["uln"], body)
    never = await _correct(system, unknown["uln"], body)
    no_reason = await _correct(system, erased["uln"], {"given_name": "Someone"})
    other_scope = await _correct(system, unknown["uln"], body, await _scoped_key(system, "erasure"))

    assert (gone.status_code, gone.json()["code"]) == (410, "LEARNER_ERASED"), gone.text
    assert (never.status_code, never.json()["code"]) == (404, "LEARNER_NOT_REGISTERED"), never.text
    assert no_reason.status_code == 422, no_reason.text
    assert "Say why" in no_reason.json()["detail"]
    assert (other_scope.status_code, other_scope.json()["code"]) == (403, "OPERATOR_SCOPE_MISSING"), other_scope.text
    held = await _db(
        system, "SELECT 1 FROM validation.rectifications WHERE ulns && $1::text[]", [erased["uln"], unknown["uln"]]
    )
    assert held == []
    assert await _db(system, "SELECT 1 FROM validation.learners WHERE uln = $1", unknown["uln"]) == []


async def test_the_audit_of_corrections_refuses_an_update_a_delete_and_a_truncate(pool: asyncpg.Pool) -> None:
    await prepare_validation_database(pool)
    store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
    await store.register_learners([Learner("1000000043", "Siobahn", "O'Conor", None, 2, 1)], imported_by=OPERATOR)
    await store.correct_details(
        "1000000043",
        DetailsCorrection(given_name="Siobhán", family_name="O'Connor"),
        reason="SAR-2026-117",
        corrected_by=OPERATOR,
        with_key="key-1",
    )
    kept = await pool.fetch("SELECT * FROM validation.rectifications")
    assert [(row["ulns"], row["fields"]) for row in kept] == [(["1000000043"], ["given_name", "family_name"])]

    for statement in (
        "UPDATE validation.rectifications SET reason = 'rewritten'",
        "DELETE FROM validation.rectifications",
        "TRUNCATE validation.rectifications",
    ):
        with pytest.raises(asyncpg.RestrictViolationError, match="rectifications is an audit record"):
            await pool.execute(statement)
    assert await pool.fetch("SELECT * FROM validation.rectifications") == kept
