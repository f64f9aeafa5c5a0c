"""PostgreSQL adapters: the AOs' challenge contacts, the delivery log and the rejection tallies."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import asyncpg

from lrs_platform.database import AdvisoryLockBusy, advisory_lock_key, advisory_locked
from lrs_platform.logging import get_logger
from notifier.emails import ChallengeContact

_log = get_logger("notifier.store")
# Held challenge notices (decision 0155) wait with `due_at` infinity; releasing one makes it due now.
_RELEASE_HELD = (
    "UPDATE notifier.deferred_emails SET due_at = now(), released_at = now()"
    " WHERE held_for_ao IS NOT NULL AND due_at = 'infinity'"
)

ChunkCodes = tuple[uuid.UUID, int, dict[str, int]]
"""A decided chunk's batch id, index, and records per code: rejected ones per RV code, warned-of ones per WV code."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self is not DeliveryStatus.PENDING


@dataclass(frozen=True)
class HeldNotices:
    """An AO's challenge notices waiting for its challenge contact, and since when the oldest waits. `contact_refused`:
    the AO has a contact, but its mailbox refused them for good (the person left): it needs another address, not a
    first contact."""

    ao_id: str
    notices: int
    since: datetime
    contact_refused: bool = False


@dataclass(frozen=True)
class HeldNotice:
    """A challenge notice that was held for its AO (decision 0155): when it was released (its email's Date), and
    whether it was held because the AO's contact's mailbox refused it for good rather than for want of a contact."""

    released_at: datetime
    contact_refused: bool


@dataclass(frozen=True)
class StoredContact:
    ao_id: str
    contact: ChallengeContact
    updated_by: str
    updated_at: datetime
    # the id of the API key it was set with (`Principal.key_id`; a portal session's key, whose label names the user),
    # never its secret; None for a contact set before this was kept (migration 0012)
    updated_with_key: str | None = None


class ContactStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, ao_id: str) -> StoredContact | None:
        row = await self._pool.fetchrow("SELECT * FROM notifier.challenge_contacts WHERE ao_id = $1", ao_id)
        if row is None:
            return None
        contact = ChallengeContact(row["given_name"], row["family_name"], row["telephone"], row["email"])
        return StoredContact(row["ao_id"], contact, row["updated_by"], row["updated_at"], row["updated_with_key"])

    async def put(
        self, ao_id: str, contact: ChallengeContact, updated_by: str, *, with_key: str | None = None
    ) -> StoredContact:
        """Sets the contact and, in the same transaction, makes the AO's held challenge notices due (0155) and,
        when the contact moves to another address, notes a notice to the address it leaves (`ContactChangeNotices`).
        `with_key`: the id of the caller's API key, kept beside `updated_by` (and the notice's `changed_by`), so that
        a change nobody meant names the key to revoke (migration 0012)."""
        async with self._pool.acquire() as connection, connection.transaction():
            # the AO's contacts are set one at a time, its first included (FOR UPDATE locks no row not there yet):
            # else two first contacts at once each read none before, and the address replaced was told nothing
            await connection.execute(
                "SELECT pg_advisory_xact_lock($1)", advisory_lock_key(f"challenge contact {ao_id}")
            )
            before = await connection.fetchrow(
                "SELECT given_name, family_name, email, updated_at FROM notifier.challenge_contacts WHERE ao_id = $1"
                " FOR UPDATE",
                ao_id,
            )
            row = await connection.fetchrow(
                "INSERT INTO notifier.challenge_contacts"
                " (ao_id, given_name, family_name, telephone, email, updated_by, updated_with_key)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (ao_id) DO UPDATE SET given_name = EXCLUDED.given_name,"
                " family_name = EXCLUDED.family_name, telephone = EXCLUDED.telephone, email = EXCLUDED.email,"
                " updated_by = EXCLUDED.updated_by, updated_with_key = EXCLUDED.updated_with_key, updated_at = now()"
                " RETURNING updated_at",
                ao_id,
                contact.given_name,
                contact.family_name,
                contact.telephone,
                contact.email,
                updated_by,
                with_key,
            )
            assert row is not None
            refused_mail = False
            if before is not None and before["email"].casefold() != contact.email.casefold():
                # the contact replaced refused a challenge notice for good (its notice held since, released below):
                # its mailbox is gone, a notice to it would only bounce and be counted as an email given up
                refused_mail = bool(
                    await connection.fetchval(
                        "SELECT EXISTS (SELECT 1 FROM notifier.deferred_emails WHERE held_for_ao = $1"
                        " AND due_at = 'infinity' AND refused_contact_at >= $2)",
                        ao_id,
                        before["updated_at"],
                    )
                )
                await connection.execute(
                    "INSERT INTO notifier.contact_change_notices"
                    " (notice_id, ao_id, old_email, old_name, changed_by, changed_with_key, changed_at, skipped_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    uuid.uuid4(),
                    ao_id,
                    None if refused_mail else before["email"],
                    None if refused_mail else f"{before['given_name']} {before['family_name']}",
                    updated_by,
                    with_key,
                    row["updated_at"],
                    row["updated_at"] if refused_mail else None,
                )
            released = await connection.execute(_RELEASE_HELD + " AND held_for_ao = $1", ao_id)
        stored = StoredContact(ao_id, contact, updated_by, row["updated_at"], with_key)
        if refused_mail:
            _log.info("contact_change_notice_skipped", ao_id=ao_id, reason="old_contact_refused_mail")
        if released != "UPDATE 0":
            _log.info("challenge_notices_released", ao_id=ao_id, notices=int(released.split()[-1]))
        return stored


