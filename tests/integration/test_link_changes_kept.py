"""Who linked a provider to a learner (letting it read their PLR) and who ended the link, when and why, is kept in
`validation.link_changes` (migration 0136), written in the transaction that makes or ends the link: a provider's
registration, an operator's link and unlink, a learner file or a merge ending a registration's link. Linking again, or
unlinking a provider not linked, writes nothing. The rows are only ever added to (decision 0200), and an erasure keeps
them, as it keeps the links and the sharing changes (ULNs, UKPRNs and principals; nothing personal)."""

from __future__ import annotations

import uuid
from datetime import date
from importlib.resources import files

import asyncpg
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register
from tests.support.databases import prepare_validation_database
from tests.support.learners import new_learner

from lrs_domain.reference import Learner
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry, unlink_revoker

pytestmark = pytest.mark.integration

MASTER, MERGED, SQUATTED = "1000000043", "7770000016", "5550005009"
SQUATTER, VOUCHED = "10009998", "10004567"
OPERATOR = "operator:ops"

_REGISTERED = "the provider registered the learner"


async def _store(pool: asyncpg.Pool) -> LearnerRegistry:
    await prepare_validation_database(pool)
    return LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))


async def _changes(pool: asyncpg.Pool) -> list[tuple[str, str, str, str, str | None]]:
    rows = await pool.fetch(
        "SELECT uln, ukprn, change, changed_by, reason FROM validation.link_changes ORDER BY change_id"
    )
    return [(row["uln"], row["ukprn"], row["change"], row["changed_by"], row["reason"]) for row in rows]


async def test_a_link_and_an_unlink_are_kept_with_who_made_them_and_doing_either_again_keeps_nothing(
    pool: asyncpg.Pool,
) -> None:
    store = await _store(pool)
    await store.register_learners([Learner(MASTER, "Amelia", "Real", date(2004, 3, 2), 2, 1)], imported_by=OPERATOR)
    assert await store.register_learner(Learner(MERGED, "Amelia", "Real", None, 0, 1), SQUATTER)
    assert await store.merge(MASTER, MERGED, merged_by=OPERATOR)

    await store.link_provider(MASTER, SQUATTER, linked_by=OPERATOR)
    await store.link_provider(MASTER, SQUATTER, linked_by="operator:someone-else")  # linked already: no change
    await store.link_provider(MASTER, VOUCHED, linked_by=OPERATOR)
    ended = await store.unlink_provider(MERGED, SQUATTER, unlinked_by=unlink_revoker("operator:alex", SQUATTER))
    assert ended.ulns == (MASTER, MERGED)
    assert (await store.unlink_provider(MASTER, SQUATTER, unlinked_by=OPERATOR)).ulns == ()  # not linked: no change

    assert await _changes(pool) == [
        (MERGED, SQUATTER, "linked", f"provider:{SQUATTER}", _REGISTERED),
        (MASTER, SQUATTER, "linked", OPERATOR, None),
        (MASTER, VOUCHED, "linked", OPERATOR, None),
        # under both ULNs, by the operator (not the keys' revoker's words), in ULN order
        (MASTER, SQUATTER, "unlinked", "operator:alex", None),
        (MERGED, SQUATTER, "unlinked", "operator:alex", None),
    ]
    # the store's read: the learner's ULNs, newest first, with when, and a page beyond a position
    listed = await store.link_changes([MASTER, MERGED])
    assert [(each.uln, each.ukprn, each.change) for each in listed] == [
        (MERGED, SQUATTER, "unlinked"),
        (MASTER, SQUATTER, "unlinked"),
        (MASTER, VOUCHED, "linked"),
        (MASTER, SQUATTER, "linked"),
        (MERGED, SQUATTER, "linked"),
    ]
    linked_at = await pool.fetchval(
        "SELECT linked_at FROM validation.learner_links WHERE uln = $1 AND provider_ukprn = $2", MASTER, VOUCHED
    )
    assert listed[2].changed_at == linked_at  # the same transaction's time as the link's
    older = await store.link_changes([MASTER, MERGED], limit=2, after=listed[1].position)
    assert [(each.uln, each.ukprn, each.change) for each in older] == [
        (MASTER, VOUCHED, "linked"),
        (MASTER, SQUATTER, "linked"),
    ]
    assert await store.link_changes([MERGED], limit=1) == listed[:1]


