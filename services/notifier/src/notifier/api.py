"""HTTP: an AO's Event Data Challenge contact (DOMAIN.md §5 rule 13)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from lrs_contracts.codes import ProblemCode
from lrs_contracts.identifiers import AoIdText
from lrs_contracts.text import OneLineText, has_visible_text
from lrs_domain.formats import is_plausible_email
from lrs_platform.authentication import CurrentPrincipal, operator_caller, require_kind
from lrs_platform.consumer import Attempts
from lrs_platform.environment import environment_of
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.parking import DeadLetterOffice
from lrs_platform.problems import ProblemError, problem_responses
from notifier.deliveries_said import (
    DeskStatus,
    desk_status,
    error_said,
    held_in_dead_letters,
    notifier_waiting,
    status_said,
)
from notifier.emails import ChallengeContact
from notifier.store import ContactStore, DeferredEmails, DeliveryLog, KeptDelivery, StoredContact

# an address a mail relay can take: one mailbox, no space, control character or DEL in any part
EMAIL_PATTERN = (
    r'^[^@\s\x00-\x1f\x7f,;<>()\[\]:"\\]+@[^@\s\x00-\x1f\x7f,;<>()\[\]:"\\]+\.[^@\s\x00-\x1f\x7f,;<>()\[\]:"\\]+$'
)
TELEPHONE_PATTERN = r"^\+?[0-9][0-9 ()-]{5,24}$"
# Said to the AO's clerk who typed it, in words: pydantic's own message quoted the regular expression.
EMAIL_REFUSED = (
    "is not an email address: write one like challenges@ao.example, with one @ followed by a domain that has a"
    " dot in it, and no spaces, commas or other marks; before the @ at most 64 bytes, with no dot first, last or"
    " twice in a row"
)
TELEPHONE_REFUSED = (
    "is not a telephone number: write 6 to 25 digits, spaces, brackets or hyphens, starting with a digit or +,"
    " like 01632 960 000 or +44 1632 960000"
)


def _matching(pattern: str, kind: str, refusal: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if re.fullmatch(pattern, value) is None:
            raise PydanticCustomError(kind, refusal)
        return value

    return check


def _plausible_email(value: str) -> str:
    """The check a batch's notification address passes (`is_plausible_email`): one mailbox, nothing invisible."""
    if not is_plausible_email(value):
        raise PydanticCustomError("email_address", EMAIL_REFUSED)
    return value


EmailAddress = Annotated[
    OneLineText,
    AfterValidator(_matching(EMAIL_PATTERN, "email_address", EMAIL_REFUSED)),
    AfterValidator(_plausible_email),
    Field(max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN}),
]
# Said to the AO's clerk too: a name of spaces alone is pydantic's "at least 1 character" (spaces are trimmed first).
NAME_UNSEEN = (
    "has no character a reader sees, only invisible ones such as a zero-width space: write the contact's name as it"
    " should read in the challenge emails"
)


def _seen(value: str) -> str:
    """A name with a character a reader sees (`has_visible_text`, the rule a challenge's reason and note keep): one of
    invisible characters alone would head the AO's challenge emails and show on its portal page as a blank."""
    if not has_visible_text(value):
        raise PydanticCustomError("visible_text", NAME_UNSEEN)
    return value


ContactName = Annotated[OneLineText, AfterValidator(_seen)]
TelephoneNumber = Annotated[
    str,
    AfterValidator(_matching(TELEPHONE_PATTERN, "telephone_number", TELEPHONE_REFUSED)),
    Field(json_schema_extra={"pattern": TELEPHONE_PATTERN}),
]


def live_only(request: Request, _caller: CurrentPrincipal) -> None:
    """The Sandpit runs no challenges service (decision 0060): a contact stored there would email nobody, ever.
    Said only to an authenticated caller: without a key, 401 as everywhere."""
    if environment_of(request).is_sandpit:
        raise ProblemError(
            403,
            "Live only",
            "The Sandpit has no Event Data Challenges, so no challenge contact: read or set it on the live"
            " notifier, with a live key.",
            ProblemCode.LIVE_ONLY,
        )


