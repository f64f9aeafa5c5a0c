"""Validation end to end: the FAQ's rules across batches, on real Kafka, PostgreSQL and processes."""

from __future__ import annotations

import random
from typing import Any

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import (
    codes_of,
    decided,
    log_events_of,
    plr,
    record_outcomes,
    register,
    submit,
    submit_and_wait,
)
from tests.support.learners import json_batch, json_record, new_learner
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

AQA = "RN9008"
GCSE_A_TO_G = "100/5001/2"  # NQF, AQA, grades A*..G, U, X
CITY_AND_GUILDS = "RN9037"
QCF_UNIT = "K/501/5773"  # QCF unit, City & Guilds, grade Pass only


async def _one_learner(system: SystemUnderTest) -> dict[str, str]:
    learner = new_learner()
    await register(system, [learner])
    return learner


def _only_event(view: dict[str, Any]) -> dict[str, Any]:
    events = view["learning_events"]
    assert len(events) == 1, events
    event: dict[str, Any] = events[0]
    return event


async def test_final_after_provisional_supersedes_it(system: SystemUnderTest) -> None:
    learner = await _one_learner(system)
    provisional = json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "C")], job_type="Provisional")
    final = json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "B")], job_type="Final")

    first = await submit(system, AQA, provisional)
    second = await submit(system, AQA, final)  # back to back: decided in submission order
    assert (await decided(system, AQA, first))["counts"]["accepted"] == 1
    assert (await decided(system, AQA, second))["counts"]["accepted"] == 1

    event = _only_event(await plr(system, learner["uln"], after_batch=second))
    assert (event["status"], event["grade"]) == ("F", "B")


async def test_late_provisional_never_replaces_the_final(system: SystemUnderTest) -> None:
    learner = await _one_learner(system)
    final = json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "B")], job_type="Final")
    provisional = json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "C")], job_type="Provisional")

    first = await submit(system, AQA, final)
    second = await submit(system, AQA, provisional)
    await decided(system, AQA, first)
    late = await decided(system, AQA, second)

    assert late["status"] == "failed"  # its only record is rejected: 100% > 30%
    [outcome] = await record_outcomes(system, AQA, second)
    assert codes_of(outcome)[0] == "RV017"  # most specific first; RV014 (different data) also applies
    event = _only_event(await plr(system, learner["uln"], after_batch=first))
    assert (event["status"], event["grade"]) == ("F", "B")


async def test_update_right_after_create_sees_the_create(system: SystemUnderTest) -> None:
    learner = await _one_learner(system)
    create = json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "C")])
    update = json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "A", action="Update")])

    first = await submit(system, AQA, create)
    second = await submit(system, AQA, update)
    await decided(system, AQA, first)
    assert (await decided(system, AQA, second))["counts"]["accepted"] == 1

    assert _only_event(await plr(system, learner["uln"], after_batch=second))["grade"] == "A"


async def test_withdraw_reinstate_update_and_the_award_date_cannot_change(system: SystemUnderTest) -> None:
    learner = await _one_learner(system)
    steps: list[tuple[str, str | None, dict[str, str]]] = [
        ("Create", "C", {}),
        ("Withdraw", None, {}),
        ("Reinstate", None, {}),
        ("Update", "A*", {}),
    ]
    last = ""
    for action, grade, extra in steps:
        record = json_record(learner, GCSE_A_TO_G, grade or "C", action=action, **extra)
        if grade is None:
            record.pop("grade")
        last = await submit(system, AQA, json_batch(AQA, [record]))
        view = await decided(system, AQA, last)
        assert view["counts"]["accepted"] == 1, (action, await record_outcomes(system, AQA, last))

    moved = json_record(learner, GCSE_A_TO_G, "A*", action="Update", awardDate="2024-09-01")
    refused = await submit(system, AQA, json_batch(AQA, [moved]))
    await decided(system, AQA, refused)
    [outcome] = await record_outcomes(system, AQA, refused)
    assert codes_of(outcome)[0] == "RV013"

    view = await plr(system, learner["uln"], after_batch=last, include_history="true")
    event = _only_event(view)
    assert (event["grade"], event["withdrawn"]) == ("A*", False)
    assert [entry["change"] for entry in event["history"]] == ["recorded", "withdrawn", "reinstated", "updated"]


async def test_failed_qcf_is_rejected_but_nqf_u_and_x_are_accepted(system: SystemUnderTest) -> None:
    learners = [new_learner() for _ in range(4)]
    await register(system, learners)
    qcf = json_batch(
        CITY_AND_GUILDS,
        [json_record(learners[0], QCF_UNIT, "Fail"), *(json_record(lr, QCF_UNIT, "Pass") for lr in learners[1:])],
    )
    qcf_id = await submit(system, CITY_AND_GUILDS, qcf)
    nqf = json_batch(AQA, [json_record(learners[0], GCSE_A_TO_G, "U"), json_record(learners[1], GCSE_A_TO_G, "X")])
    nqf_id = await submit(system, AQA, nqf)

    await decided(system, CITY_AND_GUILDS, qcf_id)
    outcomes = await record_outcomes(system, CITY_AND_GUILDS, qcf_id)
    assert [codes_of(outcome)[:1] for outcome in outcomes] == [["RV010"], [], [], []]
    assert (await decided(system, AQA, nqf_id))["counts"]["accepted"] == 2


