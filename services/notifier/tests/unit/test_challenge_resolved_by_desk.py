"""An LRS operator (the service desk, `operator:…` as the event's `causation_id`) resolving a challenge for its AO is
told to the AO's challenge contact when the raise notice reached them: named as that notice named it, threaded under
it, as what it was resolved with the note the learner was sent, and that no action is needed unless they disagree. A
raise notice still held for a contact is dropped, as for a withdrawal (decision 0194). The AO's own resolutions still
send nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from services.notifier.tests.unit.test_challenge_withdrawn import (
    ACHIEVEMENT,
    AO,
    CONTACT,
    ON_RECORD_ULN,
    DeliveryLogWithTypes,
    FakeChallengeNotices,
    raised,
)
from services.notifier.tests.unit.test_handlers import (
    KEY,
    ULN,
    FakeContacts,
    FakeDeferred,
    FakeKeyring,
    FakeMailer,
    plain_text,
)

from lrs_contracts.challenge import ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Envelope
from lrs_contracts.registry import wrap
from lrs_platform.keyring import LearnerKey, Purpose
from lrs_platform.mail import MailError
from notifier.emails import ChallengeContact, ServiceDesk, challenge_resolved_by_desk_email, to_mime
from notifier.handlers import Notifications, by_the_service_desk
from notifier.store import DeliveryFor, DeliveryStatus

DESK = "operator:desk"
NOTE = "This is an appeal, not a data error: contact Pearson appeals."


def service_of(
    mailer: FakeMailer,
    log: DeliveryLogWithTypes,
    contacts: FakeContacts,
    deferred: FakeDeferred,
    keys: dict[str, LearnerKey] | None = None,
) -> tuple[Notifications, FakeChallengeNotices]:
    notices = FakeChallengeNotices(log)
    service = Notifications(
        mailer,
        log,  # type: ignore[arg-type]
        contacts,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]  # no batch here
        FakeKeyring({ULN: KEY} if keys is None else dict(keys)),  # type: ignore[arg-type]
        mail_from="lrs@lrs.local",
        public_base_url="https://portal.lrs.example",
        deferred=deferred,  # type: ignore[arg-type]
        challenge_notices=notices,  # type: ignore[arg-type]
        service_desk=ServiceDesk(email="desk@lrs.example", phone="0300 303 2000"),
    )
    return service, notices


def resolved_for_the_ao(
    raise_: ChallengeRaised, resolution: ChallengeResolution, note: str | None = NOTE
) -> ChallengeResolved:
    return ChallengeResolved(
        challenge_id=raise_.challenge_id,
        achievement_id=raise_.achievement_id,
        ao_id=AO,
        resolution=resolution,
        uln=ULN,
        note_sealed=None if note is None else KEY.seal_text(Purpose.CHALLENGE_NOTE, note),
    )


def envelope_by(payload: ChallengeRaised | ChallengeResolved, principal: str | None) -> Envelope:
    """As the challenges service writes it: the challenge's id as correlation id, the caller as `causation_id`."""
    return wrap(payload, source="challenges", correlation_id=str(payload.challenge_id), causation_id=principal)


@pytest.mark.parametrize(
    ("causation_id", "by_desk"),
    [
        ("operator:desk", True),
        ("operator:oncall", True),
        ("ao:RN5133", False),
        ("learner:1000000043", False),
        (None, False),
        ("operator:", False),
        ("operatorx:desk", False),
    ],
)
def test_a_resolution_is_the_service_desks_when_an_operator_caused_it(causation_id: str | None, by_desk: bool) -> None:
    payload = resolved_for_the_ao(raised(), ChallengeResolution.UPHELD)
    assert by_the_service_desk(envelope_by(payload, causation_id)) is by_desk


