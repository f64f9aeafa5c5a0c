"""`views.audience_for` refuses with the API's problem code itself (a `ProblemCode` member), not its text: the routes
pass it on as the answer's code, and a code typed as a string would pass the guard against codes written as strings
(tests/test_architecture.py) and any typo with it. A refusal the API has no code for carries none."""

from __future__ import annotations

import pytest

from lrs_contracts.codes import ProblemCode
from lrs_platform.identity import Principal
from plr_projector.views import AccessDenied, LearnerErasedForProviders, LearnerGroup, audience_for

ULN = "1000000043"
LINKED = "10000001"


def learner(ability: int = 1, *, erased: bool = False) -> LearnerGroup:
    return LearnerGroup(ULN, ULN, (ULN,), True, ability, linked_providers=frozenset({LINKED}), erased=erased)


@pytest.mark.parametrize(
    ("caller", "group", "code"),
    [
        ("provider:10000009", learner(), ProblemCode.PROVIDER_NOT_LINKED),
        (f"provider:{LINKED}", learner(2), ProblemCode.LEARNER_DOES_NOT_SHARE),
        (f"provider:{LINKED}", learner(erased=True), ProblemCode.LEARNER_ERASED),
    ],
    ids=["not linked", "does not share", "erased"],
)
def test_a_refusal_carries_the_problem_code_member(caller: str, group: LearnerGroup, code: ProblemCode) -> None:
    with pytest.raises(AccessDenied) as refused:
        audience_for(Principal.parse(caller), group)

    assert refused.value.code is code
    assert isinstance(refused.value, LearnerErasedForProviders) is (code is ProblemCode.LEARNER_ERASED)


def test_a_refusal_without_a_code_of_its_own_carries_none() -> None:
    with pytest.raises(AccessDenied) as refused:
        audience_for(Principal.parse("learner:1026893096"), learner())

    assert refused.value.code is None
