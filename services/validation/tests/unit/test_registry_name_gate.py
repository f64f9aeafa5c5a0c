"""A registration's names are judged by the one length gate a batch's are (`lrs_domain.names.name_too_long`, a review
of session 61's work, finding 9): a name that composes within the limit is not counted in Python, and one too long
is said as before, with its full count."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.name_counting import names_counted
from services.validation.tests.unit.test_registry_names_as_they_read import Registry, _register

import validation.learner_registry_api


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names counted in Python, by the gate or by the message saying how long a name is."""
    return names_counted(monkeypatch, validation.learner_registry_api)


@pytest.mark.parametrize("name", ["é" * 35, "e\u0301" * 35, "Siân" + "ŵ" * 31, "\u0f43" * 17 + "a"])
async def test_a_name_within_the_limit_composed_is_registered_uncounted(name: str, counted: list[str]) -> None:
    registry = Registry()
    answer = await _register("operator:ops", registry, given_name=name, family_name=name)
    assert answer.status_code == 201, answer.text
    assert [(each.given_name, each.family_name) for each in registry.registered] == [(name, name)]
    assert counted == []


@pytest.mark.parametrize(("name", "said"), [("é" * 36, 36), ("\u0f43" * 18, 36), ("K" + "\u0300" * 37, 36)])
async def test_a_name_too_long_is_said_with_its_full_count(name: str, said: int, counted: list[str]) -> None:
    answer = await _register("operator:ops", Registry(), given_name=name)
    assert answer.status_code == 422
    assert answer.json()["detail"] == f"body.given_name: the name is {said} characters long: at most 35 are allowed"