def test_the_desks_resolution_email_names_the_challenge_as_its_raise_notice_did_and_threads_under_it() -> None:
    raise_ = raised()
    answer = resolved_for_the_ao(raise_, ChallengeResolution.REJECTED)
    event_id = uuid.uuid4()
    email = challenge_resolved_by_desk_email(
        event_id,
        answer,
        CONTACT,
        datetime(2026, 12, 7, 5, 52, tzinfo=UTC),
        note="Line one\nsign in at https://evil.example",
        achievement=ACHIEVEMENT,
        uln_masked="******9998",
        raised_at=datetime(2026, 6, 14, 23, 30, tzinfo=UTC),
        raise_message_id="<raise@lrs.local>",
        public_base_url="https://portal.lrs.example/",
        ao_name="Pearson Education Ltd",
        desk=ServiceDesk(email="desk@lrs.example", phone="0300 303 2000"),
    )
    assert email.subject == (
        f"LRS Event Data Challenge resolved by the LRS service desk on 600/1166/X: RN5133 {raise_.challenge_id}"
    )
    assert email.to == "challenges@ao.example" and email.message_id == f"<{event_id}@lrs.local>"
    message = to_mime(email, "lrs@lrs.local")
    assert (message["In-Reply-To"], message["References"]) == ("<raise@lrs.local>", "<raise@lrs.local>")
    assert message["Reply-To"] == "desk@lrs.example"
    text = " ".join(plain_text(message).split())
    assert "Dear Ada Lovelace" in text
    assert (
        "The LRS service desk resolved the Event Data Challenge below for your organisation on 7 December 2026, as"
        ' "Rejected: not a data error". The learner can read the answer with their challenge. No action is needed'
        " unless you disagree" in text
    )
    assert "contact the LRS service desk at desk@lrs.example or on 0300 303 2000, quoting the challenge id" in text
    assert "raised on 15 June 2026" in text
    assert "> Line one > sign in at https://evil.example (End of the note.)" in text, "the note quoted line by line"
    assert "600/1166/X GCSE in Mathematics" in text and "RN5133 Pearson Education Ltd" in text
    assert "******9998" in text and ON_RECORD_ULN not in text and ULN not in text
    assert "operator" not in text, "never which operator"
    assert f"https://portal.lrs.example/challenges/{raise_.challenge_id}" in text
    html = message.get_body(("html",))
    assert html is not None
    page = str(html.get_content())
    assert "Rejected: not a data error" in page and 'href="mailto:desk@lrs.example"' in page
    assert "sign in at https://evil.example</blockquote>" in page


def test_a_withdrawal_is_not_a_desks_resolution_email() -> None:
    with pytest.raises(ValueError, match="withdrawal"):
        challenge_resolved_by_desk_email(
            uuid.uuid4(),
            resolved_for_the_ao(raised(), ChallengeResolution.WITHDRAWN, note=None),
            CONTACT,
            datetime(2026, 12, 7, tzinfo=UTC),
            note=None,
            achievement=None,
            uln_masked=None,
            raised_at=None,
            raise_message_id=None,
            public_base_url="https://portal.lrs.example",
        )


@pytest.mark.parametrize(
    "resolution", [ChallengeResolution.CORRECTED, ChallengeResolution.UPHELD, ChallengeResolution.REJECTED]
)
async def test_the_desks_resolution_is_told_to_the_current_contact_once_threaded_under_the_raise_notice(
    resolution: ChallengeResolution,
) -> None:
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    service, notices = service_of(mailer, log, contacts, FakeDeferred(contacts))
    raise_ = raised()
    raise_envelope = envelope_by(raise_, f"learner:{ULN}")
    await service.handle(raise_envelope, raise_)
    # the AO changes its contact meanwhile: the notice goes to the contact it has now
    contacts.contacts[AO] = ChallengeContact("Bo", "Clerk", "01234 567890", "new@ao.example")
    answer = resolved_for_the_ao(raise_, resolution)
    envelope = envelope_by(answer, DESK)
    await service.handle(envelope, answer)
    await service.handle(envelope, answer)  # redelivered: not sent again
    assert len(mailer.sent) == 2
    email = mailer.sent[1]
    assert email["To"] == "new@ao.example" and email["Message-ID"] == f"<{envelope.event_id}@lrs.local>"
    assert email["In-Reply-To"] == email["References"] == f"<{raise_envelope.event_id}@lrs.local>"
    assert "resolved by the LRS service desk on 600/1166/X" in email["Subject"]
    text = " ".join(plain_text(email).split())
    assert "Dear Bo Clerk" in text and "No action is needed unless you disagree" in text
    labels = {
        ChallengeResolution.CORRECTED: "Data corrected",
        ChallengeResolution.UPHELD: "Data confirmed correct",
        ChallengeResolution.REJECTED: "Rejected: not a data error",
    }
    assert f'as "{labels[resolution]}"' in text
    assert f"> {NOTE}" in text, "the note the learner was sent, opened with their key"
    assert "600/1166/X GCSE in Mathematics" in text and "******9998" in text
    assert "Jo Bloggs" not in text and "my grade" not in text, "the learner's reason is not repeated"
    assert log.rows[envelope.event_id][0] is DeliveryStatus.SENT
    assert log.whose[envelope.event_id] == DeliveryFor(str(raise_.challenge_id), AO, "ao.example")
    assert notices.described == {}, "the challenge ended: nothing of it kept"


async def test_a_desks_resolution_without_a_note_says_none() -> None:
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    service, _ = service_of(mailer, log, contacts, FakeDeferred(contacts))
    raise_ = raised()
    await service.handle(envelope_by(raise_, f"learner:{ULN}"), raise_)
    answer = resolved_for_the_ao(raise_, ChallengeResolution.CORRECTED, note=None)
    await service.handle(envelope_by(answer, DESK), answer)
    text = plain_text(mailer.sent[1])
    assert '"Data corrected"' in text and "note" not in text.casefold()


