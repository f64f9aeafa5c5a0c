"""AO users' pages beyond batches: direct entry, learners, challenges, the challenge contact, MI."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from lrs_contracts.batch import RecordAction
from lrs_contracts.challenge import CHALLENGE_TEXT_MAX_LENGTH, ChallengeResolution
from lrs_contracts.codes import ProblemCode
from lrs_contracts.identifiers import ULN_PATTERN
from lrs_contracts.text import OneLineText, has_visible_text, refused_character
from lrs_domain.formats import is_plausible_email
from lrs_domain.identifiers import display_qan, mask_uln, normalise_qan
from lrs_domain.names import name_length
from lrs_domain.reference import Catalogue
from lrs_domain.rules import why_no_learner_has
from lrs_platform.clock import today_in_england
from lrs_platform.logging import get_logger
from portal.backend import KeyRejected, NotFound, Refused, ServiceCalls, ServiceError, Unavailable
from portal.checking import batch_file, check_record
from portal.direct_entry import (
    ACTIONS,
    FORM_ORDER,
    JOB_TYPES,
    PREFILLED,
    Entry,
    date_said,
    entry_batch,
    entry_reference,
    field_errors,
    is_direct_entry,
    prefilled_values,
    read_entry,
    recorded_event,
    warnings_of,
    with_recorded,
)
from portal.mi import CHARTS, MiData, chart_csv, months_ending
from portal.web.auth_pages import refuse_query_not_typed
from portal.web.common import (
    UK,
    AoUser,
    PageError,
    base,
    calls,
    checked_form,
    field,
    in_sandpit,
    long_date,
    portal_of,
    render,
    see_other,
    see_other_telling,
)
from portal.web.dashboard import SIDE_FIGURE_SECONDS, has_challenge_contact
from portal.web.key_names import own_key

router = APIRouter(include_in_schema=False)

ULN = re.compile(ULN_PATTERN)
TELEPHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,24}")
OPEN_STATES = ("raised", "acknowledged")
INBOX_PAGE = 50
GENDERS = (
    ("", "Not given"),
    ("0", "0 - not known"),
    ("1", "1 - male"),
    ("2", "2 - female"),
    ("9", "9 - not specified"),
)
LANGUAGES = (("", "Not given"), ("English", "English"), ("Welsh", "Welsh"), ("Irish", "Irish"))
# How long a learner's record read after a batch waits for the projector to have the batch.
LEARNER_WAIT_MS = 5_000
# The learners a session looked up, each kept under a random id its page's address holds (no ULN), so that two tabs
# each keep theirs and Back to an earlier learner shows that learner: the newest so many, the oldest forgotten.
LOOK_UPS_KEPT = 20
LOOK_UP_ID_BYTES = 12
NAME_LIMIT = 35  # characters as the rules count them: of the name's composed form (`name_length`, decision 0167)
NAMES = ("given_name", "family_name")
# The longest value the direct-entry form takes filled in, field by field (`direct_entry.PREFILLED` and the action).
PREFILL_LIMITS = {
    "action": 20,
    "qualification_number": 20,
    "award_date": 10,
    "grade": 40,
    "uln": 10,
    "given_name": NAME_LIMIT,
    "family_name": NAME_LIMIT,
    "pathway": 100,
    "centre_ukprn": 8,
    "language_for_assessment": 20,
    "credits": 4,
}
# How many of the AO's newest batches are looked through for the one a direct-entry form made, when ingest's 409 for
# the form's key names no batch: an ingest of the release before IDEMPOTENCY_KEY_REUSED, during a rollout (ingest
# lists at most 200 a page).
SENT_BEFORE_LOOKED_FOR = 200
# A direct entry sent again from another form (Back after Send draws a new form, which the browser fills in again as it
# was, or a second tab): the same entry sent within so long is said to have been sent already, as uploads say of a file
# sent again, looked for among the AO's newest so many batches; "Send it again as a new batch" sends it all the same.
SAME_ENTRY_WITHIN = timedelta(minutes=15)
SAME_ENTRY_LOOKED_FOR = 50
# Two sends of the same entry at once (two tabs, two colleagues of one AO): each looks for the other's batch before
# either has made it. So a send holds the entry's content (its AO, environment and file but for the form's reference)
# in the sent forms (decision 0190) while it looks and sends; another send of it waits up to ENTRY_WAIT_SECONDS for
# that one to let go, then looks, and finds its batch. A hold past ENTRY_HELD_AT_MOST (its send stopped before
# letting go: a send makes two calls of at most the services' timeout, 30 s) is taken over.
ENTRY_FORM = "direct-entry"
ENTRY_WAIT_SECONDS = 20.0
_ENTRY_POLL_SECONDS = 0.1
ENTRY_HELD_AT_MOST = timedelta(minutes=2)
# A batch that recorded nothing and will not (refused at the door, failed by RS005, or given up on): the same entry
# again is sent.
_NOTHING_RECORDED = ("refused", "failed", "abandoned")
# A direct entry sent is kept in the session (sealed, among its look-ups, under `entry:<batch id>`: never a look-up's
# random id), but for the learner's names, so that its batch's page, when the LRS rejected it, can have it entered
# again filled in (`/direct-entry?batch=<batch id>`, WCAG 3.3.7): the names are typed again, never shown back.
KEPT_ENTRY = "entry:"
NOT_KEPT = frozenset({*NAMES, "entry_id", "again"})
# A name in an address is counted composed, as the rules count it, once it is read: its code points are first bounded
# by the most a name of NAME_LIMIT characters can decompose into (NFD takes a character to at most 4).
_NAME_CODE_POINTS = 4 * NAME_LIMIT


# --- direct entry ------------------------------------------------------------------------------

_log = get_logger("portal.web")


def _entry_page(
    request: Request,
    user: Any,
    values: dict[str, str],
    errors: dict[str, str],
    warnings: list[str],
    status: int = 200,
    filled: list[str] | None = None,
    sent_before: dict[str, Any] | None = None,
    drawn_from_post: bool = False,
    sent_already: dict[str, Any] | None = None,
    rejected: dict[str, Any] | None = None,
    busy: Mapping[str, Any] | None = None,
    being_sent: bool = False,
) -> HTMLResponse:
    """`sent_before`: this form was sent before, with other content (`batch`: the batch it made, if found);
    `drawn_from_post`: the form filled in as a POST's answer, whose Back and reload then ask the empty form by GET;
    `sent_already`: the batch another form sent this same entry as, lately (`_same_entry_sent_lately`);
    `being_sent`: another form's send of this same entry was still sending it after ENTRY_WAIT_SECONDS;
    `rejected`: the form asked to enter a rejected entry again (`batch_id`; `kept`: whether it is filled in);
    `busy`: ingest's 429 TOO_MANY_RECORDS_WAITING problem (decision 0171), the entry not sent."""
    context = {
        "values": values,
        "errors": errors,
        "warnings": warnings,
        "filled": None if filled is None else [FIELD_WORDS[name] for name in filled],
        "order": FORM_ORDER,
        "actions": [(action, action) for action in ACTIONS],
        "job_types": [(job_type, job_type) for job_type in JOB_TYPES],
        "genders": GENDERS,
        "languages": LANGUAGES,
        "entry_id": values.get("entry_id") or str(uuid.uuid4()),
        "sent_before": sent_before,
        "drawn_from_post": drawn_from_post,
        "sent_already": sent_already,
        "rejected": rejected,
        "busy": busy,
        "being_sent": being_sent,
    }
    return render(request, "direct_entry.html", context, user=user, status_code=status)


