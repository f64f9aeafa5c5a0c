"""The fault suite's own counters: a planted loss, a planted duplicate and a second email are seen."""

from __future__ import annotations

from collections import Counter

from tests.faults.measure import Expected, ExpectedBatch, Observation, assess
from tests.faults.report import BEGIN, END, replace_between_markers

ULNS = ("1000000043", "1026893096", "6936002314")
EXPECTED = Expected(batches=(ExpectedBatch("b1", ULNS), ExpectedBatch("b2", ULNS)), final_grade="A", challenge_id="c1")


def _everything_in_place() -> Observation:
    lines = Counter({(batch, line): 1 for batch in ("b1", "b2") for line in (1, 2, 3)})
    return Observation(
        batch_status={"b1": "completed", "b2": "completed"},
        batches_per_submission={"b1": 1, "b2": 1},
        batch_view_lines=lines.copy(),
        history_lines=lines.copy(),
        log_lines=lines.copy(),
        plr_grades={uln: ("A", 2) for uln in ULNS},
        mi_batches={"b1", "b2"},
        challenge_projected=True,
        emails={"b1": ["<e1@lrs.local>"], "b2": ["<e2@lrs.local>"], "c1": ["<e3@lrs.local>"]},
    )


def test_everything_in_place_passes() -> None:
    assessment = assess(EXPECTED, _everything_in_place())
    assert (assessment.lost, assessment.duplicated, assessment.redeliveries) == (0, 0, 0)
    assert assessment.emails_per_notification == {"b1": 1, "b2": 1, "c1": 1}
    assert assessment.passed


def test_a_record_missing_from_the_plr_or_the_log_is_lost() -> None:
    seen = _everything_in_place()
    seen.history_lines[("b1", 2)] = 0
    seen.log_lines[("b2", 3)] = 0  # type: ignore[index]
    del seen.plr_grades[ULNS[0]]

    assessment = assess(EXPECTED, seen)

    assert assessment.lost == 3  # b1 line 2, b2 line 3, and b2 line 1 (its learner has no grade A)
    assert not assessment.recovered


def test_a_batch_missing_from_mi_loses_its_records_and_an_unprojected_challenge_counts() -> None:
    seen = _everything_in_place()
    seen.mi_batches = {"b1"}
    seen.challenge_projected = False

    assert assess(EXPECTED, seen).lost == len(ULNS) + 1


def test_an_event_applied_twice_or_a_second_batch_for_one_key_is_a_duplicate() -> None:
    seen = _everything_in_place()
    seen.history_lines[("b2", 1)] = 2
    assert assess(EXPECTED, seen).duplicated == 1

    seen = _everything_in_place()
    seen.batches_per_submission["b1"] = 2
    assessment = assess(EXPECTED, seen)
    assert assessment.duplicated == len(ULNS)
    assert assessment.recovered and not assessment.passed


def test_emails_count_by_message_id() -> None:
    seen = _everything_in_place()
    seen.emails["b1"].append("<e1@lrs.local>")  # the same email again: a redelivery, still one email
    assessment = assess(EXPECTED, seen)
    assert (assessment.emails_per_notification["b1"], assessment.redeliveries) == (1, 1)
    assert assessment.passed

    seen.emails["b2"].append("<another@lrs.local>")  # a second, different email for one notification
    assert assess(EXPECTED, seen).emails_per_notification["b2"] == 2
    assert not assess(EXPECTED, seen).passed

    seen.emails["c1"] = []
    assert not assess(EXPECTED, seen).recovered


def test_a_rerun_replaces_the_table_between_the_markers() -> None:
    document = f"# Reliability\n\nintro\n{BEGIN}\nold table\n{END}\n\nafter\n"

    once = replace_between_markers(document, "| new |")
    twice = replace_between_markers(once, "| newer |")

    assert twice == f"# Reliability\n\nintro\n{BEGIN}\n| newer |\n{END}\n\nafter\n"
