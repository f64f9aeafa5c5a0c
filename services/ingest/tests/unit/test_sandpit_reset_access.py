"""Who may reset which Sandpit: an AO its own, an operator the AO it names, nobody else."""

from __future__ import annotations

import pytest

from ingest.sandpit_api import ResetRequest, _ao_to_reset
from lrs_contracts.codes import ProblemCode
from lrs_platform.identity import Principal
from lrs_platform.problems import ProblemError

REGISTER = frozenset({"RN5133", "RN9093"})


def test_an_ao_resets_its_own_sandpit() -> None:
    assert _ao_to_reset(Principal.parse("ao:RN5133"), None, REGISTER) == "RN5133"
    assert _ao_to_reset(Principal.parse("ao:RN5133"), ResetRequest(ao_id="RN5133"), REGISTER) == "RN5133"


def test_an_ao_cannot_reset_another_aos_sandpit() -> None:
    with pytest.raises(ProblemError) as refused:
        _ao_to_reset(Principal.parse("ao:RN5133"), ResetRequest(ao_id="RN9093"), REGISTER)
    assert refused.value.problem.status == 403


def test_an_operator_names_the_ao() -> None:
    assert _ao_to_reset(Principal.parse("operator:ops"), ResetRequest(ao_id="RN9093"), REGISTER) == "RN9093"
    with pytest.raises(ProblemError) as unnamed:
        _ao_to_reset(Principal.parse("operator:ops"), None, REGISTER)
    assert unnamed.value.problem.status == 422


@pytest.mark.parametrize("principal", ["provider:10001234", "learner:1000000043"])
def test_providers_and_learners_reset_nothing(principal: str) -> None:
    with pytest.raises(ProblemError) as refused:
        _ao_to_reset(Principal.parse(principal), ResetRequest(ao_id="RN5133"), REGISTER)
    assert refused.value.problem.status == 403


def test_an_operator_resets_only_an_ao_in_the_register() -> None:
    """A mistyped number would be reset, nothing deleted, and "completed" said of it."""
    with pytest.raises(ProblemError) as unknown:
        _ao_to_reset(Principal.parse("operator:ops"), ResetRequest(ao_id="RN0001"), REGISTER)
    assert (unknown.value.problem.status, unknown.value.problem.code) == (422, ProblemCode.INVALID_REQUEST)
    assert unknown.value.problem.detail == (
        "RN0001 is not an awarding organisation in the register: check the number. Nothing was reset."
    )