def _prefilled_page(
    request: Request, user: Any, given: dict[str, str | None], *, drawn_from_post: bool = False
) -> HTMLResponse:
    action = given.get("action")
    values = {
        "action": action if action in ACTIONS else "Create",
        "job_type": "Final",
        "notification_email": user.account.email or "",
        **{name: given.get(name) or "" for name in PREFILLED},
    }
    return _entry_page(request, user, values, {}, [], drawn_from_post=drawn_from_post)


@router.get("/direct-entry")
async def direct_entry_form(
    request: Request,
    user: AoUser,
    action: Annotated[OneLineText | None, Query(max_length=PREFILL_LIMITS["action"])] = None,
    qualification_number: Annotated[
        OneLineText | None, Query(max_length=PREFILL_LIMITS["qualification_number"])
    ] = None,
    award_date: Annotated[OneLineText | None, Query(max_length=PREFILL_LIMITS["award_date"])] = None,
    grade: Annotated[OneLineText | None, Query(max_length=PREFILL_LIMITS["grade"])] = None,
    uln: Annotated[OneLineText | None, Query(max_length=PREFILL_LIMITS["uln"])] = None,
    given_name: Annotated[OneLineText | None, Query(max_length=_NAME_CODE_POINTS)] = None,
    family_name: Annotated[OneLineText | None, Query(max_length=_NAME_CODE_POINTS)] = None,
    pathway: Annotated[OneLineText | None, Query(max_length=PREFILL_LIMITS["pathway"])] = None,
    centre_ukprn: Annotated[OneLineText | None, Query(max_length=PREFILL_LIMITS["centre_ukprn"])] = None,
    language_for_assessment: Annotated[
        OneLineText | None, Query(max_length=PREFILL_LIMITS["language_for_assessment"])
    ] = None,
    credits: Annotated[OneLineText | None, Query(max_length=PREFILL_LIMITS["credits"])] = None,
    batch: Annotated[str | None, Query(max_length=36)] = None,
) -> HTMLResponse:
    """The form, empty, or filled in with what an address gives (a bookmark, a hand-made link: no page of the
    portal links here with a learner in the address; the learner page's buttons post to `/direct-entry/prefilled`).
    A value holding what no field takes (a control character, a line break, a bidirectional control; bytes that are
    not UTF-8) is the page not found, as a value too long for its field is: nothing of it is written back.
    `batch`: a direct entry's batch, from its page when the LRS rejected it: the form filled in as that entry was sent
    from this session, but for the learner's names (`KEPT_ENTRY`), the address naming no learner."""
    refuse_query_not_typed(request)
    if (batch_id := _batch_id(batch)) is not None:
        return await _entry_again(request, user, batch_id)
    given = {
        "action": action,
        "qualification_number": qualification_number,
        "award_date": award_date,
        "grade": grade,
        "uln": uln,
        "given_name": given_name,
        "family_name": family_name,
        "pathway": pathway,
        "centre_ukprn": centre_ukprn,
        "language_for_assessment": language_for_assessment,
        "credits": credits,
    }
    if any(_length(name, given[name] or "") > NAME_LIMIT for name in NAMES):
        raise PageError("not_found")  # as any other value too long for its field in the address is answered
    return _prefilled_page(request, user, given)


@router.post("/direct-entry/prefilled")
async def direct_entry_prefilled(request: Request, user: AoUser) -> Response:
    """The form, filled in for the learner page's Update, Withdraw or Reinstate button (`direct_entry.prefilled_values`):
    the learner and the achievement's key, and for an Update every field the record holds. The button posts only its
    look-up's id and the achievement's, and the rest is read (`_prefilled_from_the_record`); a post of the values
    themselves (a page drawn before 2026-12-07) fills them in as `GET /direct-entry?...` does. A POST, so that the
    learner's ULN and names stay out of addresses, browser history and logs."""
    form = await checked_form(request, user)
    given: dict[str, str | None] = {name: field(form, name) for name in PREFILL_LIMITS}
    if any(_length(name, value or "") > PREFILL_LIMITS[name] for name, value in given.items()):
        raise PageError("bad_form")
    if "look_up" in form or "achievement" in form:
        return await _prefilled_from_the_record(
            request, user, field(form, "look_up"), field(form, "achievement"), given
        )
    return _prefilled_page(request, user, given, drawn_from_post=True)


async def _prefilled_from_the_record(
    request: Request, user: Any, look_up_id: str, achievement_id: str, given: Mapping[str, str | None]
) -> Response:
    """What a learner page's button fills in: it posts only the page's look-up (a random id, the ULN and names kept
    in this session) and the achievement's id, so the learner is read here, as the page read it (the AO's own
    achievements of the ULN looked up), and nothing else posted is taken. A look-up this session does not hold is
    the learner page's "look-up has ended"; an achievement no longer on the record read, the learner's page again."""
    look_up = (await portal_of(request).auth.look_ups(user)).get(look_up_id) if look_up_id else None
    if look_up is None or look_up.get("base") != base(request) or "entry" in look_up:
        return _learner_page(request, user, "", {}, {}, None, {}, look_up_ended=True)
    plr = await calls(request, user).ao_achievements(look_up["uln"])
    event = next((event for event in plr["learning_events"] if str(event.get("id")) == achievement_id), None)
    action = next((action for action in RecordAction if action.value == given.get("action")), None)
    if event is None or action is None or plr.get("learner_erased"):
        return see_other(f"{base(request)}/learners/found/{look_up_id}")
    # the ULN the achievement is recorded under, not the one typed: a merged learner's two achievements of one key
    # (both recorded before the merge) are told apart by it alone, and a record addresses the one under the ULN it
    # names (decision 0031)
    values = prefilled_values(action, _recorded_under(plr, event), look_up["names"], event)
    return _prefilled_page(request, user, dict(values), drawn_from_post=True)


def _length(name: str, value: str) -> int:
    """A value's length as its field's limit counts it: a name's as the rules count it."""
    return name_length(value) if name in NAMES else len(value)


# A field as the form's sentences name it.
FIELD_WORDS = {
    "pathway": "pathway",
    "credits": "credits",
    "grade": "grade",
    "centre_ukprn": "UKPRN",
    "language_for_assessment": "language for assessment",
}


