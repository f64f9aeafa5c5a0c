"""Operators' pages for the pipeline: the projector's state, every service's dead letters, the rebuild's
progress and switch. (Accounts and AO keys: `account_pages`; erasures and learner keys: `erasure_pages`.)"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lrs_platform.identity import OperatorScope
from portal.auth import SignedIn
from portal.backend import KeyRejected, NotFound, Refused, ServiceCalls, ServiceError
from portal.web.common import (
    DeadLettersOperator,
    OperatorUser,
    PageError,
    RebuildOperator,
    calls,
    checked_form,
    field,
    navigation,
    notice_for,
    operator_home,
    portal_of,
    reason_error,
    render,
    see_other,
    see_other_telling,
)
from portal.web.dashboard import SIDE_FIGURE_SECONDS

router = APIRouter(include_in_schema=False)

# Services with dead letters an operator can retry or skip: the projector parks per learner, the
# others (lrs_platform.parking) per message id; a service without the routes is shown as such.
PROJECTOR = "plr-projector"
DEAD_LETTER_SERVICES = (PROJECTOR, "ingest", "validation", "notifier", "challenges", "reporting")
PARKED_ID = re.compile(r"[0-9]{1,18}")  # how the services sharing lrs_platform.parking_api name a parked message
# How the portal names a parked event of the projector: its place on the log (topic:partition:offset). The projector
# names its streams by learner, but a ULN stays out of addresses, browser history and access logs (as on the AO
# pages): the learner is found from the place, in the listing the page showed, and sent to the projector only.
PARKED_POSITION = re.compile(r"(?P<topic>[A-Za-z0-9._-]{1,249}):(?P<partition>[0-9]{1,9}):(?P<offset>[0-9]{1,18})")
NO_DEAD_LETTER_ROUTES = "This service has no dead-letter routes."
MAX_SKIP_REASON = 500  # the services' own limit
MAX_REPLACEMENT_CHARACTERS = 1_000_000  # a corrected copy typed or pasted; larger ones go by `lrs dlq retry`
COPY_TOO_LARGE = (
    f"The copy must be {MAX_REPLACEMENT_CHARACTERS:,} characters or fewer: give a larger one with"
    " lrs dlq retry --replacement FILE"
)
MAX_SHOWN_ERROR = 300  # of a service's error or refusal, kept in the session and shown once
# control characters a form cannot carry back as they are (a NUL, say): a value holding one is bytes, not text
UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
REBUILD_ACTIONS = ("start", "compare", "switch", "abandon")
CONFIRMED_REBUILD_ACTIONS = ("switch", "abandon")  # cannot be undone: asked first


def readiness_said(answer: dict[str, Any]) -> list[str]:
    """What a service's `/readyz` says beyond plain "ok", a check a line ("consumer notifier: retrying for 24s: …"):
    a service stays ready while its consumer retries (the relay away: no email goes, for minutes), and the Services
    table said only "ready" (the incident walk, finding 1)."""
    if answer.get("error"):
        return [f"no answer ({answer['error']})"]
    checks: dict[str, str] = answer.get("checks") or {}
    return [f"{check}: {text.removeprefix('ok: ')}" for check, text in sorted(checks.items()) if text != "ok"]


@router.get("/ops")
async def projector(request: Request, user: OperatorUser) -> Response:
    """The operators' start page: the projector's state, or the first page an operator's duties reach."""
    if not user.account.has_duty(OperatorScope.REBUILD, OperatorScope.DEAD_LETTERS):
        home = operator_home(user.account)
        if home is None:
            duties = ", ".join(sorted(user.account.scopes))
            raise PageError(
                "forbidden",
                f"Your account's duties ({duties}) have no pages in the portal: use the lrs command with a key"
                " for them.",
            )
        return see_other(home)
    service = calls(request, user)
    status = await service.projector_status()
    # every service's dead letters, as their page gathers them; without the duty, only the projector's own
    on_duty = user.account.has_duty(OperatorScope.DEAD_LETTERS)
    parked = await parked_by_service(service, timeout=SIDE_FIGURE_SECONDS) if on_duty else None
    context = {
        "status": status,
        "ready": {
            name: (answer["ready"], readiness_said(answer))
            for name, answer in (await portal_of(request).services.ready()).items()
        },
        "parked": parked,
        "parked_total": sum(each.total for each in parked or () if each.rows is not None),
        "reachable": {path for path, _ in navigation(user)},  # links only to the pages the menu offers
    }
    return render(request, "ops_projector.html", context, user=user)


