"""A sharing choice only the provider that squatted a ULN made (decision 0121, later note of 2026-12-06): which
choice is one (`only_the_registrations_choice`) and is set aside, never an opt-out (`provider_made_a_choice`), how
its setting aside is recorded (`choice_set_aside_by`) and how each reader is told of it (`who_changed_sharing`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lrs_platform.identity import Principal
from validation.registry_access import (
    choice_set_aside_by,
    only_the_registrations_choice,
    provider_made_a_choice,
    who_changed_sharing,
)

SQUATTER, OTHER = "10004567", "10009998"
RECORDED_SINCE = datetime(2026, 12, 4, 9, tzinfo=UTC)  # when validation migration 0122 was applied
AFTER, BEFORE = RECORDED_SINCE + timedelta(days=1), RECORDED_SINCE - timedelta(days=1)


@pytest.mark.parametrize(
    ("changed_by", "registered_at", "recorded_since", "theirs"),
    [
        ((), AFTER, RECORDED_SINCE, True),  # the registration's own value, no change since
        ((f"provider:{SQUATTER}", f"provider:{SQUATTER}"), AFTER, RECORDED_SINCE, True),
        ((f"provider:{SQUATTER}", "learner:1000000043"), AFTER, RECORDED_SINCE, False),  # the learner chose too
        (("operator:desk",), AFTER, RECORDED_SINCE, False),
        (("operator:desk (learner file)",), AFTER, RECORDED_SINCE, False),
        ((f"provider:{OTHER}",), AFTER, RECORDED_SINCE, False),  # another linked provider, for the learner
        (("merge of 1026893096",), AFTER, RECORDED_SINCE, False),  # an opt-out a merge kept
        ((f"provider:{SQUATTER}",), BEFORE, RECORDED_SINCE, False),  # changes before 0122 are not known
        ((f"provider:{SQUATTER}",), AFTER, None, False),  # nor when the registry cannot say since when
    ],
    ids=[
        "registered so",
        "only its changes",
        "the learner's too",
        "an operator's",
        "a learner file's",
        "another provider's",
        "a merge's",
        "registered before changes were kept",
        "not known since when",
    ],
)
def test_a_choice_is_the_squatters_only_when_every_change_since_it_registered_is_its_own(
    changed_by: tuple[str, ...], registered_at: datetime, recorded_since: datetime | None, theirs: bool
) -> None:
    assert only_the_registrations_choice(SQUATTER, changed_by, registered_at, recorded_since) is theirs


@pytest.mark.parametrize(
    ("registered_with", "changed_since", "chose"),
    [(0, False, False), (1, False, True), (0, True, True), (1, True, True), (None, False, False), (None, True, True)],
)
def test_a_squatter_chose_something_when_it_registered_a_choice_or_changed_it_since(
    registered_with: int | None, changed_since: bool, chose: bool
) -> None:
    assert provider_made_a_choice(registered_with, changed_since) is chose


@pytest.mark.parametrize("changed_since", [False, True], ids=["registered with it", "changed to it since"])
def test_a_squatters_opt_out_is_never_set_aside(changed_since: bool) -> None:
    """An opt-out held under the ULN stays (FAQ §1, decision 0180): it only denies sharing, which the learner or an
    operator can lift, and a file or merge never removes one."""
    assert provider_made_a_choice(2, changed_since) is False


SET_ASIDE_BY_FILE = choice_set_aside_by("operator:desk (learner file)", SQUATTER)
SET_ASIDE_BY_MERGE = choice_set_aside_by("operator:desk (merge of 6417153125 into 4391458704)", SQUATTER)


def test_the_set_aside_is_recorded_as_the_operators_with_why() -> None:
    assert SET_ASIDE_BY_FILE == (
        "operator:desk (learner file): the choice of provider 10004567, whose registration named another learner,"
        " set aside"
    )


@pytest.mark.parametrize(
    ("changed_by", "viewer", "linked", "said"),
    [
        (SET_ASIDE_BY_FILE, "operator:other", None, SET_ASIDE_BY_FILE),
        (
            SET_ASIDE_BY_FILE,
            "learner:1000000043",
            frozenset(),
            "an LRS operator, setting aside a choice made only by learning provider 10004567, whose registration of"
            " your ULN named someone else",
        ),
        (
            SET_ASIDE_BY_MERGE,
            f"provider:{OTHER}",
            None,
            "an LRS operator, setting aside a choice made only by a learning provider whose registration of the ULN"
            " named someone else",
        ),
        (
            SET_ASIDE_BY_FILE,
            f"provider:{SQUATTER}",  # linked again by an operator since
            None,
            "an LRS operator, setting aside a choice made only by your organisation, whose registration of the ULN"
            " named someone else",
        ),
        (
            choice_set_aside_by("merge of 6417153125 into 4391458704", SQUATTER),
            f"provider:{OTHER}",
            None,
            "the merge of the learner's ULNs, setting aside a choice made only by a learning provider whose"
            " registration of the ULN named someone else",
        ),
        # the squatter's own change, read by the learner once its link ended, and by one it is still linked to
        (
            f"provider:{SQUATTER}",
            "learner:1000000043",
            frozenset({OTHER}),
            "learning provider 10004567, no longer linked to you",
        ),
        (
            f"provider:{SQUATTER}",
            "learner:1000000043",
            frozenset({SQUATTER}),
            "learning provider 10004567, linked to you",
        ),
        (f"provider:{SQUATTER}", "learner:1000000043", None, "learning provider 10004567, linked to you"),
    ],
    ids=[
        "an operator",
        "the learner",
        "another provider (merge)",
        "the provider linked again",
        "a merge without an operator",
        "the squatter's change, unlinked",
        "a linked provider's change",
        "links not given",
    ],
)
def test_each_reader_is_told_a_squatters_choice_was_set_aside(
    changed_by: str, viewer: str, linked: frozenset[str] | None, said: str
) -> None:
    assert who_changed_sharing(changed_by, Principal.parse(viewer), linked) == said
