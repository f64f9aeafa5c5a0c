"""The withdraw route's 403 says what the caller does instead only to one who can: an awarding organisation is told
it resolves the challenge; a provider, which resolves nothing either, is told only who withdraws (the learner, or an
LRS operator for them). The route's check and the service's say the same."""

from __future__ import annotations

import pytest

from challenges.api import _withdrawing_caller
from challenges.service import only_the_learner_withdraws
from lrs_platform.identity import Principal
from lrs_platform.problems import ProblemError

WHO = "Only the learner who raised a challenge withdraws it (or an LRS operator for them)"
RESOLVE = "the awarding organisation resolves it instead (POST /v1/challenges/{challenge_id}/resolve)"


@pytest.mark.parametrize(
    ("caller", "said"),
    [("ao:RN5133", f"{WHO}: {RESOLVE}."), ("provider:10000001", f"{WHO}.")],
    ids=["ao", "provider"],
)
async def test_the_route_refuses_in_words_for_its_caller(caller: str, said: str) -> None:
    with pytest.raises(ProblemError) as refused:
        await _withdrawing_caller(Principal.parse(caller))

    assert refused.value.problem.status == 403
    assert refused.value.problem.detail == said


def test_the_service_refuses_in_the_same_words() -> None:
    assert "resolves it instead" not in only_the_learner_withdraws(Principal.parse("provider:10000001"))
    assert RESOLVE in only_the_learner_withdraws(Principal.parse("ao:RN5133"))