class ParkedIn(NamedTuple):
    """One service's first parked messages (`rows`, each with the `handle` retry and skip name it by) and how
    many it has; `rows` None when the service has no dead-letter routes or did not answer (`note`: which)."""

    service: str
    rows: list[dict[str, Any]] | None
    total: int
    note: str | None

    @property
    def without_routes(self) -> bool:
        return self.note == NO_DEAD_LETTER_ROUTES


def _handle(row: dict[str, Any]) -> str:
    """What the portal's addresses name a parked message by: the parked row's number, or (the projector's, which
    have none) its place on the log; never its key, which in the projector is a learner's ULN."""
    if row.get("id") is not None:
        return str(row["id"])
    return f"{row.get('topic')}:{row.get('partition')}:{row.get('offset')}"


def _place(row: dict[str, Any]) -> dict[str, Any]:
    """Where a parked message is on the log, as the projector's skip takes what was confirmed."""
    return {"topic": row["topic"], "partition": row["partition"], "offset": row["offset"]}


def parked_name(row: dict[str, Any]) -> str:
    """What an operator knows a parked message by, on its buttons: its key (the projector's, a learner) and its place
    on the log, as `lrs dlq list` shows them; never the number a service gave its row."""
    key = row.get("learner") or row.get("key")
    place = f"{row.get('topic')} {row.get('partition')}:{row.get('offset')}"
    return f"{key} on {place}" if key else f"{place} (no key)"


async def parked_by_service(service: ServiceCalls, *, timeout: float | None = None) -> list[ParkedIn]:
    """Each service's parked messages, in the order of DEAD_LETTER_SERVICES: asked of all at once, so a service that
    does not answer costs the page one timeout, not one for each service behind it in the list. `timeout`: for a
    page that shows them beside its own content (the start page), seconds before a service is said not to answer."""
    return list(await asyncio.gather(*(_parked_in(service, name, timeout) for name in DEAD_LETTER_SERVICES)))


async def _parked_in(service: ServiceCalls, name: str, timeout: float | None) -> ParkedIn:
    try:
        parked = await service.dead_letters(name, timeout=timeout)
    except NotFound:
        return ParkedIn(name, None, 0, NO_DEAD_LETTER_ROUTES)
    except KeyRejected:
        raise  # the person's key was revoked: signed out, not shown a page of refusals
    except ServiceError as error:
        return ParkedIn(name, None, 0, error.detail)
    rows = [{**row, "handle": _handle(row), "named": parked_name(row)} for row in parked["parked"]]
    return ParkedIn(name, rows, parked["total"], None)


def place_of(row: dict[str, Any]) -> str:
    """A parked message's place on the log, `topic:partition:offset`: the same message wherever it is parked."""
    return f"{row.get('topic')}:{row.get('partition')}:{row.get('offset')}"


def also_parked(by_service: list[ParkedIn], service_name: str, places: list[str]) -> list[dict[str, Any]]:
    """The messages at `places` parked in services other than `service_name`, among those the dead-letter page lists
    of each: each service that reads a topic parks its poison on its own, so a retry or skip in one leaves the
    others' copies parked (the projector's and the challenges service's of the PLR log, say)."""
    wanted = set(places)
    return [
        {"service": parked.service, "handle": row["handle"], "named": row["named"], "place": place_of(row)}
        for parked in by_service
        if parked.service != service_name
        for row in parked.rows or ()
        if place_of(row) in wanted
    ]


def _known_handle(service_name: str, handle: str) -> None:
    """Only a service with dead letters, and a handle of the kind it names a parked message by."""
    if service_name not in DEAD_LETTER_SERVICES:
        raise PageError("not_found")
    if not (PARKED_POSITION if service_name == PROJECTOR else PARKED_ID).fullmatch(handle):
        raise PageError("not_found")


