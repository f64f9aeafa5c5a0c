"""Batch emails as an AO reads them: real Kafka, PostgreSQL and SMTP (aiosmtpd), both MIME parts parsed,
the absolute link followed on the portal."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from tests.integration.test_notifier import envelope, produce
from tests.support.mail import Inbox, notifier_settings
from tests.support.waiting import eventually

from lrs_contracts.batch import JobType
from lrs_contracts.codes import RECORD_CODE_TITLES, RecordCode
from lrs_contracts.outcomes import (
    BatchCompleted,
    BatchCounts,
    BatchFailed,
    BatchRecordsDecided,
    Finding,
    RecordOutcome,
    RecordStatus,
)
from lrs_contracts.topics import BATCH_OUTCOMES
from notifier.bootstrap import create_app as create_notifier
from portal.bootstrap import create_app as create_portal
from portal.config import PortalSettings

pytestmark = pytest.mark.integration

PUBLIC_BASE_URL = "https://portal.lrs.example"


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href" and value]


@pytest.fixture
async def notifier_running(kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox) -> AsyncIterator[None]:
    settings = await notifier_settings(
        kafka_bootstrap, fresh_database_url, inbox, "emails-it", NOTIFIER_PUBLIC_BASE_URL=PUBLIC_BASE_URL + "/"
    )
    async with LifespanManager(create_notifier(settings), startup_timeout=60, shutdown_timeout=30):
        yield


@pytest.fixture
async def portal(fresh_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_portal(PortalSettings(DATABASE_URL=fresh_database_url, cookie_secure=False, log_json=True))
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_BASE_URL) as client,
    ):
        yield client


def rejected(line: int, *codes: RecordCode) -> RecordOutcome:
    findings = tuple(Finding(code=code.value, message="see the code") for code in codes)
    return RecordOutcome(line=line, status=RecordStatus.REJECTED, errors=findings, uln_masked="******0043")


def accepted(line: int) -> RecordOutcome:
    return RecordOutcome(line=line, status=RecordStatus.ACCEPTED, uln_masked="******0043")


def failed_batch(batch_id: uuid.UUID, email: str, counts: BatchCounts) -> BatchFailed:
    now = datetime.now(UTC)
    return BatchFailed(
        batch_id=batch_id,
        ao_id="RN9001",
        code="RS005",
        reason="5 of 8 records (62.5%) were rejected; more than 30% fails the batch",
        job_type=JobType.FINAL,
        batch_reference=f"JUNE-{batch_id.hex[:6]}",
        notification_email=email,
        counts=counts,
        submitted_at=now,
        decided_at=now,
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


async def test_a_failed_batch_says_so_lists_its_top_rejection_codes_and_links_to_its_portal_page(
    kafka_bootstrap: str, notifier_running: None, inbox: Inbox, portal: httpx.AsyncClient
) -> None:
    batch_id = uuid.uuid4()
    # Two chunks of per-record outcomes before the result, as the decider writes them (same key).
    first_chunk = BatchRecordsDecided(
        batch_id=batch_id,
        ao_id="RN9001",
        chunk_index=0,
        outcomes=(
            rejected(1, RecordCode.LEARNER_NOT_VERIFIED),
            rejected(2, RecordCode.LEARNER_NOT_VERIFIED, RecordCode.GRADE_NOT_IN_SET),
            accepted(3),
            rejected(4, RecordCode.GRADE_NOT_IN_SET),
        ),
    )
    second_chunk = BatchRecordsDecided(
        batch_id=batch_id,
        ao_id="RN9001",
        chunk_index=1,
        outcomes=(rejected(5, RecordCode.LEARNER_NOT_VERIFIED), rejected(6, RecordCode.QAN_UNKNOWN), accepted(7)),
    )
    counts = BatchCounts(total=7, accepted=2, rejected=5, no_ops=0, warnings=0)
    result = envelope(failed_batch(batch_id, "results@ao-emails.example", counts))
    chunks = [envelope(first_chunk), envelope(second_chunk)]
    # The first chunk delivered twice: its codes still count once.
    await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), chunks[0], chunks[0], chunks[1], result)

    message_id = f"<{result.event_id}@lrs.local>"
    [email] = await eventually(lambda: _async(inbox.with_message_id(message_id)), within=60, what="the email")
    reference = f"JUNE-{batch_id.hex[:6]}"
    assert (
        email["Subject"] == f"LRS batch failed (RS005), nothing recorded: RN9001 {reference} (batch {batch_id.hex[:8]})"
    )
    text, html = parts(email)

    first_line = text.splitlines()[0]
    assert first_line.startswith(f"Your batch {reference} failed (RS005): Too many achievement records")
    assert "Nothing from it has been recorded: no Personal Learning Record was changed." in first_line
    assert "complete" not in text.lower()
    listed = [line.split()[:2] for line in text.splitlines() if re.match(r"^  RV\d{3} ", line)]
    assert listed == [["RV004", "3"], ["RV009", "2"], ["RV005", "1"]]
    assert f"RV004       3 records  {RECORD_CODE_TITLES[RecordCode.LEARNER_NOT_VERIFIED]}" in text
    assert "failed (RS005)" in html
    assert "<td>RV004</td>" in html and "<td>RV009</td>" in html
    assert "0043" not in text and "0043" not in html  # not even a masked ULN

    # the batch's page, and (no service desk set here) the portal's page on contacting the desk
    [link, desk_page] = [word for word in text.split() if word.startswith("http")]
    assert desk_page == "https://portal.lrs.example/help/contact"
    links = Links()
    links.feed(html)
    assert links.hrefs == [link, desk_page]
    assert (await portal.get(urlsplit(desk_page).path)).status_code == 200
    parsed = urlsplit(link)
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("https", "portal.lrs.example", f"/batches/{batch_id}")

    # Followed on the portal: the batch's page exists and asks the AO to sign in first, then comes back.
    page = await portal.get(parsed.path)
    assert page.status_code == 303, page.text
    assert page.headers["location"].startswith("/sign-in")
    assert parsed.path in httpx.URL(page.headers["location"]).params.get("next", "")
    assert (await portal.get(f"/batch/{batch_id}")).status_code == 404  # not every path redirects


async def test_a_completed_batch_without_rejections_lists_no_codes(
    kafka_bootstrap: str, notifier_running: None, inbox: Inbox
) -> None:
    batch_id = uuid.uuid4()
    now = datetime.now(UTC)
    completed = BatchCompleted(
        batch_id=batch_id,
        ao_id="RN9001",
        job_type=JobType.PROVISIONAL,
        batch_reference=None,
        notification_email="results@ao-emails.example",
        counts=BatchCounts(total=2, accepted=1, rejected=0, no_ops=1, warnings=0),
        submitted_at=now,
        decided_at=now,
    )
    chunk = BatchRecordsDecided(batch_id=batch_id, ao_id="RN9001", chunk_index=0, outcomes=(accepted(1),))
    result = envelope(completed)
    await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), envelope(chunk), result)
    [email] = await eventually(
        lambda: _async(inbox.with_message_id(f"<{result.event_id}@lrs.local>")), within=60, what="the email"
    )
    assert email["Subject"] == f"LRS batch completed: RN9001 {batch_id} (1 of 2 accepted, 1 unchanged)"
    text, html = parts(email)
    assert (
        text.splitlines()[0]
        == f"Your batch {batch_id} is complete: 1 of 2 records accepted, 1 unchanged (already recorded)."
    )
    assert "rejection codes" not in text and "rejection codes" not in html
    assert f"{PUBLIC_BASE_URL}/batches/{batch_id}" in text


async def _async(value: list[EmailMessage]) -> list[EmailMessage]:
    return value
