"""A learner's withdrawal of a challenge (decision 0194) is told to the AO's challenge contact when the raise notice
reached them, named as that notice named it and threaded under it; a raise notice still held for a contact (decision
0155) or deferred is dropped instead, never sent for a withdrawn challenge. The AO's own resolutions send nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from services.notifier.tests.unit.test_handlers import (
    KEY,
    ULN,
    FakeContacts,
    FakeDeferred,
    FakeDeliveryLog,
    FakeKeyring,
    FakeMailer,
    plain_text,
)

from lrs_contracts.challenge import ChallengedAchievement, ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Contract, Envelope
from lrs_contracts.plr import ResultStatus
from lrs_contracts.registry import wrap
from lrs_platform.keyring import Purpose
from lrs_platform.mail import MailError
from notifier.emails import ChallengeContact, challenge_withdrawn_email, to_mime
from notifier.handlers import CHALLENGE_NOTICE_KINDS, EMAILED_KINDS, Notifications
from notifier.store import UNKNOWN_DELIVERY, DeliveryFor, DeliveryStatus, RaiseDescribed, RaiseNotice

AO = "RN5133"
CONTACT = ChallengeContact("Ada", "Lovelace", "01234 567890", "challenges@ao.example")
ON_RECORD_ULN = "9999999998"  # the ULN the AO recorded the achievement under: another, merged with the learner's
ACHIEVEMENT = ChallengedAchievement(
    qualification_number="6001166X",
    title="GCSE in Mathematics",
    award_date=date(2024, 8, 22),
    grade="4",
    uln=ON_RECORD_ULN,
    status=ResultStatus.FINAL,
)


class DeliveryLogWithTypes(FakeDeliveryLog):
    """The fake delivery log, keeping each delivery's event type and Message-ID as the store's row does."""

    def __init__(self) -> None:
        super().__init__()
        self.types: dict[uuid.UUID, tuple[str, str]] = {}

    async def begin_attempt(
        self, event_id: uuid.UUID, event_type: str, message_id: str, *, whose: DeliveryFor = UNKNOWN_DELIVERY
    ) -> int:
        self.types.setdefault(event_id, (event_type, message_id))
        return await super().begin_attempt(event_id, event_type, message_id, whose=whose)

    async def finish(
        self,
        event_id: uuid.UUID,
        status: DeliveryStatus,
        *,
        event_type: str,
        message_id: str,
        error: str | None,
        whose: DeliveryFor = UNKNOWN_DELIVERY,
    ) -> None:
        self.types.setdefault(event_id, (event_type, message_id))
        await super().finish(event_id, status, event_type=event_type, message_id=message_id, error=error, whose=whose)


class FakeChallengeNotices:
    """As `ChallengeNotices`: the raise's delivery found by its challenge's id (its correlation id)."""

    def __init__(self, log: DeliveryLogWithTypes) -> None:
        self.log = log
        self.described: dict[uuid.UUID, RaiseDescribed] = {}

    async def describe(self, challenge_id: uuid.UUID, ao_id: str, described: RaiseDescribed) -> None:
        # kept as the table keeps it: JSON in, JSON out
        achievement = None if described.achievement is None else json.loads(json.dumps(described.achievement))
        self.described.setdefault(challenge_id, RaiseDescribed(achievement, described.uln_masked, described.raised_at))

    async def raise_of(self, challenge_id: uuid.UUID) -> RaiseNotice | None:
        for event_id, whose in self.log.whose.items():
            event_type, message_id = self.log.types[event_id]
            if whose.correlation_id == str(challenge_id) and event_type in CHALLENGE_NOTICE_KINDS:
                status = self.log.rows[event_id][0]
                return RaiseNotice(event_id, event_type, status, message_id, self.described.get(challenge_id))
        return None

    async def forget(self, challenge_id: uuid.UUID) -> None:
        self.described.pop(challenge_id, None)


def service_of(
    mailer: FakeMailer, log: DeliveryLogWithTypes, contacts: FakeContacts, deferred: FakeDeferred
) -> tuple[Notifications, FakeChallengeNotices]:
    notices = FakeChallengeNotices(log)
    service = Notifications(
        mailer,
        log,  # type: ignore[arg-type]
        contacts,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]  # no batch here
        FakeKeyring({ULN: KEY}),  # type: ignore[arg-type]
        mail_from="lrs@lrs.local",
        public_base_url="https://portal.lrs.example",
        deferred=deferred,  # type: ignore[arg-type]
        challenge_notices=notices,  # type: ignore[arg-type]
    )
    return service, notices


def raised(achievement: ChallengedAchievement | None = ACHIEVEMENT) -> ChallengeRaised:
    return ChallengeRaised(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id=AO,
        uln=ULN,
        reason_sealed=KEY.seal_text(Purpose.CHALLENGE_REASON, "my grade was a 5, my name is Jo Bloggs"),
        achievement=achievement,
    )


def resolved(raise_: ChallengeRaised, resolution: ChallengeResolution) -> ChallengeResolved:
    return ChallengeResolved(
        challenge_id=raise_.challenge_id,
        achievement_id=raise_.achievement_id,
        ao_id=AO,
        resolution=resolution,
        uln=ULN,
    )


def envelope_of(payload: ChallengeRaised | ChallengeResolved | Contract) -> Envelope:
    challenge_id = getattr(payload, "challenge_id")  # noqa: B009
    return wrap(payload, source="challenges", correlation_id=str(challenge_id))


def test_the_withdrawal_email_names_the_challenge_as_its_raise_notice_did_and_threads_under_it() -> None:
    raise_ = raised()
    withdrawn = resolved(raise_, ChallengeResolution.WITHDRAWN)
    event_id = uuid.uuid4()
    email = challenge_withdrawn_email(
        event_id,
        withdrawn,
        CONTACT,
        datetime(2026, 12, 6, 23, 30, tzinfo=UTC),  # 6 December in the UK too
        achievement=ACHIEVEMENT,
        uln_masked="******9998",
        raised_at=datetime(2026, 6, 14, 23, 30, tzinfo=UTC),  # 15 June in the UK (BST)
        raise_message_id="<raise@lrs.local>",
        public_base_url="https://portal.lrs.example/",
        ao_name="Pearson Education Ltd",
    )
    assert (
        email.subject
        == f"LRS Event Data Challenge withdrawn by the learner on 600/1166/X: RN5133 {raise_.challenge_id}"
    )
    assert email.to == "challenges@ao.example" and email.message_id == f"<{event_id}@lrs.local>"
    message = to_mime(email, "lrs@lrs.local")
    assert (message["In-Reply-To"], message["References"]) == ("<raise@lrs.local>", "<raise@lrs.local>")
    assert message["Auto-Submitted"] == "auto-generated"
    text = plain_text(message)
    assert "Dear Ada Lovelace" in text
    assert "The learner withdrew the Event Data Challenge below on 6 December 2026. No action is needed" in text
    assert "raised on 15 June 2026" in text and '"Withdrawn by the learner"' in text
    assert "when it was raised" not in text  # a raise notice held for a contact went out later than that day
    assert "600/1166/X GCSE in Mathematics" in text and "22 August 2024" in text and "Final" in text
    assert "RN5133 Pearson Education Ltd" in text
    assert "******9998" in text and ON_RECORD_ULN not in text and ULN not in text
    assert str(raise_.achievement_id) in text and str(raise_.challenge_id) in text
    assert f"https://portal.lrs.example/challenges/{raise_.challenge_id}" in text
    html = message.get_body(("html",))
    assert html is not None and f'href="https://portal.lrs.example/challenges/{raise_.challenge_id}"' in str(
        html.get_content()
    )


def test_a_withdrawal_of_a_raise_not_described_names_it_by_its_ids_alone() -> None:
    raise_ = raised()
    email = challenge_withdrawn_email(
        uuid.uuid4(),
        resolved(raise_, ChallengeResolution.WITHDRAWN),
        CONTACT,
        datetime(2026, 12, 6, 12, tzinfo=UTC),
        achievement=None,
        uln_masked=None,
        raised_at=None,
        raise_message_id=None,
        public_base_url="https://portal.lrs.example",
    )
    assert email.subject == f"LRS Event Data Challenge withdrawn by the learner: RN5133 {raise_.challenge_id}"
    message = to_mime(email, "lrs@lrs.local")
    assert message["In-Reply-To"] is None and message["References"] is None
    text = plain_text(message)
    assert "Qualification" not in text and "Learner ULN" not in text
    assert str(raise_.achievement_id) in text and str(raise_.challenge_id) in text


def test_only_a_withdrawal_makes_a_withdrawal_email() -> None:
    with pytest.raises(ValueError, match="not a withdrawal"):
        challenge_withdrawn_email(
            uuid.uuid4(),
            resolved(raised(), ChallengeResolution.UPHELD),
            CONTACT,
            datetime(2026, 12, 6, 12, tzinfo=UTC),
            achievement=None,
            uln_masked=None,
            raised_at=None,
            raise_message_id=None,
            public_base_url="https://portal.lrs.example",
        )


def test_a_withdrawal_is_a_kind_of_email_counted_from_zero() -> None:
    assert "lrs.challenge.resolved.v1" in EMAILED_KINDS
    assert "lrs.challenge.resolved.v1" not in CHALLENGE_NOTICE_KINDS, "never held for another contact"


async def test_a_withdrawal_of_a_challenge_whose_notice_was_sent_is_told_to_the_current_contact_once() -> None:
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    service, notices = service_of(mailer, log, contacts, FakeDeferred(contacts))
    raise_ = raised()
    raise_envelope = envelope_of(raise_)
    await service.handle(raise_envelope, raise_)
    kept = notices.described[raise_.challenge_id]
    assert kept.uln_masked == "******9998" and ON_RECORD_ULN not in json.dumps(kept.achievement), "no full ULN kept"
    # the AO changes its contact meanwhile: the withdrawal goes to the contact it has now
    contacts.contacts[AO] = ChallengeContact("Bo", "Clerk", "01234 567890", "new@ao.example")
    withdrawn = resolved(raise_, ChallengeResolution.WITHDRAWN)
    envelope = envelope_of(withdrawn)
    await service.handle(envelope, withdrawn)
    await service.handle(envelope, withdrawn)  # redelivered: not sent again
    assert len(mailer.sent) == 2
    email = mailer.sent[1]
    assert email["To"] == "new@ao.example" and email["Message-ID"] == f"<{envelope.event_id}@lrs.local>"
    assert email["In-Reply-To"] == f"<{raise_envelope.event_id}@lrs.local>"
    text = plain_text(email)
    assert "Dear Bo Clerk" in text and "No action is needed" in text
    assert "600/1166/X GCSE in Mathematics" in text and "******9998" in text
    assert "Jo Bloggs" not in text and "my grade" not in text, "the learner's reason is not repeated"
    assert log.rows[envelope.event_id][0] is DeliveryStatus.SENT
    assert log.whose[envelope.event_id] == DeliveryFor(str(raise_.challenge_id), AO, "ao.example")
    assert notices.described == {}, "the challenge ended: nothing of it kept"


async def test_a_withdrawal_of_a_raise_sent_before_it_was_described_names_it_by_its_ids() -> None:
    """A raise notice sent by the release before this one: the withdrawal still reaches its contact."""
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    service, notices = service_of(mailer, log, contacts, FakeDeferred(contacts))
    raise_ = raised()
    await service.handle(envelope_of(raise_), raise_)
    notices.described.clear()
    withdrawn = resolved(raise_, ChallengeResolution.WITHDRAWN)
    await service.handle(envelope_of(withdrawn), withdrawn)
    text = plain_text(mailer.sent[1])
    assert "No action is needed" in text and str(raise_.achievement_id) in text
    assert "Qualification" not in text and "Learner ULN" not in text


@pytest.mark.parametrize("refused", [False, True], ids=["no contact", "contact refused"])
async def test_a_held_raise_notice_of_a_withdrawn_challenge_is_dropped_and_never_sent(refused: bool) -> None:
    contacts = FakeContacts({AO: CONTACT} if refused else {})
    gone = MailError("recipients refused: [550]", permanent=True, about_recipient=True)
    mailer, log = FakeMailer([gone] if refused else []), DeliveryLogWithTypes()
    deferred = FakeDeferred(contacts)
    service, notices = service_of(mailer, log, contacts, deferred)
    raise_ = raised()
    raise_envelope = envelope_of(raise_)
    await service.handle(raise_envelope, raise_)
    assert await deferred.held() == 1 and log.rows[raise_envelope.event_id][0] is DeliveryStatus.PENDING

    withdrawn = resolved(raise_, ChallengeResolution.WITHDRAWN)
    envelope = envelope_of(withdrawn)
    await service.handle(envelope, withdrawn)
    status, _, error = log.rows[raise_envelope.event_id]
    assert status is DeliveryStatus.SKIPPED and deferred.rows == {}
    assert error is not None and "the learner withdrew the challenge" in error
    assert ("mailbox refused it" if refused else "no challenge contact") in error
    status, _, error = log.rows[envelope.event_id]
    assert status is DeliveryStatus.SKIPPED and error is not None and "never sent" in error
    assert notices.described == {}

    # the AO sets a contact (another): nothing is sent, neither the raise notice nor the withdrawal
    contacts.contacts[AO] = ChallengeContact("Bo", "Clerk", "01234 567890", "late@ao.example")
    deferred.now = 10**9
    assert await service.retry_deferred() == 0
    await service.handle(raise_envelope, raise_)  # the raise redelivered: handled already
    await service.handle(envelope, withdrawn)
    assert mailer.sent == []


async def test_a_deferred_raise_notice_of_a_withdrawn_challenge_is_dropped_too() -> None:
    full_mailbox = MailError("recipients refused: [452]", permanent=False, about_recipient=True)
    mailer, log, contacts = FakeMailer([full_mailbox]), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    deferred = FakeDeferred(contacts)
    service, _ = service_of(mailer, log, contacts, deferred)
    raise_ = raised()
    raise_envelope = envelope_of(raise_)
    await service.handle(raise_envelope, raise_)
    assert await deferred.count() == 1
    withdrawn = resolved(raise_, ChallengeResolution.WITHDRAWN)
    await service.handle(envelope_of(withdrawn), withdrawn)
    status, _, error = log.rows[raise_envelope.event_id]
    assert status is DeliveryStatus.SKIPPED and error is not None and "deferred" in error
    deferred.now = 10**9
    assert await service.retry_deferred() == 0 and mailer.sent == []


async def test_a_withdrawal_refused_for_good_fails_and_is_not_held_for_another_contact() -> None:
    gone = MailError("recipients refused: [550]", permanent=True, about_recipient=True)
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    deferred = FakeDeferred(contacts)
    service, _ = service_of(mailer, log, contacts, deferred)
    raise_ = raised()
    await service.handle(envelope_of(raise_), raise_)
    mailer.failures.append(gone)
    withdrawn = resolved(raise_, ChallengeResolution.WITHDRAWN)
    envelope = envelope_of(withdrawn)
    await service.handle(envelope, withdrawn)
    assert log.rows[envelope.event_id][0] is DeliveryStatus.FAILED and await deferred.held() == 0


@pytest.mark.parametrize(
    "resolution", [ChallengeResolution.CORRECTED, ChallengeResolution.UPHELD, ChallengeResolution.REJECTED]
)
async def test_the_aos_own_resolution_sends_nothing(resolution: ChallengeResolution) -> None:
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    service, notices = service_of(mailer, log, contacts, FakeDeferred(contacts))
    raise_ = raised()
    await service.handle(envelope_of(raise_), raise_)
    assert raise_.challenge_id in notices.described
    answer = resolved(raise_, resolution)
    await service.handle(envelope_of(answer), answer)
    assert len(mailer.sent) == 1 and len(log.rows) == 1, "only the raise's notice, no delivery of the answer"
    assert notices.described == {}, "the challenge ended: nothing of it kept"


async def test_a_withdrawal_of_a_raise_never_seen_here_is_told_to_no_one() -> None:
    mailer, log, contacts = FakeMailer(), DeliveryLogWithTypes(), FakeContacts({AO: CONTACT})
    service, _ = service_of(mailer, log, contacts, FakeDeferred(contacts))
    withdrawn = resolved(raised(), ChallengeResolution.WITHDRAWN)
    envelope = envelope_of(withdrawn)
    await service.handle(envelope, withdrawn)
    status, _, error = log.rows[envelope.event_id]
    assert mailer.sent == [] and status is DeliveryStatus.SKIPPED
    assert error is not None and "never handled its raise" in error