router = APIRouter(
    prefix="/v1/ao/{ao_id}/challenge-contact", tags=["challenge contact"], dependencies=[Depends(live_only)]
)

AoId = Annotated[
    AoIdText,
    Path(description="the AO's id in the LRS register (its recognition number), e.g. RN9093"),
]


class ChallengeContactUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_name: ContactName = Field(min_length=1, max_length=100)
    family_name: ContactName = Field(min_length=1, max_length=100)
    telephone: TelephoneNumber
    email: EmailAddress


class ChallengeContactPublic(ChallengeContactUpdate):
    # a name stored before invisible ones were refused is still answered, so the AO sees it and sets another
    given_name: OneLineText = Field(min_length=1, max_length=100)
    family_name: OneLineText = Field(min_length=1, max_length=100)
    ao_id: str
    updated_at: datetime
    updated_by: str = Field(
        description="who set it: the AO's principal (`ao:RN9093`, any of its keys or portal accounts), or an LRS"
        " operator's (`operator:…`), which the AO reads as `an LRS operator`"
    )
    updated_with_key: str | None = Field(
        description="the id of the API key it was set with (never its secret; a portal change: the user's session key,"
        " whose label names them), so a change nobody meant names the key to revoke. The AO sees its own keys' ids, as"
        " a batch's `submitted_with_key`, never an operator's; null for a contact set before this was kept"
    )


# how an AO reads a change an LRS operator made to its contact, as the challenges service names an operator to it
AN_LRS_OPERATOR = "an LRS operator"


def _authorise(principal: Principal, ao_id: str) -> None:
    """The AO itself or an operator. Another AO is refused whether or not a contact exists, or the AO named
    does: the refusal tells it nothing but that the contact is not its own."""
    require_kind(principal, PrincipalKind.AO)
    if principal.kind is PrincipalKind.AO and principal.id != ao_id:
        raise ProblemError(403, "Forbidden", "An awarding organisation sees and sets only its own challenge contact.")


@dataclass(frozen=True)
class _ContactsCall:
    principal: Principal
    ao_id: str


async def _contacts_caller(ao_id: AoId, principal: CurrentPrincipal) -> _ContactsCall:
    """`_authorise` as a dependency: FastAPI solves it before it validates the body, so another AO is told it may
    not, not what is wrong with what it sent. It carries the AO's id too, so the route does not declare (and
    validate, and refuse) the path's `ao_id` a second time."""
    _authorise(principal, ao_id)
    return _ContactsCall(principal, ao_id)


ContactsCaller = Annotated[_ContactsCall, Depends(_contacts_caller)]


def _public(stored: StoredContact, reader: Principal) -> ChallengeContactPublic:
    """The contact as `reader` sees it: an operator, who set it and with which key; the AO, the same when it set it
    itself, and only that an LRS operator did otherwise (an operator's principal and key are the LRS's own)."""
    contact = stored.contact
    by_operator = stored.updated_by.startswith(f"{PrincipalKind.OPERATOR.value}:")
    hidden = by_operator and not reader.is_operator
    return ChallengeContactPublic(
        ao_id=stored.ao_id,
        given_name=contact.given_name,
        family_name=contact.family_name,
        telephone=contact.telephone,
        email=contact.email,
        updated_at=stored.updated_at,
        updated_by=AN_LRS_OPERATOR if hidden else stored.updated_by,
        updated_with_key=None if hidden else stored.updated_with_key,
    )


