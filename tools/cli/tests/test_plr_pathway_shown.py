"""`lrs plr show` names the pathway the AO recorded after the subject: one qualification may have two pathways of the
same title (100/5006/1: "Sport and Exercise Science" and "Sports Development"), and the learner may challenge which
one is on their record."""

from __future__ import annotations

from .test_plr_achievement_id import AO_EVENT, shown

SPORT = {
    **AO_EVENT,
    "subject": "Pearson BTEC Level 3 National Award in Sport",
    "pathway": "Sport and Exercise Science",
}


def _plain(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_the_pathway_follows_the_subject() -> None:
    text = _plain(shown({"uln": "7667955475", "learning_events": [SPORT]}, 250))

    assert "Pearson BTEC Level 3 National Award in Sport (pathway: Sport and Exercise Science)" in text


def test_a_result_without_a_pathway_shows_the_subject_alone() -> None:
    text = _plain(shown({"uln": "7667955475", "learning_events": [{**SPORT, "pathway": None}]}, 250))

    assert "Pearson BTEC Level 3 National Award in Sport Merit" in text
    assert "pathway" not in text


def test_a_pathway_is_shown_as_written_never_read_as_markup() -> None:
    text = _plain(shown({"uln": "7667955475", "learning_events": [{**SPORT, "pathway": "[bold]Sports[/bold]"}]}, 250))

    assert "(pathway: [bold]Sports[/bold])" in text
