"""The learner keyring routes: which wrapping key wraps the learners' data keys, and re-wrapping them (decision
0116). A key store that cannot be used is answered as in every service (`lrs_platform.http.keyring_problem`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from lrs_platform.identity import OperatorScope, operator_scope
from lrs_platform.keyring import Keyring, WrappingState
from lrs_platform.logging import get_logger
from lrs_platform.problems import problem_responses
from validation.api_common import Operator

router = APIRouter(prefix="/v1")

_log = get_logger("validation.api")


class KeyWrapping(BaseModel):
    """How the learners' data keys are wrapped (decision 0116)."""

    wrap_with: int = Field(
        description="the wrapping key new learner keys are wrapped with (0: derived from LRS_KEYRING_KEY)"
    )
    keys_by_wrapping_key: dict[str, int] = Field(
        description="stored learner keys (erased ones not counted) by wrapping key id"
    )
    to_rewrap: int = Field(description="stored keys another wrapping key than `wrap_with` wraps")
    not_given: list[int] = Field(
        default_factory=list,
        description="wrapping keys that wrap stored keys but that this service was not given"
        " (`LRS_KEYRING_WRAPPING_KEYS`): their keys cannot be opened or re-wrapped until they are given back",
    )
    rewrapped: int = Field(default=0, description="keys this request re-wrapped")


@router.get(
    "/admin/keyring",
    tags=["learner registry"],
    summary="Which wrapping key wraps the learners' data keys (operators)",
    responses=problem_responses(401, 403, 503),
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def key_wrapping(request: Request, principal: Operator) -> KeyWrapping:
    return _wrapping_answer(await _keyring(request).wrapping())


@router.post(
    "/admin/keyring/rewrap",
    tags=["learner registry"],
    summary="Re-wrap stored learner keys with the current wrapping key (operators)",
    description=(
        "Re-wraps up to `at_most` stored learner data keys that another wrapping key wraps with the one this "
        "service wraps new keys with (`LRS_KEYRING_WRAP_WITH`), in transactions of 2,000. The data keys stay the "
        "same, so nothing sealed changes; erased learners' tombstones are left alone. Call again until `to_rewrap` "
        "is 0 (`lrs keyring rewrap` does), then the old wrapping key may be taken out of "
        "`LRS_KEYRING_WRAPPING_KEYS` (decision 0116, docs/operations.md)."
    ),
    responses=problem_responses(401, 403, 422, 503),
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def rewrap_keys(
    request: Request, principal: Operator, at_most: Annotated[int, Query(ge=1, le=1_000_000)] = 100_000
) -> KeyWrapping:
    keyring = _keyring(request)
    rewrapped = await keyring.rewrap(at_most)
    state = await keyring.wrapping()
    _log.info(
        "learner_keys_rewrapped",
        keys=rewrapped,
        wrap_with=state.wrap_with,
        to_rewrap=state.to_rewrap,
        operator=str(principal),
    )
    return _wrapping_answer(state, rewrapped)


def _keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


def _wrapping_answer(state: WrappingState, rewrapped: int = 0) -> KeyWrapping:
    return KeyWrapping(
        wrap_with=state.wrap_with,
        keys_by_wrapping_key={str(key_id): count for key_id, count in sorted(state.keys_by_wrapping_key.items())},
        to_rewrap=state.to_rewrap,
        not_given=list(state.not_given),
        rewrapped=rewrapped,
    )
