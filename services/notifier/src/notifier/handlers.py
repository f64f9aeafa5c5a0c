"""What to do with each event: compose, send once, log. Transient SMTP failures raise `RetryLater`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from email.message import EmailMessage

from lrs_contracts.challenge import (
    ChallengedAchievement,
    ChallengeRaised,
    ChallengeRaisedV1,
    ChallengeResolution,
    ChallengeResolved,
)
from lrs_contracts.envelope import Contract, Envelope, utc_now
from lrs_contracts.outcomes import BatchAbandoned, BatchCompleted, BatchFailed, BatchRecordsDecided
from lrs_contracts.registry import decode, encode
from lrs_platform.consumer import RetryPolicy, Transient
from lrs_platform.identity import PrincipalKind
from lrs_platform.keyring import Keyring, KeyringUnavailable, LearnerKey, Purpose
from lrs_platform.logging import get_logger, mask_uln
from lrs_platform.mail import Mailer, MailError
from lrs_platform.service import SHUTDOWN_SECONDS
from notifier.emails import (
    NO_SERVICE_DESK,
    OutgoingEmail,
    ServiceDesk,
    batch_abandoned_email,
    batch_run_email,
    challenge_raised_email,
    challenge_resolved_by_desk_email,
    challenge_withdrawn_email,
    contact_changed_email,
    count_record_codes,
    message_id_for,
    split_warnings,
    to_mime,
    top_rejections,
    uln_on_record,
    unlisted_rejections,
)
from notifier.metrics import (
    CHALLENGE_NOTICES_HELD,
    EMAILS_DEFERRED,
    EMAILS_FAILED,
    EMAILS_SENT,
    EMAILS_UNCONFIRMED,
    EVENTS_SKIPPED,
)
from notifier.store import (
    CONTACT_CHANGE_KIND,
    EMAIL_CLAIM_IDLE_SECONDS,
    ChallengeNotices,
    ChunkCodes,
    ClaimBusy,
    ContactChangeNotice,
    ContactChangeNotices,
    ContactStore,
    DeferredEmails,
    DeliveryFor,
    DeliveryLog,
    DeliveryStatus,
    RaiseDescribed,
    RaiseNotice,
    RejectionTallies,
    StoredContact,
    domain_of,
)

_log = get_logger("notifier.handlers")
CONTACT_CHANGED = CONTACT_CHANGE_KIND  # the metrics' kind of a notice to a contact's old address
# the kinds a refused delivery may hold for the AO's next contact (the metrics' permanence "held")
CHALLENGE_NOTICE_KINDS = tuple(
    str(model.model_fields["event_type"].default) for model in (ChallengeRaised, ChallengeRaisedV1)
)
# a learner's withdrawal of a challenge (`withdrawn`, decision 0194), and a resolution an LRS operator made for the AO
# (the service desk), told to the contact its raise notice went to; the AO's own resolutions send nothing
CHALLENGE_WITHDRAWN = str(ChallengeResolved.model_fields["event_type"].default)
EMAILED_KINDS = (
    *(str(model.model_fields["event_type"].default) for model in (BatchCompleted, BatchFailed, BatchAbandoned)),
    *CHALLENGE_NOTICE_KINDS,
    CHALLENGE_WITHDRAWN,
    CONTACT_CHANGED,
)

# A recipient the relay refuses for now (a full mailbox; greylisting answers within minutes) has its email
# set aside (`DeferredEmails`) and tried again when due, while the emails behind it go on: this many tries,
# a minute apart at first and an hour at most (about 19 hours in all), then it is given up as failed. The
# relay being away is waited out, however long, holding every email: none could go.
RECIPIENT_ATTEMPTS = 25
RECIPIENT_RETRY = RetryPolicy(base_seconds=60.0, max_seconds=3600.0)
# The relay was handed a whole email and did not confirm it (`MailError.may_have_gone`): it may have it. Waited out
# as the relay away, it was sent again at every retry, a copy each, while every email behind it waited. Its first
# try from the consumer is tried once more, set aside like a refused recipient (a minute later), since a relay
# whose content filter drops a message its sender stopped waiting for does not have it; a later try so is final,
# recorded sent with why it is unconfirmed: two copies at most.
UNCONFIRMED = "unconfirmed"
# A deferred email claimed for a try (one at a time) is not claimed again, by another notifier, for this
# long: well over one email's SMTP conversation, each of its commands bounded by the SMTP timeout.
DEFERRED_LEASE_SECONDS = 300.0
# An email whose claim another replica held (`ClaimBusy`) is tried again this long after: a holder that was sending
# it has recorded what came of it by then, and a frozen holder's session has been ended by the server.
CLAIM_RETRY_SECONDS = EMAIL_CLAIM_IDLE_SECONDS


# the `reason` of an `email_given_up` line
GIVEN_UP_REFUSED_FOR_GOOD = "refused_for_good"  # the relay refused the recipient or the message for good (a 5xx)
GIVEN_UP_REFUSED_ON_EVERY_TRY = "refused_on_every_try"  # refused for now on each of its tries (about 19 hours)
GIVEN_UP_REFUSED_NOT_TRIED_AGAIN = (
    "refused_not_tried_again"  # refused for now in the Sandpit, which tries nothing again
)
GIVEN_UP_TRY_FAILED_ON_EVERY_TRY = "try_failed_on_every_try"  # its deferred tries failed otherwise than by the relay
GIVEN_UP_NO_MESSAGE = "no_message"  # no message could be made of a contact-change notice (`to_mime`)


class RetryLater(Transient):
    """The email could not be sent for now; the event must be handled again after `delay` seconds. `cause` says why
    where the consumer's retry is reported (/readyz, the log): the relay's code or the failure's class, never an
    address."""

    def __init__(self, delay: float, cause: str) -> None:
        super().__init__(f"{cause}; retry in {delay:.1f}s", delay)
        self.delay: float = delay


class Notifications:
    def __init__(
        self,
        mailer: Mailer,
        deliveries: DeliveryLog,
        contacts: ContactStore,
        tallies: RejectionTallies,
        keyring: Keyring,
        *,
        mail_from: str,
        public_base_url: str,
        domain: str = "lrs.local",
        retry: RetryPolicy = RetryPolicy(base_seconds=0.5, max_seconds=30.0),
        deferred: DeferredEmails,
        recipient_retry: RetryPolicy = RECIPIENT_RETRY,
        defer_refused: bool = True,
        contact_changes: ContactChangeNotices | None = None,
        ao_names: Mapping[str, str] | None = None,
        service_desk: ServiceDesk = NO_SERVICE_DESK,
        sandpit: bool = False,
        challenge_notices: ChallengeNotices | None = None,
        claim_retry_seconds: float = CLAIM_RETRY_SECONDS,
    ) -> None:
        self._mailer = mailer
        # an email whose claim another replica held is tried again this long after (`_claimed_elsewhere`)
        self._claim_retry_seconds = claim_retry_seconds
        # what each challenge's raise notice said of it, and how that notice stands: a withdrawal is told to the
        # contact only when its raise notice was sent (none without this store: withdrawals send nothing)
        self._notices = challenge_notices
        # the Sandpit's notifier: a batch's email says its records are the Sandpit's and a reset deletes the batch
        self._sandpit = sandpit
        self._desk = service_desk
        # the AOs' names of the notifier's reference data (NOTIFIER_REFERENCE_DIR): a batch's email names its AO
        self._ao_names = dict(ao_names or {})
        # Shutdown (`stop`): no email begins once it is set; the one being sent is let finish and be recorded.
        self._stopping = asyncio.Event()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._contact_changes = contact_changes
        # the relay's failures in a row while sending contact-change notices: their postponement grows as the
        # consumer's does (`retry`), none counted as a notice's try
        self._notice_relay_failures = 0
        self._deferred = deferred
        self._recipient_retry = recipient_retry
        # The Sandpit's notifier sleeps at zero pods while no batch comes: nothing would try a deferred
        # email, so there a recipient refused for now fails at once, as the rehearsal it is.
        self._defer_refused = defer_refused
        self._deliveries = deliveries
        self._contacts = contacts
        self._tallies = tallies
        self._keyring = keyring
        self._mail_from = mail_from
        self._public_base_url = public_base_url
        self._domain = domain
        self._retry = retry

    async def stop(self, within: float = SHUTDOWN_SECONDS) -> None:
        """At shutdown, before the loops are cancelled: no email begins from now on (a loop that comes to one waits
        to be cancelled, its event left to be delivered again), and the ones being sent are let finish and their
        outcome be recorded, for `within` seconds at most. Cancelled mid-send, an email the relay already had was
        logged as not sent, and sent again after the restart: a second copy to a person."""
        self._stopping.set()
        if self._idle.is_set():
            return
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            # what the relay takes longer than that to answer may go twice (decision 0021: at least once)
            _log.warning("email_send_cut_short_by_shutdown", emails=self._in_flight, after_s=within)

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called: no email begins any more."""
        return self._stopping.is_set()

    async def _unless_stopping(self) -> None:
        """Returns at once, but once the notifier is stopping: then waits to be cancelled (nothing new begins)."""
        if self._stopping.is_set():
            await asyncio.get_running_loop().create_future()  # never done: the shutdown cancels it

    @asynccontextmanager
    async def _sending(self) -> AsyncIterator[None]:
        """One email's SMTP conversation and the record of what came of it, which `stop` lets finish."""
        await self._unless_stopping()
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def handle(self, envelope: Envelope, payload: Contract, *, deferred_try: bool = False) -> None:
        """`deferred_try`: the deferred emails' loop trying one of its own; from the consumer, an event whose
        email waits aside is left to that loop (a poll handled again after a failure would try it early)."""
        if isinstance(payload, BatchRecordsDecided):
            await self.tally_chunks([(payload.batch_id, payload.chunk_index, count_record_codes(payload.outcomes))])
            return
        if isinstance(payload, ChallengeResolved) and not self._resolution_to_tell(envelope, payload):
            if self._notices is not None:  # the challenge ended: nothing of it is kept any more
                await self._notices.forget(payload.challenge_id)
            return
        if not isinstance(
            payload,
            BatchCompleted | BatchFailed | BatchAbandoned | ChallengeRaised | ChallengeRaisedV1 | ChallengeResolved,
        ):
            return
        try:
            async with self._deliveries.claimed(envelope.event_id):
                await self._email(envelope, payload, deferred_try=deferred_try)
        except ClaimBusy as busy:
            await self._claimed_elsewhere(envelope, busy, deferred_try=deferred_try)

    async def _claimed_elsewhere(self, envelope: Envelope, busy: ClaimBusy, *, deferred_try: bool) -> None:
        """Another replica held the email's claim (or, for a challenge's resolution, its raise notice's) for all of
        the claim's wait: it is sending it (a rebalance mid-send, a slow relay), or it is frozen holding it (a VM
        stall: its session is ended by the server after `EMAIL_CLAIM_IDLE_SECONDS`). Waited on, this loop held
        every email behind it for as long (the chaos walk: no email at all went while a replica was frozen). The
        email is set aside instead, no try counted, and the next goes on: its deferred try takes the claim again
        and reads what the holder recorded, so it is sent once. A deferred try that finds the claim held is
        postponed (`RetryLater`), its tries as they were."""
        cause = f"another notifier holds its claim ({busy.wait_seconds:g} s waited)"
        if deferred_try:
            raise RetryLater(self._claim_retry_seconds, cause) from busy
        await self._deferred.set_aside(envelope.event_id, encode(envelope), self._claim_retry_seconds)
        _log.warning(  # counted where the deferred emails are (`lrs_notifier_emails_deferred`)
            "email_claimed_elsewhere",
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=envelope.correlation_id,
            **whose_ids(envelope),
            retry_in_s=round(self._claim_retry_seconds),
        )

    async def _email(self, envelope: Envelope, payload: Contract, *, deferred_try: bool) -> None:
        """Sends the event's email unless it was handled already (here, or by another replica: the caller holds
        the event's claim, so what they recorded is read here). At least once still: a replica that stops
        between the relay taking the email and its `sent` being recorded leaves it to be sent again."""
        status = await self._deliveries.status(envelope.event_id)
        if status is not None and status.is_final:
            EVENTS_SKIPPED.labels("already_handled").inc()
            _log.info(
                "email_already_handled", event_id=str(envelope.event_id), status=status.value, **whose_ids(envelope)
            )
            await self._forget_tallies(payload)
            return
        if not deferred_try and status is DeliveryStatus.PENDING and await self._deferred.waiting(envelope.event_id):
            EVENTS_SKIPPED.labels("deferred").inc()
            return
        if isinstance(payload, ChallengeResolved):
            await self._resolution(envelope, payload, deferred_try=deferred_try)
            return
        if isinstance(payload, ChallengeRaised | ChallengeRaisedV1) and not deferred_try:
            await self._describe(envelope, payload)
        composed = await self._compose(envelope, payload)
        if composed is None:
            return
        email, contact = composed
        if await self._send(envelope, email, contact=contact, ao_id=_ao_of(payload), deferred_try=deferred_try):
            await self._forget_tallies(payload)

    def _resolution_to_tell(self, envelope: Envelope, resolved: ChallengeResolved) -> bool:
        """A learner's withdrawal (decision 0194), and a resolution an LRS operator made for the AO, are told to the
        AO's contact; the AO's own resolutions are not (it made them)."""
        if self._notices is None:
            return False
        return resolved.resolution is ChallengeResolution.WITHDRAWN or by_the_service_desk(envelope)

    async def _describe(self, envelope: Envelope, raised: ChallengeRaised | ChallengeRaisedV1) -> None:
        """Keeps what the raise's notice says of the challenge, for the notice of its withdrawal or of the service
        desk's resolution of it (no reason, the ULN masked as the notice shows it)."""
        if self._notices is None:
            return
        achievement = raised.achievement if isinstance(raised, ChallengeRaised) else None
        described = RaiseDescribed(
            achievement=None if achievement is None else achievement.model_dump(mode="json", exclude={"uln"}),
            uln_masked=mask_uln(uln_on_record(raised)),
            raised_at=envelope.occurred_at,
        )
        await self._notices.describe(raised.challenge_id, raised.ao_id, described)

    async def _resolution(self, envelope: Envelope, resolved: ChallengeResolved, *, deferred_try: bool) -> None:
        """The learner withdrew a challenge, or an LRS operator resolved it for the AO: its AO's contact is told, if its
        raise notice reached them, threaded under that notice: of a withdrawal, that no action is needed; of the
        desk's resolution, as what, with the note the learner was sent, and that no action is needed unless they
        disagree. A raise notice still waiting (held for a contact, decision 0155, or deferred) of a challenge the
        learner withdrew is dropped, never sent, and nothing is told: the contact never heard of it. One of a challenge
        the service desk resolved is still sent once it can be (decision 0155: the AO's only record that its data was
        challenged, saying it may have been resolved since), and the resolution is told to no one. A raise this
        notifier never handled (or never sent) is not told of either."""
        assert self._notices is not None
        challenge_id = resolved.challenge_id
        notice = await self._notices.raise_of(challenge_id)
        if notice is not None and notice.status is DeliveryStatus.PENDING and by_the_service_desk(envelope):
            why = "its raise notice still waits to be sent, and says the challenge may have been resolved since"
            await self._not_notified(envelope, resolved, why)
            return
        if notice is not None and notice.status is DeliveryStatus.PENDING:
            # the raise notice's own claim, so a deferred try of it (on any replica) is not sending it meanwhile
            async with self._deliveries.claimed(notice.event_id):
                notice = await self._notices.raise_of(challenge_id)
                if notice is not None and notice.status is DeliveryStatus.PENDING:
                    await self._drop_raise_notice(envelope, resolved, notice)
                    return
        if notice is None or notice.status is not DeliveryStatus.SENT:
            why = (
                "this notifier never handled its raise"
                if notice is None
                else f"its raise notice was {notice.status.value}, never received"
            )
            await self._not_notified(envelope, resolved, why)
            await self._notices.forget(challenge_id)
            return
        stored = await self._contacts.get(resolved.ao_id)
        if stored is None:  # a contact is never removed once set: the raise notice went to one
            await self._not_notified(envelope, resolved, f"no challenge contact for {resolved.ao_id}")
            return
        described = notice.described
        achievement = None
        if described is not None and described.achievement is not None:
            achievement = ChallengedAchievement.model_validate(described.achievement)
        uln_masked = described.uln_masked if described else None
        raised_at = described.raised_at if described else None
        ao_name = self._ao_names.get(resolved.ao_id)
        if resolved.resolution is ChallengeResolution.WITHDRAWN:
            email = challenge_withdrawn_email(
                envelope.event_id,
                resolved,
                stored.contact,
                envelope.occurred_at,
                achievement=achievement,
                uln_masked=uln_masked,
                raised_at=raised_at,
                raise_message_id=notice.message_id,
                public_base_url=self._public_base_url,
                domain=self._domain,
                ao_name=ao_name,
                desk=self._desk,
            )
        else:
            note, note_erased = await self._note_of(resolved)
            email = challenge_resolved_by_desk_email(
                envelope.event_id,
                resolved,
                stored.contact,
                envelope.occurred_at,
                note=note,
                note_erased=note_erased,
                achievement=achievement,
                uln_masked=uln_masked,
                raised_at=raised_at,
                raise_message_id=notice.message_id,
                public_base_url=self._public_base_url,
                domain=self._domain,
                ao_name=ao_name,
                desk=self._desk,
            )
        # not held for another contact if refused (`contact` None): the next contact never had the raise notice
        if await self._send(envelope, email, ao_id=resolved.ao_id, deferred_try=deferred_try):
            await self._notices.forget(challenge_id)

    async def _not_notified(self, envelope: Envelope, resolved: ChallengeResolved, why: str) -> None:
        """The withdrawal, or the service desk's resolution, is told to no one: its delivery is logged skipped, saying
        why."""
        if resolved.resolution is ChallengeResolution.WITHDRAWN:
            await self._skip(
                envelope,
                "withdrawal_not_notified",
                f"no notice of withdrawn challenge {resolved.challenge_id}: {why}",
                ao_id=resolved.ao_id,
            )
        else:
            await self._skip(
                envelope,
                "desk_resolution_not_notified",
                f"no notice of challenge {resolved.challenge_id} resolved by the LRS service desk: {why}",
                ao_id=resolved.ao_id,
            )

    async def _note_of(self, resolved: ChallengeResolved) -> tuple[str | None, bool]:
        """The note the learner was sent, opened with their key as the raise's reason is (`_reason_of`), and whether
        there was one that is gone (the learner erased since: no key, or ERASED)."""
        if resolved.note is not None:  # an event written before notes were sealed
            return resolved.note, False
        if resolved.note_sealed is None or resolved.uln is None:
            return None, False
        try:
            key = (await self._keyring.find([resolved.uln])).get(resolved.uln)
        except KeyringUnavailable as error:
            raise RetryLater(self._retry.delay(1), f"the keyring is unavailable ({type(error).__name__})") from error
        if not isinstance(key, LearnerKey):
            return None, True
        return key.open_text(Purpose.CHALLENGE_NOTE, resolved.note_sealed), False

    async def _drop_raise_notice(self, envelope: Envelope, resolved: ChallengeResolved, notice: RaiseNotice) -> None:
        """The raise notice of a challenge the learner withdrew still waits: it is never sent. Its delivery is logged
        skipped, saying why, and so is the withdrawal's (there is nothing to take back from the contact's mailbox)."""
        assert self._notices is not None
        held = await self._deferred.held_until(notice.event_id)
        set_aside = await self._deferred.waiting(notice.event_id)
        await self._deferred.remove(notice.event_id)
        if held is not None:
            waited = "held: " + (
                "its AO's challenge contact's mailbox refused it" if held.contact_refused else "no challenge contact"
            )
        else:
            waited = "deferred: its recipient refused it for now" if set_aside else "pending: not sent yet"
        whose = DeliveryFor(str(resolved.challenge_id), resolved.ao_id)
        await self._deliveries.finish(
            notice.event_id,
            DeliveryStatus.SKIPPED,
            event_type=notice.event_type,
            message_id=notice.message_id,
            error=f"not sent: the learner withdrew the challenge (event {envelope.event_id}) while it waited ({waited})",
            whose=whose,
        )
        EVENTS_SKIPPED.labels("raise_notice_withdrawn").inc()
        _log.info(
            "challenge_notice_dropped_withdrawn",
            ao_id=resolved.ao_id,
            event_id=str(notice.event_id),
            challenge_id=str(resolved.challenge_id),
        )
        await self._not_notified(envelope, resolved, f"its raise notice was never sent ({waited}); dropped")
        await self._notices.forget(resolved.challenge_id)

    async def tally_chunks(self, chunks: Sequence[ChunkCodes]) -> None:
        """Counts decided chunks' rejection and warning codes for their batches' emails. Same key as the batch's result,
        so every chunk is counted before the result arrives."""
        await self._tallies.add_chunks(chunks)

    async def _forget_tallies(self, payload: Contract) -> None:
        if isinstance(payload, BatchCompleted | BatchFailed):
            await self._tallies.forget(payload.batch_id)

    async def _compose(
        self, envelope: Envelope, payload: Contract
    ) -> tuple[OutgoingEmail, StoredContact | None] | None:
        """The event's email, and for a challenge notice the contact it goes to; None when none goes now."""
        if isinstance(payload, BatchCompleted | BatchFailed):
            totals, warnings = split_warnings(await self._tallies.totals(payload.batch_id))
            rejections = top_rejections(totals)
            email = batch_run_email(
                envelope.event_id,
                payload,
                public_base_url=self._public_base_url,
                rejections=rejections,
                unlisted=unlisted_rejections(totals, rejections),
                warnings=warnings,
                domain=self._domain,
                ao_name=self._ao_names.get(payload.ao_id),
                desk=self._desk,
                sandpit=self._sandpit,
                composed_at=utc_now(),
            )
            return email, None
        if isinstance(payload, BatchAbandoned):
            abandoned = await self._abandoned_email(envelope, payload)
            return None if abandoned is None else (abandoned, None)
        assert isinstance(payload, ChallengeRaised | ChallengeRaisedV1)
        stored = await self._contacts.get(payload.ao_id)
        if stored is None:
            await self._hold(envelope, payload.ao_id)
            return None
        held = await self._deferred.held_until(envelope.event_id)
        email = challenge_raised_email(
            envelope.event_id,
            payload,
            stored.contact,
            envelope.occurred_at,
            reason=await self._reason_of(payload),
            public_base_url=self._public_base_url,
            domain=self._domain,
            released_at=held.released_at if held else None,
            contact_refused=held.contact_refused if held else False,
            ao_name=self._ao_names.get(payload.ao_id),
            desk=self._desk,
        )
        return email, stored

    async def _hold(self, envelope: Envelope, ao_id: str, *, refused_by: StoredContact | None = None) -> None:
        """No challenge contact yet, or the contact's mailbox refused the notice (`refused_by`: the contact as it
        was): the event (its reason sealed, as on the topic) waits aside until the AO sets one (another), then goes
        like any deferred email (decision 0155). Pending, so it is never taken as final."""
        refused_at = refused_by.updated_at if refused_by is not None else None
        await self._deferred.hold(envelope.event_id, encode(envelope), ao_id, refused_contact_at=refused_at)
        why = "its challenge contact's mailbox refused it" if refused_by else "no challenge contact"
        await self._deliveries.finish(
            envelope.event_id,
            DeliveryStatus.PENDING,
            event_type=envelope.event_type,
            message_id=message_id_for(envelope.event_id, self._domain),
            error=f"held: {why} for {ao_id}",
            whose=DeliveryFor(envelope.correlation_id, ao_id),
        )
        _log.warning(
            "challenge_notice_held",
            ao_id=ao_id,
            event_id=str(envelope.event_id),
            **whose_ids(envelope),
            reason="contact_refused" if refused_by else "no_contact",
        )

    async def _abandoned_email(self, envelope: Envelope, abandoned: BatchAbandoned) -> OutgoingEmail | None:
        if abandoned.notification_email is None:
            # The batch's header never reached the decider: nobody to tell but the batch view.
            await self._skip(
                envelope,
                "no_notification_email",
                f"no notification email for batch {abandoned.batch_id}",
                ao_id=abandoned.ao_id,
            )
            return None
        return batch_abandoned_email(
            envelope.event_id,
            abandoned,
            abandoned.notification_email,
            public_base_url=self._public_base_url,
            domain=self._domain,
            ao_name=self._ao_names.get(abandoned.ao_id),
            desk=self._desk,
        )

    async def _skip(self, envelope: Envelope, why: str, error: str, *, ao_id: str) -> None:
        """Nobody to tell: the delivery is recorded as skipped, so an operator can find it, and the stream moves on."""
        await self._deliveries.finish(
            envelope.event_id,
            DeliveryStatus.SKIPPED,
            event_type=envelope.event_type,
            message_id=message_id_for(envelope.event_id, self._domain),
            error=error,
            whose=DeliveryFor(envelope.correlation_id, ao_id),
        )
        EVENTS_SKIPPED.labels(why).inc()
        _log.info(
            "email_not_sent",
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=envelope.correlation_id,
            **whose_ids(envelope),
            reason=why,
        )

    async def _reason_of(self, raised: ChallengeRaised | ChallengeRaisedV1) -> str | None:
        """The learner's words, opened with their key; None once the learner is erased (no key, or ERASED)."""
        if isinstance(raised, ChallengeRaisedV1):
            return raised.reason
        try:
            key = (await self._keyring.find([raised.uln])).get(raised.uln)
        except KeyringUnavailable as error:
            raise RetryLater(self._retry.delay(1), f"the keyring is unavailable ({type(error).__name__})") from error
        if not isinstance(key, LearnerKey):
            return None
        return key.open_text(Purpose.CHALLENGE_REASON, raised.reason_sealed)

    async def _send(
        self,
        envelope: Envelope,
        email: OutgoingEmail,
        *,
        contact: StoredContact | None = None,
        ao_id: str,
        deferred_try: bool = False,
    ) -> bool:
        """True once the delivery is final (sent, or refused for good). `contact`: a challenge notice's, as read
        to compose it. The message is built first: an event that cannot make one (a CR/LF in a header) is poison,
        raised before any attempt is logged, so no `pending` row stays behind it once it is parked."""
        message = to_mime(email, self._mail_from)
        whose = DeliveryFor(envelope.correlation_id, ao_id, domain_of(email.to))
        async with self._sending():
            return await self._deliver(envelope, email, message, contact, whose, deferred_try=deferred_try)

    async def _deliver(
        self,
        envelope: Envelope,
        email: OutgoingEmail,
        message: EmailMessage,
        contact: StoredContact | None,
        whose: DeliveryFor,
        *,
        deferred_try: bool,
    ) -> bool:
        kind = envelope.event_type
        attempt = await self._deliveries.begin_attempt(envelope.event_id, kind, email.message_id, whose=whose)
        try:
            await self._mailer.send(message)
        except MailError as error:
            if error.may_have_gone:
                return await self._unconfirmed(envelope, email, error, whose, attempt, deferred_try=deferred_try)
            refusals = await self._deferred.tries(envelope.event_id) + 1 if error.about_recipient else 0
            last_try = RECIPIENT_ATTEMPTS if self._defer_refused else 1
            given_up = error.permanent or refusals >= last_try
            # A challenge notice its contact's mailbox will not take (the person left): in effect no contact. Held
            # for the AO as without one (decision 0155), and sent to the next contact it sets, saying it waited. (A
            # batch's email fails: its address is the file's, no other is to come.)
            refused_by = (
                contact if error.about_recipient and (error.permanent or refusals >= RECIPIENT_ATTEMPTS) else None
            )
            if given_up and refused_by is None:
                said_given_up(
                    kind,
                    self._why_given_up(error),
                    str(error),
                    whose,
                    event_id=str(envelope.event_id),
                    correlation_id=envelope.correlation_id,
                    **whose_ids(envelope),
                    attempt=attempt,
                )
            else:
                _log.warning(
                    "email_failed",
                    event_id=str(envelope.event_id),
                    event_type=kind,
                    correlation_id=envelope.correlation_id,  # the batch's id, or the challenge's: what on-call looks up
                    **whose_ids(envelope),  # and named as such: a structured query by `batch_id` finds this line too
                    attempt=attempt,
                    error=str(error),
                )
            # each counted once what came of it is recorded: a held notice is no email given up
            if refused_by is not None:
                await self._hold(envelope, refused_by.ao_id, refused_by=refused_by)
                EMAILS_FAILED.labels(kind, "held").inc()
                return False
            if given_up:
                await self._deliveries.finish(
                    envelope.event_id,
                    DeliveryStatus.FAILED,
                    event_type=kind,
                    message_id=email.message_id,
                    error=str(error),
                    whose=whose,
                )
                EMAILS_FAILED.labels(kind, "permanent").inc()
                return True
            await self._deliveries.finish(
                envelope.event_id,
                DeliveryStatus.PENDING,
                event_type=kind,
                message_id=email.message_id,
                error=str(error),
                whose=whose,
            )
            if error.about_recipient:  # this email's alone: set aside, the next goes on
                delay = self._recipient_retry.delay(refusals)
                await self._deferred.defer(envelope.event_id, encode(envelope), delay)
                EMAILS_FAILED.labels(kind, "transient").inc()
                _log.info(
                    "email_deferred",
                    event_id=str(envelope.event_id),
                    refusals=refusals,
                    seconds=round(delay),
                    **whose_ids(envelope),
                )
                return False
            EMAILS_FAILED.labels(kind, "transient").inc()
            raise RetryLater(self._retry.delay(attempt), f"the mail relay: {error}") from error
        await self._deliveries.finish(
            envelope.event_id,
            DeliveryStatus.SENT,
            event_type=kind,
            message_id=email.message_id,
            error=None,
            whose=whose,
        )
        EMAILS_SENT.labels(kind).inc()
        _log.info(
            "email_sent",
            event_id=str(envelope.event_id),
            event_type=kind,
            correlation_id=envelope.correlation_id,
            **whose_ids(envelope),
            attempt=attempt,
        )
        return True

    def _why_given_up(self, error: MailError) -> str:
        """The `reason` of an `email_given_up` line for a relay's refusal."""
        if error.permanent:
            return GIVEN_UP_REFUSED_FOR_GOOD
        # refused for now: on each of its tries, or (the Sandpit's notifier, which tries nothing again) on its one try
        return GIVEN_UP_REFUSED_ON_EVERY_TRY if self._defer_refused else GIVEN_UP_REFUSED_NOT_TRIED_AGAIN

    async def _unconfirmed(
        self,
        envelope: Envelope,
        email: OutgoingEmail,
        error: MailError,
        whose: DeliveryFor,
        attempt: int,
        *,
        deferred_try: bool,
    ) -> bool:
        """The relay was handed the whole email and did not confirm it (`UNCONFIRMED`): never the consumer's retry,
        the next events go on. The consumer's try is tried once more from the deferred emails (not in the Sandpit,
        whose notifier sleeps at zero pods); a deferred try is final, the delivery recorded sent with why it is
        unconfirmed. True once final."""
        kind = envelope.event_type
        again = not deferred_try and self._defer_refused
        EMAILS_UNCONFIRMED.labels(kind).inc()
        _log.warning(
            "email_unconfirmed",
            event_id=str(envelope.event_id),
            event_type=kind,
            correlation_id=envelope.correlation_id,
            **whose_ids(envelope),
            attempt=attempt,
            tried_again=again,
            error=str(error),
        )
        if again:
            delay = self._recipient_retry.delay(1)
            await self._deliveries.finish(
                envelope.event_id,
                DeliveryStatus.PENDING,
                event_type=kind,
                message_id=email.message_id,
                error=f"{UNCONFIRMED}: {error}; tried once more in {delay:g} s",
                whose=whose,
            )
            await self._deferred.defer(envelope.event_id, encode(envelope), delay)
            return False
        await self._deliveries.finish(
            envelope.event_id,
            DeliveryStatus.SENT,
            event_type=kind,
            message_id=email.message_id,
            error=f"{UNCONFIRMED}: {error}; not tried again: it may not have arrived",
            whose=whose,
        )
        return True

    async def retry_deferred(self) -> int:
        """Tries the deferred emails that are due; returns how many were tried. One that goes (or is given
        up, or was meanwhile sent from a redelivery) leaves the deferred ones; one refused for now again is
        deferred again; the relay away ends the pass, the rest waiting out their lease. Challenge notices held
        for an AO that has a contact by now are made due first."""
        await self._deferred.release_for_contacts()
        due = await self._deferred.claim_due(1, DEFERRED_LEASE_SECONDS)
        for event_id, raw in due:
            try:
                envelope, payload = decode(raw)
                await self.handle(envelope, payload, deferred_try=True)
            except RetryLater as later:
                await self._deferred.postpone(event_id, later.delay)
                continue
            except Exception as error:
                await self._failed_try(event_id, raw, error)
                continue
            status = await self._deliveries.status(event_id)
            if status is None or status.is_final:
                await self._deferred.remove(event_id)
        return len(due)

    async def _failed_try(self, event_id: uuid.UUID, raw: bytes, error: Exception) -> None:
        """A deferred try that failed for another reason than the relay: tried again like a refusal, and
        given up as failed with the refusals' last try, so no deferred email stays for ever."""
        _log.warning(
            "deferred_email_try_failed", event_id=str(event_id), error=type(error).__name__, **_whose_ids_of(raw)
        )
        tries = await self._deferred.tries(event_id) + 1
        kind = _event_type_of(raw)
        if tries < RECIPIENT_ATTEMPTS:
            await self._deferred.defer(event_id, raw, self._recipient_retry.delay(tries))
            EMAILS_FAILED.labels(kind, "transient").inc()
            return
        given_up_error = f"deferred try failed: {type(error).__name__}"
        await self._deliveries.finish(
            event_id,
            DeliveryStatus.FAILED,
            event_type=kind,
            message_id=message_id_for(event_id, self._domain),
            error=given_up_error,
        )
        EMAILS_FAILED.labels(kind, "permanent").inc()
        await self._deferred.remove(event_id)
        whose = await self._deliveries.whose_of(event_id)  # as its earlier tries recorded it
        said_given_up(
            kind,
            GIVEN_UP_TRY_FAILED_ON_EVERY_TRY,
            given_up_error,
            whose,
            event_id=str(event_id),
            correlation_id=whose.correlation_id,
            **_whose_ids_of(raw),
            tries=tries,
        )

    async def send_contact_change_notices(self) -> int:
        """Tells each address a challenge contact left that it moved; returns how many were tried. A refusal of
        its recipient or message is tried again later and given up after the refusals' last try (at once when
        refused for good); the relay away or refusing every email (decision 0186) is waited out, however long,
        costing the notice no try, as for every other email (counted, 19 hours of an outage gave it up and the
        old address was never told)."""
        if self._contact_changes is None:
            return 0
        # one at a time, as the deferred emails: an email may take its relay minutes, and ten could outlast the lease
        # (another replica would then claim and send them again)
        due = await self._contact_changes.claim_due(1, DEFERRED_LEASE_SECONDS)
        for notice in due:
            email = contact_changed_email(
                notice.notice_id,
                ao_id=notice.ao_id,
                old_email=notice.old_email,
                old_name=notice.old_name,
                changed_by=notice.changed_by,
                changed_at=notice.changed_at,
                public_base_url=self._public_base_url,
                domain=self._domain,
                desk=self._desk,
            )
            async with self._sending():
                try:
                    await self._mailer.send(to_mime(email, self._mail_from))
                except MailError as error:
                    if error.may_have_gone:
                        await self._contact_change_notice_unconfirmed(notice, error)
                        continue
                    if not error.permanent and not error.about_recipient:
                        # the relay's (away, a 535 at AUTH, a 530 at MAIL FROM): no email could go, so not a try
                        await self._postpone_contact_change_notice(notice, error)
                        continue
                    await self._contact_change_notice_refused(notice, error, give_up=error.permanent)
                    continue
                except ValueError as error:  # no message can be made of it (to_mime): it never will
                    await self._contact_change_notice_refused(notice, error, give_up=True)
                    continue
                self._notice_relay_failures = 0
                await self._contact_changes.sent(notice.notice_id)
            EMAILS_SENT.labels(CONTACT_CHANGED).inc()
            _log.info("contact_change_notice_sent", ao_id=notice.ao_id)
        return len(due)

    async def _contact_change_notice_unconfirmed(self, notice: ContactChangeNotice, error: MailError) -> None:
        """The relay was handed the notice whole and did not confirm it (`UNCONFIRMED`): its first try is tried
        once more later, as a refused one is; a later try is taken for sent."""
        assert self._contact_changes is not None
        self._notice_relay_failures = 0  # the relay was there: it took the message
        again = notice.tries == 0 and self._defer_refused
        EMAILS_UNCONFIRMED.labels(CONTACT_CHANGED).inc()
        _log.warning("contact_change_notice_unconfirmed", ao_id=notice.ao_id, tried_again=again, error=str(error))
        if again:
            await self._contact_changes.try_again(notice.notice_id, self._recipient_retry.delay(1), give_up=False)
        else:
            await self._contact_changes.sent(notice.notice_id)

    async def _postpone_contact_change_notice(self, notice: ContactChangeNotice, error: MailError) -> None:
        """The relay's failure: the notice is due again as the consumer's retry would be, its tries as they were."""
        assert self._contact_changes is not None
        self._notice_relay_failures += 1
        delay = self._retry.delay(self._notice_relay_failures)
        await self._contact_changes.postpone(notice.notice_id, delay)
        EMAILS_FAILED.labels(CONTACT_CHANGED, "transient").inc()
        _log.warning(
            "contact_change_notice_postponed",
            ao_id=notice.ao_id,
            error=str(error),  # the relay's: its codes and the step, or the failure's class (decision 0186)
            seconds=round(delay, 1),
        )

    async def _contact_change_notice_refused(
        self, notice: ContactChangeNotice, error: Exception, *, give_up: bool
    ) -> None:
        """A refusal of its recipient or message (or no message to send): one more try, given up for good or
        after the refusals' last try."""
        assert self._contact_changes is not None
        self._notice_relay_failures = 0  # the relay answered for this email alone
        give_up = give_up or notice.tries + 1 >= RECIPIENT_ATTEMPTS
        await self._contact_changes.try_again(
            notice.notice_id, self._recipient_retry.delay(notice.tries + 1), give_up=give_up
        )
        EMAILS_FAILED.labels(CONTACT_CHANGED, "permanent" if give_up else "transient").inc()
        # the error's kind only: a relay's reply may quote the recipient, a person's address
        if give_up:
            if not isinstance(error, MailError):
                reason = GIVEN_UP_NO_MESSAGE
            else:
                reason = GIVEN_UP_REFUSED_FOR_GOOD if error.permanent else GIVEN_UP_REFUSED_ON_EVERY_TRY
            whose = DeliveryFor(str(notice.notice_id), notice.ao_id, domain_of(notice.old_email))
            said_given_up(
                CONTACT_CHANGED,
                reason,
                type(error).__name__,
                whose,
                notice_id=str(notice.notice_id),
                tries=notice.tries + 1,
            )
            return
        _log.warning("contact_change_notice_failed", ao_id=notice.ao_id, error=type(error).__name__)

    async def run_deferred(self, poll_seconds: float) -> None:
        """The deferred emails' own loop, beside the consumer's; a failure of a pass is logged and the pass
        comes again (the emails it claimed wait out their lease)."""
        while True:
            await self._unless_stopping()  # claims nothing it would not send (a claim waits out its lease)
            try:
                tried = await self.retry_deferred() + await self.send_contact_change_notices()
                EMAILS_DEFERRED.set(await self._deferred.count())
                CHALLENGE_NOTICES_HELD.set(await self._deferred.held())
            except Exception as error:
                _log.warning("deferred_emails_pass_failed", error=type(error).__name__)
                tried = 0
            if not tried:
                await asyncio.sleep(poll_seconds)


