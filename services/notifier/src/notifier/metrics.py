from __future__ import annotations

from prometheus_client import Counter, Gauge

EMAILS_SENT = Counter("lrs_notifier_emails_sent_total", "Emails accepted by the SMTP server", ["kind"])
EMAILS_FAILED = Counter(
    "lrs_notifier_emails_failed_total",
    "Email attempts that failed: transient (tried again), held (a challenge notice kept for its AO's next contact),"
    " permanent (the email given up)",
    ["kind", "permanence"],
)
EMAILS_UNCONFIRMED = Counter(
    "lrs_notifier_emails_unconfirmed_total",
    "Email attempts the relay was handed whole but did not confirm (no answer to the end of the message within"
    " NOTIFIER_SMTP_MESSAGE_TIMEOUT_SECONDS, or it hung up): the email may have gone. The first try of an email so is"
    " tried once more later, set aside; after that it is recorded as sent, unconfirmed",
    ["kind"],
)
EVENTS_SKIPPED = Counter("lrs_notifier_events_skipped_total", "Events that cause no email", ["reason"])
SKIP_REASONS = (
    "already_handled",
    "deferred",
    "no_notification_email",
    # a challenge notice never sent, its challenge withdrawn meanwhile (decision 0194)
    "raise_notice_withdrawn",
    # a withdrawal told to no one: its raise notice never reached the AO's contact
    "withdrawal_not_notified",
    # a resolution by an LRS operator told to no one: its raise notice never reached the AO's contact
    "desk_resolution_not_notified",
)
"""Every `reason` of EVENTS_SKIPPED the handlers give."""
EMAILS_DEFERRED = Gauge(
    "lrs_notifier_emails_deferred",
    "Emails set aside for a recipient the relay refused for now, or whose claim another replica held, as of the last look",
)
CHALLENGE_NOTICES_HELD = Gauge(
    "lrs_notifier_challenge_notices_held",
    "Challenge notices held until their AO sets a challenge contact (decision 0155), as of the last look",
)


def count_from_zero(kinds: tuple[str, ...], held: tuple[str, ...] = ()) -> None:
    """Every kind's series, and every skip reason's, exported from the start at 0, so that `increase()` sees the
    first failure or skip (a series born at 1 increases by nothing); `held`: the kinds that may be held."""
    for kind in kinds:
        EMAILS_SENT.labels(kind)
        EMAILS_UNCONFIRMED.labels(kind)
        for permanence in ("transient", "permanent", *(("held",) if kind in held else ())):
            EMAILS_FAILED.labels(kind, permanence)
    for reason in SKIP_REASONS:
        EVENTS_SKIPPED.labels(reason)
