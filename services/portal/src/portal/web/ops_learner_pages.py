"""Operators' pages for a learner's record and for challenges (the support duty), for the service desk: a learner's
PLR as the projector gives it to an operator, each achievement's versions with the batch that made each (what
`lrs plr show ULN --withdrawn --history` shows), and any AO's challenges with its challenge contact and whether each
one's notice to the AO is held (`lrs challenges list --ao`, `lrs challenges waiting`). The services' own routes answer
them, with the operator's session key: every one of them needs the `support` scope, as the duty the pages need.

A ULN stays out of addresses, browser history and access logs, as on the AO's learner pages: a look-up is posted,
kept sealed in the session under a random id (`Authentication.add_look_up`), and its page's address holds that id."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from lrs_domain.identifiers import display_qan
from lrs_domain.rules import why_no_learner_has
from lrs_platform.clock import long_day
from portal.auth import SignedIn
from portal.backend import KeyRejected, Refused, ServiceCalls, ServiceError
from portal.web.common import (
    SupportOperator,
    calls,
    checked_form,
    field,
    navigation,
    portal_of,
    render,
    see_other,
)
from portal.web.dashboard import SIDE_FIGURE_SECONDS
from portal.web.key_names import key_named
from portal.web.support_pages import ao_asked

router = APIRouter(include_in_schema=False)

LEARNERS = "/ops/learners"
CHALLENGES = "/ops/challenges"
DEAD_LETTERS = "/ops/dead-letters"
ERASURES = "/ops/erasures"
# What an operator's look-up is kept as, among the session's (the AO pages' are "" and "/sandpit"): an AO's learner
# page never shows it, nor this page one of theirs.
LOOK_UP_BASE = "/ops"
LOOK_UPS_KEPT = 20  # as the AO's learner page keeps: the newest so many of the session
LOOK_UP_ID_BYTES = 12
ULN_TYPED = re.compile(r"[1-9][0-9]{9}")
ULN_MISTYPED = "Enter the learner's ULN: 10 digits, the first not 0, like 1000000043"
OPEN_STATES = ("raised", "acknowledged")
# the state filter of the challenges page: its value in the address, its words, the states asked for
STATE_CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "open": ("Open (raised or acknowledged)", OPEN_STATES),
    "raised": ("Raised", ("raised",)),
    "acknowledged": ("Acknowledged", ("acknowledged",)),
    "resolved": ("Resolved", ("resolved",)),
    "any": ("Any state", ()),
}
CHALLENGES_PAGE = 50
RESULT_STATUS_WORDS = {"P": "Provisional", "F": "Final"}


# --- a learner's record --------------------------------------------------------------------------------------


def uln_error(typed: str) -> str | None:
    """What is wrong with a ULN an operator typed, as `lrs plr show` judges it (`checked_uln`): 10 digits, the first
    not 0, not the temporary ULN, its check digit right; None for one a learner may have."""
    if not ULN_TYPED.fullmatch(typed):
        return ULN_MISTYPED
    refusal = why_no_learner_has(typed)
    return refusal.reason if refusal else None


def _reachable(user: SignedIn) -> set[str]:
    """The operator pages the person's duties reach: links go only to those."""
    return {path for path, _ in navigation(user)}


def _learner_page(
    request: Request,
    user: SignedIn,
    *,
    uln: str = "",
    errors: dict[str, str] | None = None,
    plr: dict[str, Any] | None = None,
    open_challenges: dict[str, dict[str, Any]] | None = None,
    look_up_ended: bool = False,
    erased_on: str | None = None,
) -> HTMLResponse:
    """`open_challenges` is None when the challenges service did not answer. `erased_on`: the day an erased learner
    was erased (`5 December 2026`), when validation's erasure audit said it."""
    events = (plr or {}).get("learning_events") or []
    ulns = {(plr or {}).get("uln"), *((plr or {}).get("ulns") or ()), *(event.get("uln") for event in events)}
    context = {
        "uln": uln,
        "errors": errors or {},
        "plr": plr,
        "awarded": [event for event in events if event.get("source") != "ILR"],
        "reported": [event for event in events if event.get("source") == "ILR"],
        "several_ulns": plr is not None and len(ulns - {None}) > 1,
        "open": open_challenges or {},
        "challenges_unavailable": plr is not None and open_challenges is None,
        "look_up_ended": look_up_ended,
        "erased_on": erased_on,
        "result_status": RESULT_STATUS_WORDS,
        "reachable": _reachable(user),
        "drawn_from_post": request.method == "POST",
    }
    return render(request, "ops_learner.html", context, user=user, status_code=400 if errors else 200)


@router.get(LEARNERS)
async def learner_search(request: Request, user: SupportOperator) -> HTMLResponse:
    return _learner_page(request, user)


