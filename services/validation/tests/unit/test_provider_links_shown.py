"""Who is told which providers are linked to a learner (`GET /v1/learners/{uln}/providers`)."""

from __future__ import annotations

import pytest

from lrs_platform.identity import Principal
from validation.registry_access import may_see_link

LINKED = ("10004567", "10001234")


@pytest.mark.parametrize(
    ("viewer", "shown"),
    [
        ("learner:1000000043", LINKED),
        ("operator:support", LINKED),
        ("provider:10004567", ("10004567",)),  # its own link only: no other provider's UKPRN
        ("provider:10009999", ()),
    ],
)
def test_the_learner_and_operators_see_every_link_and_a_provider_its_own(viewer: str, shown: tuple[str, ...]) -> None:
    principal = Principal.parse(viewer)

    assert tuple(ukprn for ukprn in LINKED if may_see_link(principal, ukprn)) == shown
