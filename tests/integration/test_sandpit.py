"""The Sandpit (issue #12, docs/decisions/0060-sandpit.md): the same services beside live, on the same
Kafka and PostgreSQL, with topics, consumer groups, a database and API keys of their own.

- a sample file decided in the Sandpit gets the outcomes it gets live, and leaves every live table
  (PLRs, the decider's state, MI) and the live mailbox as they were;
- Provisional -> Final -> Update -> Withdraw -> Reinstate gives the same codes and the same PLR;
- a Sandpit key opens nothing live, a live key nothing in the Sandpit;
- an AO's reset empties its Sandpit only, and the same batch is then decided as new.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import decided, plr, record_outcomes, register, submit
from tests.integration.test_batch_parity import (
    learners_to_register,
    order_preserving_fresh_ulns,
    reference_learners,
    with_ulns,
)
from tests.support.catalogue import Pick, all_qualifications, pick
from tests.support.databases import create_database, unique_name
from tests.support.learners import json_batch, json_record, new_learner
from tests.support.mail import Inbox, smtp_server
from tests.support.system import SANDPIT_SERVICES, build_system, isolation_env
from tests.support.waiting import eventually

from lrs_contracts.batch import BatchFormat
from lrs_contracts.environments import SANDPIT_PREFIX, SHARED_TOPICS, Environment
from lrs_domain.formats import parse_batch, write_batch
from lrs_platform.kafka import make_admin

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LIVE_SCHEMAS = ("validation", "plr", "reporting")  # the decider's state, the PLRs, MI


@pytest.fixture(scope="module")
def sandpit_inbox() -> Iterator[Inbox]:
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture(scope="module")
async def sandpit(
    system: SystemUnderTest, database_url: str, sandpit_inbox: Inbox, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SystemUnderTest]:
    """The Sandpit's four services beside the live system: its broker, its cluster, a database of its own."""
    name = unique_name("sandpit")
    sandpit_database = await create_database(database_url, name)
    log_dir: Path = tmp_path_factory.mktemp("sandpit-logs")
    processes = build_system(
        system.kafka_bootstrap,
        sandpit_database,
        log_dir,
        {
            "LRS_ENVIRONMENT": "sandpit",
            "VALIDATION_LIVE_DATABASE_URL": system.database_url,
            "NOTIFIER_SMTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_PORT": str(sandpit_inbox.port),
            **isolation_env(name, log_dir),
        },
        names=SANDPIT_SERVICES,
    )
    try:
        await processes.start()
        yield SystemUnderTest(
            processes, sandpit_database, system.kafka_bootstrap, sandpit_inbox, environment=Environment.SANDPIT
        )
    finally:
        processes.stop()


# --- helpers ---------------------------------------------------------------------------------------


async def sandpit_knows(sandpit: SystemUnderTest, ulns: list[str]) -> None:
    """Waits until the Sandpit's copy of the live registry holds these learners."""
    connection = await asyncpg.connect(sandpit.database_url)
    try:

        async def copied() -> bool:
            found = await connection.fetchval(
                "SELECT count(*) FROM validation.learners WHERE uln = ANY($1::text[])", ulns
            )
            return bool(found == len(set(ulns)))

        await eventually(copied, within=60, what="the Sandpit's registry to copy the live learners")
    finally:
        await connection.close()


async def live_state(system: SystemUnderTest) -> dict[str, str]:
    """A digest of every row of the live decider's, PLR and MI tables, and of every live email."""
    connection = await asyncpg.connect(system.database_url)
    try:
        tables = await connection.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
            list(LIVE_SCHEMAS),
        )
        assert {table["table_schema"] for table in tables} == set(LIVE_SCHEMAS)  # nothing compared is missing
        state = {}
        for table in tables:
            qualified = f'"{table["table_schema"]}"."{table["table_name"]}"'
            state[qualified] = await connection.fetchval(
                f"SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {qualified} t"
            )
    finally:
        await connection.close()
    state["mailbox"] = hashlib.sha256(b"".join(message.as_bytes() for message in system.inbox.messages)).hexdigest()
    return state


async def settled_live_state(system: SystemUnderTest) -> dict[str, str]:
    """The live state once it stops changing (earlier tests' events still being projected, say)."""
    previous: dict[str, str] = {}

    async def unchanged() -> dict[str, str] | None:
        nonlocal previous
        current = await live_state(system)
        stable = current == previous
        previous = current
        return current if stable else None

    return await eventually(unchanged, within=120, what="the live state to settle", every=1.0)


