"""A projector, and every rebuild worker it starts, reads its own environment's topics (decision 0060)."""

from __future__ import annotations

from lrs_contracts.topics import LEARNER_EVENTS, PLR_EVENTS
from plr_projector.config import ProjectorSettings
from plr_projector.consumer import Topics


def test_a_sandpit_projector_reads_the_sandpit_log_and_the_live_learners() -> None:
    settings = ProjectorSettings(
        LRS_ENVIRONMENT="sandpit", DATABASE_URL="postgresql://postgres@db/lrs_sandpit", topic_prefix="t1."
    )
    topics = Topics.of(settings)
    assert topics.physical(PLR_EVENTS.name) == "sandpit.t1.lrs.plr.events.v1"
    assert topics.physical(LEARNER_EVENTS.name) == "t1.lrs.learner.events.v1"
    assert topics.logical("sandpit.t1.lrs.plr.events.v1") == PLR_EVENTS.name
    assert topics.dead_letters(LEARNER_EVENTS.name) == "sandpit.t1.lrs.learner.events.v1.dlq"


def test_a_live_projector_reads_the_declared_names() -> None:
    topics = Topics.of(ProjectorSettings())
    assert topics.physical(PLR_EVENTS.name) == PLR_EVENTS.name
    assert topics.dead_letters(PLR_EVENTS.name) == "lrs.plr.events.v1.dlq"
