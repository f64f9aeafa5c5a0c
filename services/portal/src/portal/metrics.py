"""The portal's own metrics: its emails (`password_emails`), which fail where no one sees them otherwise, the
person told "we have sent a link" whatever came of it (mail walk, finding 3)."""

from __future__ import annotations

from prometheus_client import Counter

EMAILS = Counter(
    "lrs_portal_emails_total",
    "The portal's emails by what came of them: sent (the relay took it), failed (it did not go: the relay away,"
    " refusing it or our login), unconfirmed (the relay was handed it whole and did not confirm it in time: it may"
    " have gone)",
    ["kind", "outcome"],
)
RESET_LINK, FIRST_LINK, OPERATOR_LINK = "reset_link", "first_link", "operator_link"
ADDRESS_NOTICE, PASSWORD_NOTICE = "address_notice", "password_notice"
EMAIL_KINDS = [RESET_LINK, FIRST_LINK, OPERATOR_LINK, ADDRESS_NOTICE, PASSWORD_NOTICE]
"""A forgotten-password link, a new account's first link, an operator's link, the notice to an old address, the
notice of a password changed."""
SENT, FAILED, UNCONFIRMED = "sent", "failed", "unconfirmed"
OUTCOMES = (SENT, FAILED, UNCONFIRMED)


def count_from_zero(kind: str) -> None:
    """Every outcome of `kind` exported at 0 from the start, so that `increase()` sees the first failure after a
    start (a series born at 1 increases by nothing). Each kind of `EMAIL_KINDS` is, on import."""
    for outcome in OUTCOMES:
        EMAILS.labels(kind, outcome)


for _kind in EMAIL_KINDS:
    count_from_zero(_kind)
