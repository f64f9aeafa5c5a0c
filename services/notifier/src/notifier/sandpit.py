"""A Sandpit notifier's emails say so (docs/decisions/0060-sandpit.md): `[SANDPIT] ` before the subject
and an `LRS-Environment: sandpit` header, so no one mistakes practice for live results. Their links go to
the Sandpit's portal (`NOTIFIER_PUBLIC_BASE_URL` of the Sandpit deployment)."""

from __future__ import annotations

from email.message import EmailMessage

from lrs_contracts.environments import ENVIRONMENT_HEADER
from lrs_platform.mail import Mailer

SUBJECT_PREFIX = "[SANDPIT] "


class SandpitMailer:
    def __init__(self, mailer: Mailer) -> None:
        self._mailer = mailer

    async def send(self, message: EmailMessage) -> None:
        subject = str(message.get("Subject", ""))
        if not subject.startswith(SUBJECT_PREFIX):  # a retried send gets the message already marked
            message.replace_header("Subject", f"{SUBJECT_PREFIX}{subject}")
        if ENVIRONMENT_HEADER not in message:
            message[ENVIRONMENT_HEADER] = "sandpit"
        await self._mailer.send(message)