@dataclass(frozen=True)
class ContactChangeNotice:
    notice_id: uuid.UUID
    ao_id: str
    old_email: str
    old_name: str
    changed_by: str
    changed_at: datetime
    tries: int


class ContactChangeNotices:
    """Notices to a challenge contact's old address that the contact moved (migration 0006), sent once."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim_due(self, limit: int, lease_seconds: float) -> list[ContactChangeNotice]:
        """Up to `limit` notices to send, each due again only after `lease_seconds` (another notifier, or this one
        after a crash, sends it then, not meanwhile)."""
        rows = await self._pool.fetch(
            "UPDATE notifier.contact_change_notices SET due_at = now() + make_interval(secs => $2)"
            " WHERE notice_id IN (SELECT notice_id FROM notifier.contact_change_notices WHERE sent_at IS NULL"
            " AND failed_at IS NULL AND skipped_at IS NULL AND due_at <= now() ORDER BY due_at LIMIT $1"
            " FOR UPDATE SKIP LOCKED)"
            " RETURNING notice_id, ao_id, old_email, old_name, changed_by, changed_at, tries",
            limit,
            lease_seconds,
        )
        return [ContactChangeNotice(**dict(row)) for row in rows]

    async def sent(self, notice_id: uuid.UUID) -> None:
        await self._pool.execute(
            "UPDATE notifier.contact_change_notices SET sent_at = now(), old_email = NULL, old_name = NULL"
            " WHERE notice_id = $1",
            notice_id,
        )

    async def postpone(self, notice_id: uuid.UUID, delay_seconds: float) -> None:
        """Not tried (the relay away, or refusing every email: decision 0186): due again after `delay_seconds`, its
        tries as they were, so an outage of the relay however long never gives it up."""
        await self._pool.execute(
            "UPDATE notifier.contact_change_notices SET due_at = now() + make_interval(secs => $2)"
            " WHERE notice_id = $1 AND sent_at IS NULL AND failed_at IS NULL",
            notice_id,
            delay_seconds,
        )

    async def try_again(self, notice_id: uuid.UUID, delay_seconds: float, *, give_up: bool) -> None:
        """Refused (its recipient or the message, for now or for good): one more try counted, due again after
        `delay_seconds` unless `give_up`."""
        await self._pool.execute(
            "UPDATE notifier.contact_change_notices SET tries = tries + 1,"
            " due_at = now() + make_interval(secs => $2), failed_at = CASE WHEN $3 THEN now() END,"
            # given up: the address and name are not needed any more (migration 0007)
            " old_email = CASE WHEN $3 THEN NULL ELSE old_email END, old_name = CASE WHEN $3 THEN NULL ELSE old_name END"
            " WHERE notice_id = $1",
            notice_id,
            delay_seconds,
            give_up,
        )


CONTACT_CHANGE_KIND = "challenge_contact_changed"
"""The kind of a notice to a challenge contact's old address, where an event's type names the others."""
# A delivery's batch, challenge and AO as first recorded: a later write that does not know them (a deferred try that
# could not read its event) leaves them as they were.
_WHOSE_KEPT = (
    "correlation_id = COALESCE(EXCLUDED.correlation_id, notifier.deliveries.correlation_id),"
    " ao_id = COALESCE(EXCLUDED.ao_id, notifier.deliveries.ao_id),"
    " recipient_domain = COALESCE(EXCLUDED.recipient_domain, notifier.deliveries.recipient_domain)"
)


@dataclass(frozen=True)
class DeliveryFor:
    """Whose an email is, as its delivery records it (migration 0009): its events' correlation id (the batch's id,
    or the challenge's), the AO's id, and the domain of the address it goes to, never the address (privacy.md)."""

    correlation_id: str | None = None
    ao_id: str | None = None
    recipient_domain: str | None = None

    @property
    def columns(self) -> tuple[str | None, str | None, str | None]:
        return self.correlation_id, self.ao_id, self.recipient_domain


UNKNOWN_DELIVERY = DeliveryFor()


def domain_of(address: str) -> str | None:
    """The part of an address after its last @, lower case; None for one without."""
    _, at, domain = address.rpartition("@")
    return domain.casefold() or None if at else None


@dataclass(frozen=True)
class FailedDelivery:
    """An email given up for good: `id` is its event's (or its contact-change notice's), `kind` the event's type."""

    id: uuid.UUID
    kind: str
    correlation_id: str | None
    ao_id: str | None
    recipient_domain: str | None
    attempts: int
    last_error: str | None
    failed_at: datetime