@router.post(LEARNERS)
async def learner_look_up(request: Request, user: SupportOperator) -> Response:
    """A POST, so that the ULN stays out of addresses, browser history and access logs. A ULN refused is the form
    again, saying why; one accepted is kept in the session and the browser sent to its page (`learner_found`)."""
    form = await checked_form(request, user)
    uln = field(form, "uln").replace(" ", "")
    if error := uln_error(uln):
        return _learner_page(request, user, uln=uln, errors={"uln": error})
    look_up_id = secrets.token_urlsafe(LOOK_UP_ID_BYTES)
    await portal_of(request).auth.add_look_up(user, look_up_id, {"base": LOOK_UP_BASE, "uln": uln}, LOOK_UPS_KEPT)
    return see_other(f"{LEARNERS}/found/{look_up_id}")


@router.get(LEARNERS + "/found/{look_up_id}")
async def learner_found(request: Request, look_up_id: str, user: SupportOperator) -> HTMLResponse:
    """The learner a look-up of this session found, read afresh each time; the empty form for an id the session
    does not hold. The id is random: the address names no learner."""
    look_up = (await portal_of(request).auth.look_ups(user)).get(look_up_id)
    if look_up is None or look_up.get("base") != LOOK_UP_BASE:
        return _learner_page(request, user, look_up_ended=True)
    uln = str(look_up["uln"])
    service = calls(request, user)
    plr = await service.operator_plr(uln)
    open_challenges: dict[str, dict[str, Any]] | None
    try:  # the record is what the page is for: open challenges the challenges service cannot give are said missing
        open_challenges = {
            str(challenge["achievement_id"]): challenge
            for challenge in await service.every_challenge(
                OPEN_STATES, ulns=plr.get("ulns") or [uln], timeout=SIDE_FIGURE_SECONDS
            )
        }
    except KeyRejected:
        raise
    except ServiceError:
        open_challenges = None
    # the day, of validation's audit, for an operator with the erasure duty (any other's key is refused it)
    erased_on = await _erased_on(service, uln) if plr.get("erased") and ERASURES in _reachable(user) else None
    return _learner_page(request, user, uln=uln, plr=plr, open_challenges=open_challenges, erased_on=erased_on)


async def _erased_on(service: ServiceCalls, uln: str) -> str | None:
    """The day the learner was erased, as validation's erasure audit says it to an operator with the erasure duty;
    None when it does not (another operator's key, validation away): the page says the learner was erased without
    the day (the projector, which says it, does not keep when)."""
    try:
        erasure = (await service.erasure_reach(uln)).get("erasure") or {}
    except KeyRejected:
        raise
    except ServiceError:
        return None
    erased_at = erasure.get("erased_at")
    return long_day(erased_at) if isinstance(erased_at, str) else None


# --- challenges ----------------------------------------------------------------------------------------------


class ContactState(NamedTuple):
    """An AO's challenge contact as the desk needs it: `state` "set", "none" (its notices wait for one), "refused"
    (its mailbox refused them for good: the AO must give another address) or "unknown" (the notifier did not
    answer); `contact` when set; `held`, its notices waiting and since when."""

    state: str
    contact: dict[str, Any] | None = None
    held: dict[str, Any] | None = None


def days_open(challenge: dict[str, Any], now: datetime) -> int:
    """Whole days from its raising to its resolution, or to now while it is open (calendar days: the portal has no
    calendar of bank holidays)."""
    raised = datetime.fromisoformat(str(challenge["raised_at"]))
    ended = challenge.get("resolved_at")
    until = datetime.fromisoformat(str(ended)) if ended else now
    return max(0, (until - raised).days)


def achievement_said(challenge: dict[str, Any]) -> dict[str, Any] | None:
    """The challenged achievement as a person recognises it, as it was when raised; None for a challenge raised
    before it was kept."""
    achievement = challenge.get("achievement")
    if not achievement:
        return None
    return {
        "qan": display_qan(str(achievement["qualification_number"])),
        "title": achievement.get("title"),
        "award_date": achievement.get("award_date"),
        "grade": achievement.get("grade"),
        "status": RESULT_STATUS_WORDS.get(achievement.get("status") or ""),
    }


async def _contact_states(
    service: ServiceCalls, ao_ids: set[str], held: list[dict[str, Any]] | None
) -> dict[str, ContactState]:
    """Each AO's challenge contact, asked of the notifier for all at once."""
    waiting = {str(row["ao_id"]): row for row in held or ()}

    async def state_of(ao_id: str) -> ContactState:
        try:
            contact = await service.challenge_contact(ao_id)
        except KeyRejected:
            raise
        except ServiceError:
            return ContactState("unknown", held=waiting.get(ao_id))
        if contact is None:
            return ContactState("none", held=waiting.get(ao_id))
        refused = bool(waiting.get(ao_id, {}).get("contact_refused"))
        return ContactState("refused" if refused else "set", contact, waiting.get(ao_id))

    ordered = sorted(ao_ids)
    try:
        async with asyncio.timeout(SIDE_FIGURE_SECONDS):
            found = await asyncio.gather(*(state_of(ao_id) for ao_id in ordered))
    except TimeoutError:
        return {ao_id: ContactState("unknown", held=waiting.get(ao_id)) for ao_id in ordered}
    return dict(zip(ordered, found, strict=True))