@router.get(
    "",
    summary="The AO's challenge contact",
    responses=problem_responses(401, 403, 404),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def get_contact(ao_id: AoId, principal: CurrentPrincipal, request: Request) -> ChallengeContactPublic:
    _authorise(principal, ao_id)
    contacts: ContactStore = request.app.state.contacts
    stored = await contacts.get(ao_id)
    if stored is None:
        raise ProblemError(404, "Not found", "No challenge contact for this AO.")
    return _public(stored, principal)


@router.put(
    "",
    summary="Set the AO's challenge contact",
    description="Who is emailed when a learner raises an Event Data Challenge against this AO's achievements. An"
    " operator naming an AO that is not in the register gets 404 (an AO's own key is only ever issued for one that"
    " is).",
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def put_contact(call: ContactsCaller, body: ChallengeContactUpdate, request: Request) -> ChallengeContactPublic:
    principal, ao_id = call.principal, call.ao_id
    if principal.is_operator and ao_id not in request.app.state.register:
        # a mistyped number would keep a contact no challenge ever reaches, and the real AO's notices held
        raise ProblemError(
            404,
            "Not an awarding organisation",
            f"{ao_id} is not an awarding organisation in the register: check the number.",
        )
    contacts: ContactStore = request.app.state.contacts
    contact = ChallengeContact(body.given_name, body.family_name, body.telephone, body.email)
    stored = await contacts.put(ao_id, contact, str(principal), with_key=principal.key_id)
    return _public(stored, principal)


# an operator's route takes its caller so: refused (401, 403) before its parameters are read (decision 0032)
Operator = Annotated[Principal, Depends(operator_caller("Only operators see what the notifier holds or gave up."))]

held_router = APIRouter(prefix="/v1/challenge-contacts", tags=["challenge contact"], dependencies=[Depends(live_only)])


class HeldChallengeNotices(BaseModel):
    ao_id: str
    notices: int = Field(description="challenge notices waiting for the AO to set its challenge contact")
    waiting_since: datetime = Field(description="when the oldest of them was held")
    contact_refused: bool = Field(
        description="the AO has a challenge contact, but its mailbox refused them for good (the person left, the"
        " address mistyped): the AO must set another address, not a first contact"
    )


@held_router.get(
    "/missing",
    summary="AOs whose challenge notices wait for a challenge contact",
    description=(
        "A challenge raised against an AO with no challenge contact is held, not dropped (decision 0155), and"
        " emailed once the AO sets one (`lrs challenges contact`); so is one its contact's mailbox refused for good,"
        " until the AO sets another (`contact_refused`). Operators only; the longest waiting first."
    ),
    responses=problem_responses(401, 403),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def missing_contacts(principal: Operator, request: Request) -> list[HeldChallengeNotices]:
    deferred: DeferredEmails = request.app.state.deferred
    return [
        HeldChallengeNotices(
            ao_id=held.ao_id, notices=held.notices, waiting_since=held.since, contact_refused=held.contact_refused
        )
        for held in await deferred.held_by_ao()
    ]


deliveries_router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


class FailedDelivery(BaseModel):
    id: uuid.UUID = Field(description="the event's id (the email's Message-ID), or the contact-change notice's")
    kind: str = Field(
        description="the event's type (`lrs.batch.completed.v1`, `lrs.challenge.raised.v2`,"
        " `lrs.challenge.resolved.v1` for the notice of a learner's withdrawal, or of a resolution by the LRS service"
        " desk, …), or `challenge_contact_changed` for a notice to a challenge contact's old address"
    )
    correlation_id: str | None = Field(
        description="the batch's id, or the challenge's (a contact-change notice: its own id); null for an email"
        " given up before the notifier recorded it"
    )
    ao_id: str | None = Field(description="the AO the email was for; null as `correlation_id`")
    recipient_domain: str | None = Field(
        description="the domain of the address it went to (never the address): a mistyped domain shows here"
    )
    attempts: int
    last_error: str | None = Field(description="the relay's reply codes, or the failure's class; never its text")
    failed_at: datetime = Field(description="when it was given up")


@deliveries_router.get(
    "/failed",
    summary="Emails given up",
    description=(
        "The emails the notifier gave up for good, the latest first: a relay refused the recipient or the message"
        " for good (a 5.1.x: the AO's address does not exist), or refused it for now on every try (about 19 hours)."
        ' What `lrs_notifier_emails_failed_total{permanence="permanent"}` counts, with the batch or challenge and'
        " the AO each was for (`lrs emails failed`). Operators only."
    ),
    responses=problem_responses(401, 403, 422),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def failed_deliveries(
    principal: Operator,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many, the latest first")] = 50,
) -> list[FailedDelivery]:
    deliveries: DeliveryLog = request.app.state.deliveries
    return [FailedDelivery(**vars(failed)) for failed in await deliveries.failed(limit)]


class Delivery(BaseModel):
    """One email of a batch or challenge, as the service desk reads it: never the address, only its domain."""

    id: uuid.UUID = Field(description="the event's id, which the email's Message-ID carries")
    kind: str = Field(
        description="the event's type: `lrs.batch.completed.v1`, `lrs.batch.failed.v1` or `lrs.batch.abandoned.v1` for"
        " a batch's email; `lrs.challenge.raised.v2` (or `.v1`) for the notice of a challenge to the AO's challenge"
        " contact, `lrs.challenge.resolved.v1` for the notice of the learner's withdrawal of it, or of its resolution by"
        " the LRS service desk (an operator, for the AO)"
    )
    ao_id: str | None = Field(description="the AO the email was for")
    status: DeskStatus = Field(
        description="`sent`: the LRS's mail relay took it (`sent_at`); `sending`: not sent yet, being sent or waiting"
        " for the mail relay to answer (tried again until it does); `waiting`: not sent yet, the recipient's mail"
        " server refused it for now (tried again at `next_try_at`, for about 19 hours in all, then given up);"
        " `held`: a challenge notice held until the AO sets a challenge contact, or another one after its contact's"
        " mailbox refused it; `given_up`: never sent, and nothing sends it again; `not_sent`: nobody to send it to"
        " (a batch whose header gave no notification address, the notice of a challenge withdrawn or resolved by the"
        " service desk while it waited, dropped unsent)"
    )
    status_said: str = Field(description="where it stands, in a sentence the desk can read out")
    recipient_domain: str | None = Field(
        description="the domain of the address it went to, never the address (docs/privacy.md): a mistyped domain"
        " shows here; null for a notice held before any contact was set, or one recorded before the notifier kept it"
    )
    message_id: str = Field(description="the email's Message-ID, as the AO's mail server logs it")
    attempts: int = Field(description="how often it was handed to the mail relay")
    recorded_at: datetime = Field(description="when the notifier first handled it")
    last_tried_at: datetime | None = Field(description="when it was last handed to the relay; null when never")
    sent_at: datetime | None = Field(description="when the relay took it; null unless `sent`")
    next_try_at: datetime | None = Field(description="when a `waiting` one is tried again (a past time: any moment)")
    last_error: str | None = Field(
        description="the relay's reply codes (never its text, which may quote the address), the failure's class, or"
        " the notifier's own words for one held or not sent; may be an earlier try's for one sent since"
    )
    last_error_said: str | None = Field(description="`last_error` in words (a 5.1.1: no such mailbox at that domain)")


def _delivery(kept: KeptDelivery) -> Delivery:
    return Delivery(
        id=kept.id,
        kind=kept.kind,
        ao_id=kept.ao_id,
        status=desk_status(kept),
        status_said=status_said(kept),
        recipient_domain=kept.recipient_domain,
        message_id=kept.message_id,
        attempts=kept.attempts,
        recorded_at=kept.recorded_at,
        last_tried_at=kept.last_tried_at if kept.attempts else None,
        sent_at=kept.sent_at,
        next_try_at=kept.next_try_at if kept.set_aside and not kept.held else None,
        last_error=kept.last_error,
        last_error_said=error_said(kept.last_error),
    )


ONE_OF_THEM = "Name one batch (`?batch=ID`) or one challenge (`?challenge=ID`), not both."

WAITING_HEADER = "X-LRS-Notifier-Waiting"
"""On an empty answer while the notifier's consumer is retrying an earlier email (the relay away or refusing us): the
email asked after waits behind it, as every later one does. The answer stays the list it always was."""
WAITING_SAID = (
    "Only on an empty answer, and only while the notifier's consumer is retrying an earlier event (most often an"
    " email, the mail relay away or refusing the LRS): every later email and notice waits behind it, so the batch"
    " asked after may well be decided, its email only queued. A JSON object: `since` (when the retry began, UTC),"
    " `seconds` (how long it has lasted), `error` (what it waits on: the relay's codes or the failure's class, never"
    " an address or a person's data) and `said` (a sentence the desk can read out). The same as the notifier's"
    " `/readyz` entry `emails`"
)
HELD_HEADER = "X-LRS-Held-In-Dead-Letters"
"""On a batch's answer while the notifier holds messages of the batch in its own dead letters (its outcome, parked):
its email waits for an operator. The answer stays the list it always was."""
HELD_SAID = (
    "Only for a batch (`?batch=ID`), and only while the notifier holds messages of the batch in its own dead letters:"
    " one it could not handle (most often the batch's outcome) and those of the batch behind it, so its email waits"
    " until an operator retries or skips them (`lrs dlq list --service notifier --key ID`). A JSON object: `since`"
    " (when the first of them was parked, UTC) and `messages` (how many are held). No message's content is said"
)
WAITING_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            WAITING_HEADER: {"description": WAITING_SAID, "schema": {"type": "string"}},
            HELD_HEADER: {"description": HELD_SAID, "schema": {"type": "string"}},
        }
    },
}


def _utc_text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _waiting_header(request: Request, response: Response) -> None:
    """`WAITING_HEADER` when the consumer is retrying: said where the answer is empty (nothing of the batch's or
    challenge's handled yet)."""
    attempts: Attempts | None = getattr(request.app.state, "consumer_attempts", None)
    waiting = None if attempts is None else notifier_waiting(attempts)
    if waiting is not None:
        response.headers[WAITING_HEADER] = json.dumps(
            {
                "since": _utc_text(waiting.since),
                "seconds": waiting.seconds,
                "error": waiting.error,
                "said": waiting.said,
            }
        )


async def _held_header(request: Request, response: Response, batch_id: uuid.UUID) -> None:
    """`HELD_HEADER` when the notifier holds messages of the batch in its dead letters, whatever the answer holds."""
    office: DeadLetterOffice | None = getattr(request.app.state, "dead_letter_office", None)
    outcomes_topic: str | None = getattr(request.app.state, "batch_outcomes_topic", None)
    if office is None or outcomes_topic is None:
        return
    held = await held_in_dead_letters(office, outcomes_topic, batch_id)
    if held is not None:
        response.headers[HELD_HEADER] = json.dumps({"since": _utc_text(held.since), "messages": held.messages})


@deliveries_router.get(
    "",
    summary="The emails of a batch or a challenge",
    description=(
        "Whether, when and where a batch's email (or a challenge's notices to the AO's challenge contact) was sent,"
        ' for the service desk answering "our email never arrived": each delivery the notifier keeps for the batch'
        " or challenge named, the first handled first, with where it stands in words, the domain it went to (never"
        " the address), its Message-ID, its tries and the last error in words (`lrs emails show`). A batch has one"
        " email, when its outcome is decided (completed, failed or abandoned); a challenge its raise notice, and a"
        " notice of its withdrawal by the learner, or of its resolution by the LRS service desk, once that was sent."
        " An empty list (200) is no delivery yet: a"
        " batch not decided yet (still in the queue, being checked, or held by maintenance), as well as an id the"
        f" notifier never saw: ask ingest (`lrs batch status`); with the `{HELD_HEADER}` header, one whose outcome"
        " the notifier parked in its own dead letters (since when, how many messages): its email waits until an"
        f" operator retries or skips them; or, with the `{WAITING_HEADER}` header, one queued behind an earlier email"
        " the notifier is retrying (the mail relay away or refusing the LRS): it goes once that one does. Operators"
        " only."
    ),
    responses={**problem_responses(401, 403, 422), **WAITING_RESPONSES},
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def deliveries_of(
    principal: Operator,
    request: Request,
    response: Response,
    batch: Annotated[uuid.UUID | None, Query(description="the batch's id: its email")] = None,
    challenge: Annotated[uuid.UUID | None, Query(description="the challenge's id: its notices")] = None,
) -> list[Delivery]:
    if (batch is None) == (challenge is None):
        raise ProblemError(422, "Invalid request", ONE_OF_THEM, code=ProblemCode.INVALID_REQUEST)
    deliveries: DeliveryLog = request.app.state.deliveries
    if batch is not None:
        kept = await deliveries.of(str(batch), "lrs.batch.")
        await _held_header(request, response, batch)
    else:
        kept = await deliveries.of(str(challenge), "lrs.challenge.")
    if not kept:
        _waiting_header(request, response)
    return [_delivery(each) for each in kept]