@dataclass(frozen=True)
class KeptDelivery:
    """A delivery as the log keeps it, for the service desk (`GET /v1/deliveries`): `id` its event's, `kind` the
    event's type, the recipient's domain only (never the address), when it was first handled, last tried and sent,
    and whether it waits aside (`set_aside`: in the deferred emails; `held`: a challenge notice held for its AO's
    contact, `contact_refused` when that contact's mailbox refused it; `next_try_at`: when a deferred one is due)."""

    id: uuid.UUID
    kind: str
    status: DeliveryStatus
    message_id: str
    ao_id: str | None
    recipient_domain: str | None
    attempts: int
    last_error: str | None
    recorded_at: datetime
    last_tried_at: datetime
    sent_at: datetime | None
    set_aside: bool = False
    held: bool = False
    contact_refused: bool = False
    next_try_at: datetime | None = None


EMAIL_CLAIM_WAIT_SECONDS = 10.0
"""How long a replica waits for an email's claim another holds (`DeliveryLog.claimed`) before it sets the email
aside (`ClaimBusy`): the consumer's loop is serial, and every email behind this one waits as long. Well over the
usual SMTP conversation of the holder (the new holder of a partition at a rebalance, mid-send), so that case still
reads the holder's `sent` and sends nothing; a holder slower than that, or frozen, costs the email a deferred try."""

EMAIL_CLAIM_IDLE_SECONDS = 60.0
"""After how long idle the server ends the session of a claim's holder, and the claim with it (`advisory_locked`'s
`idle_seconds`): the session is kept busy while the holder's process runs, however long its relay takes, so this
is how long a frozen replica (a VM stall, SIGSTOP) keeps an email from being sent by the others."""


class ClaimBusy(AdvisoryLockBusy):
    """Another replica held the email's claim for all of `EMAIL_CLAIM_WAIT_SECONDS`."""


