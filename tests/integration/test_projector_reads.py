"""The PLR read model and API on real Kafka and PostgreSQL: statuses, withdrawal, precedence, access."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from tests.support.projector import (
    CHALLENGES,
    LEARNERS,
    PLR,
    App,
    Events,
    linked,
    merged,
    produce,
    project,
    record,
    registered,
    sharing,
    uln_for,
)

from lrs_contracts.challenge import ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.learner import AbilityToShare
from lrs_contracts.plr import CentreAchievementReported, ResultStatus

pytestmark = pytest.mark.integration


def _learner(number: int) -> tuple[str, str]:
    uln = uln_for(number + uuid.uuid4().int % 1_000_000)
    return uln, f"learner:{uln}"


async def _plr(app: App, principal: str | None, uln: str, **params: Any) -> httpx.Response:
    return await app.get(principal, f"/v1/learners/{uln}/plr", **params)


async def test_final_supersedes_provisional_and_history_keeps_both(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln, learner = _learner(1)
    events = Events()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(events.recorded(uln, grade="6", status=ResultStatus.PROVISIONAL), uln, sequence=1),
            record(events.superseded(uln, grade="7"), uln, sequence=2),
            record(events.recorded(uln, grade="4", status=ResultStatus.PROVISIONAL), uln, sequence=3),
        ],
    )
    response = await _plr(app, learner, uln, include_history="true")
    assert response.status_code == 200, response.text
    (event,) = response.json()["learning_events"]
    assert (event["status"], event["grade"], event["subject_code"], event["source"]) == ("F", "7", "600/1166/X", "AO")
    assert [(entry["change"], entry["status"], entry["grade"]) for entry in event["history"]] == [
        ("recorded", "P", "6"),
        ("superseded", "F", "7"),
    ]


async def test_withdraw_hides_reinstate_restores_both_in_history(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln, learner = _learner(2)
    events = Events()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(events.recorded(uln), uln, sequence=1),
            record(events.withdrawn(uln), uln, sequence=2),
        ],
    )
    assert (await _plr(app, learner, uln)).json()["learning_events"] == []
    shown = (await _plr(app, learner, uln, include_withdrawn="true")).json()["learning_events"]
    assert [event["withdrawn"] for event in shown] == [True]

    await project(app, kafka_bootstrap, prefix, [record(events.reinstated(uln), uln, sequence=3)])
    (event,) = (await _plr(app, learner, uln, include_history="true")).json()["learning_events"]
    assert event["withdrawn"] is False
    assert [entry["change"] for entry in event["history"]] == ["recorded", "withdrawn", "reinstated"]


@pytest.mark.parametrize("centre_first", [True, False], ids=["centre-first", "ao-first"])
async def test_ao_data_takes_precedence_over_centre_data_whichever_arrives_first(
    projector: tuple[App, str], kafka_bootstrap: str, centre_first: bool
) -> None:
    app, prefix = projector
    uln, learner = _learner(3)
    provider = "provider:10005555"
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(linked(uln, provider), uln, topic=LEARNERS, sequence=1),
        ],
    )

    async def send_centre() -> None:
        sent = await app.post(
            provider,
            "/v1/centre/achievements",
            {"uln": uln, "qualification_number": "600/1166/X", "grade": "B", "subject": "Maths (college)"},
        )
        assert sent.status_code == 202, sent.text
        read = await _plr(app, learner, uln, min_offsets=sent.json()["min_offsets"], wait_ms=20_000)
        assert read.status_code == 200, read.text

    async def send_ao() -> None:
        await project(app, kafka_bootstrap, prefix, [record(Events().recorded(uln, grade="7"), uln, sequence=5)])

    for step in (send_centre, send_ao) if centre_first else (send_ao, send_centre):
        await step()

    for reader in (learner, provider):
        events = (await _plr(app, reader, uln)).json()["learning_events"]
        assert [(event["source"], event["grade"]) for event in events] == [("AO", "7")]
        assert [(record["source"], record["grade"]) for record in events[0]["supporting_records"]] == [("ILR", "B")]


async def test_a_centre_record_alone_is_on_the_plr_and_never_changes_an_ao_record(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln, learner = _learner(4)
    events = Events()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(events.recorded(uln, grade="5"), uln, sequence=1),
            record(
                CentreAchievementReported(
                    report_id=uuid.uuid4(),
                    uln=uln,
                    provider_ukprn="10005555",
                    qualification_number="6001167X",
                    grade="Pass",
                ),
                uln,
                sequence=2,
            ),
            record(
                CentreAchievementReported(
                    report_id=uuid.uuid4(),
                    uln=uln,
                    provider_ukprn="10005555",
                    qualification_number="6001166X",
                    grade="9",
                ),
                uln,
                sequence=3,
            ),
        ],
    )
    events_seen = (await _plr(app, learner, uln)).json()["learning_events"]
    by_source = {(event["source"], event["subject_code"]): event["grade"] for event in events_seen}
    assert by_source == {("AO", "600/1166/X"): "5", ("ILR", "600/1167/X"): "Pass"}


async def test_providers_are_refused_when_the_learner_does_not_share(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln, learner = _learner(5)
    events = Events(ao_id="RN5133")
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln, AbilityToShare.SHARES), uln, topic=LEARNERS),
            record(linked(uln, "10001234"), uln, topic=LEARNERS, sequence=1),
            record(sharing(uln, AbilityToShare.UNABLE_TO_SHARE), uln, topic=LEARNERS, sequence=2),
            record(events.recorded(uln), uln, sequence=3),
        ],
    )
    refused = await _plr(app, "provider:10001234", uln)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "WSEC0206"
    assert "learning_events" not in refused.json()

    assert len((await _plr(app, learner, uln)).json()["learning_events"]) == 1
    assert len((await _plr(app, "ao:RN5133", uln)).json()["learning_events"]) == 1
    ao_view = await app.get("ao:RN5133", "/v1/ao/achievements", uln=uln)
    assert [event["awarding_organisation_id"] for event in ao_view.json()["learning_events"]] == ["RN5133"]


async def test_an_ao_never_sees_another_aos_uploads(projector: tuple[App, str], kafka_bootstrap: str) -> None:
    app, prefix = projector
    uln, _ = _learner(6)
    mine, theirs = Events(ao_id="RN1111"), Events(ao_id="RN2222")
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(mine.recorded(uln, qan="6001166X"), uln, sequence=1),
            record(theirs.recorded(uln, qan="6001167X"), uln, sequence=2),
        ],
    )
    for path, params in (("/v1/ao/achievements", {"uln": uln}), (f"/v1/learners/{uln}/plr", {})):
        seen = (await app.get("ao:RN1111", path, include_history="true", **params)).json()["learning_events"]
        assert [event["awarding_organisation_id"] for event in seen] == ["RN1111"]
        assert all(event.get("supporting_records") is None for event in seen)
    peeking = await app.get("ao:RN1111", "/v1/ao/achievements", uln=uln, ao_id="RN2222")
    assert peeking.status_code == 403


async def test_unauthenticated_and_wrong_learner_are_refused(projector: tuple[App, str], kafka_bootstrap: str) -> None:
    app, prefix = projector
    uln, _ = _learner(7)
    _, other_learner = _learner(8)
    await project(app, kafka_bootstrap, prefix, [record(registered(uln), uln, topic=LEARNERS)])
    assert (await _plr(app, None, uln)).status_code == 401
    assert (await _plr(app, other_learner, uln)).status_code == 403
    assert (await app.get(other_learner, "/v1/admin/dlq")).status_code == 403
    assert (
        await app.post("ao:RN5133", "/v1/centre/achievements", {"uln": uln, "qualification_number": "6001166X"})
    ).status_code == 403


async def test_merged_ulns_read_as_the_masters_plr(projector: tuple[App, str], kafka_bootstrap: str) -> None:
    app, prefix = projector
    master, master_learner = _learner(9)
    old, old_learner = _learner(10)
    events = Events()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(master), master, topic=LEARNERS),
            record(registered(old), old, topic=LEARNERS),
            record(events.recorded(master, qan="6001166X"), master, sequence=1),
            record(events.recorded(old, qan="6001167X"), old, sequence=2),
            record(merged(master, old), master, topic=LEARNERS, sequence=3),
        ],
    )
    for reader, asked in ((master_learner, old), (old_learner, master), (master_learner, master)):
        document = (await _plr(app, reader, asked)).json()
        assert document["master_uln"] == master
        assert sorted(event["uln"] for event in document["learning_events"]) == sorted([master, old])


async def test_under_data_challenge_follows_challenge_events(projector: tuple[App, str], kafka_bootstrap: str) -> None:
    app, prefix = projector
    uln, learner = _learner(11)
    events = Events()
    achievement_id = events.achievement_id(uln)
    challenge_id = uuid.uuid4()
    raised = ChallengeRaised(
        challenge_id=challenge_id,
        achievement_id=achievement_id,
        ao_id=events.ao_id,
        uln=uln,
        reason_sealed="s1.c2VhbGVk",
    )
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            # the challenge may arrive before the achievement: another topic, another partition
            record(raised, str(achievement_id), topic=CHALLENGES),
            record(registered(uln), uln, topic=LEARNERS),
            record(events.recorded(uln), uln, sequence=1),
        ],
    )
    (event,) = (await _plr(app, learner, uln)).json()["learning_events"]
    assert event["under_data_challenge"] == "Y"
    resolved = ChallengeResolved(
        challenge_id=challenge_id,
        achievement_id=achievement_id,
        ao_id=events.ao_id,
        resolution=ChallengeResolution.CORRECTED,
    )
    await project(app, kafka_bootstrap, prefix, [record(resolved, str(achievement_id), topic=CHALLENGES, sequence=2)])
    (event,) = (await _plr(app, learner, uln)).json()["learning_events"]
    assert event["under_data_challenge"] == "N"


async def test_read_your_writes_waits_for_a_batch(projector: tuple[App, str], kafka_bootstrap: str) -> None:
    app, prefix = projector
    uln, learner = _learner(12)
    events = Events()
    await produce(
        kafka_bootstrap,
        prefix,
        [record(registered(uln), uln, topic=LEARNERS), record(events.recorded(uln), uln, sequence=1)],
    )
    response = await _plr(app, learner, uln, after_batch=str(events.batch_id), wait_ms=20_000)
    assert response.status_code == 200, response.text
    assert response.json()["consistency"]["batch_events_applied"] == 1
    assert len(response.json()["learning_events"]) == 1
    unknown = await _plr(app, learner, uln, after_batch=str(uuid.uuid4()), wait_ms=300)
    assert unknown.status_code == 503


async def test_a_batch_read_waits_for_the_events_a_later_step_projects(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    """Once the batch's first event is projected, the read waits for the PLR log's end as it was then: the
    rest of the batch is in the log, though perhaps in a step not yet committed. The projection is held
    between the two steps (its lock, as an operator action holds it) so that the read comes in between."""
    app, prefix = projector
    live = app.app.state.projector.live
    (first, _), (later, later_learner) = _learner(16), _learner(17)
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [record(registered(first), first, topic=LEARNERS), record(registered(later), later, topic=LEARNERS)],
    )
    events = Events()
    async with live.lock:
        (first_at, first_offset), _ = await produce(
            kafka_bootstrap,
            prefix,
            [record(events.recorded(first), first, sequence=1), record(events.recorded(later), later, sequence=2)],
        )
        up_to_the_first = {key: position for key, position in live.positions.items() if key[0] == PLR}
        up_to_the_first[(PLR, first_at)] = first_offset + 1
        await live.catch_up(up_to_the_first, timeout=30)

        # the AO, which sees its whole batch (a learner sees only its events on their PLR, none here yet)
        between = await _plr(app, f"ao:{events.ao_id}", later, after_batch=str(events.batch_id), wait_ms=500)
        assert (between.status_code, between.json().get("code")) == (503, "PROJECTION_PENDING"), between.text
        assert "retry-after" in between.headers  # the batch was seen; its later event is not yet projected

    after = await _plr(app, later_learner, later, after_batch=str(events.batch_id), wait_ms=20_000)
    assert after.status_code == 200, after.text
    assert after.json()["consistency"]["batch_events_applied"] == 1
    assert len(after.json()["learning_events"]) == 1


async def test_min_offsets_naming_a_partition_the_topic_lacks_is_refused_at_once(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln, learner = _learner(15)
    await project(app, kafka_bootstrap, prefix, [record(registered(uln), uln, topic=LEARNERS)])
    for asked in ("999:0", "lrs.learner.events.v1:999:0"):
        refused = await _plr(app, learner, uln, min_offsets=asked, wait_ms=20_000)
        assert (refused.status_code, refused.json()["code"]) == (422, "INVALID_REQUEST"), refused.text
        assert "has no partition 999" in refused.json()["detail"]


async def test_a_reader_is_refused_before_any_wait_and_counts_only_the_batchs_events_on_the_plr_read(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    (one, one_learner), (other, _) = _learner(13), _learner(14)
    events = Events()  # one AO's batch, with a result for each of the two learners
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(one), one, topic=LEARNERS),
            record(registered(other), other, topic=LEARNERS),
            record(events.recorded(one), one, sequence=1),
            record(events.recorded(other), other, sequence=2),
        ],
    )
    own = await _plr(app, one_learner, one, after_batch=str(events.batch_id), wait_ms=20_000)
    assert own.json()["consistency"]["batch_events_applied"] == 1  # their result, not the size of the batch

    # someone else's PLR: refused at once, so the wait cannot tell whether a batch put anything anywhere
    for batch in (events.batch_id, uuid.uuid4()):
        refused = await _plr(app, one_learner, other, after_batch=str(batch), wait_ms=300)
        assert refused.status_code == 403, refused.text

    # an AO waits for its own batch; another AO's is, to it, a batch that put nothing on the PLR (decision 0003)
    mine = await _plr(app, f"ao:{events.ao_id}", one, after_batch=str(events.batch_id), wait_ms=20_000)
    assert mine.json()["consistency"]["batch_events_applied"] == 1
    for batch in (events.batch_id, uuid.uuid4()):
        theirs = await _plr(app, "ao:RN9093", one, after_batch=str(batch), wait_ms=300)
        assert (theirs.status_code, theirs.json()["code"]) == (503, "PROJECTION_PENDING"), theirs.text
        assert "retry-after" not in theirs.headers  # a batch that put nothing on the PLR never will: no loop


async def test_an_ao_learns_a_merged_learners_other_ulns_only_where_it_recorded_something(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    (master, _), (old, _) = _learner(15), _learner(16)
    recording = Events(ao_id="RN5133")
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(master), master, topic=LEARNERS),
            record(registered(old), old, topic=LEARNERS),
            record(recording.recorded(master), master, sequence=1),
            record(merged(master, old), master, topic=LEARNERS, sequence=2),
        ],
    )
    stranger = (await _plr(app, "ao:RN9999", old)).json()
    never_merged = (await _plr(app, "ao:RN9999", master)).json()
    # as a learner never merged reads: nothing tells the stranger that `old` was merged
    assert (stranger["ulns"], stranger["master_uln"], stranger["learning_events"]) == ([old], old, [])
    assert (never_merged["ulns"], never_merged["master_uln"]) == ([master], master)
    recorder = (await _plr(app, "ao:RN5133", old)).json()
    assert (recorder["ulns"], recorder["master_uln"]) == (sorted([master, old]), master)
    ao_view = await app.get("ao:RN9999", "/v1/ao/achievements", uln=master)
    assert (ao_view.json()["ulns"], ao_view.json()["master_uln"]) == ([master], master)


async def test_a_centre_report_is_refused_for_an_unlinked_provider_first_then_for_impossible_dates(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln, _ = _learner(21)
    provider, stranger = "provider:10005556", "provider:10005557"
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [record(registered(uln), uln, topic=LEARNERS), record(linked(uln, provider), uln, topic=LEARNERS, sequence=1)],
    )
    report = {"uln": uln, "qualification_number": "600/1166/X"}

    unlinked = await app.post(stranger, "/v1/centre/achievements", {**report, "qualification_number": "60011661X"})
    refused = {
        "future": await app.post(provider, "/v1/centre/achievements", {**report, "award_date": "2099-01-01"}),
        "too early": await app.post(provider, "/v1/centre/achievements", {**report, "award_date": "1900-01-01"}),
        "backwards": await app.post(
            provider,
            "/v1/centre/achievements",
            {**report, "participation_start_date": "2024-09-01", "participation_end_date": "2023-06-01"},
        ),
        "empty grade": await app.post(provider, "/v1/centre/achievements", {**report, "grade": ""}),
        # decision 0176: a date as the batch files write it, of a participation that has happened
        "seconds": await app.post(provider, "/v1/centre/achievements", {**report, "award_date": 1717372800}),
        "with a time": await app.post(
            provider, "/v1/centre/achievements", {**report, "award_date": "2024-06-01T00:00:00Z"}
        ),
        "1066": await app.post(
            provider, "/v1/centre/achievements", {**report, "participation_start_date": "1066-10-14"}
        ),
        "9999": await app.post(provider, "/v1/centre/achievements", {**report, "participation_end_date": "9999-12-31"}),
    }

    assert (unlinked.status_code, unlinked.json()["code"]) == (403, "PROVIDER_NOT_LINKED")  # not RV006 first
    assert [(answer.status_code, answer.json().get("code")) for answer in refused.values()] == [
        (422, "RV008"),
        (422, "RV007"),
        (422, "INVALID_REQUEST"),
        (422, "INVALID_REQUEST"),
        (422, "INVALID_REQUEST"),
        (422, "INVALID_REQUEST"),
        (422, "INVALID_REQUEST"),
        (422, "INVALID_REQUEST"),
    ]
    assert "before it starts" in refused["backwards"].json()["detail"]
    assert "expected a date written yyyy-mm-dd" in refused["seconds"].json()["detail"]
    assert "from 1900-01-01 to today" in refused["1066"].json()["detail"]
    accepted = await app.post(
        provider,
        "/v1/centre/achievements",
        {**report, "award_date": " 2024-06-30 ", "participation_end_date": "2024-06-30"},
    )
    assert accepted.status_code == 202, accepted.text
