"""The AO's challenge notice names the challenged achievement's pathway, centre UKPRN, language for assessment and
credits as the challenge event carries them (when it was raised), with the words the portal uses; an event written
before challenges carried them names none."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from lrs_contracts.challenge import ChallengedAchievement, ChallengeRaised
from notifier.emails import ChallengeContact, challenge_raised_email

CONTACT = ChallengeContact("Ada", "Lovelace", "+44 20 7946 0000", "challenges@ao.example")
RAISED_AT = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
ACHIEVEMENT = ChallengedAchievement(
    qualification_number="6001166X",
    award_date=date(2024, 8, 22),
    grade="4",
    pathway="Higher",
    ukprn="10012345",
    language_for_assessment="Welsh",
    credits=12,
)


def _raised(achievement: ChallengedAchievement) -> ChallengeRaised:
    return ChallengeRaised(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id="RN5133",
        uln="1000000043",
        reason_sealed="s1.x",
        achievement=achievement,
    )


def test_the_notice_names_the_pathway_centre_language_and_credits_of_the_challenged_achievement() -> None:
    email = challenge_raised_email(
        uuid.uuid4(), _raised(ACHIEVEMENT), CONTACT, RAISED_AT, reason="x", public_base_url="https://portal"
    )

    lines = email.text.splitlines()
    for line in (
        "Pathway:                 Higher",
        "Centre UKPRN:            10012345",
        "Language for assessment: Welsh",
        "Credits:                 12",
    ):
        assert line in lines
    for label, value in (
        ("Pathway", "Higher"),
        ("Centre UKPRN", "10012345"),
        ("Language for assessment", "Welsh"),
        ("Credits", "12"),
    ):
        assert f'<tr><th align="left" scope="row">{label}</th><td>{value}</td></tr>' in email.html


def test_an_event_without_them_names_none_and_a_bidi_control_in_them_is_shown() -> None:
    older = ACHIEVEMENT.model_copy(
        update={"pathway": None, "ukprn": None, "language_for_assessment": None, "credits": None}
    )
    before = challenge_raised_email(
        uuid.uuid4(), _raised(older), CONTACT, RAISED_AT, reason="x", public_base_url="https://portal"
    )
    tricky = ACHIEVEMENT.model_copy(update={"pathway": "Hi\u202egher"})
    shown = challenge_raised_email(
        uuid.uuid4(), _raised(tricky), CONTACT, RAISED_AT, reason="x", public_base_url="https://portal"
    )

    for label in ("Pathway", "Centre UKPRN", "Language for assessment", "Credits"):
        assert f"{label}:" not in before.text and f">{label}<" not in before.html
    assert "Pathway:                 Hi[U+202E]gher" in shown.text.splitlines()