@router.post("/direct-entry/recorded")
async def direct_entry_recorded(request: Request, user: AoUser) -> HTMLResponse:
    """The form again, with the achievement its ULN, QAN and award date name filled in as recorded (the
    projector's read the learner page uses): what an Update, Withdraw or Reinstate must repeat as it is."""
    form = await checked_form(request, user)
    values = {name: field(form, name) for name in form if name != "csrf_token"}
    uln = values.get("uln", "").replace(" ", "")
    errors: dict[str, str] = {}
    if not ULN.fullmatch(uln):
        errors["uln"] = "Enter the learner's ULN to look the achievement up: 10 digits, like 1000000043"
    elif refusal := why_no_learner_has(uln):  # a look-up's words, not a batch record's (as the projector says them)
        errors["uln"] = refusal.reason
    if normalise_qan(values.get("qualification_number", "")) is None:
        errors["qualification_number"] = "Enter the qualification number as recorded, like 600/1166/X"
    if not values.get("award_date"):
        errors["award_date"] = "Enter the award date as recorded, like 2024-08-22"
    elif said := date_said("award_date", values["award_date"]):
        # the form's own words (a date written day first, or as the learner page shows it, told as it should be
        # written), not "you have recorded no achievement" for an achievement recorded under that day
        errors["award_date"] = said
    if errors:
        return _entry_page(request, user, values, errors, [], 400)
    try:
        plr = await calls(request, user).ao_achievements(uln)
    except (NotFound, Unavailable):
        plr = None
    # a merged learner may hold the same key under two ULNs (decision 0031): the one under the ULN typed is filled in
    events = sorted(plr["learning_events"], key=lambda event: event.get("uln", uln) != uln) if plr else []
    event = recorded_event(values, events) if plr is not None else None
    if event is None:
        shown = display_qan(normalise_qan(values["qualification_number"]) or "")
        missing = (
            f"You have recorded no achievement of this learner for {shown} with award date {values['award_date']}: "
            "check the ULN, qualification number and award date"
            if plr is not None
            else "The learner's record could not be read just now: try again in a minute"
        )
        return _entry_page(request, user, values, {"qualification_number": missing}, [], 400 if plr else 503)
    filled_values, filled = with_recorded(values, event)
    return _entry_page(request, user, filled_values, {}, [], filled=filled)


@router.post("/direct-entry/check")
async def direct_entry_check(request: Request, user: AoUser) -> JSONResponse:
    form = await checked_form(request, user)
    entry = read_entry({name: field(form, name) for name in form})
    assert user.account.ao_id is not None
    outcome = check_record(
        entry_batch(entry, user.account.ao_id, "check"), portal_of(request).catalogue, today_in_england()
    )
    # every field's errors: the page's script shows (and counts, in its live region) those of the fields filled in
    return JSONResponse({"errors": field_errors(entry, outcome), "warnings": warnings_of(outcome)})


@router.post("/direct-entry")
async def direct_entry_submit(request: Request, user: AoUser) -> Response:
    form = await checked_form(request, user)
    values = {name: field(form, name) for name in form if name != "csrf_token"}
    entry = read_entry(values)
    assert user.account.ao_id is not None
    try:  # the form's own uuid4, made into the Idempotency-Key: never anything else
        entry_id = str(uuid.UUID(values["entry_id"])) if values.get("entry_id") else str(uuid.uuid4())
    except ValueError:
        raise PageError("bad_form") from None
    batch = entry_batch(entry, user.account.ao_id, entry_reference(entry_id))
    outcome = check_record(batch, portal_of(request).catalogue, today_in_england())
    errors = field_errors(entry, outcome)
    if errors:
        return _entry_page(request, user, values, errors, warnings_of(outcome), 400)
    sent, warnings = batch_file(batch), warnings_of(outcome)
    if field(form, "again") == "yes":  # sent again on purpose: neither waits for nor holds up another send of it
        return await _send_entry(request, user, values, entry, entry_id, sent, warnings, again=True)
    held, being_sent = await _hold_entry(request, user, entry, entry_id)
    if being_sent:
        return _entry_page(request, user, values, {}, warnings, 409, being_sent=True)
    try:
        return await _send_entry(request, user, values, entry, entry_id, sent, warnings, again=False)
    finally:
        if held is not None:
            await portal_of(request).uploads.forms.let_go(held, f"{ENTRY_FORM} {entry_id}")


def _entry_key(request: Request, ao_id: str, entry: Entry) -> uuid.UUID:
    """The entry as the same entry sent from any form of the AO in this environment: its file but for the reference,
    which each form's own id gives (sha256, as a key of the sent forms)."""
    unreferenced = batch_file(entry_batch(entry, ao_id, ""))
    digest = hashlib.sha256(b"\n".join((base(request).encode(), ao_id.encode(), unreferenced))).digest()
    return uuid.UUID(bytes=digest[:16])


async def _hold_entry(request: Request, user: AoUser, entry: Entry, entry_id: str) -> tuple[uuid.UUID | None, bool]:
    """(The entry's key, which this send now holds, to let go of once sent; or None when it holds nothing: a second
    click on this same form's Send, left to ingest, which answers the form's key with its one batch), and whether
    another form's send of this same entry still held it after ENTRY_WAIT_SECONDS (this one then sends nothing).
    Once the other lets go, this one holds it and looks for that one's batch (`_same_entry_sent_lately`)."""
    assert user.account.ao_id is not None
    key = _entry_key(request, user.account.ao_id, entry)
    mine = f"{ENTRY_FORM} {entry_id}"
    forms = portal_of(request).uploads.forms
    deadline = time.monotonic() + ENTRY_WAIT_SECONDS
    while True:
        holder = await forms.hold(user.account.username, key, mine, held_at_most=ENTRY_HELD_AT_MOST)
        if holder is None:
            return key, False
        if holder.form == mine:
            return None, False
        if time.monotonic() >= deadline:
            return None, True
        await asyncio.sleep(_ENTRY_POLL_SECONDS)


async def _send_entry(
    request: Request,
    user: AoUser,
    values: dict[str, str],
    entry: Entry,
    entry_id: str,
    sent: bytes,
    warnings: list[str],
    *,
    again: bool,
) -> Response:
    """The entry (`sent`: its file) sent as a batch, unless (`again` aside) it was sent lately from another form; its
    batch's page."""
    if not again and (earlier := await _same_entry_sent_lately(request, user, entry, entry_id)):
        return _entry_page(request, user, values, {}, warnings, 409, sent_already=earlier)
    try:
        accepted = await calls(request, user).submit_batch(
            sent,
            "application/json",
            f"portal-entry-{entry_id}",
            timeout=portal_of(request).settings.submit_timeout_seconds,
        )
    except Unavailable as unavailable:
        # ingest's 503 (Kafka did not take it, the batch kept but not queued) or no answer: nothing is on a learner's
        # record; the form again as it was, since sending it again under the form's key queues that same batch
        _log.warning("entry_not_queued", detail=unavailable.detail[:200])
        return _entry_page(request, user, values, {"action": ENTRY_NOT_QUEUED}, warnings, 503)
    except Refused as refused:
        if refused.problem.get("code") == ProblemCode.TOO_MANY_RECORDS_WAITING:
            # decision 0171: nothing kept; the form again as it was, saying so above it (as an upload's busy page)
            return _entry_page(request, user, values, {}, warnings, 429, busy=refused.problem)
        if refused.problem.get("code") in (ProblemCode.IDEMPOTENCY_KEY_REUSED, ProblemCode.CONFLICT):
            # ingest's 409 for the form's key: it made a batch already, of other content (the form sent, then Back, a
            # change and Send: IDEMPOTENCY_KEY_REUSED), or the same entry is being published by another Send (CONFLICT)
            return await _entry_sent_before(request, user, values, refused.problem, sent, entry_id, warnings)
        return _entry_page(request, user, values, {"action": refused.detail}, [], 400)
    held = bool(accepted.get("maintenance"))
    return await _to_the_entrys_batch(request, user, entry, accepted["batch_id"], entry_reference(entry_id), held)