class DeliveryLog:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        claim_wait_seconds: float = EMAIL_CLAIM_WAIT_SECONDS,
        claim_idle_seconds: float = EMAIL_CLAIM_IDLE_SECONDS,
    ) -> None:
        self._pool = pool
        self._claim_wait_seconds = claim_wait_seconds
        self._claim_idle_seconds = claim_idle_seconds

    @asynccontextmanager
    async def claimed(self, event_id: uuid.UUID) -> AsyncIterator[None]:
        """The event's email, this replica's alone until the block ends: its status is read, the email sent and
        the outcome recorded inside it. Every replica takes the same lock (PostgreSQL's, on a connection of its
        own), so one that handles the event meanwhile (the new holder of a partition this replica lost at a
        rebalance, part-way through its poll) waits, then reads the status recorded here and sends nothing. Held
        for one SMTP conversation at most, each command bounded by the SMTP timeout; a replica that dies holding
        it lets it go with its connection.

        Both bounded (the chaos walk: a replica frozen mid-email held its claim for as long as it was frozen, and
        the other replica, waiting on it in its serial loop, sent no email at all meanwhile): waited for
        `claim_wait_seconds` at most, then `ClaimBusy` (the caller sets the email aside: a deferred try takes the
        claim again later, and reads what the holder recorded); and a holder's session ended by the server once
        idle for `claim_idle_seconds`, which it is only while its process is frozen (`advisory_locked`)."""
        name = f"notifier email {event_id}"
        try:
            async with advisory_locked(
                self._pool, name, wait_seconds=self._claim_wait_seconds, idle_seconds=self._claim_idle_seconds
            ):
                yield
        except AdvisoryLockBusy as busy:
            if busy.name != name:  # another claim's, taken inside the block: raised as it is
                raise
            raise ClaimBusy(busy.name, busy.wait_seconds) from busy

    async def status(self, event_id: uuid.UUID) -> DeliveryStatus | None:
        value = await self._pool.fetchval("SELECT status FROM notifier.deliveries WHERE event_id = $1", event_id)
        return DeliveryStatus(value) if value is not None else None

    async def whose_of(self, event_id: uuid.UUID) -> DeliveryFor:
        """Whose the email is, as its delivery recorded it; unknown when nothing was recorded."""
        row = await self._pool.fetchrow(
            "SELECT correlation_id, ao_id, recipient_domain FROM notifier.deliveries WHERE event_id = $1", event_id
        )
        return (
            UNKNOWN_DELIVERY
            if row is None
            else DeliveryFor(row["correlation_id"], row["ao_id"], row["recipient_domain"])
        )

    async def begin_attempt(
        self, event_id: uuid.UUID, event_type: str, message_id: str, *, whose: DeliveryFor = UNKNOWN_DELIVERY
    ) -> int:
        """Counts one more attempt; returns the attempt number."""
        attempts = await self._pool.fetchval(
            "INSERT INTO notifier.deliveries (event_id, event_type, message_id, status, attempts, correlation_id,"
            " ao_id, recipient_domain) VALUES ($1, $2, $3, 'pending', 1, $4, $5, $6)"
            " ON CONFLICT (event_id) DO UPDATE SET attempts = notifier.deliveries.attempts + 1,"
            f" last_attempt_at = now(), {_WHOSE_KEPT} RETURNING attempts",
            event_id,
            event_type,
            message_id,
            *whose.columns,
        )
        return int(attempts)

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
        await self._pool.execute(
            "INSERT INTO notifier.deliveries (event_id, event_type, message_id, status, last_error, sent_at,"
            " correlation_id, ao_id, recipient_domain)"
            " VALUES ($1, $2, $3, $4, $5, CASE WHEN $4 = 'sent' THEN now() END, $6, $7, $8)"
            " ON CONFLICT (event_id) DO UPDATE SET status = EXCLUDED.status,"
            " last_error = COALESCE(EXCLUDED.last_error, notifier.deliveries.last_error),"
            f" sent_at = EXCLUDED.sent_at, last_attempt_at = now(), {_WHOSE_KEPT}",
            event_id,
            event_type,
            message_id,
            status.value,
            error,
            *whose.columns,
        )

    async def failed(self, limit: int) -> list[FailedDelivery]:
        """The emails given up, the latest first: the events' deliveries and the notices to a challenge contact's
        old address (those keep no error, nor an address once given up)."""
        rows = await self._pool.fetch(
            "SELECT * FROM ("
            " SELECT event_id AS id, event_type AS kind, correlation_id, ao_id, recipient_domain, attempts,"
            " last_error, last_attempt_at AS failed_at FROM notifier.deliveries WHERE status = 'failed'"
            " UNION ALL"
            f" SELECT notice_id, '{CONTACT_CHANGE_KIND}', notice_id::text, ao_id, NULL, tries, NULL, failed_at"
            " FROM notifier.contact_change_notices WHERE failed_at IS NOT NULL"
            ") AS given_up ORDER BY failed_at DESC, id LIMIT $1",
            limit,
        )
        return [FailedDelivery(**dict(row)) for row in rows]

    async def of(self, correlation_id: str, kind_prefix: str) -> list[KeptDelivery]:
        """The deliveries of one batch or challenge (its events' correlation id, index `deliveries_correlation`) whose
        kind starts `kind_prefix` (`lrs.batch.`, `lrs.challenge.`), the first handled first, each with whether it
        waits in the deferred emails. None for one the notifier has not handled yet."""
        rows = await self._pool.fetch(
            "SELECT delivery.event_id AS id, delivery.event_type AS kind, delivery.status, delivery.message_id,"
            " delivery.ao_id, delivery.recipient_domain, delivery.attempts, delivery.last_error,"
            " delivery.first_attempt_at AS recorded_at, delivery.last_attempt_at AS last_tried_at, delivery.sent_at,"
            " aside.event_id IS NOT NULL AS set_aside, coalesce(aside.due_at = 'infinity', false) AS held,"
            " aside.refused_contact_at IS NOT NULL AS contact_refused,"
            " CASE WHEN aside.due_at <> 'infinity' THEN aside.due_at END AS next_try_at"
            " FROM notifier.deliveries AS delivery"
            " LEFT JOIN notifier.deferred_emails AS aside ON aside.event_id = delivery.event_id"
            " WHERE delivery.correlation_id = $1 AND starts_with(delivery.event_type, $2)"
            " ORDER BY delivery.first_attempt_at, delivery.event_id",
            correlation_id,
            kind_prefix,
        )
        return [KeptDelivery(**{**dict(row), "status": DeliveryStatus(row["status"])}) for row in rows]


