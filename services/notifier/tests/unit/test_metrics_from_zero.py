"""Every kind of email's counters are exported at 0 from the start: `increase()` over a series born at 1 sees
nothing, so the first email given up after each start would page no one."""

from __future__ import annotations

from prometheus_client import generate_latest

from notifier.bootstrap import create_app
from notifier.config import NotifierSettings


def test_the_failure_counters_exist_at_zero_before_any_email() -> None:
    create_app(NotifierSettings(DATABASE_URL="postgresql://postgres@db/lrs"))

    exported = generate_latest().decode()

    for kind in ("lrs.batch.completed.v1", "lrs.challenge.raised.v2", "challenge_contact_changed"):
        assert f'lrs_notifier_emails_failed_total{{kind="{kind}",permanence="permanent"}}' in exported
        assert f'lrs_notifier_emails_sent_total{{kind="{kind}"}}' in exported