ENTRY_NOT_QUEUED = (
    "The LRS could not take this entry just now, so nothing is on the learner's record. Send it again in a few"
    " minutes: it is then taken as the same entry."
)

# What a direct entry did to the achievement it names, as its batch's page says it was sent.
ENTRY_SENT_WORDS = {
    RecordAction.CREATE.value: "Your achievement",
    RecordAction.UPDATE.value: "Your update to the achievement",
    RecordAction.WITHDRAW.value: "Your withdrawal of the achievement",
    RecordAction.REINSTATE.value: "Your reinstatement of the achievement",
}


def entry_sent(entry: Entry, reference: str) -> str:
    """What the entry's batch page says it was sent as, once, in the person's terms: the learner (the ULN masked, as
    the batch's pages show it) and the qualification, not only the batch's generated reference."""
    qan = display_qan(normalise_qan(entry.values["qualification_number"]) or entry.values["qualification_number"])
    words = ENTRY_SENT_WORDS.get(entry.values["action"], "Your achievement")
    return f"{words} for ULN {mask_uln(entry.values['uln'])}, qualification {qan}, was sent as batch {reference}."


async def _to_the_entrys_batch(
    request: Request, user: AoUser, entry: Entry, batch_id: str, reference: str, held: bool = False
) -> Response:
    """The batch page of the batch the entry was sent as, saying so (once: a reload sends nothing again). The entry is
    kept, names aside, for entering it again should the LRS reject it (`KEPT_ENTRY`). A batch maintenance holds
    (`held`: ingest's answer carried its notice) is not decided in the next seconds: its page at once, as uploads do."""
    page = f"{base(request)}/batches/{batch_id}"
    kept = {name: value for name, value in entry.values.items() if name not in NOT_KEPT and value}
    look_up = {"base": base(request), "entry": kept}
    await portal_of(request).auth.add_look_up(user, f"{KEPT_ENTRY}{batch_id.lower()}", look_up, LOOK_UPS_KEPT)
    return await see_other_telling(
        request, user, page if held else f"{page}?wait=10", entry_sent=entry_sent(entry, reference)
    )


async def _entry_again(request: Request, user: AoUser, batch_id: uuid.UUID) -> HTMLResponse:
    """The form filled in as the entry sent as `batch_id` was (its names left to type again), when this session sent
    it; else the empty form, saying that it was not kept (sent from another session, or long ago)."""
    kept = (await portal_of(request).auth.look_ups(user)).get(f"{KEPT_ENTRY}{batch_id}")
    if kept is None or kept.get("base") != base(request) or not isinstance(kept.get("entry"), dict):
        values = {"action": "Create", "job_type": "Final", "notification_email": user.account.email or ""}
        return _entry_page(request, user, values, {}, [], rejected={"batch_id": batch_id, "kept": False})
    values = {name: str(value) for name, value in kept["entry"].items() if name in FORM_ORDER and name not in NAMES}
    return _entry_page(request, user, values, {}, [], rejected={"batch_id": batch_id, "kept": True})


async def _entry_sent_before(
    request: Request,
    user: AoUser,
    values: dict[str, str],
    problem: Mapping[str, Any],
    sent: bytes,
    entry_id: str,
    warnings: list[str],
) -> Response:
    """Where ingest's 409 for the form's key (`problem`) leads. It names the batch the key made (`batch_id`): while this
    same entry is being published by another Send (CONFLICT), to that batch's page; when the key made it of other
    content (IDEMPOTENCY_KEY_REUSED), to the form again, with what the person entered under a new entry id so that the
    corrected entry can be sent as a new batch, saying that the form was sent already, as that batch. A 409 naming no
    batch (an ingest of the release before, during a rollout) has it looked for among the AO's newest."""
    entry = read_entry(values)
    named = problem.get("batch_id")
    made_id = _batch_id(named if isinstance(named, str) else None)
    made: dict[str, Any] | None
    if made_id is None:
        made = await _entry_batch_among_the_newest(request, user, entry_id)
        if made is not None and made.get("content_sha256") == hashlib.sha256(sent).hexdigest():
            return await _to_the_entrys_batch(request, user, entry, made["batch_id"], entry_reference(entry_id))
    elif problem.get("code") == ProblemCode.CONFLICT:
        return await _to_the_entrys_batch(request, user, entry, str(made_id), entry_reference(entry_id))
    else:
        try:
            made = await calls(request, user).batch(made_id)
        except (NotFound, Refused, Unavailable):  # linked all the same: its page says what it can
            made = {"batch_id": str(made_id)}
    again = {**values, "entry_id": str(uuid.uuid4())}
    return _entry_page(request, user, again, {}, warnings, 409, sent_before={"batch": made})


async def _same_entry_sent_lately(request: Request, user: AoUser, entry: Entry, entry_id: str) -> dict[str, Any] | None:
    """The AO's direct-entry batch of the last SAME_ENTRY_WITHIN that holds this same entry, sent from another form
    than this one, if among its newest SAME_ENTRY_LOOKED_FOR: its file is the one this entry makes under that batch's
    reference (each form's own id gives the reference, so the files differ in it alone). This form's own batch (a
    second click on Send) is left to ingest, which answers it with that batch; one that recorded nothing and will
    not is passed over. None when there is none, or the batches cannot be listed just now (the entry is then sent)."""
    assert user.account.ao_id is not None
    try:
        newest = await calls(request, user).batches(page=1, page_size=SAME_ENTRY_LOOKED_FOR)
    except KeyRejected:
        raise
    except ServiceError:
        return None
    since = datetime.now(UTC) - SAME_ENTRY_WITHIN
    for batch in newest.get("items") or ():
        if (
            batch.get("idempotency_key") == f"portal-entry-{entry_id}"
            or batch.get("status") in _NOTHING_RECORDED
            or batch.get("not_published")
            or not is_direct_entry(batch)
            or not _received_since(batch, since)
        ):
            continue
        same = batch_file(entry_batch(entry, user.account.ao_id, str(batch.get("batch_reference"))))
        if hashlib.sha256(same).hexdigest() == batch.get("content_sha256"):
            return dict(batch)
    return None


def _received_since(batch: Mapping[str, Any], since: datetime) -> bool:
    try:
        received = datetime.fromisoformat(str(batch.get("received_at")))
    except ValueError:
        return False
    return received.tzinfo is not None and received >= since