class RejectionTallies:
    """Records per code of each batch (rejected per RV code, warned of per WV code, and under `emails.ERASED_TALLY`
    the rejected records whose RV004 says the learner's record was erased), kept from its decided chunks until its
    email is out."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_chunks(self, chunks: Sequence[ChunkCodes]) -> None:
        """Idempotent: a chunk already counted is not counted again. One statement for them all."""
        rows = [
            (batch_id, index, code, records) for batch_id, index, counts in chunks for code, records in counts.items()
        ]
        if not rows:
            return
        await self._pool.execute(
            "INSERT INTO notifier.rejection_tallies (batch_id, chunk_index, code, records)"
            " SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::integer[])"
            " ON CONFLICT (batch_id, chunk_index, code) DO NOTHING",
            [row[0] for row in rows],
            [row[1] for row in rows],
            [row[2] for row in rows],
            [row[3] for row in rows],
        )

    async def totals(self, batch_id: uuid.UUID) -> dict[str, int]:
        rows = await self._pool.fetch(
            "SELECT code, sum(records) AS records FROM notifier.rejection_tallies WHERE batch_id = $1 GROUP BY code",
            batch_id,
        )
        return {row["code"]: int(row["records"]) for row in rows}

    async def forget(self, batch_id: uuid.UUID) -> None:
        await self._pool.execute("DELETE FROM notifier.rejection_tallies WHERE batch_id = $1", batch_id)


class DeferredEmails:
    """Events whose email waits for a recipient the relay refused for now (migration 0003), or for its claim, which
    another replica held (`set_aside`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def tries(self, event_id: uuid.UUID) -> int:
        """How often the relay has refused the email's recipient so far (0: the email is not deferred)."""
        tries = await self._pool.fetchval("SELECT tries FROM notifier.deferred_emails WHERE event_id = $1", event_id)
        return int(tries or 0)

    async def defer(self, event_id: uuid.UUID, envelope: bytes, delay_seconds: float) -> None:
        """Its recipient refused once more: tried again after `delay_seconds`."""
        await self._pool.execute(
            "INSERT INTO notifier.deferred_emails (event_id, envelope, tries, due_at)"
            " VALUES ($1, $2, 1, now() + make_interval(secs => $3))"
            " ON CONFLICT (event_id) DO UPDATE SET due_at = EXCLUDED.due_at,"
            " tries = notifier.deferred_emails.tries + 1",
            event_id,
            envelope,
            delay_seconds,
        )

    async def set_aside(self, event_id: uuid.UUID, envelope: bytes, delay_seconds: float) -> None:
        """Not tried (another replica held its claim, `ClaimBusy`): due after `delay_seconds`, no try counted. One
        already waiting aside (deferred, or held for a contact) is left as it is: its own try is to come."""
        await self._pool.execute(
            "INSERT INTO notifier.deferred_emails (event_id, envelope, tries, due_at)"
            " VALUES ($1, $2, 0, now() + make_interval(secs => $3)) ON CONFLICT (event_id) DO NOTHING",
            event_id,
            envelope,
            delay_seconds,
        )

    async def postpone(self, event_id: uuid.UUID, delay_seconds: float) -> None:
        """Not tried (the relay away): due again after `delay_seconds`, its tries as they were."""
        await self._pool.execute(
            "UPDATE notifier.deferred_emails SET due_at = now() + make_interval(secs => $2) WHERE event_id = $1",
            event_id,
            delay_seconds,
        )

    async def claim_due(self, limit: int, lease_seconds: float) -> list[tuple[uuid.UUID, bytes]]:
        """Up to `limit` due events, each made due again only after `lease_seconds`: another notifier
        (or this one, after a crash) tries it then, not meanwhile."""
        rows = await self._pool.fetch(
            "UPDATE notifier.deferred_emails SET due_at = now() + make_interval(secs => $2)"
            " WHERE event_id IN (SELECT event_id FROM notifier.deferred_emails WHERE due_at <= now()"
            " ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING event_id, envelope",
            limit,
            lease_seconds,
        )
        return [(row["event_id"], bytes(row["envelope"])) for row in rows]

    async def remove(self, event_id: uuid.UUID) -> None:
        await self._pool.execute("DELETE FROM notifier.deferred_emails WHERE event_id = $1", event_id)

    async def count(self) -> int:
        """Emails waiting for a recipient refused for now (not the challenge notices held for a contact)."""
        return int(
            await self._pool.fetchval("SELECT count(*) FROM notifier.deferred_emails WHERE due_at <> 'infinity'") or 0
        )

    async def waiting(self, event_id: uuid.UUID) -> bool:
        """Whether the event's email waits aside, for a recipient refused for now or for a challenge contact."""
        return bool(
            await self._pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM notifier.deferred_emails WHERE event_id = $1)", event_id
            )
        )

    async def hold(
        self, event_id: uuid.UUID, envelope: bytes, ao_id: str, *, refused_contact_at: datetime | None = None
    ) -> None:
        """A challenge notice for an AO with no challenge contact, or whose contact's mailbox refused it for good
        (`refused_contact_at`: when that contact was set): kept, never due, until a contact (another) is set; its
        refusals counted afresh for the next contact."""
        await self._pool.execute(
            "INSERT INTO notifier.deferred_emails (event_id, envelope, tries, due_at, held_for_ao, refused_contact_at)"
            " VALUES ($1, $2, 0, 'infinity', $3, $4)"
            " ON CONFLICT (event_id) DO UPDATE SET due_at = 'infinity', held_for_ao = EXCLUDED.held_for_ao,"
            " refused_contact_at = EXCLUDED.refused_contact_at, tries = 0",
            event_id,
            envelope,
            ao_id,
            refused_contact_at,
        )

    async def held_until(self, event_id: uuid.UUID) -> HeldNotice | None:
        """When the event's challenge notice, held for its AO, was released (its email then says it waited, and
        is dated so), and why it was held; None when it was never held. One released before the time was kept,
        or not released yet: when it was held."""
        row = await self._pool.fetchrow(
            "SELECT coalesce(released_at, deferred_at) AS released_at, refused_contact_at IS NOT NULL AS refused"
            " FROM notifier.deferred_emails WHERE event_id = $1 AND held_for_ao IS NOT NULL",
            event_id,
        )
        return HeldNotice(row["released_at"], row["refused"]) if row is not None else None

    async def release_for_contacts(self) -> int:
        """Makes due every held notice whose AO now has a contact (one set after the contact that refused it, for a
        notice its contact's mailbox refused): the contact's own transaction does so too, this catches a notice
        held while that contact was being set."""
        done = await self._pool.execute(
            _RELEASE_HELD + " AND EXISTS (SELECT 1 FROM notifier.challenge_contacts AS contact"
            " WHERE contact.ao_id = held_for_ao"
            " AND (refused_contact_at IS NULL OR contact.updated_at > refused_contact_at))"
        )
        return int(done.split()[-1])

    async def held_by_ao(self) -> list[HeldNotices]:
        """The AOs whose challenge notices wait for a contact (or another: one whose mailbox refused them), the
        longest waiting first."""
        rows = await self._pool.fetch(
            "SELECT held_for_ao, count(*) AS notices, min(deferred_at) AS since,"
            " bool_or(refused_contact_at IS NOT NULL) AS contact_refused FROM notifier.deferred_emails"
            " WHERE due_at = 'infinity' GROUP BY held_for_ao ORDER BY since, held_for_ao"
        )
        return [
            HeldNotices(row["held_for_ao"], int(row["notices"]), row["since"], bool(row["contact_refused"]))
            for row in rows
        ]

    async def held(self) -> int:
        """Challenge notices held for want of a contact, or of one whose mailbox takes them (decision 0155)."""
        return int(
            await self._pool.fetchval("SELECT count(*) FROM notifier.deferred_emails WHERE due_at = 'infinity'") or 0
        )


