"""What the route groups share: the `Projector` every endpoint is given, the callers they take, the refusal of a ULN
no learner can have, and whether the learner registry records a learner erased (decisions 0050 and 0184)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import Depends, Path, Request

from lrs_contracts.identifiers import ULN_PATTERN
from lrs_domain.rules import why_no_learner_has
from lrs_platform.authentication import operator_caller
from lrs_platform.consumer import readiness_words
from lrs_platform.identity import Principal
from lrs_platform.logging import get_logger
from lrs_platform.problems import ProblemError
from plr_projector.consumer import Runner, Topics
from plr_projector.dead_letters import DeadLetters
from plr_projector.operations import LogProbe
from plr_projector.rebuild_jobs import Rebuilds
from plr_projector.replays import Replays
from plr_projector.store import ReadModel


@dataclass
class Projector:
    """Everything the endpoints need; built in bootstrap."""

    pool: asyncpg.Pool
    live: Runner
    producer: AIOKafkaProducer
    topics: Topics
    probe: LogProbe
    dead_letters: DeadLetters
    rebuilds: Rebuilds
    replays: Replays
    read_wait_max_ms: int
    takes_operator_actions: bool = True
    """False in a reader (PROJECTOR_RUN_CONSUMER=false): its live projection does not run, so a retry, skip or
    replay here would change the model behind the back of the one that writes it."""
    parked_depth: dict[str, int] = field(default_factory=lambda: {"error": 0, "blocked": 0})
    """The parked events as last counted (`lrs_projector_dlq_depth`), for `/readyz`."""

    @property
    def model(self) -> ReadModel:
        return self.live.model

    async def readiness(self) -> str:
        """`/readyz`'s word on the live projection, as every consumer's (`lrs_platform.consumer.readiness_report`):
        never a failure, but how many events are parked and whether it is retrying one."""
        return readiness_words(self.parked_depth, self.live.attempts)


def projector_of(request: Request) -> Projector:
    projector: Projector = request.app.state.projector
    return projector


ProjectorDep = Annotated[Projector, Depends(projector_of)]
Operator = Annotated[Principal, Depends(operator_caller("Only operators may use the admin API."))]
Uln = Annotated[str, Path(pattern=ULN_PATTERN, description="Unique Learner Number (10 digits)")]


def _forbidden(detail: str, code: str | None = None) -> ProblemError:
    return ProblemError(403, "Forbidden", detail, code=code)


def _refuse_mistyped_uln(uln: str) -> None:
    """A ULN no learner can have is answered as such, before any access check. Refused as "not linked" or "not
    found", the caller would look for the fault everywhere but the typing."""
    if refusal := why_no_learner_has(uln):
        raise ProblemError(422, "Invalid ULN", refusal.reason, code=refusal.code)


# named as the routes' logger: the `logger` field of the log line stays what it was
_registry_log = get_logger("plr_projector.api")


async def erased_in_registry(projector: Projector, ulns: Sequence[str], *, not_done: str) -> bool:
    """Whether the learner registry, validation's, records one of `ulns` erased: asked through
    `validation.learner_erased` (decision 0184), which the projector's role may call (validation's migration 0129)
    and which reads nothing else of validation's. Validation erases every ULN merged with a learner with them, so
    any one of the group found erased is the learner's erasure.

    The read model learns of an erasure only once it reads `LearnerErased`; the registry records it before the
    erasure answers 201. So a route asks this last, just before it acts, the read model's word being its fast path.

    A database with no `validation` schema has no registry (a projector on a database of its own): the read model
    is then the only record of erasures. One whose registry cannot be asked (the role may not call the function,
    or validation has not migrated yet) raises 503, its detail starting "Whether the learner was erased could not be
    asked, so " and ending with `not_done` (what the route did not do, and what to do instead)."""
    try:
        async with projector.pool.acquire() as connection:
            found = await connection.fetchval(
                "SELECT EXISTS (SELECT 1 FROM unnest($1::text[]) AS asked(uln)"
                " WHERE validation.learner_erased(asked.uln))",
                list(ulns),
            )
    except asyncpg.InvalidSchemaNameError:
        return False
    except (asyncpg.InsufficientPrivilegeError, asyncpg.UndefinedFunctionError) as error:
        _registry_log.warning("learner_registry_not_asked", error=type(error).__name__)
        raise ProblemError(
            503,
            "Learner registry unavailable",
            f"Whether the learner was erased could not be asked, so {not_done}",
        ) from error
    return bool(found)
