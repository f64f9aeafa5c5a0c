"""A learner withdraws a challenge they raised while it is open (decision 0194): raised by mistake, or an appeal sent
as a data error. It ends resolved `withdrawn`, with no note and no batch, by the learner, on the same
`lrs.challenge.resolved.v1` every resolution is written as. Only the learner who raised it (under any of their ULNs)
and an operator for them withdraw it; another learner finds no such challenge, as a read does; the AO resolves it and
may not resolve it as `withdrawn`. A second withdrawal is refused with the state it is in, as other changes are."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from challenges.api import (
    ChallengePublic,
    ChallengeResolve,
    _answering_caller,
    _translate,
    _withdrawing_caller,
    withdraw_challenge,
)
from challenges.domain import (
    Challenge,
    ChallengeState,
    InvalidTransition,
    OnlyTheLearnerWithdraws,
    acknowledge,
    evolve,
    may_manage,
    may_withdraw,
    resolve,
    withdraw,
)
from challenges.service import ChallengeNotFound, ChallengeService, NotAllowed
from lrs_contracts.challenge import (
    RESOLUTION_LABELS,
    ChallengeResolution,
    ChallengeResolved,
    resolution_label,
)
from lrs_contracts.codes import ProblemCode
from lrs_contracts.registry import decode, encode, wrap
from lrs_platform.identity import Principal
from lrs_platform.problems import ProblemError

MASTER, MERGED, SOMEONE_ELSE = "1000000078", "1000000086", "1000000043"
AO = "RN5133"
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
AS_MASTER, AS_MERGED = Principal.parse(f"learner:{MASTER}"), Principal.parse(f"learner:{MERGED}")
AS_SOMEONE_ELSE, AS_AO = Principal.parse(f"learner:{SOMEONE_ELSE}"), Principal.parse(f"ao:{AO}")
AS_OPERATOR, AS_PROVIDER = Principal.parse("operator:jo"), Principal.parse("provider:10000001")


def raised(uln: str = MERGED) -> Challenge:
    """Raised under `uln`, before the learner's ULNs were merged (MERGED into MASTER)."""
    return Challenge(uuid.uuid4(), uuid.uuid4(), AO, uln, "wrong achievement", ChallengeState.RAISED, AT)


# --- the domain ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [ChallengeState.RAISED, ChallengeState.ACKNOWLEDGED])
def test_an_open_challenge_is_withdrawn_as_a_resolution_with_no_note_and_no_batch(state: ChallengeState) -> None:
    challenge = raised() if state is ChallengeState.RAISED else evolve(raised(), acknowledge(raised()), AT)

    event = withdraw(challenge)
    ended = evolve(challenge, event, AT)

    assert isinstance(event, ChallengeResolved)
    assert (event.resolution, event.note, event.note_sealed, event.correcting_batch_id) == (
        ChallengeResolution.WITHDRAWN,
        None,
        None,
        None,
    )
    assert (event.challenge_id, event.achievement_id, event.ao_id, event.uln) == (
        challenge.challenge_id,
        challenge.achievement_id,
        AO,
        MERGED,
    )
    assert (ended.state, ended.resolution, ended.note) == (ChallengeState.RESOLVED, ChallengeResolution.WITHDRAWN, None)
    # the event travels as every resolution does, and reads back as it was written
    assert decode(encode(wrap(event, source="challenges", correlation_id=str(event.challenge_id))))[1] == event


def test_a_resolved_challenge_is_not_withdrawn_and_the_refusal_says_it_is_resolved() -> None:
    for resolved in (
        evolve(raised(), withdraw(raised()), AT),
        evolve(raised(), resolve(raised(), ChallengeResolution.UPHELD, "as awarded"), AT),
    ):
        with pytest.raises(InvalidTransition) as refused:
            withdraw(resolved)
        assert refused.value.state is ChallengeState.RESOLVED
        assert str(refused.value) == "A resolved challenge cannot be withdrawn."


def test_the_ao_does_not_resolve_a_challenge_as_withdrawn() -> None:
    with pytest.raises(OnlyTheLearnerWithdraws):
        resolve(raised(), ChallengeResolution.WITHDRAWN, None)


