"""Each version of an achievement in a PLR read says whether an operator's corrected copy of a parked event made it
(`corrected_by_operator`; `ReadModel.history` reads the stored copies): its batch, line and time are what the copy
says, not what the AO's batch sent (regulator walk, finding 1)."""

from __future__ import annotations

import pytest

from lrs_platform.identity import Principal
from plr_projector.views import History, audience_for, learning_events

from .test_documents import EVENTS, _history
from .test_views import achievement, group


@pytest.mark.parametrize("principal", ["learner:1000000043", "ao:RN5133", "operator:support"])
def test_the_version_an_operators_copy_made_says_so(principal: str) -> None:
    row = achievement()
    first, second = _history(row)
    events = learning_events(
        audience_for(Principal.parse(principal), group(1)),
        [row],
        [],
        set(),
        History({row.key: [first, second]}, corrected_by_operator={second.event_id}),
        include_withdrawn=True,
        include_history=True,
    )

    assert [version["corrected_by_operator"] for version in events[0]["history"]] == [False, True]
    (described,) = EVENTS.validate_python(events)
    assert described.history is not None and [version.corrected_by_operator for version in described.history] == [
        False,
        True,
    ]


def test_a_history_read_with_no_copies_marks_none() -> None:
    row = achievement()
    for history in ({row.key: _history(row)}, History({row.key: _history(row)})):
        events = learning_events(
            audience_for(Principal.parse("operator:support"), group(1)),
            [row],
            [],
            set(),
            history,
            include_withdrawn=True,
            include_history=True,
        )
        assert [version["corrected_by_operator"] for version in events[0]["history"]] == [False, False]


def test_each_version_names_the_pathway_it_recorded() -> None:
    """A Final Create superseding a Provisional, or a re-creation, may change the pathway: the earlier one stays
    readable in the history (model-based walk of session 64)."""
    row = achievement()
    first, second = _history(row)
    history = History({row.key: [first._replace(pathway="Engineering"), second._replace(pathway="Science")]})
    events = learning_events(
        audience_for(Principal.parse("operator:support"), group(1)),
        [row],
        [],
        set(),
        history,
        include_withdrawn=True,
        include_history=True,
    )
    (described,) = EVENTS.validate_python(events)
    assert described.history is not None
    assert [version.pathway for version in described.history] == ["Engineering", "Science"]
