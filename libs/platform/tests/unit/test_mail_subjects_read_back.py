"""A subject reads back as it was written, whatever its length: folded at 78 columns, one of 70 to 77 characters
went on a line of its own after an empty "Subject:", and a reader took it with a leading space. One that needs
encoded-words keeps each within RFC 2047's 75 characters."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from lrs_platform.mail import new_email


def _subject(length: int, word: str) -> str:
    subject = "LRS batch completed: "
    while len(subject) < length:
        subject += f"{word} "
    return subject.strip()


@pytest.mark.parametrize("word", ["RN9093", "abcdefghi", "RULES-SHOWCASE"])
def test_every_subject_reads_back_as_written(word: str) -> None:
    for length in range(40, 300):
        subject = _subject(length, word)
        email = new_email()
        email["Subject"] = subject
        email["To"] = "contact@ao.example"
        email.set_content("The batch was decided.")

        read = message_from_bytes(email.as_bytes(), policy=policy.default)

        assert read["Subject"] == subject, email.as_bytes().splitlines()[:2]


@pytest.mark.parametrize("reference", ["Café résumé", "Ysgol Gyfun Gŵyr", "Привет мир", "学校 成绩"])
def test_a_subject_in_encoded_words_is_folded_as_the_standard_policy_folds_it(reference: str) -> None:
    """Not on one line: an encoded-word of a 998-character line broke RFC 2047's 75 characters (112 seen)."""
    for repeat in range(1, 12):
        subject = f"LRS batch completed: {' '.join([reference] * repeat)} (10 of 10 accepted)"
        ours, standard = new_email(), EmailMessage(policy=policy.default)
        for email in (ours, standard):
            email["Subject"] = subject

        assert bytes(ours) == bytes(standard)
        assert max(len(word) for word in re.findall(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=", bytes(ours))) < 80
