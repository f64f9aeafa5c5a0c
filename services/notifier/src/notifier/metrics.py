from __future__ import annotations

from prometheus_client import Counter

EMAILS_SENT = Counter("lrs_notifier_emails_sent_total", "Emails accepted by the SMTP server", ["kind"])
EMAILS_FAILED = Counter("lrs_notifier_emails_failed_total", "Email attempts that failed", ["kind", "permanence"])
EVENTS_SKIPPED = Counter("lrs_notifier_events_skipped_total", "Events that cause no email", ["reason"])