async def _notices_held(
    service: ServiceCalls, challenges: list[dict[str, Any]], held: list[dict[str, Any]] | None
) -> dict[str, bool | None]:
    """Whether each challenge's notice to its AO is held (True), not held (False) or not known (None). Only the
    challenges of an AO with notices held are asked of the notifier one by one: no other AO's can be."""
    if held is None:
        return {str(challenge["challenge_id"]): None for challenge in challenges}
    holding = {str(row["ao_id"]) for row in held}
    asked = [str(challenge["challenge_id"]) for challenge in challenges if str(challenge["ao_id"]) in holding]

    async def held_one(challenge_id: str) -> bool | None:
        try:
            return any(
                notice.get("status") == "held"
                for notice in await service.deliveries(challenge=challenge_id, timeout=SIDE_FIGURE_SECONDS)
            )
        except KeyRejected:
            raise
        except ServiceError:
            return None

    answers: dict[str, bool | None] = {str(challenge["challenge_id"]): False for challenge in challenges}
    try:
        async with asyncio.timeout(SIDE_FIGURE_SECONDS):
            found = await asyncio.gather(*(held_one(challenge_id) for challenge_id in asked))
    except TimeoutError:
        found = [None] * len(asked)
    answers |= dict(zip(asked, found, strict=True))
    return answers


ACTS = ("acknowledged", "resolved")


async def _keys_used(
    request: Request, challenges: list[dict[str, Any]]
) -> dict[tuple[str | None, str | None], dict[str, Any] | None]:
    """The keys the challenges were acknowledged and resolved with (the challenges service's `acknowledged_with_key`
    and `resolved_with_key`, which it tells operators), each named once as the batch page names the key that sent a
    batch (`key_named`): by (key id, principal that used it)."""
    used = list(
        dict.fromkeys(
            (challenge.get(f"{act}_with_key"), challenge.get(f"{act}_by"))
            for challenge in challenges
            for act in ACTS
            if challenge.get(f"{act}_with_key")
        )
    )
    named = await asyncio.gather(*(key_named(request, key_id, by) for key_id, by in used))
    return dict(zip(used, named, strict=True))


def challenges_address(ao_id: str | None, state: str, after: str | None = None) -> str:
    """The challenges page's address for these filters (and page)."""
    query = [("ao", ao_id or ""), ("state", state)] + ([("after", after)] if after else [])
    return f"{CHALLENGES}?{urlencode(query)}"


@router.get(CHALLENGES)
async def challenges_page(
    request: Request,
    user: SupportOperator,
    ao: Annotated[str | None, Query(max_length=50)] = None,
    state: Annotated[str, Query(max_length=20)] = "open",
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Any AO's challenges (`ao`: one AO's), newest first, in the state asked for, each with its age, the AO's
    challenge contact and whether its notice to the AO is held; above them, the AOs whose notices wait."""
    ao_id, ao_error = ao_asked(ao)
    errors = {}
    if ao_error:
        errors["ao"] = ao_error
    if state not in STATE_CHOICES:
        errors["state"] = "Choose a state from the list"
    context: dict[str, Any] = {
        "ao": ao_id or (ao or "").strip(),
        "ao_id": ao_id,
        "state": state if state in STATE_CHOICES else "open",
        "state_choices": [(value, words) for value, (words, _) in STATE_CHOICES.items()],
        "errors": errors,
        "challenges": None,
        "first_page": after is None,
        "newest_address": challenges_address(ao_id, state),
        "reachable": _reachable(user),
    }
    service = calls(request, user)
    held: list[dict[str, Any]] | None
    try:
        held = await service.held_challenge_notices(timeout=SIDE_FIGURE_SECONDS)
    except KeyRejected:
        raise
    except ServiceError:
        held = None
    context["held"] = held
    if errors:
        return render(request, "ops_challenges.html", context, user=user, status_code=400)
    try:
        page = await service.challenges(STATE_CHOICES[state][1], ao_id=ao_id, after=after, limit=CHALLENGES_PAGE)
    except Refused:  # a position no page handed out (a hand-made link): start again at the newest
        return see_other(challenges_address(ao_id, state))
    challenges: list[dict[str, Any]] = page["items"]
    ao_ids = {str(challenge["ao_id"]) for challenge in challenges} | ({ao_id} if ao_id else set())
    contacts, notices, keys = await asyncio.gather(
        _contact_states(service, ao_ids, held),
        _notices_held(service, challenges, held),
        _keys_used(request, challenges),
    )
    now = datetime.now(UTC)
    context |= {
        "challenges": [
            {
                **challenge,
                "shown": achievement_said(challenge),
                "days_open": days_open(challenge, now),
                "notice_held": notices[str(challenge["challenge_id"])],
                **{
                    f"{act}_key": keys.get((challenge.get(f"{act}_with_key"), challenge.get(f"{act}_by")))
                    for act in ACTS
                },
            }
            for challenge in challenges
        ],
        "contacts": contacts,
        "older": challenges_address(ao_id, state, page["next"]) if page.get("next") else None,
    }
    return render(request, "ops_challenges.html", context, user=user)