async def _stream_key(request: Request, user: SignedIn, service_name: str, handle: str) -> str | None:
    """What the service names the stream of the parked message `handle` by: a parked row's number as it is; in
    the projector, the learner of the event at that place among those the dead-letter page lists (None: no longer
    parked there)."""
    _known_handle(service_name, handle)
    if service_name != PROJECTOR:
        return handle
    listed = await calls(request, user).dead_letters(PROJECTOR)
    return next(
        (str(row["learner"]) for row in listed["parked"] if _handle(row) == handle and row.get("learner")), None
    )


def replay_outcome(action: str, service_name: str, handle: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """What a retry or skip did, from the service's answer (as `lrs dlq` reads it): per replayed stream the
    messages applied, skipped and still parked, and the first error that left some parked. `handle`: what the
    service was asked by (the projector's: a learner), kept in the session for the page, never in an address."""
    streams = [
        {
            "source": " ".join(str(result[name]) for name in ("consumer", "topic") if result.get(name)),
            "applied": int(result.get("applied") or 0),
            "duplicates": int(result.get("duplicates") or 0),
            "skipped": int(result.get("skipped") or 0),
            "still_parked": int(result.get("still_parked") or 0),
            "error": str(result["error"])[:MAX_SHOWN_ERROR] if result.get("error") else None,
        }
        for result in results
    ]
    key = next((str(result["key"]) for result in results if result.get("key")), None)
    return {
        "action": action,
        "service": service_name,
        "handle": handle,
        # the projector's handle is its key (a learner); other services' a row's number, said by the key it held up
        "named": handle if service_name == PROJECTOR else f"key {key}" if key else f"message {handle}",
        "streams": streams,
        "applied": sum(stream["applied"] for stream in streams),
        "still_parked": sum(stream["still_parked"] for stream in streams),
        "first_error": next((stream["error"] for stream in streams if stream["error"]), None),
    }


async def _dead_letters_page(
    request: Request,
    user: SignedIn,
    *,
    outcome: dict[str, Any] | None = None,
    refusal: str | None = None,
    skipping: dict[str, Any] | None = None,
    reason: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    by_service = await parked_by_service(calls(request, user))
    places = [place_of(row) for row in skipping["dropped"]] if skipping else (outcome or {}).get("places") or []
    acted_in = skipping["service"] if skipping else (outcome or {}).get("service", "")
    context = {
        "by_service": [] if skipping else by_service,
        "also_parked": also_parked(by_service, acted_in, places),
        "outcome": outcome,
        "refusal": refusal,
        "skipping": skipping,
        "reason": reason,
        "errors": errors or {},
        "max_reason": MAX_SKIP_REASON,
    }
    return render(request, "ops_dead_letters.html", context, user=user, status_code=status)


@router.get("/ops/dead-letters")
async def dead_letters(request: Request, user: DeadLettersOperator) -> HTMLResponse:
    outcome = (await notice_for(request, user)).get("outcome")
    return await _dead_letters_page(request, user, outcome=outcome)


ACTIONS_SHOWN = 50  # of each service: the newest retries and skips; `lrs dlq history --limit` reads more


@router.get("/ops/dead-letters/history")
async def dead_letter_history(request: Request, user: DeadLettersOperator) -> HTMLResponse:
    """Every service's newest retries and skips, newest first: who, when, which message, why, what followed (kept
    after the parked messages are gone)."""
    service = calls(request, user)
    actions: list[dict[str, Any]] = []
    unanswered: list[str] = []
    for name in DEAD_LETTER_SERVICES:
        try:
            found = await service.dead_letter_actions(name, ACTIONS_SHOWN)
        except NotFound:  # a release before the record was kept
            continue
        except KeyRejected:
            raise
        except ServiceError:
            unanswered.append(name)
        else:
            actions += [{**action, "service": name} for action in found]
    actions.sort(key=_acted_at, reverse=True)
    context = {"actions": actions, "unanswered": unanswered, "shown": ACTIONS_SHOWN}
    return render(request, "ops_dead_letter_history.html", context, user=user)


def _acted_at(action: dict[str, Any]) -> datetime:
    """When an action was made, as an instant (none or unreadable: the oldest): the services write UTC with `Z` and
    no fraction of a second that is zero, so `…00Z` is before `…00.5Z`, which as text it sorts after."""
    try:
        moment = datetime.fromisoformat(action["acted_at"])
    except (KeyError, TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # never compared naive with aware


def _stream(service_name: str, row: dict[str, Any]) -> tuple[Any, ...]:
    """The stream a parked message holds up: the projector's are per learner and topic, other services' per
    consumer, topic and key."""
    if service_name == PROJECTOR:
        return (row.get("learner"), row.get("topic"))
    return (row.get("consumer"), row.get("topic"), row.get("key"))


async def _stream_heads(request: Request, user: SignedIn, service_name: str, handle: str) -> dict[str, Any] | None:
    """What a skip or a corrected copy of `handle` acts on: the poison at the head of each stream it names
    (dropped for good by a skip, replaced by a copy) and how many messages wait behind them (then applied);
    None when nothing of it is parked."""
    key = await _stream_key(request, user, service_name, handle)
    if key is None:
        return None
    try:
        listed = await calls(request, user).dead_letter_stream(service_name, key)
    except NotFound:
        return None
    chosen = next((row for row in listed if _handle(row) == handle), None)
    if chosen is None:
        return None
    # the projector acts on every topic of the learner's (`listed` is theirs alone), the others on the chosen stream
    named = {_stream(service_name, row) for row in (listed if service_name == PROJECTOR else [chosen])}
    streams: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in listed:
        if _stream(service_name, row) in named:
            streams.setdefault(_stream(service_name, row), []).append(row)
    # the projector drops each stream's poison, its first row that failed (a release before decision 0163 may have
    # parked copies of earlier events ahead of it); the other services the first message parked under the key
    dropped = [
        next((row for row in rows if row.get("reason") == "error"), rows[0]) if service_name == PROJECTOR else rows[0]
        for rows in streams.values()
    ]
    return {
        "service": service_name,
        "handle": handle,
        "key": key,
        "named": parked_name(chosen),
        "dropped": dropped,
        "held": sum(len(rows) - 1 for rows in streams.values()),
        # what the confirmation shows dropped, sent back with it: a skip drops only what was confirmed
        "confirmed": " ".join(_handle(row) for row in dropped),
    }


async def _no_longer_parked(request: Request, user: SignedIn, service_name: str) -> HTMLResponse:
    # all the portal knows is that nothing is parked under the address now (a stale or mistyped link, or a message
    # retried or skipped since): not what happened to it, which the history says when it was retried or skipped
    refusal = (
        f"That message is not parked in {service_name} now: it may have been retried or skipped (every retry and"
        " skip made is in the history, linked below), or the link names no parked message."
    )
    return await _dead_letters_page(request, user, refusal=refusal, status=404)


@router.get("/ops/dead-letters/{service_name}/{handle}/skip")
async def confirm_skip(request: Request, service_name: str, handle: str, user: DeadLettersOperator) -> HTMLResponse:
    """The confirmation step of a skip: the message it drops for good, and the reason it asks for."""
    skipping = await _stream_heads(request, user, service_name, handle)
    if skipping is None:
        return await _no_longer_parked(request, user, service_name)
    return await _dead_letters_page(request, user, skipping=skipping)


SKIP_CHANGED = (
    "What this skip would drop has changed since you confirmed it: another message was parked, retried or skipped"
    " meanwhile. Nothing was skipped. Check the messages below and confirm again."
)


def _skip_reason_error(reason: str) -> str | None:
    missing = "Say why the message is dropped: it is kept with the record of the skip"
    return reason_error(reason, limit=MAX_SKIP_REASON, missing=missing)


def _replacement_errors(
    text: str, topic: str, skipping: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The corrected copy an operator typed, as the JSON object the service takes, or what is wrong with it; and
    in the projector, when the learner's poison is on several topics, the one it replaces."""
    errors: dict[str, str] = {}
    topics = [row["topic"] for row in skipping["dropped"]]
    if len(topics) > 1 and topic not in topics:
        errors["topic"] = "Select the topic whose poison the copy replaces"
    if not text:
        errors["replacement"] = "Enter the corrected copy of the message, as JSON"
        return None, errors
    if len(text) > MAX_REPLACEMENT_CHARACTERS:
        errors["replacement"] = COPY_TOO_LARGE
        return None, errors
    try:
        replacement = json.loads(text)
    except ValueError as error:
        errors["replacement"] = f"The copy is not JSON ({error}): correct it and try again"
        return None, errors
    except RecursionError:  # Python's own words name its stack, not the copy
        errors["replacement"] = "The copy nests arrays or objects too deeply to read: correct it and try again"
        return None, errors
    if not isinstance(replacement, dict):
        errors["replacement"] = "The copy must be a JSON object, such as the message's event envelope {…}"
        return None, errors
    return replacement, errors


def lrs_dlq_commands(replacing: dict[str, Any], row: dict[str, Any]) -> dict[str, str]:
    """The `lrs dlq show` that saves the poison `row`'s value to a file to mend, and the `lrs dlq retry` that
    applies the mended file in its place: what the form does, with the lrs command."""
    if replacing["service"] == PROJECTOR:
        named = f"{replacing['key']} --topic {row['topic']}"
    else:
        named = f"{row['id']} --service {replacing['service']}"
    return {"show": f"lrs dlq show {named} --output FILE", "retry": f"lrs dlq retry {named} --replacement FILE"}


def value_shown(value: bytes | None) -> tuple[str | None, str | None]:
    """A poison's value as the form shows it, ready to mend (JSON indented, as `lrs dlq show --output` saves it),
    or why it is not shown: (text, None) or (None, why)."""
    if value is None:
        return None, "It has no value (a tombstone): there is nothing to mend, so skip it instead."
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    size = f"{len(value):,} bytes"
    if text is None or UNPRINTABLE.search(text):
        return None, f"Its value is not text ({size} that are not printable UTF-8), so it is not shown here."
    if len(text) > MAX_REPLACEMENT_CHARACTERS:
        return None, f"Its value ({size}) is larger than this form takes, so it is not shown here."
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False), None
    except (ValueError, RecursionError):  # text, but not JSON: shown as it is, to mend into JSON
        return text, None


async def _poison_values(
    request: Request, user: SignedIn, replacing: dict[str, Any], *, read: bool
) -> list[dict[str, Any]]:
    """Each poison's value (`text`), to mend into the copy, or why it is not shown (`said`; both None unless
    `read`), with the `lrs dlq` commands that do the same. Read only for an operator with the support duty, as the
    services answer values to that duty alone (decision 0122: a value may hold a learner's achievements). Never
    logged: it may hold personal data."""
    shown = [
        {"topic": row["topic"], "text": None, "said": None} | lrs_dlq_commands(replacing, row)
        for row in replacing["dropped"]
    ]
    if not read:
        return shown
    if not user.account.has_duty(OperatorScope.SUPPORT):
        said = (
            "Its value is not shown: reading a parked message's value needs the “support” duty, which your account"
            " does not have (it may hold personal data)."
        )
        return [each | {"text": None, "said": said} for each in shown]
    service_name, projector = replacing["service"], replacing["service"] == PROJECTOR
    for each, row in zip(shown, replacing["dropped"], strict=True):
        try:
            value = await calls(request, user).dead_letter_value(
                service_name,
                replacing["key"] if projector else str(row["id"]),
                topic=row["topic"] if projector else None,
            )
        except KeyRejected:
            raise
        except ServiceError as error:
            each |= {"text": None, "said": f"Its value could not be read: {error.detail[:MAX_SHOWN_ERROR]}"}
            continue
        readable, not_shown = value_shown(value)
        each |= {"text": readable, "said": not_shown}
    return shown


async def _replacing_page(
    request: Request,
    user: SignedIn,
    replacing: dict[str, Any],
    *,
    text: str | None = None,
    topic: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The form of a corrected copy; `text`: what was typed (None, before anything was: the form is filled with
    the poison's value when there is one poison and it is shown, each poison's value shown beside it when several)."""
    by_service = await parked_by_service(calls(request, user))
    several = len(replacing["dropped"]) > 1
    # once a copy was typed, the one poison's value is not read again: the form keeps what was typed
    values = await _poison_values(request, user, replacing, read=text is None or several)
    if text is None:
        text = "" if several else values[0]["text"] or ""
    context = {
        "replacing": replacing,
        "also_parked": also_parked(by_service, replacing["service"], [place_of(row) for row in replacing["dropped"]]),
        "values": values,
        "text": text,
        "topic": topic,
        "errors": errors or {},
    }
    return render(request, "ops_dead_letter_replace.html", context, user=user, status_code=status)


@router.get("/ops/dead-letters/{service_name}/{handle}/replace")
async def replace_form(request: Request, service_name: str, handle: str, user: DeadLettersOperator) -> HTMLResponse:
    """A retry with a corrected copy of the poison: the message it replaces, and the copy it asks for."""
    replacing = await _stream_heads(request, user, service_name, handle)
    if replacing is None:
        return await _no_longer_parked(request, user, service_name)
    return await _replacing_page(request, user, replacing)


@router.post("/ops/dead-letters/{service_name}/{handle}/replace")
async def replace(request: Request, service_name: str, handle: str, user: DeadLettersOperator) -> Response:
    declared = request.headers.get("content-length")
    too_large = declared is not None and declared.isdigit() and int(declared) > 4 * MAX_REPLACEMENT_CHARACTERS
    form = None if too_large else await checked_form(request, user)
    replacing = await _stream_heads(request, user, service_name, handle)
    if replacing is None:
        return await _no_longer_parked(request, user, service_name)
    if form is None:
        errors = {"replacement": COPY_TOO_LARGE}
        return await _replacing_page(request, user, replacing, text="", errors=errors, status=413)
    text, topic = field(form, "replacement"), field(form, "topic")
    replacement, errors = _replacement_errors(text, topic, replacing)
    if errors or replacement is None:
        return await _replacing_page(request, user, replacing, text=text, topic=topic, errors=errors, status=400)
    named_topic = topic if len(replacing["dropped"]) > 1 else None
    try:
        result = await calls(request, user).dead_letter_action(
            service_name, quote(replacing["key"], safe=""), "retry", None, replacement=replacement, topic=named_topic
        )
    except NotFound:
        return await _no_longer_parked(request, user, service_name)
    except Refused as refused:
        errors = {"replacement": f"{service_name} refused the copy: {refused.detail[:MAX_SHOWN_ERROR]}"}
        return await _replacing_page(request, user, replacing, text=text, topic=topic, errors=errors, status=409)
    results = result.get("results") or []
    outcome = replay_outcome("retry", service_name, replacing["key"], results) | {
        "replaced": True,
        "places": [place_of(row) for row in replacing["dropped"]],
    }
    return await see_other_telling(request, user, "/ops/dead-letters", outcome=outcome)


async def _retried_places(request: Request, user: SignedIn, service_name: str, handle: str) -> list[str]:
    """Where the poisons a retry of `handle` re-applies are on the log; none when they cannot be read (the retry is
    made all the same: the places only say, after it, where the same messages are parked in other services)."""
    try:
        retrying = await _stream_heads(request, user, service_name, handle)
    except KeyRejected:
        raise
    except ServiceError:
        return []
    return [place_of(row) for row in retrying["dropped"]] if retrying else []


@router.post("/ops/dead-letters/{service_name}/{handle}/{action}")
async def dead_letter_action(
    request: Request, service_name: str, handle: str, action: str, user: DeadLettersOperator
) -> Response:
    form = await checked_form(request, user)
    if action not in ("retry", "skip"):
        raise PageError("not_found")
    _known_handle(service_name, handle)
    reason = field(form, "reason") if action == "skip" else ""
    skipping: dict[str, Any] | None = None
    places: list[str] = []  # the poisons acted on: where the outcome looks for the same messages parked elsewhere
    if action == "retry":
        places = await _retried_places(request, user, service_name, handle)
    if action == "skip":
        skipping = await _stream_heads(request, user, service_name, handle)
        if skipping is None:
            return await _no_longer_parked(request, user, service_name)
        if reason_error := _skip_reason_error(reason):
            errors = {"reason": reason_error}
            return await _dead_letters_page(request, user, skipping=skipping, reason=reason, errors=errors, status=400)
        if field(form, "confirmed") != skipping["confirmed"]:
            # parked, retried or skipped meanwhile: the skip would drop a message the operator has not seen
            return await _dead_letters_page(
                request, user, skipping=skipping, reason=reason, refusal=SKIP_CHANGED, status=409
            )
        places = [place_of(row) for row in skipping["dropped"]]
    key = await _stream_key(request, user, service_name, handle)
    if key is None:
        return await _no_longer_parked(request, user, service_name)
    # the projector is told what was confirmed, and drops nothing parked since (the check above leaves a moment)
    heads = [_place(row) for row in skipping["dropped"]] if skipping and service_name == PROJECTOR else None
    try:
        result = await calls(request, user).dead_letter_action(
            service_name, quote(key, safe=""), action, reason or None, heads=heads
        )
    except NotFound:
        return await _no_longer_parked(request, user, service_name)
    except Refused as refused:
        return await _dead_letters_page(request, user, refusal=refused.detail, status=409)
    outcome = replay_outcome(action, service_name, key, result.get("results") or []) | {"places": places}
    return await see_other_telling(request, user, "/ops/dead-letters", outcome=outcome)


def comparison_view(comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    """The last comparison of the rebuilt model with the live one, as the page shows it: whether they are
    identical, each table's rows in both, and the learners and checksums that differ as the projector gives
    them (ULNs masked)."""
    if not comparison:
        return None
    counts = comparison.get("counts") or {}
    live, rebuilt = counts.get("live") or {}, counts.get("rebuilt") or {}
    return {
        "identical": bool(comparison.get("identical")),
        "compared_at": comparison.get("compared_at"),
        "tables": [
            {"table": table, "live": live.get(table), "rebuilt": rebuilt.get(table)}
            for table in sorted(set(live) | set(rebuilt))
        ],
        "learners_compared": comparison.get("learners_compared"),
        "learners_differing": comparison.get("learners_differing") or 0,
        "differing_learners": [str(uln) for uln in comparison.get("differing_ulns_masked") or []],
        "checksums_differing": [str(name) for name in comparison.get("global_checksums_differing") or []],
    }


def rebuild_done(action: str, answer: dict[str, Any]) -> dict[str, Any]:
    """What a rebuild action did, from the projector's answer, for the page to say once."""
    done = {"action": action, "rebuild_id": answer.get("rebuild_id")}
    if action == "compare":
        done["identical"] = bool(answer.get("identical"))
    if action == "switch":
        done |= {"live_schema": answer.get("live_schema"), "retired_schema": answer.get("retired_schema")}
    return done


def _rebuild_page(
    request: Request,
    user: SignedIn,
    status: dict[str, Any],
    *,
    done: dict[str, Any] | None = None,
    refusal: str | None = None,
    confirming: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "status": status,
        "comparison": comparison_view(status.get("comparison")),
        "done": done,
        "refusal": refusal,
        "confirming": confirming,
    }
    return render(request, "ops_rebuild.html", context, user=user, status_code=status_code)


@router.get("/ops/rebuild")
async def rebuild(request: Request, user: RebuildOperator) -> HTMLResponse:
    status = await calls(request, user).rebuild()
    notice = await notice_for(request, user)
    return _rebuild_page(request, user, status, done=notice.get("done"), refusal=notice.get("refused"))


@router.get("/ops/rebuild/{action}")
async def confirm_rebuild_action(request: Request, action: str, user: RebuildOperator) -> HTMLResponse:
    """The confirmation step of the actions that cannot be undone: switching and abandoning."""
    if action not in CONFIRMED_REBUILD_ACTIONS:
        raise PageError("not_found")
    status = await calls(request, user).rebuild()
    if status.get("state") == "idle":
        refusal = f"No rebuild is running: there is nothing to {action}."
        return _rebuild_page(request, user, status, refusal=refusal, status_code=409)
    return _rebuild_page(request, user, status, confirming=action)


@router.post("/ops/rebuild/{action}")
async def rebuild_action(request: Request, action: str, user: RebuildOperator) -> Response:
    form = await checked_form(request, user)
    if action not in REBUILD_ACTIONS:
        raise PageError("not_found")
    if action in CONFIRMED_REBUILD_ACTIONS and field(form, "confirmed") != "yes":
        return see_other(f"/ops/rebuild/{action}")  # a form from before the confirmation step: ask first
    try:
        answer = await calls(request, user).rebuild(action)
    except Refused as refused:
        return await see_other_telling(request, user, "/ops/rebuild", refused=refused.detail[:MAX_SHOWN_ERROR])
    return await see_other_telling(request, user, "/ops/rebuild", done=rebuild_done(action, answer))