@pytest.mark.parametrize(
    ("principal", "withdraws"),
    [
        (AS_MERGED, True),  # raised it under this ULN
        (AS_MASTER, True),  # the same person, under the ULN it was merged into
        (AS_SOMEONE_ELSE, False),
        (AS_AO, False),  # it resolves instead
        (AS_PROVIDER, False),
        (AS_OPERATOR, True),  # for the learner
    ],
    ids=["learner", "merged learner", "another learner", "ao", "provider", "operator"],
)
def test_who_withdraws(principal: Principal, withdraws: bool) -> None:
    learner_ulns = frozenset({MASTER, MERGED}) if principal == AS_MASTER else frozenset()
    assert may_withdraw(raised(), principal, learner_ulns) is withdraws
    assert may_manage(raised(), AS_AO)  # unchanged: the AO still answers it


def test_withdrawn_reads_as_withdrawn_by_the_learner() -> None:
    assert RESOLUTION_LABELS[ChallengeResolution.WITHDRAWN] == "Withdrawn by the learner"
    assert resolution_label("withdrawn") == "Withdrawn by the learner"


# --- the API -------------------------------------------------------------------------------------------------------


def test_the_resolve_body_refuses_withdrawn_in_words() -> None:
    with pytest.raises(ValidationError) as refused:
        ChallengeResolve.model_validate({"resolution": "withdrawn"})
    assert "withdrawn only by the learner who raised it" in str(refused.value)
    assert ChallengeResolve.model_validate({"resolution": "upheld", "note": "as awarded"}).resolution == "upheld"
    # the document offers the AO only what it may send
    schema = ChallengeResolve.model_json_schema()["properties"]["resolution"]
    assert schema["enum"] == ["corrected", "upheld", "rejected"]


def test_the_domains_refusal_is_the_same_422() -> None:
    problem = _translate(OnlyTheLearnerWithdraws("x")).problem
    assert (problem.status, problem.code) == (422, ProblemCode.INVALID_REQUEST)
    assert problem.detail is not None and "withdrawn only by the learner who raised it" in problem.detail


def test_who_withdrew_is_said_as_each_reader_knows_them() -> None:
    ended = evolve(raised(), withdraw(raised()), AT)
    by_learner = Challenge(**{**ended.__dict__, "resolved_by": f"learner:{MERGED}"})
    by_operator = Challenge(**{**ended.__dict__, "resolved_by": "operator:jo"})

    assert ChallengePublic.of(by_learner, AS_MASTER).resolved_by == "you"
    assert ChallengePublic.of(by_learner, AS_AO).resolved_by == "the learner"
    assert ChallengePublic.of(by_learner, AS_OPERATOR).resolved_by == f"learner:{MERGED}"
    assert ChallengePublic.of(by_operator, AS_MASTER).resolved_by == "an LRS operator"
    assert ChallengePublic.of(by_operator, AS_AO).resolved_by == "an LRS operator"
    # the AO's own answers read as before
    by_ao = Challenge(**{**ended.__dict__, "resolved_by": f"ao:{AO}"})
    assert ChallengePublic.of(by_ao, AS_MASTER).resolved_by == "the awarding organisation"


async def test_only_learners_and_operators_reach_the_route() -> None:
    for principal in (AS_MASTER, AS_OPERATOR):
        assert await _withdrawing_caller(principal) is principal
    for principal in (AS_AO, AS_PROVIDER):
        with pytest.raises(ProblemError) as refused:
            await _withdrawing_caller(principal)
        assert refused.value.problem.status == 403
        assert refused.value.problem.detail is not None
        assert refused.value.problem.detail.startswith("Only the learner who raised a challenge withdraws it")
    with pytest.raises(ProblemError):
        await _answering_caller(AS_MASTER)  # a learner still resolves nothing


# --- the service, through the route --------------------------------------------------------------------------------


class _Record:
    """MERGED was merged into MASTER: one learner; nothing is withdrawn."""

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({MASTER, MERGED}) if uln in (MASTER, MERGED) else frozenset({uln})

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        return frozenset()


