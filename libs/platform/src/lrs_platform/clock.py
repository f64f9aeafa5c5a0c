"""The calendar the rules and the reports read: England's (award dates in the future, results issued on time,
a month of MI), whichever zone a server runs in."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

ENGLAND = ZoneInfo("Europe/London")


def today_in_england() -> date:
    return datetime.now(ENGLAND).date()
