"""Every topic, its partition key and what it carries: declared once, here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    compacted: bool
    retention: str
    carries: tuple[str, ...]
    partitions: int = 6
    dead_letters_name: str | None = None  # set by `environments.TopicNames.declared`
    dead_letters_retention: str = "forever"  # a parked message waits for an operator; the Sandpit's expire

    @property
    def dead_letters(self) -> str:
        return self.dead_letters_name or f"{self.name}.dlq"


BATCH_SUBMITTED = Topic(
    "lrs.batch.submitted.v1",
    key="AO id (one AO's batches stay in order in one partition: the FAQ's queue)",
    compacted=False,
    retention="7 days",
    carries=(
        "lrs.batch.submitted.v1",
        "lrs.batch.records.submitted.v1",
        "lrs.batch.submission.completed.v1",
        "lrs.sandpit.reset.requested.v1",
    ),
)
BATCH_OUTCOMES = Topic(
    "lrs.batch.outcomes.v1",
    key="batch id",
    compacted=False,
    retention="forever",
    carries=(
        "lrs.batch.validation.started.v1",
        "lrs.batch.records.decided.v1",
        "lrs.batch.completed.v1",
        "lrs.batch.failed.v1",
        "lrs.batch.abandoned.v1",
        "lrs.sandpit.reset.applied.v1",
    ),
)
PLR_EVENTS = Topic(
    "lrs.plr.events.v1",
    key="ULN (each learner's history in order)",
    compacted=False,
    retention="forever",
    carries=(
        "lrs.achievement.recorded.v1",
        "lrs.achievement.updated.v1",
        "lrs.achievement.superseded.v1",
        "lrs.achievement.withdrawn.v1",
        "lrs.achievement.reinstated.v1",
        "lrs.centre.achievement.reported.v1",
        "lrs.sandpit.achievements.erased.v1",
    ),
)
LEARNER_EVENTS = Topic(
    "lrs.learner.events.v1",
    key="ULN (the master ULN for merges)",
    compacted=False,
    retention="forever",
    carries=(
        "lrs.learner.registered.v1",
        "lrs.learner.registered.v2",
        "lrs.learner.sharing.changed.v1",
        "lrs.learner.merged.v1",
        "lrs.learner.erased.v1",
        "lrs.learner.provider.linked.v1",
        "lrs.learner.provider.unlinked.v1",
    ),
)
REFERENCE_QUALIFICATIONS = Topic(
    "lrs.reference.qualifications.v1",
    key="QAN|pathway",
    compacted=True,
    retention="compacted",
    carries=("lrs.reference.qualification.published.v1",),
    partitions=1,
)
CHALLENGE_EVENTS = Topic(
    "lrs.challenge.events.v1",
    key="achievement id",
    compacted=False,
    retention="forever",
    carries=(
        "lrs.challenge.raised.v1",
        "lrs.challenge.raised.v2",
        "lrs.challenge.acknowledged.v1",
        "lrs.challenge.resolved.v1",
    ),
)
REPORTING_SUBMISSIONS = Topic(
    "lrs.reporting.submissions.v1",
    key="AO id|yyyy-mm",
    compacted=True,
    retention="compacted",
    carries=("lrs.reporting.submissions.aggregated.v1",),
)
REPORTING_TIMELINESS = Topic(
    "lrs.reporting.timeliness.v1",
    key="AO id|yyyy-mm",
    compacted=True,
    retention="compacted",
    carries=("lrs.reporting.timeliness.aggregated.v1",),
)
REPORTING_PLR_TIMELINESS = Topic(
    "lrs.reporting.plr_timeliness.v1",
    key="AO id|yyyy-mm",
    compacted=True,
    retention="compacted",
    carries=("lrs.reporting.plr_timeliness.aggregated.v1",),
)
REPORTING_REJECTIONS = Topic(
    "lrs.reporting.rejections.v1",
    key="AO id|yyyy-mm",
    compacted=True,
    retention="compacted",
    carries=("lrs.reporting.rejections.aggregated.v1",),
)
REPORTING_CHALLENGES = Topic(
    "lrs.reporting.challenges.v1",
    key="AO id|yyyy-mm",
    compacted=True,
    retention="compacted",
    carries=("lrs.reporting.challenges.aggregated.v1",),
)
MAINTENANCE = Topic(
    "lrs.operations.maintenance.v1",
    key="`schedule` (one key: the latest message is the whole schedule)",
    compacted=True,
    retention="compacted",
    carries=("lrs.maintenance.schedule.changed.v1",),
    partitions=1,
)

REPORTING_TOPICS: tuple[Topic, ...] = (
    REPORTING_SUBMISSIONS,
    REPORTING_TIMELINESS,
    REPORTING_PLR_TIMELINESS,
    REPORTING_REJECTIONS,
    REPORTING_CHALLENGES,
)
"""What reporting publishes for analysts: one compacted topic a measure."""

ALL_TOPICS: tuple[Topic, ...] = (
    BATCH_SUBMITTED,
    BATCH_OUTCOMES,
    PLR_EVENTS,
    LEARNER_EVENTS,
    REFERENCE_QUALIFICATIONS,
    CHALLENGE_EVENTS,
    REPORTING_SUBMISSIONS,
    REPORTING_TIMELINESS,
    REPORTING_PLR_TIMELINESS,
    REPORTING_REJECTIONS,
    REPORTING_CHALLENGES,
    MAINTENANCE,
)
