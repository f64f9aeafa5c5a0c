"""Times shown to people, on the clock they read: UK time (GMT in winter, BST in summer), as the portal and the
emails show them. A UTC time is an hour off a learner's clock all summer, and its date the day before theirs late on
a summer evening. `--json` keeps the services' own instants (ISO 8601 with their offset): scripts read those."""

from __future__ import annotations

from datetime import datetime

from lrs_platform.clock import day_and_time, long_day

UK_TIME = "UK time"
"""The label a column or a line of UK times carries."""


def uk_time(moment: str | datetime, *, labelled: bool = True) -> str:
    """`5 Dec 2026, 22:42 (UK time)`, as the portal shows a time; without the label for a column whose header
    says UK time."""
    said = day_and_time(moment)
    return f"{said} ({UK_TIME})" if labelled else said


uk_date = long_day
"""`5 December 2026`: the UK date of an instant, as a letter or an email writes it."""
