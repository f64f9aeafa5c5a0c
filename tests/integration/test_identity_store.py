"""API keys in PostgreSQL: revoking keys by id and listing them, as the portal's operators do."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tests.integration.credential_stores import credential_store  # noqa: F401 - the tests' `store` fixture

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import SESSION_KEY_LABEL, CredentialStore, NoKeyToRotateError
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal, PrincipalKind


async def test_revoking_keys_by_id_stops_only_those_keys(store: CredentialStore) -> None:
    first = await store.issue(Principal.parse("ao:RN5133"), "first")
    second = await store.issue(Principal.parse("ao:RN5133"), "second")
    other = await store.issue(Principal.parse("ao:RN9093"), "other")

    assert await store.revoke(first.key_id, "feedfacefeedface") == 1
    assert await store.revoke(first.key_id) == 0  # already revoked
    assert await store.authenticate(first.token) is None
    assert await store.authenticate(second.token) == Principal.parse("ao:RN5133")
    assert await store.authenticate(other.token) == Principal.parse("ao:RN9093")


async def test_revoking_a_listed_key_revokes_only_what_that_listing_shows(store: CredentialStore) -> None:
    """The portal's accounts page revokes AO keys it lists, whatever key id it is sent (decision 0124)."""
    ao_key = await store.issue(Principal.parse("ao:RN5133"), "results system")
    operator_key = await store.issue(Principal.parse("operator:root"), "root")
    session_key = await store.issue_for_session(Principal.parse("ao:RN5133"), "nia")

    refused = [
        await store.revoke_listed(key.key_id, PrincipalKind.AO, label_not_starting=SESSION_KEY_LABEL)
        for key in (operator_key, session_key)
    ]
    revoked = await store.revoke_listed(ao_key.key_id, PrincipalKind.AO, label_not_starting=SESSION_KEY_LABEL)

    assert refused == [None, None] and revoked == Principal.parse("ao:RN5133")
    assert await store.authenticate(ao_key.token) is None
    assert await store.authenticate(operator_key.token) == Principal.parse("operator:root")
    assert await store.authenticate(session_key.token) == Principal.parse("ao:RN5133")


async def test_the_listing_filters_by_kind_revocation_and_label(store: CredentialStore) -> None:
    older = await store.issue(Principal.parse("ao:RN5133"), "older")
    newer = await store.issue(Principal.parse("ao:RN5133"), "newer")
    session = await store.issue_for_session(Principal.parse("ao:RN5133"), "someone")
    unlabelled = await store.issue(Principal.parse("ao:RN9093"))
    operator = await store.issue(Principal.parse("operator:ops", frozenset({"rebuild"})), "ops")
    await store.revoke(older.key_id)

    assert [key.key_id for key in await store.listing(PrincipalKind.AO, label_not_starting="portal session:")] == [
        newer.key_id,
        unlabelled.key_id,
    ]
    every_ao_key = await store.listing(PrincipalKind.AO, include_revoked=True)
    assert {key.key_id for key in every_ao_key} == {older.key_id, newer.key_id, session.key_id, unlabelled.key_id}
    assert [key.revoked_at is not None for key in every_ao_key if key.key_id == older.key_id] == [True]
    (listed_operator,) = await store.listing(PrincipalKind.OPERATOR)
    assert (listed_operator.key_id, listed_operator.principal, listed_operator.label) == (
        operator.key_id,
        operator.principal,
        "ops",
    )
    assert listed_operator.principal.scopes == frozenset({"rebuild"})
    assert len(await store.listing()) == 4
    assert len(await store.listing(limit=2)) == 2
    assert await store.count() == 4
    assert await store.count(PrincipalKind.AO, label_not_starting="portal session:") == 2

    rn9093 = Principal.parse("ao:RN9093")
    assert [key.key_id for key in await store.listing(PrincipalKind.AO, principal=rn9093)] == [unlabelled.key_id]
    assert await store.count(PrincipalKind.AO, principal=rn9093) == 1
    assert await store.count(PrincipalKind.AO, principal=Principal.parse("ao:RN5133"), include_revoked=True) == 3