async def _entry_batch_among_the_newest(request: Request, user: AoUser, entry_id: str) -> dict[str, Any] | None:
    """The batch the form's key made, if among the AO's newest: for a 409 that names none (an ingest of the release
    before IDEMPOTENCY_KEY_REUSED, during a rollout)."""
    key = f"portal-entry-{entry_id}"
    try:
        newest = await calls(request, user).batches(page=1, page_size=SENT_BEFORE_LOOKED_FOR)
    except (Refused, Unavailable):  # the page says the form was sent, and where to look for the batch
        return None
    return next((batch for batch in newest["items"] if batch.get("idempotency_key") == key), None)


# --- learners ----------------------------------------------------------------------------------


def _learner_page(
    request: Request,
    user: Any,
    uln: str,
    names: dict[str, str],
    errors: dict[str, str],
    plr: Any,
    open_: Any,
    after_batch: uuid.UUID | None = None,
    batch_shown: str | None = None,
    *,
    look_up_ended: bool = False,
    look_up_id: str | None = None,
) -> HTMLResponse:
    """`after_batch`: the batch the person came from, kept in the form; `batch_shown`, whether the record read shows
    it: "yes", "none" (the projector has the batch, and none of it is on this record), "pending" (not yet).
    `open_` is None when the challenges service did not answer; `look_up_ended`, a look-up's address the session
    holds no look-up for (ended with a session, forgotten, or never made); `look_up_id`, the look-up whose record
    is shown, which its buttons name."""
    # each achievement's buttons to the direct-entry form: they post the look-up's id and the achievement's, and the
    # form is filled in from the record read again (`_prefilled_from_the_record`), so a learner of hundreds of
    # achievements is not a page repeating the learner and every field in two forms of each
    actions = {}
    if plr is not None and not plr.get("learner_erased"):  # an erased learner's records are all refused RV004
        for event in plr["learning_events"]:
            actions[event["id"]] = (
                (RecordAction.REINSTATE,) if event.get("withdrawn") else (RecordAction.UPDATE, RecordAction.WITHDRAW)
            )
    context = {
        "uln": uln,
        "names": names,
        "errors": errors,
        "plr": plr,
        "open": open_ or {},
        "challenges_unavailable": open_ is None,
        "look_up_ended": look_up_ended,
        "actions": actions,
        "look_up_id": look_up_id,
        # a learner of more than one ULN (merges): each achievement then says which it is recorded under
        "several_ulns": plr is not None and len(_ulns_shown(plr)) > 1,
        "after_batch": after_batch,
        "batch_shown": batch_shown,
        # a look-up refused, drawn as the POST's answer: Back and reload ask the empty form by GET (with script), not
        # the browser to send the ULN again; one accepted is shown by GET (`learner_found`)
        "drawn_from_post": request.method == "POST",
    }
    return render(request, "learner.html", context, user=user, status_code=400 if errors else 200)


