"""Which environment a topic, a consumer group or a credential belongs to: `live` or the `sandpit`.

The sandpit runs the same code beside live (docs/decisions/0060-sandpit.md). Every topic it writes
and every consumer group it reads with carries the prefix `sandpit.`, so nothing live ever reads
sandpit data. Two topics are shared, read-only for the sandpit: the learner registry's log and the
qualification catalogue (the sandpit decides against the same learners and reference data).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from lrs_contracts.topics import LEARNER_EVENTS, REFERENCE_QUALIFICATIONS, REPORTING_TOPICS, Topic

SANDPIT_PREFIX = "sandpit."
ENVIRONMENT_HEADER = "LRS-Environment"
"""The HTTP response header (and email header) naming the environment that answered or sent."""
SANDPIT_RETENTION = "30 days"
SHARED_TOPICS = frozenset({LEARNER_EVENTS.name, REFERENCE_QUALIFICATIONS.name})
"""Live topics the sandpit reads as they are; it never writes to them."""
LIVE_ONLY_TOPICS = frozenset(topic.name for topic in REPORTING_TOPICS)
"""Topics with no sandpit copy: the Sandpit runs no reporting (MI is of live batches only)."""


class Environment(StrEnum):
    LIVE = "live"
    SANDPIT = "sandpit"

    @property
    def is_sandpit(self) -> bool:
        return self is Environment.SANDPIT


@dataclass(frozen=True)
class TopicNames:
    """Logical topic names (as declared in `topics`) and their physical names for one environment.

    `prefix` is an extra prefix for private copies of the topics (test runs, benchmarks); it applies
    to every topic, shared ones included.
    """

    environment: Environment = Environment.LIVE
    prefix: str = ""

    @property
    def _own(self) -> str:
        return f"{SANDPIT_PREFIX if self.environment.is_sandpit else ''}{self.prefix}"

    def physical(self, logical: str) -> str:
        return f"{self.prefix}{logical}" if logical in SHARED_TOPICS else f"{self._own}{logical}"

    def of(self, topic: Topic) -> str:
        return self.physical(topic.name)

    def logical(self, physical: str) -> str:
        for prefix in (self._own, self.prefix):
            if prefix and physical.startswith(prefix):
                return physical[len(prefix) :]
        return physical

    def dead_letters(self, logical: str) -> str:
        """A consumer's DLQ is its environment's own, even for a shared topic it reads."""
        return f"{self._own}{logical}.dlq"

    def group(self, group_id: str) -> str:
        """A consumer group id (or a transactional id) of this environment."""
        return f"{SANDPIT_PREFIX}{group_id}" if self.environment.is_sandpit else group_id

    def declared(self, topics: Iterable[Topic]) -> list[Topic]:
        """The topics as this environment creates them: physical names; sandpit topics and their dead letters
        expire (nothing of an abandoned Sandpit outlives them), and the live-only ones are left out there."""
        declared = []
        for topic in topics:
            if self.environment.is_sandpit and topic.name in LIVE_ONLY_TOPICS:
                continue
            renamed = dataclasses.replace(topic, name=self.of(topic), dead_letters_name=self.dead_letters(topic.name))
            if self.environment.is_sandpit:
                renamed = dataclasses.replace(renamed, dead_letters_retention=SANDPIT_RETENTION)
                if topic.name not in SHARED_TOPICS and not topic.compacted:
                    renamed = dataclasses.replace(renamed, retention=SANDPIT_RETENTION)
            declared.append(renamed)
        return declared


LIVE_TOPICS = TopicNames()
