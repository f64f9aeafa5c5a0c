"""A parked poison's copy goes to its dead-letter topic once: a retry that parks it again (its rows deleted and
written anew) sends none, an event held behind it that a drain finds poisonous itself is sent then, once."""

from __future__ import annotations

from datetime import UTC, datetime

from plr_projector.dead_letters import dead_letters_sent
from plr_projector.projection import PLR_TOPIC, Message, Parked
from plr_projector.store import ParkedRow, dead_letter_due

ULN = "9990000016"


def _row(offset: int, reason: str) -> ParkedRow:
    return ParkedRow(
        topic=PLR_TOPIC,
        partition=0,
        offset=offset,
        park_key=ULN,
        reason=reason,
        error="invalid: data.grade: Field required" if reason == "error" else None,
        event_id=None,
        event_type=None,
        message_key=ULN.encode(),
        value=b"{}",
        kafka_timestamp_ms=0,
        attempts=1,
        parked_at=datetime(2026, 12, 6, 1, 17, tzinfo=UTC),
    )


def _parked(offset: int, reason: str) -> Parked:
    message = Message(PLR_TOPIC, 0, offset, ULN.encode(), b"{}", 0)
    return Parked(message, reason, "invalid" if reason == "error" else None, None, None, b"{}")


def test_a_poison_parked_for_the_first_time_is_sent_by_a_runner_that_publishes() -> None:
    assert dead_letter_due(_parked(5, "error"), publishing=True)
    assert not dead_letter_due(_parked(5, "error"), publishing=False)  # a rebuild's runner sends none
    assert not dead_letter_due(_parked(6, "blocked"), publishing=True)  # held behind a poison: no poison itself


def test_a_retry_that_parks_the_poison_again_sends_no_second_copy() -> None:
    sent = dead_letters_sent([_row(5, "error"), _row(6, "blocked")])

    assert sent == {(PLR_TOPIC, 0, 5)}
    parked_again = [_parked(5, "error"), _parked(6, "blocked")]
    assert [dead_letter_due(parked, publishing=True, sent=sent) for parked in parked_again] == [False, False]


def test_an_event_held_behind_a_skipped_poison_that_fails_itself_is_sent_once() -> None:
    sent = dead_letters_sent([_row(6, "blocked")])  # what a skip of the poison at 5 leaves to drain

    assert dead_letter_due(_parked(6, "error"), publishing=True, sent=sent)
    # retried later and still failing, it is not sent again
    assert not dead_letter_due(_parked(6, "error"), publishing=True, sent=dead_letters_sent([_row(6, "error")]))