@dataclass(frozen=True)
class RaiseDescribed:
    """What a challenge's raise notice said of it (migration 0011): the achievement as `ChallengedAchievement`'s JSON
    without its ULN (None for an event written before challenges carried it), the ULN as the email masked it, and
    when the challenge was raised."""

    achievement: dict[str, object] | None
    uln_masked: str
    raised_at: datetime


@dataclass(frozen=True)
class RaiseNotice:
    """A challenge's raise notice as the delivery log has it: its event's id, how its delivery stands, its Message-ID,
    and what it said of the challenge (None for a raise handled before this was kept)."""

    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    message_id: str
    described: RaiseDescribed | None


class ChallengeNotices:
    """The challenges whose raise the notifier handled, as their notices described them (migration 0011): a
    withdrawal's notice names the challenge as the raise's did. Kept until the challenge ends."""

    def __init__(self, pool: asyncpg.Pool, raise_kinds: Sequence[str]) -> None:
        self._pool = pool
        self._raise_kinds = list(raise_kinds)

    async def describe(self, challenge_id: uuid.UUID, ao_id: str, described: RaiseDescribed) -> None:
        """Keeps what the raise's notice says; a raise handled again leaves it as first kept."""
        await self._pool.execute(
            "INSERT INTO notifier.challenge_notices (challenge_id, ao_id, achievement, uln_masked, raised_at)"
            " VALUES ($1, $2, $3::jsonb, $4, $5) ON CONFLICT (challenge_id) DO NOTHING",
            challenge_id,
            ao_id,
            None if described.achievement is None else json.dumps(described.achievement),
            described.uln_masked,
            described.raised_at,
        )

    async def raise_of(self, challenge_id: uuid.UUID) -> RaiseNotice | None:
        """The challenge's raise notice, None when this notifier never handled its raise (or handled it before its
        deliveries kept their challenge's id, migration 0009)."""
        row = await self._pool.fetchrow(
            "SELECT delivery.event_id, delivery.event_type, delivery.status, delivery.message_id, notice.achievement::text AS achievement,"
            " notice.uln_masked, notice.raised_at FROM notifier.deliveries AS delivery"
            " LEFT JOIN notifier.challenge_notices AS notice ON notice.challenge_id = $1"
            " WHERE delivery.correlation_id = $1::text AND delivery.event_type = ANY($2::text[])"
            " ORDER BY delivery.first_attempt_at LIMIT 1",
            challenge_id,
            self._raise_kinds,
        )
        if row is None:
            return None
        described = None
        if row["uln_masked"] is not None:
            achievement = None if row["achievement"] is None else json.loads(row["achievement"])
            described = RaiseDescribed(achievement, row["uln_masked"], row["raised_at"])
        return RaiseNotice(
            row["event_id"], row["event_type"], DeliveryStatus(row["status"]), row["message_id"], described
        )

    async def forget(self, challenge_id: uuid.UUID) -> None:
        """The challenge ended: nothing of it is kept any more."""
        await self._pool.execute("DELETE FROM notifier.challenge_notices WHERE challenge_id = $1", challenge_id)