async def test_a_learner_file_ending_a_registrations_link_is_kept_as_the_imports_with_why(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    assert await store.register_learner(Learner(SQUATTED, "Placeholder", "Placeholder", None, 0, 1), SQUATTER)

    await store.register_learners(
        [Learner(SQUATTED, "Amelia", "Realperson", date(2004, 3, 2), 2, 1)], imported_by=OPERATOR
    )

    [linked, unlinked] = await _changes(pool)
    assert linked == (SQUATTED, SQUATTER, "linked", f"provider:{SQUATTER}", _REGISTERED)
    assert unlinked[:4] == (SQUATTED, SQUATTER, "unlinked", OPERATOR)
    assert unlinked[4] is not None and "learner file replaced the details" in unlinked[4]


async def test_a_merge_ending_a_registrations_link_is_kept_as_the_merges(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    await store.register_learners([Learner(MASTER, "Amelia", "Real", date(2004, 3, 2), 2, 1)], imported_by=OPERATOR)
    assert await store.register_learner(Learner(SQUATTED, "Someone", "Else", None, 0, 1), SQUATTER)

    assert await store.merge(MASTER, SQUATTED, merged_by=OPERATOR)

    ended = [change for change in await _changes(pool) if change[2] == "unlinked"]
    assert [change[:3] for change in ended] == [(SQUATTED, SQUATTER, "unlinked")]
    assert ended[0][3] == f"{OPERATOR} (merge of {SQUATTED} into {MASTER})"
    assert ended[0][4] is not None and "merge" in ended[0][4]


async def test_the_changes_outlive_an_erasure_and_are_refused_an_update_or_a_delete(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    assert await store.register_learner(Learner(SQUATTED, "Amelia", "Real", None, 0, 1), SQUATTER)
    await store.link_provider(SQUATTED, VOUCHED, linked_by=OPERATOR)
    kept = await _changes(pool)

    await store.erase(SQUATTED, OPERATOR, "the learner asked")

    assert await _changes(pool) == kept  # the links outlive the erasure (decision 0080), and so does who made them
    for statement in (
        "UPDATE validation.link_changes SET changed_by = 'operator:nobody'",
        "DELETE FROM validation.link_changes",
        "TRUNCATE validation.link_changes",
    ):
        with pytest.raises(asyncpg.RestrictViolationError, match="link_changes is an audit record"):
            await pool.execute(statement)
    assert await _changes(pool) == kept


async def test_the_links_held_before_the_migration_are_kept_as_linked_once(pool: asyncpg.Pool) -> None:
    """Migration 0136 on a registry that held links: each becomes one `linked` change, at its own time, by who made
    (or last vouched for) it, saying so; a database migrated again adds none."""
    await prepare_validation_database(pool)
    store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
    assert await store.register_learner(Learner(SQUATTED, "Amelia", "Real", None, 0, 1), SQUATTER)
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL lrs.audit_maintenance = 'on'")
        await connection.execute("DELETE FROM validation.link_changes")  # as before migration 0136
        await connection.execute("SET LOCAL search_path = validation")  # as the migrations run
        await connection.execute(_migration_0136_backfill())

    [(uln, ukprn, change, changed_by, reason)] = await _changes(pool)
    assert (uln, ukprn, change, changed_by) == (SQUATTED, SQUATTER, "linked", f"provider:{SQUATTER}")
    assert reason is not None and "migration 0136" in reason
    [listed] = await store.link_changes([SQUATTED])
    linked_at = await pool.fetchval("SELECT linked_at FROM validation.learner_links WHERE uln = $1", SQUATTED)
    assert listed.changed_at == linked_at


def _migration_0136_backfill() -> str:
    """The migration's INSERT of the links held, as the file has it."""
    text = (files("validation.migrations") / "0136_link_changes.sql").read_text(encoding="utf-8")
    start = text.index("INSERT INTO link_changes")
    return text[start : text.index(";", start) + 1]


async def test_an_operator_reads_who_linked_and_unlinked_through_the_api_and_no_one_else_does(
    system: SystemUnderTest,
) -> None:
    learner = new_learner()
    uln = learner["uln"]
    await register(system, [learner])
    ukprn = f"{uuid.uuid4().int % 10**8:08d}"
    async with await system.client("validation", "operator:tests") as operator:
        for _ in range(2):  # linked again: no change
            linked = await operator.post(f"/v1/admin/learners/{uln}/providers", json={"ukprn": ukprn})
            assert linked.status_code == 204, linked.text
        unlinked = await operator.delete(f"/v1/admin/learners/{uln}/providers/{ukprn}")
        assert unlinked.status_code == 200, unlinked.text
        listed = await operator.get(f"/v1/admin/learners/{uln}/link-changes")
        sharing = await operator.get(f"/v1/learners/{uln}/sharing")
    async with await system.client("validation", f"learner:{uln}") as themself:
        refused = await themself.get(f"/v1/admin/learners/{uln}/link-changes")
        theirs = await themself.get(f"/v1/learners/{uln}/sharing")

    assert listed.status_code == 200, listed.text
    said = [(each["ukprn"], each["change"], each["changed_by"]) for each in listed.json()["changes"]]
    assert said == [(ukprn, "unlinked", "operator:tests"), (ukprn, "linked", "operator:tests")]
    assert sharing.json()["link_changes"] == listed.json()["changes"]
    assert refused.status_code == 403, refused.text
    assert theirs.status_code == 200 and theirs.json()["link_changes"] is None
