"""A Sandpit notifier's emails say so (docs/decisions/0060-sandpit.md): `[SANDPIT] ` before the subject, an
`LRS-Environment: sandpit` header, and a first line of each body, so no one mistakes practice for live results,
even in a forwarded copy or a mail client that shows the body alone. Their links go to the Sandpit's portal
(`NOTIFIER_PUBLIC_BASE_URL` of the Sandpit deployment)."""

from __future__ import annotations

import re
from email.message import EmailMessage

from lrs_contracts.environments import ENVIRONMENT_HEADER
from lrs_platform.mail import Mailer

SUBJECT_PREFIX = "[SANDPIT] "
BODY_NOTICE = "SANDPIT: this email is from the LRS's practice environment; nothing in it reached live records."
HTML_NOTICE = (
    '<p style="border-left: 5px solid #d4351c; padding-left: 0.5em; font-weight: bold">SANDPIT: this email is from'
    " the LRS's practice environment; nothing in it reached live records.</p>"
)
TITLE_MARK = "SANDPIT: "
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)
_TITLE_TAG = re.compile(r"<title>(?!SANDPIT: )", re.IGNORECASE)


class SandpitMailer:
    def __init__(self, mailer: Mailer) -> None:
        self._mailer = mailer

    async def send(self, message: EmailMessage) -> None:
        subject = str(message.get("Subject", ""))
        if not subject.startswith(SUBJECT_PREFIX):  # a retried send gets the message already marked
            message.replace_header("Subject", f"{SUBJECT_PREFIX}{subject}")
        if ENVIRONMENT_HEADER not in message:
            message[ENVIRONMENT_HEADER] = "sandpit"
        for part in message.walk():
            _mark_body(part)
        await self._mailer.send(message)


def _mark_body(part: EmailMessage) -> None:
    """Puts the notice first in a text or HTML body that does not have it yet."""
    kind = part.get_content_type()
    if kind not in ("text/plain", "text/html"):
        return
    content: str = part.get_content()
    if kind == "text/plain" and not content.startswith(BODY_NOTICE):
        part.set_content(f"{BODY_NOTICE}\n\n{content}")
    elif kind == "text/html" and (HTML_NOTICE not in content or _TITLE_TAG.search(content)):
        # the title too: a mail client or browser showing the HTML part alone names it by its title
        content = _TITLE_TAG.sub(f"<title>{TITLE_MARK}", content, count=1)
        if HTML_NOTICE not in content:
            body = _BODY_TAG.search(content)
            at = body.end() if body else 0
            content = content[:at] + HTML_NOTICE + content[at:]
        part.set_content(content, subtype="html")
