"""Every kind of email's counters are exported at 0 from the start: `increase()` over a series born at 1 sees
nothing, so the first email given up after each start would page no one."""

from __future__ import annotations

import inspect
import re

from prometheus_client import generate_latest

from notifier import handlers
from notifier.bootstrap import create_app
from notifier.config import NotifierSettings
from notifier.metrics import SKIP_REASONS


def test_the_failure_counters_exist_at_zero_before_any_email() -> None:
    create_app(NotifierSettings(DATABASE_URL="postgresql://postgres@db/lrs"))

    exported = generate_latest().decode()

    for kind in ("lrs.batch.completed.v1", "lrs.challenge.raised.v2", "challenge_contact_changed"):
        assert f'lrs_notifier_emails_failed_total{{kind="{kind}",permanence="permanent"}}' in exported
        assert f'lrs_notifier_emails_sent_total{{kind="{kind}"}}' in exported
    # a challenge notice refused by its contact's mailbox is held for the next contact, not given up
    for kind in ("lrs.challenge.raised.v1", "lrs.challenge.raised.v2"):
        assert f'lrs_notifier_emails_failed_total{{kind="{kind}",permanence="held"}}' in exported
    assert 'kind="lrs.batch.completed.v1",permanence="held"' not in exported, "a batch's email is never held"


def test_every_skip_reason_exists_at_zero_before_any_event() -> None:
    """`lrs_notifier_events_skipped_total{reason}` too: an alert on any increase sees the first skip (ops walk,
    finding 5)."""
    create_app(NotifierSettings(DATABASE_URL="postgresql://postgres@db/lrs"))

    exported = generate_latest().decode()

    for reason in ("already_handled", "deferred", "no_notification_email"):  # other tests may have counted some
        assert f'lrs_notifier_events_skipped_total{{reason="{reason}"}}' in exported


def test_the_reasons_exported_from_zero_are_every_reason_the_handlers_give() -> None:
    source = inspect.getsource(handlers)
    given = set(re.findall(r'EVENTS_SKIPPED\.labels\("(\w+)"\)', source))
    given |= set(re.findall(r'self\._skip\(\s*envelope,\s*"(\w+)"', source))
    assert given == set(SKIP_REASONS)