def said_given_up(kind: str, reason: str, error: str, whose: DeliveryFor, **ids: object) -> None:
    """An email lost for good, which someone must tell its AO about: a line of its own, `email_given_up` at error,
    naming the AO, the batch or challenge (`ids`: the event's, or the contact-change notice's) and the domain of the
    address (never the address, nor any learner's data). `error`: the relay's reply codes or the failure's class, never
    the relay's text, which may quote the address. Tries that will be tried again stay `email_failed` warnings."""
    _log.error(
        "email_given_up",
        event_type=kind,
        ao_id=whose.ao_id,
        recipient_domain=whose.recipient_domain,
        reason=reason,
        error=error,
        **ids,
    )


def by_the_service_desk(envelope: Envelope) -> bool:
    """Whether an LRS operator (`operator:…`, the principal the challenges service writes as the event's
    `causation_id`) made the event, rather than the AO or the learner."""
    kind, _, ident = (envelope.causation_id or "").partition(":")
    return kind == PrincipalKind.OPERATOR.value and bool(ident)


def _ao_of(payload: Contract) -> str:
    """The AO an event's email is for: each emailed event names it."""
    assert isinstance(
        payload, BatchCompleted | BatchFailed | BatchAbandoned | ChallengeRaised | ChallengeRaisedV1 | ChallengeResolved
    )
    return payload.ao_id


def whose_ids(envelope: Envelope) -> dict[str, str]:
    """The id a delivery's log lines name its batch (`batch_id`) or challenge (`challenge_id`) by, beside the
    `correlation_id` that is that id: a structured query by `batch_id` (as the projector's and ingest's lines are
    found) missed the notifier's `email_sent`, the line that answers "was the email sent" (the incident walk)."""
    if envelope.event_type.startswith("lrs.batch."):
        return {"batch_id": envelope.correlation_id}
    if envelope.event_type.startswith("lrs.challenge."):
        return {"challenge_id": envelope.correlation_id}
    return {}


def _whose_ids_of(raw: bytes) -> dict[str, str]:
    try:
        return whose_ids(decode(raw)[0])
    except ValueError:
        return {}


def _event_type_of(raw: bytes) -> str:
    try:
        return decode(raw)[0].event_type
    except ValueError:
        return "unknown"