class _Store:
    """Keeps a unit of work's changes only when it ends without an error, as a database transaction does."""

    def __init__(self, challenges: list[Challenge]) -> None:
        self.challenges = challenges
        self.outbox: list[tuple[Any, str]] = []

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return next((challenge for challenge in self.challenges if challenge.challenge_id == challenge_id), None)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_Store]:
        self.pending: tuple[list[Challenge], list[tuple[Any, str]]] = ([], [])
        yield self
        changed, sent = self.pending
        for challenge in changed:
            self.challenges = [challenge if c.challenge_id == challenge.challenge_id else c for c in self.challenges]
        self.outbox += sent

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        return await self.get(challenge_id)

    async def update(self, changed: Challenge) -> None:
        self.pending[0].append(changed)

    async def add_to_outbox(self, envelope: Any, partition_key: str) -> None:
        self.pending[1].append((envelope, partition_key))


async def _unused(*_: object) -> bool:
    raise AssertionError("a withdrawal neither waits for the record nor asks whether events are held")


def _request(store: _Store) -> Any:
    service = ChallengeService(store, _Record(), None, _unused, held=_unused)  # type: ignore[arg-type]
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(challenges=service)))


async def test_the_learner_withdraws_under_any_of_their_ulns_and_the_resolution_is_published() -> None:
    challenge = raised(MERGED)
    store = _Store([challenge])

    shown = await withdraw_challenge(challenge.challenge_id, AS_MASTER, _request(store))

    assert (shown.state, shown.resolution, shown.resolved_by, shown.note) == (
        ChallengeState.RESOLVED,
        ChallengeResolution.WITHDRAWN,
        "you",
        None,
    )
    [kept] = store.challenges
    assert (kept.state, kept.resolution, kept.resolved_by) == (
        ChallengeState.RESOLVED,
        ChallengeResolution.WITHDRAWN,
        f"learner:{MASTER}",
    )
    [(envelope, key)] = store.outbox
    assert (envelope.event_type, envelope.causation_id, key) == (
        "lrs.challenge.resolved.v1",
        f"learner:{MASTER}",
        str(challenge.achievement_id),
    )
    assert envelope.data["resolution"] == "withdrawn"


def refused_as_closed(refused: pytest.ExceptionInfo[ProblemError]) -> str:
    """The words of a refused change to a closed challenge, once its problem is shown to be one: 409, the code
    CHALLENGE_NOT_IN_THAT_STATE and the challenge's state, "resolved"."""
    problem = refused.value.problem
    assert (problem.status, problem.code, problem.model_dump()["state"]) == (
        409,
        ProblemCode.CHALLENGE_NOT_IN_THAT_STATE,
        "resolved",
    )
    assert problem.detail is not None
    return problem.detail


async def test_withdrawing_twice_says_it_is_resolved_already_and_changes_nothing() -> None:
    challenge = raised(MERGED)
    store = _Store([challenge])
    await withdraw_challenge(challenge.challenge_id, AS_MERGED, _request(store))

    with pytest.raises(ProblemError) as again:
        await withdraw_challenge(challenge.challenge_id, AS_MERGED, _request(store))

    detail = refused_as_closed(again)
    assert detail.startswith("This challenge is closed: you withdrew it on ")
    assert detail.endswith("(UK time), so it cannot be withdrawn. Nothing more is needed.")
    assert len(store.outbox) == 1


async def test_another_learners_challenge_is_not_found_as_a_read_is_and_an_operator_withdraws_for_them() -> None:
    challenge = raised(MERGED)
    store = _Store([challenge])

    with pytest.raises(ProblemError) as refused:
        await withdraw_challenge(challenge.challenge_id, AS_SOMEONE_ELSE, _request(store))
    assert refused.value.problem.status == 404
    with pytest.raises(ChallengeNotFound):
        await _request(store).app.state.challenges.get(AS_SOMEONE_ELSE, challenge.challenge_id)  # the same answer
    assert store.outbox == []

    shown = await withdraw_challenge(challenge.challenge_id, AS_OPERATOR, _request(store))
    assert (shown.resolution, shown.resolved_by) == (ChallengeResolution.WITHDRAWN, "operator:jo")


async def test_the_service_refuses_an_ao_that_would_withdraw() -> None:
    challenge = raised()
    with pytest.raises(NotAllowed):
        await _request(_Store([challenge])).app.state.challenges.withdraw(AS_AO, challenge.challenge_id)
