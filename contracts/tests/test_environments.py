"""Sandpit topics and consumer groups never share a name with live ones, except the shared read-only logs."""

from __future__ import annotations

from lrs_contracts.environments import LIVE_TOPICS, Environment, TopicNames
from lrs_contracts.topics import (
    ALL_TOPICS,
    BATCH_SUBMITTED,
    LEARNER_EVENTS,
    PLR_EVENTS,
    REFERENCE_QUALIFICATIONS,
    REPORTING_SUBMISSIONS,
)

SANDPIT = TopicNames(Environment.SANDPIT)


def test_live_names_are_the_declared_names() -> None:
    assert [LIVE_TOPICS.of(topic) for topic in ALL_TOPICS] == [topic.name for topic in ALL_TOPICS]
    assert LIVE_TOPICS.group("validation") == "validation"
    assert LIVE_TOPICS.dead_letters(PLR_EVENTS.name) == "lrs.plr.events.v1.dlq"


def test_the_sandpit_writes_only_to_topics_of_its_own() -> None:
    assert SANDPIT.of(BATCH_SUBMITTED) == "sandpit.lrs.batch.submitted.v1"
    assert SANDPIT.group("validation") == "sandpit.validation"
    own = {SANDPIT.of(topic) for topic in ALL_TOPICS} - {LEARNER_EVENTS.name, REFERENCE_QUALIFICATIONS.name}
    assert own.isdisjoint(topic.name for topic in ALL_TOPICS)
    assert all(SANDPIT.dead_letters(topic.name).startswith("sandpit.") for topic in ALL_TOPICS)


def test_the_sandpit_reads_the_live_learners_and_catalogue() -> None:
    assert SANDPIT.of(LEARNER_EVENTS) == LEARNER_EVENTS.name
    assert SANDPIT.of(REFERENCE_QUALIFICATIONS) == REFERENCE_QUALIFICATIONS.name


def test_physical_names_map_back_to_logical_ones() -> None:
    prefixed = TopicNames(Environment.SANDPIT, prefix="t1.")
    for topic in ALL_TOPICS:
        assert prefixed.logical(prefixed.of(topic)) == topic.name


def test_sandpit_topics_expire_and_their_dead_letters_are_their_own() -> None:
    declared = {topic.name: topic for topic in SANDPIT.declared(ALL_TOPICS)}
    assert declared["sandpit.lrs.plr.events.v1"].retention == "30 days"
    assert declared["sandpit.lrs.plr.events.v1"].dead_letters == "sandpit.lrs.plr.events.v1.dlq"
    assert declared[LEARNER_EVENTS.name].retention == "forever"
    assert declared[LEARNER_EVENTS.name].dead_letters == "sandpit.lrs.learner.events.v1.dlq"


def test_the_sandpit_s_dead_letters_expire_as_its_topics_do_and_live_s_are_kept() -> None:
    sandpit = {topic.name: topic for topic in SANDPIT.declared(ALL_TOPICS)}
    live = {topic.name: topic for topic in TopicNames().declared(ALL_TOPICS)}
    assert {topic.dead_letters_retention for topic in sandpit.values()} == {"30 days"}  # a shared topic's too
    assert {topic.dead_letters_retention for topic in live.values()} == {"forever"}


def test_the_sandpit_declares_no_copy_of_the_reporting_topics_it_has_no_service_for() -> None:
    sandpit = [topic.name for topic in SANDPIT.declared(ALL_TOPICS)]
    live = [topic.name for topic in TopicNames().declared(ALL_TOPICS)]
    assert not [name for name in sandpit if ".reporting." in name]
    assert REPORTING_SUBMISSIONS.name in live
    assert "sandpit.lrs.challenge.events.v1" in sandpit  # the sandpit notifier reads its challenge notices there
