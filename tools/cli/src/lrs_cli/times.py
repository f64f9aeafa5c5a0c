"""Times shown to people, on the clock they read: UK time (GMT in winter, BST in summer), as the portal and the
emails show them. A UTC time is an hour off a learner's clock all summer, and its date the day before theirs late on
a summer evening. `--json` keeps the services' own instants (ISO 8601 with their offset): scripts read those."""

from __future__ import annotations

from datetime import datetime

from lrs_platform.clock import ENGLAND

UK_TIME = "UK time"
"""The label a column or a line of UK times carries."""


def in_the_uk(moment: str | datetime) -> datetime:
    """`moment` (an ISO 8601 instant as the services send it, `Z` or an offset, or an aware datetime) in UK time."""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00")) if isinstance(moment, str) else moment
    if parsed.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: which instant it is cannot be told")
    return parsed.astimezone(ENGLAND)


def uk_time(moment: str | datetime, *, labelled: bool = True) -> str:
    """`5 Dec 2026, 22:42 (UK time)`, as the portal shows a time; without the label for a column whose header
    says UK time."""
    said = f"{in_the_uk(moment):%-d %b %Y, %H:%M}"
    return f"{said} ({UK_TIME})" if labelled else said


def uk_date(moment: str | datetime) -> str:
    """`5 December 2026`: the UK date of an instant, as a letter or an email writes it."""
    return f"{in_the_uk(moment):%-d %B %Y}"