def _recorded_under(plr: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """The ULN the achievement is recorded under (the ULN looked up, for a read that does not say)."""
    return str(event.get("uln") or plr["uln"])


def _ulns_shown(plr: Mapping[str, Any]) -> set[str]:
    """The learner's ULNs the page shows: the one looked up, the others the read names, each achievement's."""
    return {plr["uln"], *(plr.get("ulns") or ()), *(_recorded_under(plr, event) for event in plr["learning_events"])}


def _batch_id(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


@router.get("/learners")
async def learner_search(
    request: Request, user: AoUser, after_batch: Annotated[str | None, Query(max_length=36)] = None
) -> HTMLResponse:
    """`after_batch`: from a batch page, whose batch the learner's record is then read after (decision 0012)."""
    return _learner_page(request, user, "", {}, {}, None, {}, _batch_id(after_batch))


@router.post("/learners")
async def learner_look_up(request: Request, user: AoUser) -> Response:
    """A POST, so that ULNs stay out of addresses, browser history and access logs. The names are the AO's own
    (the PLR holds none): typed here, they fill in the direct-entry form its Update, Withdraw and Reinstate buttons
    open (posted too: `/direct-entry/prefilled`). A look-up refused is the form again, saying why; one accepted is
    kept in the session, and the browser sent to its page (`learner_found`), which Back and reload ask by GET."""
    form = await checked_form(request, user)
    uln = field(form, "uln").replace(" ", "")
    names = {name: field(form, name).strip() for name in NAMES}
    errors = {}
    if not ULN.fullmatch(uln):
        errors["uln"] = "Enter a ULN of 10 digits, the first not 0, like 1000000043"
    elif refusal := why_no_learner_has(uln):  # a wrong check digit (RV002) or the temporary ULN: no learner has it
        # said of what was just typed (not masked), in a look-up's words: `check_uln`'s are a batch record's
        errors["uln"] = refusal.reason
    for name, label in zip(NAMES, ("given name", "family name"), strict=True):
        if name_length(names[name]) > NAME_LIMIT:
            errors[name] = f"The {label} must be {NAME_LIMIT} characters or fewer"
        elif refused := refused_character(names[name], one_line=True):
            errors[name] = f"The {label} holds {refused}: type it again"
    after_batch = _batch_id(field(form, "after_batch"))
    if errors:
        return _learner_page(request, user, uln, names, errors, None, {}, after_batch)
    look_up_id = secrets.token_urlsafe(LOOK_UP_ID_BYTES)
    look_up = {
        "base": base(request),
        "uln": uln,
        "names": names,
        "after_batch": str(after_batch) if after_batch else None,
    }
    await portal_of(request).auth.add_look_up(user, look_up_id, look_up, LOOK_UPS_KEPT)
    return see_other(f"{base(request)}/learners/found/{look_up_id}")


@router.get("/learners/found/{look_up_id}")
async def learner_found(request: Request, look_up_id: str, user: AoUser) -> HTMLResponse:
    """The learner a look-up of this session found, read afresh each time it is asked (a reload shows the record as
    it is now); the empty form for an id the session does not hold (another person's, one of an ended session's, one
    of the oldest, forgotten). The id is random: the address names no learner."""
    look_up = (await portal_of(request).auth.look_ups(user)).get(look_up_id)
    # a Sandpit look-up is not the live one's, and a direct entry kept (`KEPT_ENTRY`) is none
    if look_up is None or look_up.get("base") != base(request) or "entry" in look_up:
        return _learner_page(request, user, "", {}, {}, None, {}, look_up_ended=True)
    uln, names, after_batch = look_up["uln"], look_up["names"], _batch_id(look_up["after_batch"])
    service = calls(request, user)
    batch_shown = None
    try:
        plr = await service.ao_achievements(uln, after_batch, wait_ms=LEARNER_WAIT_MS if after_batch else None)
        if after_batch is not None:
            applied = (plr.get("consistency") or {}).get("batch_events_applied")
            batch_shown = "yes" if applied else "none"
    except Unavailable as unavailable:
        # Asked again only when the projector answered that it waited for the batch and saw none of it (the
        # batch may have put nothing on the record): after a timeout the person would wait as long again, and a
        # struggling projector would get the query twice. The record is then shown as it is, saying so.
        if unavailable.problem.get("code") != ProblemCode.PROJECTION_PENDING:
            raise
        plr = await service.ao_achievements(uln)
        batch_shown = "pending"
    open_challenges: dict[str, Any] | None = {}
    if not in_sandpit(request):
        try:  # the record is what the page is for: open challenges the challenges service cannot give are said missing
            open_challenges = {
                challenge["achievement_id"]: challenge
                for challenge in await service.every_challenge(
                    OPEN_STATES, ulns=plr.get("ulns", [uln]), timeout=SIDE_FIGURE_SECONDS
                )
            }
        except KeyRejected:
            raise
        except ServiceError:
            open_challenges = None
    return _learner_page(
        request, user, uln, names, {}, plr, open_challenges, after_batch, batch_shown, look_up_id=look_up_id
    )


# --- challenges --------------------------------------------------------------------------------

_CORRECTING_BATCH_CODES = (ProblemCode.CORRECTING_BATCH_REQUIRED, ProblemCode.CORRECTING_BATCH_DOES_NOT_FIT)
_REASON_NEEDED = "Give the reason, in words the learner will understand"


def _achievement_shown(challenge: dict[str, Any], catalogue: Catalogue) -> dict[str, Any] | None:
    """What a person recognises the challenged achievement by: its QAN as written, its title (the challenge's,
    else the catalogue's), award date and grade; None for a challenge raised before these were kept.

    The grade is the one the achievement had when the challenge was raised (decision 0142 copies it onto the
    challenge then): a correction may since have changed it, so it is shown as the grade when raised."""
    achievement = challenge.get("achievement")
    if not achievement:
        return None
    qan = achievement["qualification_number"]
    title = achievement.get("title") or next((row.title for row in catalogue.rows_for(qan)), None)
    return {
        "qan": display_qan(qan),
        "title": title,
        "award_date": long_date(achievement["award_date"]),
        "grade_when_raised": achievement.get("grade"),
        # Provisional or Final when raised (decision 0183); none for a challenge raised before it was kept
        "status_when_raised": RESULT_STATUS_WORDS.get(achievement.get("status") or ""),
        # the rest of its data when raised, named as the learner's record names it (learner.html); none where the
        # achievement had none, or the challenge was raised before they were kept and the achievement changed since
        "pathway": achievement.get("pathway"),
        "centre_ukprn": achievement.get("achievement_provider_ukprn"),
        "language_for_assessment": achievement.get("language_for_assessment"),
        "credits": achievement.get("credits"),
    }


RESULT_STATUS_WORDS = {"P": "Provisional", "F": "Final"}


def _shown(request: Request, challenges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    catalogue = portal_of(request).catalogue
    return [{**challenge, "shown": _achievement_shown(challenge, catalogue)} for challenge in challenges]


@router.get("/challenges")
async def challenge_inbox(
    request: Request, user: AoUser, after: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    """The open challenges a page at a time, newest first, and the latest resolved ones."""
    service = calls(request, user)
    try:
        open_ones = await service.challenges(OPEN_STATES, after=after, limit=INBOX_PAGE)
    except Refused:  # a position no page handed out (a hand-made link): start again at the newest
        return see_other("/challenges")
    resolved = await service.challenges(("resolved",), limit=20)
    assert user.account.ao_id is not None
    context = {
        "has_contact": await has_challenge_contact(service, user.account.ao_id),
        "open_challenges": _shown(request, open_ones["items"]),
        "older": open_ones["next"],
        "newest_first_page": after is None,
        "resolved": _shown(request, resolved["items"]),
    }
    return render(request, "challenges.html", context, user=user)


@router.get("/challenges/resolved")
async def resolved_challenges(
    request: Request, user: AoUser, after: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    """Every resolved challenge a page at a time, newest first."""
    try:
        resolved = await calls(request, user).challenges(("resolved",), after=after, limit=INBOX_PAGE)
    except Refused:  # a position no page handed out (a hand-made link): start again at the newest
        return see_other("/challenges/resolved")
    context = {
        "resolved": _shown(request, resolved["items"]),
        "older": resolved["next"],
        "newest_first_page": after is None,
    }
    return render(request, "challenges_resolved.html", context, user=user)


async def _challenge_page(
    request: Request,
    user: Any,
    challenge_id: uuid.UUID,
    errors: dict[str, str],
    values: dict[str, str],
    status: int = 200,
    *,
    read: dict[str, Any] | None = None,
    not_recorded: dict[str, Any] | None = None,
) -> HTMLResponse:
    """`read`: the challenge, read already; `not_recorded`: the resolution this person sent, refused as another was
    recorded first (`resolution`, `note`), which the page says was not recorded or sent, keeping the note typed."""
    service = calls(request, user)
    challenge = read if read is not None else await service.challenge(challenge_id)
    ao_id: str = user.account.ao_id
    batches: list[dict[str, Any]] = []
    if challenge["state"] != "resolved":
        # The batches the challenges service takes as its correction (decision 0142), named as the AO's latest
        # batches name them where they are among them.
        known = {b["batch_id"]: b for b in (await service.batches(page=1, page_size=50))["items"]}
        batches = [
            {"batch_reference": None, **known.get(found["batch_id"], {}), **found}
            for found in await service.correcting_batches(challenge_id)
        ]
    context = {
        "challenge": challenge,
        "achievement": _achievement_shown(challenge, portal_of(request).catalogue),
        "answered_with": await _answered_with(request, challenge, ao_id),
        "batches": batches,
        "errors": errors,
        "values": values,
        "not_recorded": not_recorded,
    }
    return render(request, "challenge.html", context, user=user, status_code=status)


# how the challenges service tells the AO that it acted itself (decision 0169): "an LRS operator" and "the learner"
# otherwise, whose keys it is never told
BY_THE_AO = "the awarding organisation"


async def _answered_with(request: Request, challenge: Mapping[str, Any], ao_id: str) -> dict[str, Any]:
    """The AO's own keys the challenge was acknowledged and resolved with (`acknowledged_with_key`,
    `resolved_with_key`, which the challenges service tells the AO only for its own actions), by act, each as
    `own_key` names it. An act whose key is not recorded (one before keys were kept, or restored from the log) or not
    found among the AO's is left out: the page says "the awarding organisation", as the service does."""
    used = {
        act: challenge.get(f"{act}_with_key")
        for act in ("acknowledged", "resolved")
        if challenge.get(f"{act}_by") == BY_THE_AO and challenge.get(f"{act}_with_key")
    }
    keys = list(dict.fromkeys(used.values()))  # one key that did both, read once
    named = dict(zip(keys, await asyncio.gather(*(own_key(request, key_id, ao_id) for key_id in keys)), strict=True))
    return {act: key for act, key_id in used.items() if (key := named[key_id]) is not None and key.get("known")}


@router.get("/challenges/{challenge_id}")
async def challenge_page(request: Request, challenge_id: uuid.UUID, user: AoUser) -> HTMLResponse:
    return await _challenge_page(request, user, challenge_id, {}, {})


def _already(refused: Refused, state: str) -> bool:
    """The challenges service refused because the challenge is in `state` already: a second click, or
    another person of the AO was first."""
    return refused.problem.get("state") == state


@router.post("/challenges/{challenge_id}/acknowledge")
async def acknowledge(request: Request, challenge_id: uuid.UUID, user: AoUser) -> Response:
    await checked_form(request, user)
    try:
        await calls(request, user).acknowledge_challenge(challenge_id)
    except Refused as refused:
        if not _already(refused, "acknowledged"):
            raise
    return see_other(f"/challenges/{challenge_id}?done=acknowledged")


# the resolutions an AO gives: `withdrawn` is the learner's alone (decision 0194), never offered or taken here
_AO_RESOLUTIONS = tuple(each for each in ChallengeResolution if each is not ChallengeResolution.WITHDRAWN)


@router.post("/challenges/{challenge_id}/resolve")
async def resolve(request: Request, challenge_id: uuid.UUID, user: AoUser) -> Response:
    form = await checked_form(request, user)
    values = {name: field(form, name) for name in ("resolution", "batch_id", "other_batch_id", "reason")}
    # a browser sends a textarea's line breaks as CR LF: the note is counted and kept with the learner's line ends
    values["reason"] = values["reason"].replace("\r\n", "\n").replace("\r", "\n")
    errors: dict[str, str] = {}
    resolution = values["resolution"]
    if resolution not in _AO_RESOLUTIONS:
        errors["resolution"] = "Choose how the challenge was resolved"
    correcting: uuid.UUID | None = None
    if resolution == ChallengeResolution.CORRECTED:
        correcting, batch_errors = _correcting_batch(values)
        errors |= batch_errors
    # whether a reason is needed is the challenges service's to say (RESOLUTION_NOTE_REQUIRED below): none for an
    # erased learner, whose page offers no reason box
    if len(values["reason"]) > CHALLENGE_TEXT_MAX_LENGTH:
        errors["reason"] = f"The note must be {CHALLENGE_TEXT_MAX_LENGTH:,} characters or fewer"
    if refused := refused_character(values["reason"], one_line=False):
        errors["reason"] = f"The reason holds {refused}: type it again"
    if errors:
        return await _challenge_page(request, user, challenge_id, errors, values, 400)
    # the note is the AO's words for the learner alone: the correcting batch goes in correcting_batch_id, which the
    # AO's pages show (and link) beside the resolution; its id means nothing to the learner who reads the note
    note = values["reason"] or None
    batch_field = "other_batch_id" if values["other_batch_id"] else "batch_id"
    try:
        await calls(request, user).resolve_challenge(challenge_id, resolution, note, correcting)
    except Refused as refused:
        if _already(refused, "resolved"):
            return await _resolved_first(request, user, challenge_id, values, note, correcting)
        if refused.problem.get("code") in _CORRECTING_BATCH_CODES:  # the service judged the batch
            return await _challenge_page(request, user, challenge_id, {batch_field: refused.detail}, values, 400)
        if refused.problem.get("code") == ProblemCode.RESOLUTION_NOTE_REQUIRED:  # nothing visible in what was typed
            return await _challenge_page(request, user, challenge_id, {"reason": _REASON_NEEDED}, values, 400)
        raise
    except Unavailable as unavailable:
        if unavailable.problem.get("code") != ProblemCode.PROJECTION_PENDING:
            raise
        pending = "That batch is not yet known to the challenges service: try again in a moment"
        return await _challenge_page(request, user, challenge_id, {batch_field: pending}, values, 503)
    return see_other(f"/challenges/{challenge_id}?done=resolved")


async def _resolved_first(
    request: Request,
    user: AoUser,
    challenge_id: uuid.UUID,
    values: dict[str, str],
    note: str | None,
    correcting: uuid.UUID | None,
) -> Response:
    """A resolution refused because the challenge is resolved already. Resolved as this one says (a second click: the
    first recorded it), to its page, which shows how. Resolved otherwise (a colleague of the AO was first, or the
    learner withdrew it): its page, saying that this resolution and note were not recorded nor sent to the learner, the
    note typed kept on it (the page of a resolved challenge has no form to keep it in). A challenge that cannot be read
    just now: to its page, which says what it can."""
    try:
        challenge = await calls(request, user).challenge(challenge_id)
    except (NotFound, Refused, Unavailable):
        return see_other(f"/challenges/{challenge_id}")
    if _resolved_as(challenge, values["resolution"], note, correcting):
        return see_other(f"/challenges/{challenge_id}")
    sent = {"resolution": values["resolution"], "note": note}
    return await _challenge_page(request, user, challenge_id, {}, values, 409, read=challenge, not_recorded=sent)


def _resolved_as(challenge: Mapping[str, Any], resolution: str, note: str | None, correcting: uuid.UUID | None) -> bool:
    """Whether the challenge was resolved as `resolution`, `note` and `correcting` say (its lines' ends aside: a
    browser sends a textarea's as CR LF)."""

    def lines(text: object) -> str:
        said = str(text or "")
        return said.replace("\r\n", "\n").strip() if has_visible_text(said) else ""

    recorded_batch = str(challenge.get("correcting_batch_id") or "").lower()
    return (
        challenge.get("resolution") == resolution
        and lines(challenge.get("note")) == lines(note)
        and recorded_batch == (str(correcting) if correcting is not None else "")
    )


def _correcting_batch(values: dict[str, str]) -> tuple[uuid.UUID | None, dict[str, str]]:
    """The batch the form names as the correction, or what is wrong with how it names it: one of the listed
    ones, or another by its id. Whether it corrected the challenged achievement is the challenges service's
    to judge (decision 0142): a list choice is as open to tampering as a typed id."""
    chosen, typed = values["batch_id"], values["other_batch_id"]
    if not chosen and not typed:
        return None, {"batch_id": "Choose the batch that corrected the data, or enter its id"}
    if chosen and typed and chosen != typed:
        return None, {"other_batch_id": "Choose a batch from the list or enter an id, not both"}
    try:
        return uuid.UUID(typed or chosen), {}
    except ValueError:
        if not typed:
            return None, {"batch_id": "Choose a batch from the list"}
        return None, {
            "other_batch_id": "Enter the batch's id as its page shows it, like 0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35"
        }


# --- challenge contact -------------------------------------------------------------------------

CONTACT_FIELDS = ("given_name", "family_name", "telephone", "email")


async def contact_changed(request: Request, stored: dict[str, Any] | None, ao_id: str) -> dict[str, Any] | None:
    """Who last changed the AO's challenge contact, as the notifier tells the AO (`updated_by`, `updated_with_key`):
    the AO itself, with the key its own identity store names (a portal user's session key: the person), or "an LRS
    operator", of whom no more is told. None when the notifier says nobody (one older than `updated_by`)."""
    by = (stored or {}).get("updated_by")
    if stored is None or not by:
        return None
    if by != f"ao:{ao_id}":
        return {"at": stored.get("updated_at"), "by_the_ao": False, "by": by, "key": None}
    key = await own_key(request, stored.get("updated_with_key"), ao_id)
    return {"at": stored.get("updated_at"), "by_the_ao": True, "by": ao_id, "key": key}


@router.get("/contact")
async def contact_form(request: Request, user: AoUser) -> HTMLResponse:
    assert user.account.ao_id is not None
    stored = await calls(request, user).challenge_contact(user.account.ao_id)
    values = {name: (stored or {}).get(name, "") for name in CONTACT_FIELDS}
    saved = request.query_params.get("saved") == "1"
    changed = await contact_changed(request, stored, user.account.ao_id)
    context = {"values": values, "errors": {}, "saved": saved, "stored": stored, "changed": changed}
    return render(request, "contact.html", context, user=user)


@router.post("/contact")
async def contact_save(request: Request, user: AoUser) -> Response:
    form = await checked_form(request, user)
    values = {name: field(form, name) for name in CONTACT_FIELDS}
    errors: dict[str, str] = {}
    if not values["given_name"]:
        errors["given_name"] = "Enter the contact's given name"
    elif len(values["given_name"]) > 100:
        errors["given_name"] = "The given name must be 100 characters or fewer"
    elif not has_visible_text(values["given_name"]):
        errors["given_name"] = "Enter the contact's given name: this holds only characters that show as nothing"
    if not values["family_name"]:
        errors["family_name"] = "Enter the contact's family name"
    elif len(values["family_name"]) > 100:
        errors["family_name"] = "The family name must be 100 characters or fewer"
    elif not has_visible_text(values["family_name"]):
        errors["family_name"] = "Enter the contact's family name: this holds only characters that show as nothing"
    if not TELEPHONE.fullmatch(values["telephone"]):
        errors["telephone"] = "Enter a telephone number, like 01632 960 001 or +44 808 157 0192"
    if not is_plausible_email(values["email"]):
        errors["email"] = "Enter an email address in the correct format, like name@example.org"
    for name, value in values.items():
        if refused := refused_character(value, one_line=True):  # what is wrong first of all
            errors[name] = f"This holds {refused}: type it again"
    assert user.account.ao_id is not None
    if errors:
        stored = await calls(request, user).challenge_contact(user.account.ao_id)  # as it stands: the form's not saved
        return render(
            request,
            "contact.html",
            {
                "values": values,
                "errors": errors,
                "saved": False,
                "stored": stored,
                "changed": await contact_changed(request, stored, user.account.ao_id),
            },
            user=user,
            status_code=400,
        )
    await calls(request, user).set_challenge_contact(user.account.ao_id, values)
    return see_other("/contact?saved=1")


# --- MI ----------------------------------------------------------------------------------------


# How many months the MI can show, up to this one.
MI_MONTHS = range(1, 25)


def _mi_months(months: Annotated[int, Query()] = 6) -> int:
    """The months asked for; a number out of range refused in words naming the range, not as a page not found."""
    if months not in MI_MONTHS:
        raise PageError(
            "bad_form",
            f"The MI shows from {MI_MONTHS[0]} to {MI_MONTHS[-1]} months up to this one, not {months}: choose how many"
            " under \u201cMonths to show\u201d.",
        )
    return months


MiMonths = Annotated[int, Depends(_mi_months)]


MI_REPORTS = ("submissions", "timeliness", "plr-timeliness", "rejections", "challenges")
"""Reporting's reports the MI is drawn from, each asked once for all the months shown."""

CHART_REPORTS: dict[str, tuple[str, ...]] = {
    "batches": ("submissions",),
    "records": ("submissions",),
    "rejections": ("submissions",),
    "rejections-by-month": ("rejections",),
    "timeliness": ("timeliness",),
    "plr-timeliness": ("plr-timeliness",),
    "challenges": ("challenges",),
    "challenge-days": ("challenges",),
}
"""The reports each chart of `portal.mi.CHARTS` is drawn from: its CSV download asks for those only."""


async def gather_mi(
    service: ServiceCalls, months: int, ao_id: str | None = None, *, reports: Sequence[str] = MI_REPORTS
) -> MiData:
    """The reports behind the MI charts for the `months` up to this one: the person's AO's, or an operator's
    `ao_id`'s (None: every AO's). Each of `reports` (default: every one; a chart's CSV: its own) is asked once for
    all the months, the reports at once (scale review, finding 1: a call per month and report, one after another,
    made 51 calls for 24 months); submissions and timeliness come back per AO and month, and are shown month by
    month as each month's own answer was. Partial when a report says its figures are (`complete` false: reporting's
    store is being rebuilt, decision 0161, or holds messages in its dead letters): a state of the whole store, which
    the reports are all read from at once; nothing said (a service from before `complete`) is not partial."""
    periods = months_ending(datetime.now(UK).date(), months)
    first, last = periods[0], periods[-1]
    asked = list(dict.fromkeys(reports))
    answered = await asyncio.gather(*(service.report_months(report, first, last, ao_id) for report in asked))
    answers = dict(zip(asked, answered, strict=True))

    def items(report: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = answers[report]["items"] if report in answers else []
        return found

    def by_month(report: str) -> dict[str, list[dict[str, Any]]]:
        """A month's items under each month shown (none: an empty list), in the order the report gives them."""
        monthly: dict[str, list[dict[str, Any]]] = {period: [] for period in periods}
        for item in items(report):
            if item["period"] in monthly:
                monthly[item["period"]].append(item)
        return monthly

    return MiData(
        periods,
        by_month("submissions"),
        by_month("timeliness"),
        plr_timeliness=items("plr-timeliness"),
        rejections=items("rejections"),
        challenges=items("challenges"),
        partial=any(answer.get("complete") is False for answer in answers.values()),
        held_in_dead_letters=max(
            (int((answer.get("held_in_dead_letters") or {}).get("count", 0)) for answer in answers.values()), default=0
        ),
    )


def chart_download(chart: str, data: MiData, *, of: str | None = None) -> Response:
    """One chart's numbers as CSV; `of`: whose they are, in the file's name (an operator's download)."""
    named = f"-{of}" if of else ""
    return Response(
        chart_csv(CHARTS[chart](data)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="lrs-{chart}{named}-{data.periods[0]}-to-{data.periods[-1]}.csv"'
            )
        },
    )


@router.get("/mi")
async def mi_page(request: Request, user: AoUser, months: MiMonths) -> HTMLResponse:
    data = await gather_mi(calls(request, user), months)
    charts = [(name, build(data)) for name, build in CHARTS.items()]
    return render(request, "mi.html", {"charts": charts, "months": months, "data": data}, user=user)


@router.get("/mi/{chart}.csv")
async def mi_csv(request: Request, chart: str, user: AoUser, months: MiMonths) -> Response:
    if chart not in CHARTS:
        raise PageError("not_found")
    return chart_download(chart, await gather_mi(calls(request, user), months, reports=CHART_REPORTS[chart]))