async def test_award_date_boundary_is_first_of_september_2006(system: SystemUnderTest) -> None:
    learners = [new_learner() for _ in range(4)]
    await register(system, learners)
    batch = json_batch(
        AQA,
        [
            json_record(learners[0], GCSE_A_TO_G, "C", awardDate="2006-08-31"),
            *(json_record(lr, GCSE_A_TO_G, "C", awardDate="2006-09-01") for lr in learners[1:]),
        ],
    )
    batch_id = await submit(system, AQA, batch)
    await decided(system, AQA, batch_id)
    outcomes = await record_outcomes(system, AQA, batch_id)
    assert [codes_of(outcome) for outcome in outcomes] == [["RV007"], [], [], []]


async def test_a_failed_batch_leaves_the_plr_byte_for_byte_unchanged(system: SystemUnderTest) -> None:
    learners = [new_learner() for _ in range(10)]
    await register(system, learners)
    setup = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(lr, GCSE_A_TO_G, "C") for lr in learners]))
    before = [await plr(system, lr["uln"], after_batch=setup["batch_id"], include_history="true") for lr in learners]

    # 4 of 10 rejected (unknown grade): 40% > 30%, so the 6 valid grade updates must not land either
    updates = [
        json_record(lr, GCSE_A_TO_G, "Z" if index < 4 else "A", action="Update") for index, lr in enumerate(learners)
    ]
    failed = await submit_and_wait(system, AQA, json_batch(AQA, updates))
    assert (failed["status"], failed["failure_code"]) == ("failed", "RS005")

    # a later batch proves the projector has moved past the failed one
    marker = new_learner()
    await register(system, [marker])
    later = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(marker, GCSE_A_TO_G, "C")]))
    await plr(system, marker["uln"], after_batch=later["batch_id"])
    after = [await plr(system, lr["uln"], include_history="true") for lr in learners]
    for learner_before, learner_after in zip(before, after, strict=True):
        learner_before.pop("consistency")  # the read-your-writes receipt of the first read
        assert learner_after == learner_before
    assert await log_events_of(system, failed["batch_id"]) == []


async def test_validation_killed_mid_batch_decides_it_exactly_once(system: SystemUnderTest) -> None:
    learners = sorted((new_learner() for _ in range(10_000)), key=lambda learner: learner["uln"])
    await register(system, learners)
    batch = json_batch(AQA, [json_record(lr, GCSE_A_TO_G, random.choice("ABCDEFG")) for lr in learners])
    for index in range(30):  # 3% rejected: unknown grade
        batch["records"][index * 300]["grade"] = "Z"

    validation = system.processes["validation"]
    batch_id = await submit(system, AQA, batch)
    # Crash 1: as soon as the decider has picked the batch up. Crash 2: as soon as the restarted
    # decider is serving again, while it re-reads and re-decides (or republishes) the same batch.
    async with await system.client("ingest", f"ao:{AQA}") as client:

        async def picked_up() -> bool:
            status = (await client.get(f"/v1/batches/{batch_id}")).json()["status"]
            return bool(status != "accepted")

        await eventually(picked_up, within=120, what="validation picking the batch up")
    for _ in range(2):
        validation.kill()
        validation.start()
        await validation.wait_ready()

    view = await decided(system, AQA, batch_id, within=240)
    assert view["counts"] == {"total": 10_000, "accepted": 9_970, "rejected": 30, "no_ops": 0, "warnings": 0}
    events = await log_events_of(system, batch_id)
    assert len(events) == 9_970
    assert len({event_id for event_id, _ in events}) == 9_970
    assert len({payload.key.uln for _, payload in events}) == 9_970


async def test_two_validation_instances_keep_each_aos_order(system: SystemUnderTest) -> None:
    first = system.processes["validation"]
    second = first.replica(first.log_path.with_name("validation-2.log"))
    second.start()
    try:
        await second.wait_ready()
        chains = {}
        for ao_id, qualification in ((AQA, GCSE_A_TO_G), ("RN9901", "100/5008/5")):
            learner = await _one_learner(system)
            grades = ["G", "F", "E", "D", "C", "B", "A"]
            batch_ids = [
                await submit(
                    system,
                    ao_id,
                    json_batch(
                        ao_id, [json_record(learner, qualification, grade, action="Create" if i == 0 else "Update")]
                    ),
                )
                for i, grade in enumerate(grades)
            ]
            chains[ao_id] = (learner, batch_ids)
        for ao_id, (learner, batch_ids) in chains.items():
            for batch_id in batch_ids:
                assert (await decided(system, ao_id, batch_id))["counts"]["accepted"] == 1
            assert _only_event(await plr(system, learner["uln"], after_batch=batch_ids[-1]))["grade"] == "A"
    finally:
        second.stop()