async def test_the_note_of_an_erased_learner_is_said_to_be_gone() -> None:
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    service, _ = service_of(mailer, log, contacts, FakeDeferred(contacts), keys={})
    raise_ = raised()
    await service.handle(envelope_by(raise_, f"learner:{ULN}"), raise_)
    answer = resolved_for_the_ao(raise_, ChallengeResolution.UPHELD)
    await service.handle(envelope_by(answer, DESK), answer)
    text = " ".join(plain_text(mailer.sent[1]).split())
    assert "The note the learner was sent is no longer available" in text and NOTE not in text


@pytest.mark.parametrize(
    "resolution", [ChallengeResolution.CORRECTED, ChallengeResolution.UPHELD, ChallengeResolution.REJECTED]
)
async def test_the_aos_own_resolution_still_sends_nothing(resolution: ChallengeResolution) -> None:
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    service, notices = service_of(mailer, log, contacts, FakeDeferred(contacts))
    raise_ = raised()
    await service.handle(envelope_by(raise_, f"learner:{ULN}"), raise_)
    answer = resolved_for_the_ao(raise_, resolution)
    await service.handle(envelope_by(answer, f"ao:{AO}"), answer)
    assert len(mailer.sent) == 1 and len(log.rows) == 1, "only the raise's notice, no delivery of the answer"
    assert notices.described == {}


async def test_a_held_raise_notice_of_a_challenge_the_desk_resolved_is_still_sent_and_the_resolution_not() -> None:
    """Decision 0155: a held notice is the AO's only record that its data was challenged, so it is sent once the AO
    sets a contact, whoever resolved the challenge meanwhile (it says it may have been resolved since); only a
    learner's withdrawal drops it (0194). The desk's resolution itself is told to no one (review of the day, finding
    2: it dropped the notice)."""
    contacts = FakeContacts({})
    mailer, log = FakeMailer(), DeliveryLogWithTypes()
    deferred = FakeDeferred(contacts)
    service, _ = service_of(mailer, log, contacts, deferred)
    raise_ = raised()
    raise_envelope = envelope_by(raise_, f"learner:{ULN}")
    await service.handle(raise_envelope, raise_)
    assert await deferred.held() == 1

    answer = resolved_for_the_ao(raise_, ChallengeResolution.REJECTED)
    envelope = envelope_by(answer, DESK)
    await service.handle(envelope, answer)
    assert await deferred.held() == 1 and log.rows[raise_envelope.event_id][0] is DeliveryStatus.PENDING
    status, _, error = log.rows[envelope.event_id]
    assert status is DeliveryStatus.SKIPPED and error is not None
    assert "resolved by the LRS service desk" in error and "still waits to be sent" in error

    contacts.contacts[AO] = ChallengeContact("Bo", "Clerk", "01234 567890", "late@ao.example")
    deferred.now = 10**9
    assert await service.retry_deferred() == 1
    await service.handle(envelope, answer)
    assert len(mailer.sent) == 1 and log.rows[raise_envelope.event_id][0] is DeliveryStatus.SENT


async def test_a_desks_resolution_of_a_raise_never_seen_here_is_told_to_no_one() -> None:
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    service, _ = service_of(mailer, log, contacts, FakeDeferred(contacts))
    answer = resolved_for_the_ao(raised(), ChallengeResolution.UPHELD)
    envelope = envelope_by(answer, DESK)
    await service.handle(envelope, answer)
    status, _, error = log.rows[envelope.event_id]
    assert mailer.sent == [] and status is DeliveryStatus.SKIPPED
    assert error is not None and "never handled its raise" in error


async def test_a_desks_resolution_refused_for_now_is_tried_again_from_the_deferred_emails() -> None:
    full_mailbox = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    deferred = FakeDeferred(contacts)
    service, _ = service_of(mailer, log, contacts, deferred)
    raise_ = raised()
    await service.handle(envelope_by(raise_, f"learner:{ULN}"), raise_)
    mailer.failures.append(full_mailbox)
    answer = resolved_for_the_ao(raise_, ChallengeResolution.UPHELD)
    envelope = envelope_by(answer, DESK)
    await service.handle(envelope, answer)
    assert log.rows[envelope.event_id][0] is DeliveryStatus.PENDING and await deferred.count() == 1
    deferred.now = 10**9
    assert await service.retry_deferred() == 1
    assert log.rows[envelope.event_id][0] is DeliveryStatus.SENT
    assert [email["Message-ID"] for email in mailer.sent][-1] == f"<{envelope.event_id}@lrs.local>"