async def test_rotations_of_one_principal_at_once_leave_one_live_key(
    store: CredentialStore, fresh_database_url: str
) -> None:
    ao = Principal.parse("ao:RN5133")
    await store.issue(ao, "first")
    # another pool, as another operator's command or another instance would have
    other_pool = await create_pool(fresh_database_url, max_size=1)
    try:
        issued = await asyncio.gather(store.rotate(ao, "rotated"), CredentialStore(other_pool).rotate(ao, "again"))
    finally:
        await other_pool.close()

    live = await store.listing(PrincipalKind.AO)
    assert len(live) == 1
    assert live[0].key_id in {key.key_id for key in issued}
    assert [await store.authenticate(key.token) for key in issued].count(ao) == 1


async def test_a_rotation_spares_the_keys_of_peoples_portal_sessions(store: CredentialStore) -> None:
    ao = Principal.parse("ao:RN5133")
    system_key = await store.issue(ao, "the AO's system")
    session_key = await store.issue_for_session(ao, "someone")

    rotated = await store.rotate(ao, "rotated")

    assert await store.authenticate(system_key.token) is None
    assert await store.authenticate(session_key.token) == ao  # the person stays signed in
    assert await store.authenticate(rotated.token) == ao
    assert await store.revoke_principal(ao) == 2  # revoking the principal ends everything


async def test_a_key_given_a_session_keys_label_by_hand_is_refused(store: CredentialStore) -> None:
    """It would be hidden from the key lists, the portal's revocation and a rotation (a code review)."""
    ao = Principal.parse("ao:RN5133")
    with pytest.raises(ValueError, match="marks the portal's session keys"):
        await store.issue(ao, f"{SESSION_KEY_LABEL} nightly sync")
    with pytest.raises(ValueError, match="marks the portal's session keys"):
        await store.rotate(ao, f"{SESSION_KEY_LABEL} nightly sync")
    assert await store.count(PrincipalKind.AO, include_revoked=True) == 0


async def test_a_rotation_keeps_the_scopes_of_the_key_it_replaces_unless_given_others(store: CredentialStore) -> None:
    on_call = Principal.parse("operator:oncall", frozenset({"dead-letters"}))
    first = await store.issue(on_call)
    rotated = await store.rotate(Principal.parse("operator:oncall"))  # as `lrs credentials rotate` without --scope
    assert await store.authenticate(first.token) is None
    assert await store.authenticate(rotated.token) == on_call, "a limited key never rotates into an unlimited one"
    widened = await store.rotate(Principal.parse("operator:oncall", frozenset({"dead-letters", "rebuild"})))
    authenticated = await store.authenticate(widened.token)
    assert authenticated is not None and authenticated.scopes == {"dead-letters", "rebuild"}


async def test_an_operator_whose_keys_are_all_revoked_is_not_rotated_into_a_key_that_does_everything(
    store: CredentialStore,
) -> None:
    """An operator key without scopes does everything (decision 0122): with no key left to take the scopes from, a
    rotation is refused, and the operator creates a key naming its duties."""
    on_call = Principal.parse("operator:oncall", frozenset({"dead-letters"}))
    await store.issue(on_call)
    await store.revoke_principal(on_call)
    session = await store.issue_for_session(on_call, "someone")  # never replaced by a rotation: no scopes from it

    with pytest.raises(NoKeyToRotateError, match=r"has no key to rotate.*--scope"):
        await store.rotate(Principal.parse("operator:oncall"))

    assert [key.key_id for key in await store.listing(principal=on_call)] == [session.key_id]  # nothing revoked
    named = await store.rotate(Principal.parse("operator:oncall", frozenset({"rebuild"})))
    assert named.principal.scopes == {"rebuild"}


