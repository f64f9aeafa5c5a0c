"""A subject reads back as it was written, whatever its length: folded at 78 columns, one of 70 to 77 characters
went on a line of its own after an empty "Subject:", and a reader took it with a leading space."""

from __future__ import annotations

from email import message_from_bytes, policy

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
