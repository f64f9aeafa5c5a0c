"""A learner's PLR while some of their events are held in dead letters, on real Kafka and PostgreSQL.

Fail closed for providers: what is held may be the learner's choice not to share, or a withdrawal, so no provider
reads the PLR until an operator resolves it. The learner, their AOs and operators go on reading it, told how many
events are held, on every topic the projector parks them (decision 0011).
"""

from __future__ import annotations

import uuid

import pytest
from tests.support.projector import (
    CHALLENGES,
    LEARNERS,
    PLR,
    App,
    Events,
    Record,
    linked,
    project,
    record,
    registered,
    sharing,
    uln_for,
)

from lrs_contracts.learner import AbilityToShare

pytestmark = pytest.mark.integration

OPERATOR = "operator:held-reads"
PROVIDER = "provider:10007777"
HELD = "EVENTS_HELD_IN_DEAD_LETTERS"


def _learner() -> tuple[str, str]:
    uln = uln_for(uuid.uuid4().int % 10_000_000)
    return uln, f"learner:{uln}"


def _poison(topic: str, key: str) -> Record:
    return Record(topic, key, b'{"event_type": "not an envelope"')


async def _linked_learner_with_an_achievement(app: App, kafka: str, prefix: str, events: Events) -> tuple[str, str]:
    uln, learner = _learner()
    await project(
        app,
        kafka,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(linked(uln, PROVIDER), uln, topic=LEARNERS, sequence=1),
            record(events.recorded(uln, grade="5"), uln, sequence=2),
        ],
    )
    assert (await app.get(PROVIDER, f"/v1/learners/{uln}/plr")).status_code == 200
    return uln, learner


async def test_an_opt_out_held_behind_a_poison_keeps_providers_out_and_the_learner_is_told(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln, learner = await _linked_learner_with_an_achievement(app, kafka_bootstrap, prefix, Events())
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            _poison(LEARNERS, uln),
            record(sharing(uln, AbilityToShare.UNABLE_TO_SHARE), uln, topic=LEARNERS, sequence=3),
        ],
    )

    refused = await app.get(PROVIDER, f"/v1/learners/{uln}/plr")
    assert (refused.status_code, refused.json()["code"]) == (409, HELD), refused.text
    assert "learning_events" not in refused.text and "2" not in refused.json()["detail"]
    own = (await app.get(learner, f"/v1/learners/{uln}/plr")).json()
    assert (own["ability_to_share"], own["events_held_in_dead_letters"]) == (1, 2)
    assert (await app.get(OPERATOR, f"/v1/learners/{uln}/plr")).json()["events_held_in_dead_letters"] == 2
    held = await app.get(learner, f"/v1/learners/{uln}/plr/credential")
    assert (held.status_code, held.json()["code"]) == (409, HELD)

    skipped = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", {"reason": "not an envelope"}, topic=LEARNERS)
    assert skipped.status_code == 200, skipped.text
    opted_out = await app.get(PROVIDER, f"/v1/learners/{uln}/plr")
    assert (opted_out.status_code, opted_out.json()["code"]) == (403, "WSEC0206")
    assert (await app.get(learner, f"/v1/learners/{uln}/plr")).json()["events_held_in_dead_letters"] == 0


async def test_a_withdrawal_held_on_the_plr_topic_keeps_providers_out_and_the_learner_sees_the_notice(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    events = Events()
    uln, learner = await _linked_learner_with_an_achievement(app, kafka_bootstrap, prefix, events)
    await project(app, kafka_bootstrap, prefix, [_poison(PLR, uln), record(events.withdrawn(uln), uln, sequence=3)])

    refused = await app.get(PROVIDER, f"/v1/learners/{uln}/plr")
    assert (refused.status_code, refused.json()["code"]) == (409, HELD), refused.text
    # an AO reads any ULN: a count of what is held (an opt-out, an erasure, merged ULNs') is not its to know
    ao_view = (await app.get(f"ao:{events.ao_id}", "/v1/ao/achievements", uln=uln)).json()
    assert (len(ao_view["learning_events"]), ao_view["events_held_in_dead_letters"]) == (1, None)
    ao_plr = (await app.get(f"ao:{events.ao_id}", f"/v1/learners/{uln}/plr")).json()
    assert ao_plr["events_held_in_dead_letters"] is None
    assert (await app.get(learner, f"/v1/learners/{uln}/plr")).json()["events_held_in_dead_letters"] == 2


async def test_a_challenge_event_held_for_one_of_the_learners_achievements_is_counted_as_theirs(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    events = Events()
    uln, learner = await _linked_learner_with_an_achievement(app, kafka_bootstrap, prefix, events)
    await project(app, kafka_bootstrap, prefix, [_poison(CHALLENGES, str(events.achievement_id(uln)))])

    assert (await app.get(learner, f"/v1/learners/{uln}/plr")).json()["events_held_in_dead_letters"] == 1
    refused = await app.get(PROVIDER, f"/v1/learners/{uln}/plr")
    assert (refused.status_code, refused.json()["code"]) == (409, HELD)