async def groups_and_topics(kafka_bootstrap: str) -> dict[str, set[str]]:
    """Every consumer group on the broker and the topics it has committed offsets on."""
    admin = make_admin(kafka_bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        groups = [group for group, _ in await admin.list_consumer_groups()]
        return {group: {tp.topic for tp in await admin.list_consumer_group_offsets(group)} for group in groups}
    finally:
        await admin.close()


def outcomes_by_line(records: list[dict[str, Any]]) -> dict[int, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return {
        record["line"]: (
            record["status"],
            tuple(finding["code"] for finding in record["errors"]),
            tuple(finding["code"] for finding in record["warnings"]),
        )
        for record in records
    }


async def every_outcome(system: SystemUnderTest, ao_id: str, batch_id: str, count: int) -> list[dict[str, Any]]:
    async def complete() -> list[dict[str, Any]] | None:
        records = await record_outcomes(system, ao_id, batch_id)
        return records if len(records) == count else None

    return await eventually(complete, within=60, what=f"the {count} record outcomes of {batch_id}")


async def submit_file(system: SystemUnderTest, ao_id: str, content: bytes) -> httpx.Response:
    async with await system.client("ingest", f"ao:{ao_id}") as client:
        return await client.post("/v1/batches", content=content, headers={"Content-Type": "text/csv"})


def plr_facts(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What a PLR says of each achievement, without the ids and times that differ between environments."""
    return sorted(
        (
            event["subject_code"],
            event["awarding_organisation_name"],
            event["grade"],
            event["status"],
            event["withdrawn"],
            tuple(entry["change"] for entry in event.get("history", [])),
        )
        for event in document["learning_events"]
    )


# --- the acceptance points -------------------------------------------------------------------------


async def test_a_sample_file_in_the_sandpit_is_decided_as_live_and_changes_nothing_live(
    system: SystemUnderTest, sandpit: SystemUnderTest
) -> None:
    original = parse_batch((ROOT / "samples" / "sample-100.csv").read_bytes(), BatchFormat.CSV)
    ao_id = original.header.awarding_organisation
    registry = reference_learners()
    used = {record.uln for record in original.records if record.uln}
    registered = {uln for uln in used if uln in registry}
    masters = {registry[uln]["MasterULN"] for uln in registered} - {""}
    mapping = order_preserving_fresh_ulns(registered | masters, kept=used - registered)
    await register(system, learners_to_register(mapping, registry))
    await sandpit_knows(sandpit, list(mapping.values()))
    content = write_batch(with_ulns(original, mapping), BatchFormat.CSV)
    before = await settled_live_state(system)

    accepted = await submit_file(sandpit, ao_id, content)
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["LRS-Environment"] == "sandpit"
    sandpit_id = accepted.json()["batch_id"]
    sandpit_view = await decided(sandpit, ao_id, sandpit_id)
    assert sandpit_view["status"] == "completed"
    sandpit_outcomes = await every_outcome(sandpit, ao_id, sandpit_id, len(original.records))
    first_uln = mapping[sorted(registered)[0]]
    assert (await plr(sandpit, first_uln, after_batch=sandpit_id))["learning_events"]
    mail = await eventually(
        lambda: _about(sandpit.inbox, sandpit_id), within=60, what="the Sandpit's email about the batch"
    )
    assert mail["Subject"].startswith("[SANDPIT] ")
    assert mail.get_body(("plain",)).get_content().startswith("SANDPIT: this email is from the LRS's practice")
    assert "SANDPIT: this email is from" in mail.get_body(("html",)).get_content()

    assert await live_state(system) == before
    for group, topics in (await groups_and_topics(system.kafka_bootstrap)).items():
        if group.startswith(SANDPIT_PREFIX):
            assert all(topic.startswith(SANDPIT_PREFIX) or topic in SHARED_TOPICS for topic in topics), group
        else:
            assert not any(topic.startswith(SANDPIT_PREFIX) for topic in topics), group

    live = await submit_file(system, ao_id, content)
    assert live.status_code == 202, live.text
    live_id = live.json()["batch_id"]
    live_view = await decided(system, ao_id, live_id)
    live_outcomes = await every_outcome(system, ao_id, live_id, len(original.records))
    assert outcomes_by_line(sandpit_outcomes) == outcomes_by_line(live_outcomes)
    assert sandpit_view["counts"] == live_view["counts"]
    assert (sandpit_view["environment"], live_view["environment"]) == ("sandpit", "live")


async def _about(inbox: Inbox, batch_id: str) -> Any:
    for message in inbox.messages:
        body = message.get_body(("plain",))
        if body is not None and batch_id in body.get_content():
            return message
    return None


async def a_gcse_learner_in_both(system: SystemUnderTest, sandpit: SystemUnderTest) -> tuple[Pick, dict[str, str]]:
    """An AO's GCSE and a new learner, registered live and known to the Sandpit."""
    chosen = pick(qualification_type="GCSE (9 to 1)")
    learner = new_learner()
    await register(system, [learner])
    await sandpit_knows(sandpit, [learner["uln"]])
    return chosen, learner


async def test_the_lifecycle_of_an_achievement_is_the_same_in_the_sandpit(
    system: SystemUnderTest, sandpit: SystemUnderTest
) -> None:
    chosen, learner = await a_gcse_learner_in_both(system, sandpit)
    grades = chosen.qualification.grade_set
    steps = [
        ("Create", grades[0], "Provisional"),
        ("Create", grades[1], "Final"),
        ("Update", grades[2], "Final"),
        ("Withdraw", None, "Final"),
        ("Reinstate", None, "Final"),
    ]
    codes: dict[Environment, list[Any]] = {Environment.LIVE: [], Environment.SANDPIT: []}
    last: dict[Environment, str] = {}
    for action, grade, job_type in steps:
        record = json_record(learner, chosen.qualification_number, grade or grades[0], action=action)
        if grade is None:
            record.pop("grade")
        batch = json_batch(chosen.ao_id, [record], job_type=job_type)
        for environment, target in ((Environment.LIVE, system), (Environment.SANDPIT, sandpit)):
            last[environment] = await submit(target, chosen.ao_id, batch)
            await decided(target, chosen.ao_id, last[environment])
            codes[environment].append(outcomes_by_line(await record_outcomes(target, chosen.ao_id, last[environment])))

    assert codes[Environment.SANDPIT] == codes[Environment.LIVE]
    assert all(outcome[1][0] == "accepted" for outcome in codes[Environment.LIVE]), codes[Environment.LIVE]
    live_plr = await plr(system, learner["uln"], after_batch=last[Environment.LIVE], include_history="true")
    sandpit_plr = await plr(sandpit, learner["uln"], after_batch=last[Environment.SANDPIT], include_history="true")
    assert plr_facts(sandpit_plr) == plr_facts(live_plr)
    assert sandpit_plr.get("environment") == "sandpit"
    assert live_plr.get("environment") == "live"


async def one_batch_in_each(
    system: SystemUnderTest, sandpit: SystemUnderTest
) -> tuple[Pick, dict[str, str], dict[str, Any], str, str]:
    """A new learner's achievement sent by one AO live and to the Sandpit, both decided: the AO, the
    learner, the batch sent, the live batch's id and the Sandpit batch's."""
    chosen = pick()
    learner = new_learner()
    await register(system, [learner])
    await sandpit_knows(sandpit, [learner["uln"]])
    batch = json_batch(chosen.ao_id, [json_record(learner, chosen.qualification_number, chosen.passing_grade)])
    live_batch = await submit(system, chosen.ao_id, batch)
    sandpit_batch = await submit(sandpit, chosen.ao_id, batch)
    await decided(system, chosen.ao_id, live_batch)
    await decided(sandpit, chosen.ao_id, sandpit_batch)
    return chosen, learner, batch, live_batch, sandpit_batch


async def test_a_key_opens_only_its_own_environment(system: SystemUnderTest, sandpit: SystemUnderTest) -> None:
    chosen, learner, batch, live_batch, sandpit_batch = await one_batch_in_each(system, sandpit)

    sandpit_key = await sandpit.key_for(f"ao:{chosen.ao_id}")
    assert sandpit_key.startswith("lrs_sbx_")
    sandpit_learner_key = await sandpit.key_for(f"learner:{learner['uln']}")
    live_key = await system.key_for(f"ao:{chosen.ao_id}")
    other_live_key = await system.key_for("ao:RN5133")
    refused = [
        ("POST", system.url("ingest"), "/v1/batches", sandpit_key),
        ("GET", system.url("ingest"), f"/v1/batches/{live_batch}", sandpit_key),
        ("GET", system.url("ingest"), "/v1/batches", sandpit_key),
        ("GET", system.url("plr-projector"), f"/v1/learners/{learner['uln']}/plr", sandpit_learner_key),
        ("GET", system.url("plr-projector"), f"/v1/ao/achievements?uln={learner['uln']}", sandpit_key),
        ("GET", sandpit.url("ingest"), f"/v1/batches/{sandpit_batch}", other_live_key),
        ("GET", sandpit.url("ingest"), f"/v1/batches/{sandpit_batch}", live_key),
        ("GET", sandpit.url("ingest"), "/v1/batches", live_key),
        ("GET", sandpit.url("plr-projector"), f"/v1/ao/achievements?uln={learner['uln']}", live_key),
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        for method, base, path, key in refused:
            response = await client.request(
                method,
                base + path,
                headers={"Authorization": f"Bearer {key}"},
                json=batch if method == "POST" else None,
            )
            assert response.status_code == 401, (method, base, path, response.text)
            assert response.json()["code"] == "WRONG_ENVIRONMENT", response.text
        other_sandpit_ao = await sandpit.key_for("ao:RN5133")
        response = await client.get(
            f"{sandpit.url('ingest')}/v1/batches/{sandpit_batch}",
            headers={"Authorization": f"Bearer {other_sandpit_ao}"},
        )
        assert response.status_code in (403, 404), response.text


async def test_registry_writes_are_refused_in_the_sandpit(sandpit: SystemUnderTest) -> None:
    async with await sandpit.client("validation", "operator:tests") as client:
        response = await client.post("/v1/learners", json={})
    assert response.status_code == 403
    assert response.json()["code"] == "SANDPIT_READ_ONLY"


async def _sandpit_fetchval(sandpit: SystemUnderTest, query: str, *args: Any) -> Any:
    connection = await asyncpg.connect(sandpit.database_url)
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


def two_aos() -> tuple[Pick, Pick]:
    first = pick()
    for qualification in all_qualifications():
        if qualification.awarding_organisation_id != first.ao_id:
            try:
                return first, pick(ao_id=qualification.awarding_organisation_id)
            except LookupError:
                continue
    raise LookupError("the reference data has one AO only")


async def test_a_reset_empties_that_aos_sandpit_only_and_the_batch_is_new_again(
    system: SystemUnderTest, sandpit: SystemUnderTest
) -> None:
    resetting, other = two_aos()
    learners = [new_learner() for _ in range(3)]
    await register(system, learners)
    await sandpit_knows(sandpit, [learner["uln"] for learner in learners])
    batch = json_batch(
        resetting.ao_id, [json_record(lr, resetting.qualification_number, resetting.passing_grade) for lr in learners]
    )
    other_batch = json_batch(
        other.ao_id, [json_record(lr, other.qualification_number, other.passing_grade) for lr in learners]
    )
    first = await submit(sandpit, resetting.ao_id, batch)
    kept = await submit(sandpit, other.ao_id, other_batch)
    assert (await decided(sandpit, resetting.ao_id, first))["counts"]["accepted"] == 3
    assert (await decided(sandpit, other.ao_id, kept))["counts"]["accepted"] == 3
    learners_of_the_ao = await _sandpit_fetchval(
        sandpit, "SELECT count(DISTINCT uln) FROM validation.achievements WHERE ao_id = $1", resetting.ao_id
    )

    async with await sandpit.client("ingest", f"ao:{resetting.ao_id}") as client:
        asked = await client.post("/v1/sandpit/reset")
        assert asked.status_code == 202, asked.text
        reset = asked.json()
        assert (reset["ao_id"], reset["status"]) == (resetting.ao_id, "pending")

        async def completed() -> dict[str, Any] | None:
            view: dict[str, Any] = (await client.get(f"/v1/sandpit/resets/{reset['reset_id']}")).json()
            return view if view["status"] == "completed" else None

        done = await eventually(completed, within=60, what="the reset to complete")
        assert done["learners"] == learners_of_the_ao >= 3
        assert (await client.get(f"/v1/batches/{first}")).status_code == 404
        assert (await client.get("/v1/batches")).json()["items"] == []
    # the decider named the batch it had decided before the reset (with the AO's from earlier tests), and
    # ingest deleted their views
    forgotten = "SELECT forgotten_batches FROM validation.sandpit_resets WHERE reset_id = $1"
    assert uuid.UUID(first) in await _sandpit_fetchval(sandpit, forgotten, uuid.UUID(reset["reset_id"]))

    count_of_states = "SELECT count(*) FROM validation.achievements WHERE ao_id = $1"
    assert await _sandpit_fetchval(sandpit, count_of_states, resetting.ao_id) == 0
    assert await _sandpit_fetchval(sandpit, count_of_states, other.ao_id) >= 3
    for learner in learners:
        document = await plr(sandpit, learner["uln"], min_offsets=done["plr_min_offsets"])
        assert {event["awarding_organisation_name"] for event in document["learning_events"]} == {
            other.qualification.awarding_organisation_name
        }

    again = await submit(sandpit, resetting.ao_id, batch)
    assert again != first
    assert (await decided(sandpit, resetting.ao_id, again))["counts"]["accepted"] == 3
    assert (await decided(sandpit, other.ao_id, kept))["counts"]["accepted"] == 3


async def test_a_purge_resets_only_the_aos_idle_for_that_long(
    system: SystemUnderTest, sandpit: SystemUnderTest
) -> None:
    idle, active = two_aos()
    learner = new_learner()
    await register(system, [learner])
    await sandpit_knows(sandpit, [learner["uln"]])
    batches = {}
    for chosen in (idle, active):
        batch = json_batch(chosen.ao_id, [json_record(learner, chosen.qualification_number, chosen.passing_grade)])
        batches[chosen.ao_id] = await submit(sandpit, chosen.ao_id, batch)
        await decided(sandpit, chosen.ao_id, batches[chosen.ao_id])
    # 100 days pass for the idle AO's Sandpit
    await _sandpit_fetchval(
        sandpit,
        "UPDATE ingest.batches SET received_at = received_at - interval '100 days' WHERE ao_id = $1",
        idle.ao_id,
    )

    async with await sandpit.client("ingest", "operator:tests") as client:
        response = await client.post("/v1/admin/sandpit/purge", params={"idle_days": 30})
        assert response.status_code == 202, response.text
        assert [reset["ao_id"] for reset in response.json()["resets"]] == [idle.ao_id]
        reset_id = response.json()["resets"][0]["reset_id"]

        async def completed() -> bool:
            return bool((await client.get(f"/v1/sandpit/resets/{reset_id}")).json()["status"] == "completed")

        await eventually(completed, within=60, what="the purge's reset to complete")
        assert (await client.get(f"/v1/batches/{batches[idle.ao_id]}")).status_code == 404
        assert (await client.get(f"/v1/batches/{batches[active.ao_id]}")).status_code == 200


async def test_the_rs005_threshold_and_an_aos_order_are_the_same_in_the_sandpit(
    system: SystemUnderTest, sandpit: SystemUnderTest
) -> None:
    chosen = pick(qualification_type="GCSE (9 to 1)")
    grades = chosen.qualification.grade_set
    known = [new_learner() for _ in range(14)]
    await register(system, known)
    await sandpit_knows(sandpit, [learner["uln"] for learner in known])

    def batch_of(learners: list[dict[str, str]], unknown: int) -> dict[str, Any]:
        everyone = learners + [new_learner() for _ in range(unknown)]  # unregistered: RV004 each
        return json_batch(chosen.ao_id, [json_record(lr, chosen.qualification_number, grades[0]) for lr in everyone])

    exactly_30_percent, over_30_percent = batch_of(known[:7], 3), batch_of(known[7:13], 4)
    chain = [("Create", grades[0]), ("Update", grades[1]), ("Update", grades[2])]
    in_order = [
        json_batch(chosen.ao_id, [json_record(known[13], chosen.qualification_number, grade, action=action)])
        for action, grade in chain
    ]
    answers: dict[Environment, list[tuple[Any, ...]]] = {}
    for environment, target in ((Environment.LIVE, system), (Environment.SANDPIT, sandpit)):
        thresholds = [await submit(target, chosen.ao_id, batch) for batch in (exactly_30_percent, over_30_percent)]
        chained = [await submit(target, chosen.ao_id, batch) for batch in in_order]  # none waits for the one before
        answers[environment] = []
        for batch_id in thresholds + chained:
            view = await decided(target, chosen.ao_id, batch_id)
            answers[environment].append((view["status"], view["failure_code"], view["counts"]))

    assert answers[Environment.SANDPIT] == answers[Environment.LIVE]
    exactly, over, *chained_answers = answers[Environment.SANDPIT]
    assert (exactly[0], exactly[1], exactly[2]["accepted"], exactly[2]["rejected"]) == ("completed", None, 7, 3)
    assert (over[0], over[1]) == ("failed", "RS005")
    assert [(status, counts["accepted"]) for status, _, counts in chained_answers] == [("completed", 1)] * 3


async def test_every_sandpit_answer_is_marked_and_no_sandpit_key_reads_a_live_plr(
    system: SystemUnderTest, sandpit: SystemUnderTest
) -> None:
    chosen, learner, _, live_batch, sandpit_batch = await one_batch_in_each(system, sandpit)

    async with await sandpit.client("ingest", f"ao:{chosen.ao_id}") as client:
        records = await client.get(f"/v1/batches/{sandpit_batch}/records")
        records_csv = await client.get(f"/v1/batches/{sandpit_batch}/records.csv")
    assert records.status_code == 200, records.text
    assert (records.json()["environment"], records.headers["LRS-Environment"]) == ("sandpit", "sandpit")
    assert [record["status"] for record in records.json()["records"]] == ["accepted"]
    assert records_csv.status_code == 200, records_csv.text
    assert records_csv.headers["LRS-Environment"] == "sandpit"

    live_plr = f"{system.url('plr-projector')}/v1/learners/{learner['uln']}/plr"
    refused = [
        ("GET", live_plr, await sandpit.key_for("operator:sandpit-tests")),
        ("GET", live_plr, await sandpit.key_for(f"ao:{chosen.ao_id}")),
        ("GET", f"{system.url('ingest')}/v1/batches/{live_batch}", await sandpit.key_for("operator:sandpit-tests")),
        ("GET", f"{system.url('ingest')}/v1/batches/{live_batch}/records", await sandpit.key_for(f"ao:{chosen.ao_id}")),
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        for method, url, key in refused:
            response = await client.request(method, url, headers={"Authorization": f"Bearer {key}"})
            assert (response.status_code, response.json()["code"]) == (401, "WRONG_ENVIRONMENT"), (url, response.text)


async def _decider_says(target: SystemUnderTest, words: str) -> bool:
    async with httpx.AsyncClient(timeout=10) as client:
        checks = (await client.get(f"{target.url('validation')}/readyz")).json()["checks"]
    return words in checks["consumer validation.decider"]


async def test_the_sandpit_keeps_a_maintenance_schedule_of_its_own(
    system: SystemUnderTest, sandpit: SystemUnderTest
) -> None:
    chosen, learner = await a_gcse_learner_in_both(system, sandpit)
    grades = chosen.qualification.grade_set
    create = json_batch(chosen.ao_id, [json_record(learner, chosen.qualification_number, grades[0])])
    update = json_batch(chosen.ao_id, [json_record(learner, chosen.qualification_number, grades[1], action="Update")])
    before = await submit(sandpit, chosen.ao_id, create)
    assert (await decided(sandpit, chosen.ao_id, before))["status"] == "completed"

    async with await sandpit.client("ingest", "operator:sandpit-tests") as operator:
        paused = await operator.post("/v1/admin/maintenance/pause", json={"reason": "sandpit upgrade"})
        assert paused.status_code == 201, paused.text
        try:
            await eventually(lambda: _decider_says(sandpit, "paused for maintenance"), what="the Sandpit paused")
            held = await submit(sandpit, chosen.ao_id, update)
            live = await submit(system, chosen.ao_id, create)
            assert (await decided(system, chosen.ao_id, live))["status"] == "completed"
            await eventually(lambda: _decider_says(sandpit, "waiting at a batch boundary"), what="the Sandpit holding")
            assert (await operator.get(f"/v1/batches/{held}")).json()["status"] == "queued"
            async with await sandpit.client("plr-projector", f"learner:{learner['uln']}") as reader:
                read = await reader.get(f"/v1/learners/{learner['uln']}/plr", params={"after_batch": before})
            assert read.status_code == 200, read.text  # reads keep working while batches are held
            assert [event["grade"] for event in read.json()["learning_events"]] == [grades[0]]
            async with await system.client("ingest", f"ao:{chosen.ao_id}") as live_ingest:
                assert (await live_ingest.get("/v1/maintenance")).json()["active"] is None
        finally:
            resumed = await operator.post("/v1/admin/maintenance/resume")
        assert resumed.status_code == 200, resumed.text

    assert (await decided(sandpit, chosen.ao_id, held))["counts"]["accepted"] == 1
    after = await plr(sandpit, learner["uln"], after_batch=held)
    assert [event["grade"] for event in after["learning_events"]] == [grades[1]]
