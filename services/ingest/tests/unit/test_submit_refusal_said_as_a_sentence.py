"""A learner's or a provider's key refused a batch submission is told so in a sentence that starts with a capital,
as every other refusal does ("Learner callers cannot submit achievement batches."), on the route and in the
submission's own check alike."""

from __future__ import annotations

from typing import Any

import pytest

from ingest.api import submit_batch
from ingest.submission import NotAllowedToSubmit, batch_ao_for
from lrs_platform.identity import Principal


@pytest.mark.parametrize(("principal", "kind"), [("learner:1000000043", "Learner"), ("provider:10000001", "Provider")])
async def test_the_route_refuses_in_a_sentence(principal: str, kind: str) -> None:
    unused: Any = None

    with pytest.raises(NotAllowedToSubmit) as refused:
        await submit_batch(unused, Principal.parse(principal), unused, unused, unused, unused, unused)

    assert str(refused.value) == f"{kind} callers cannot submit achievement batches."


@pytest.mark.parametrize(("principal", "kind"), [("learner:1000000043", "Learner"), ("provider:10000001", "Provider")])
def test_the_submissions_check_refuses_in_a_sentence(principal: str, kind: str) -> None:
    with pytest.raises(NotAllowedToSubmit) as refused:
        batch_ao_for(Principal.parse(principal), "RN9093")

    assert str(refused.value) == f"{kind} callers cannot submit achievement batches."