async def test_lrs_credentials_rotate_of_an_operator_with_no_key_left_exits_2_saying_to_create_one(
    store: CredentialStore, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    on_call = Principal.parse("operator:oncall", frozenset({"rebuild"}))
    await store.issue(on_call)
    await store.revoke_principal(on_call)
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)

    code = await asyncio.to_thread(main, ["credentials", "rotate", "--principal", "operator:oncall"])

    assert code == ExitCode.USAGE
    assert "create one instead" in capsys.readouterr().err
    assert await store.count(PrincipalKind.OPERATOR) == 0


async def test_lrs_credentials_makes_no_key_for_an_erased_learner_and_still_revokes_theirs(
    store: CredentialStore, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    erased, kept = "1000000043", "1000000051"
    connection = await asyncpg.connect(fresh_database_url)
    try:  # validation's erasure audit, as its migration 0080 makes it
        await connection.execute(
            "CREATE SCHEMA validation; CREATE TABLE validation.erasures (erasure_id uuid PRIMARY KEY,"
            " uln text NOT NULL UNIQUE, erased_by text NOT NULL, reason text NOT NULL, erased_at timestamptz NOT NULL)"
        )
        await connection.execute(
            "INSERT INTO validation.erasures VALUES (gen_random_uuid(), $1, 'operator:dpo', 'test', now())", erased
        )
        # the registry, whose learners alone get a key
        await connection.execute("CREATE TABLE validation.learners (uln text PRIMARY KEY)")
        await connection.execute("INSERT INTO validation.learners VALUES ($1), ($2)", erased, kept)
    finally:
        await connection.close()
    await store.issue(Principal.parse(f"learner:{erased}"))  # made before the erasure (or a release before this)
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)

    for action in ("create", "rotate"):
        code = await asyncio.to_thread(main, ["credentials", action, "--principal", f"learner:{erased}"])
        assert code == ExitCode.USAGE
        assert "was erased" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["credentials", "revoke", "--principal", f"learner:{erased}"]) == ExitCode.OK
    assert await asyncio.to_thread(main, ["credentials", "create", "--principal", f"learner:{kept}"]) == ExitCode.OK
    assert await store.count(PrincipalKind.LEARNER) == 1  # the kept learner's new key only


@pytest.mark.parametrize(
    "principal",
    [
        Principal.parse("ao:RN5133", frozenset({"support"})),
        Principal.parse("operator:ops", frozenset({"everything"})),
        Principal.parse("provider:college-a"),
        Principal.parse("learner:123"),
        Principal.parse("learner:1000000042"),
        Principal.parse("learner:9999999999"),
    ],
    ids=[
        "scopes on an AO key",
        "an unknown scope",
        "a provider not by its UKPRN",
        "a learner not by a ULN",
        "a ULN with a wrong check digit",
        "the temporary ULN",
    ],
)
async def test_a_key_is_issued_only_for_what_it_may_be(store: CredentialStore, principal: Principal) -> None:
    with pytest.raises(ValueError, match=r"scope|UKPRN|ULN"):
        await store.issue(principal)
    with pytest.raises(ValueError, match=r"scope|UKPRN|ULN"):
        await store.rotate(principal)


async def test_a_key_issued_before_a_character_was_refused_still_authenticates_and_lists(
    store: CredentialStore, fresh_database_url: str
) -> None:
    """Principals are checked when a key is issued, not again as the store reads them: an operator key whose name
    holds a C1 control (accepted before 2026-12-05) neither stops working nor ends every listing of keys."""
    issued = await store.issue(Principal.parse("operator:ops"), "old")
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await connection.execute("SET lrs.audit_maintenance = 'on'")  # as the table's owner (decision 0200)
        await connection.execute("UPDATE identity.credentials SET principal = $1", "operator:ops\x9b")
    finally:
        await connection.close()

    assert await store.authenticate(issued.token) == Principal(PrincipalKind.OPERATOR, "ops\x9b")
    assert [key.key_id for key in await store.listing()] == [issued.key_id]
