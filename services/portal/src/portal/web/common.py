"""What every page shares: templates, the signed-in person, CSRF checks, and errors as pages."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.routing import Match

from lrs_contracts.challenge import CHALLENGE_TEXT_MAX_LENGTH, resolution_label
from lrs_contracts.text import refused_character, with_bidi_controls_shown
from lrs_domain.formats import file_field_name
from lrs_domain.formats.limits import finding_in_file_words
from lrs_domain.identifiers import mask_uln
from lrs_domain.reference import Catalogue
from lrs_platform.clock import ENGLAND, day_and_time, day_said
from lrs_platform.identity import OperatorScope
from lrs_platform.problems import said_once
from portal.accounts import Account, AccountChange, AddressChange, Role
from portal.auth import Authentication, SessionEnded, SignedIn
from portal.backend import KeyRejected, ServiceCalls, ServiceError, Services
from portal.charts import svg, table_rows
from portal.checking import format_named, in_file_words
from portal.config import PortalSettings
from portal.csrf import FIELD, tokens_match
from portal.explanations import explain
from portal.password_emails import PasswordEmails
from portal.sessions import CookiePolicy, SessionClock, session_clock
from portal.store import ServiceKeys, UploadStore

UK = ENGLAND  # times shown to people are UK time


@dataclass
class Portal:
    """Everything a request needs, built once in bootstrap."""

    settings: PortalSettings
    auth: Authentication
    services: Services
    uploads: UploadStore
    keys: ServiceKeys
    catalogue: Catalogue
    cookies: CookiePolicy
    sandpit: Services | None = None  # the Sandpit's services, when the portal is given them (decision 0060)
    password_emails: PasswordEmails | None = None  # links by email, when the portal has a mail relay (0128)
    ao_names: Mapping[str, str] = dataclass_field(default_factory=dict)  # the register's AO names, by AO id


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


SANDPIT = "/sandpit"


def in_sandpit(request: Request) -> bool:
    """Sandpit pages live under /sandpit: the address says which environment a page shows and acts on."""
    path = request.url.path
    return path == SANDPIT or path.startswith(f"{SANDPIT}/")


# Why an operator has no Sandpit pages (decision 0060: the portal's Sandpit is each AO user's own rehearsal, with a
# Sandpit key issued for them; an operator's Sandpit work is done with `lrs --sandpit` and a Sandpit operator key).
SANDPIT_FOR_AOS = (
    "The Sandpit pages are for awarding organisation users: each shows the rehearsals of the user's own AO. An"
    " operator reads or resets an AO's Sandpit with the lrs command and a Sandpit operator key (lrs --sandpit batch"
    " list, lrs --sandpit sandpit reset, lrs --sandpit dlq list); the operators' pages here show live only."
)


def base(request: Request) -> str:
    """What this environment's links start with."""
    return SANDPIT if in_sandpit(request) else ""


class SignInRequired(Exception):
    """Sends the person to sign in, then on to `next_path`; `ended`: their session ended (the browser still held
    its cookie), said on the sign-in page, as "form" when what they had sent was a form, which was not acted on
    (said of any form sent without a session, its cookie held or not)."""

    def __init__(self, next_path: str, ended: str | None = None) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.ended = ended


class PageError(Exception):
    """Shown to the person as a page; `kind` picks the wording (not_found, no_record, forbidden, csrf, bad_form,
    unavailable, refused, busy)."""

    def __init__(self, kind: str, detail: str | None = None) -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail


def _uk_time(value: str | datetime | None) -> str:
    """`6 Dec 2026, 23:30`: an instant on the UK clock (with its zone in the autumn hour the clock reads twice);
    nothing for no instant."""
    return "" if value is None or value == "" else day_and_time(value)


uk_time = _uk_time


def long_date(value: str | date | None) -> str:
    """A day as people write it, "2 July 2013", not "2013-07-02" (which a screen reader reads as a number); what
    is no yyyy-mm-dd date is shown as it is."""
    if value is None or value == "":
        return ""
    try:
        day = value if isinstance(value, date) else date.fromisoformat(value)
    except ValueError:
        return value if isinstance(value, str) else str(value)
    return day_said(day)


def _number(value: int | float | None) -> str:
    return "" if value is None else f"{value:,}"


_STATUS_TAGS = {
    "received": "govuk-tag--grey",
    "accepted": "govuk-tag--blue",
    "queued": "govuk-tag--yellow",
    "validating": "govuk-tag--light-blue",
    "completed": "govuk-tag--green",
    "failed": "govuk-tag--red",
    "abandoned": "govuk-tag--red",
    "refused": "govuk-tag--red",
    "rejected": "govuk-tag--red",
    "no_op": "govuk-tag--grey",
    "raised": "govuk-tag--orange",
    "acknowledged": "govuk-tag--blue",
    "resolved": "govuk-tag--green",
}

_STATUS_WORDS = {"no_op": "unchanged"}  # already recorded: the word the CLI and the emails say too


_RECORD_TAGS = {"accepted": "govuk-tag--green", "rejected": "govuk-tag--red", "no_op": "govuk-tag--grey"}


def _status_tag(value: str | None) -> str:
    return _STATUS_TAGS.get(value or "", "govuk-tag--grey")


def _record_tag(value: str | None) -> str:
    return _RECORD_TAGS.get(value or "", "govuk-tag--grey")


TEMPLATES = Environment(
    loader=PackageLoader("portal", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["uk_time"] = _uk_time
TEMPLATES.filters["long_date"] = long_date
TEMPLATES.filters["number"] = _number
TEMPLATES.filters["bidi_shown"] = with_bidi_controls_shown
TEMPLATES.filters["status_tag"] = _status_tag
TEMPLATES.filters["record_tag"] = _record_tag
TEMPLATES.filters["status_words"] = lambda value: _STATUS_WORDS.get(value, value)
# a ULN in a page title as logs show it: browser history keeps titles (ao_pages keeps ULNs out of addresses)
TEMPLATES.filters["masked_uln"] = lambda value: mask_uln(str(value))
TEMPLATES.filters["urlquote"] = lambda value: quote(str(value), safe="")
TEMPLATES.filters["resolution_label"] = resolution_label  # what people read for a resolution (decision 0143)
TEMPLATES.globals["explain"] = explain
TEMPLATES.filters["file_words"] = in_file_words  # a field named as the batch's file names it (`notificationEmail`)
# a finding's message as the batch's file says it: `notificationEmail` in JSON, `Record 2 of this batch` in XML or JSON
TEMPLATES.filters["finding_words"] = lambda text, fmt: finding_in_file_words(str(text), format_named(fmt))
TEMPLATES.globals["said_once"] = said_once  # a refusal's title and detail
TEMPLATES.globals["field_named"] = lambda fmt, attribute: file_field_name(format_named(fmt), attribute) or attribute
TEMPLATES.globals["svg"] = svg
TEMPLATES.globals["where_in_file"] = lambda line, column, fmt, said=None: where_in_file(line, column, fmt, said)
TEMPLATES.globals["table_rows"] = table_rows
TEMPLATES.globals["challenge_text_max_length"] = CHALLENGE_TEXT_MAX_LENGTH


def where_in_file(line: int | None, column: int | None, fmt: object, said: str | None = None) -> str:
    """Where a refusal points, as the file is read: "line 3, column 8", or in a JSON file a record's number
    ("record 3"), which is what its position names when it has no column (a record's field, not the text). Nothing
    when the refusal's detail (`said`) starts by naming that record, as the JSON parser's do: said once, not twice."""
    if line is None:
        return ""
    if column is None and str(fmt) == "json":  # the format as the API gives it, or a BatchFormat (a StrEnum)
        where = f"record {line}"
        return "" if said and said.startswith(where) and not said[len(where) : len(where) + 1].isdigit() else where
    return f"line {line}, column {column}" if column is not None else f"line {line}"


# what the audit of account changes calls each change (every one: the pages show them all)
CHANGE_WORDS = {
    AccountChange.CREATED.value: "created",
    AccountChange.DISABLED.value: "disabled",
    AccountChange.ENABLED.value: "enabled again",
    AccountChange.PASSWORD_RESET.value: "password reset",
    AccountChange.PASSWORD_CHANGED.value: "password changed by its owner",
    AccountChange.RESET_LINK_REQUESTED.value: "forgotten-password link asked for",
    AccountChange.PASSWORD_RESET_BY_LINK.value: "password reset by emailed link",
    AccountChange.FIRST_PASSWORD_LINK_SENT.value: "link to choose a first password emailed",
    AccountChange.PASSWORD_LINK_SENT.value: "link to choose a password emailed by an operator",
    AccountChange.EMAIL_CHANGED.value: "email address changed",
    AccountChange.DUTIES_CHANGED.value: "duties changed",
    AccountChange.AO_KEY_ISSUED.value: "API key issued",
    AccountChange.AO_KEY_REVOKED.value: "API key revoked",
}
TEMPLATES.globals["change_words"] = CHANGE_WORDS


@dataclass(frozen=True)
class OperatorPage:
    path: str
    title: str
    duties: tuple[OperatorScope, ...]  # an operator needs one of them (decision 0124)


OPERATOR_PAGES = (
    OperatorPage("/ops", "Projector", (OperatorScope.REBUILD, OperatorScope.DEAD_LETTERS)),
    OperatorPage("/ops/dead-letters", "Dead letters", (OperatorScope.DEAD_LETTERS,)),
    OperatorPage("/ops/rebuild", "Rebuild", (OperatorScope.REBUILD,)),
    OperatorPage("/ops/maintenance", "Maintenance", (OperatorScope.MAINTENANCE,)),
    OperatorPage("/ops/batches", "AO batches", (OperatorScope.SUPPORT,)),
    OperatorPage("/ops/mi", "AO MI", (OperatorScope.SUPPORT,)),
    OperatorPage("/ops/learners", "Learners", (OperatorScope.SUPPORT,)),
    OperatorPage("/ops/challenges", "Challenges", (OperatorScope.SUPPORT,)),
    OperatorPage("/ops/accounts", "Accounts and keys", (OperatorScope.ACCOUNTS,)),
    OperatorPage("/ops/erasures", "Erase a learner", (OperatorScope.ERASURE,)),
    OperatorPage("/ops/keyring", "Learner keys", (OperatorScope.KEYS,)),
)
_OPERATOR_PAGE = {page.path: page for page in OPERATOR_PAGES}


def operator_home(account: Account) -> str | None:
    """The first operator page the account's duties reach (None: its duties have no page here)."""
    return next((page.path for page in OPERATOR_PAGES if account.has_duty(*page.duties)), None)


def navigation(user: SignedIn | None, sandpit: bool = False) -> list[tuple[str, str]]:
    if user is None:
        return []
    if sandpit:
        return [
            (SANDPIT, "Sandpit home"),
            (f"{SANDPIT}/batches", "Batches"),
            (f"{SANDPIT}/batches/new", "Upload"),
            (f"{SANDPIT}/direct-entry", "Direct entry"),
            (f"{SANDPIT}/learners", "Learners"),
            (f"{SANDPIT}/qualifications", "Qualifications"),
            (f"{SANDPIT}/reset", "Reset my Sandpit"),
            (f"{SANDPIT}/help/batch-files", "File formats"),
        ]
    if user.account.role is Role.OPERATOR:
        return [(page.path, page.title) for page in OPERATOR_PAGES if user.account.has_duty(*page.duties)]
    return [
        ("/", "Dashboard"),
        ("/batches", "Batches"),
        ("/batches/new", "Upload"),
        ("/direct-entry", "Direct entry"),
        ("/learners", "Learners"),
        ("/challenges", "Challenges"),
        ("/mi", "MI"),
        ("/qualifications", "Qualifications"),
        ("/help/batch-files", "File formats"),
    ]


def ao_shown(request: Request, ao_id: str) -> str:
    """The AO as its invitation email names it: "RN9081 NCTJ Training", or its id alone when the register does not
    have it."""
    name = portal_of(request).ao_names.get(ao_id)
    return f"{ao_id} {name}" if name else ao_id


def clock_of(request: Request, user: SignedIn) -> SessionClock:
    """The signed-in person's session clock, for the warning before it ends (base.html, portal.js)."""
    idle = timedelta(minutes=portal_of(request).settings.session_idle_minutes)
    return session_clock(user.expires_at, datetime.now(UTC), idle)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    user: SignedIn | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    sandpit = in_sandpit(request)
    page = {
        "request": request,
        "user": user,
        "navigation": navigation(user, sandpit),
        "sandpit": sandpit,
        "has_sandpit": portal_of(request).sandpit is not None,
        "base": base(request),
        "current_path": request.url.path,
        "maintenance": getattr(request.state, "maintenance", None),
        "csrf_field": FIELD,
        "csrf_token": user.csrf_token if user else "",
        "session_clock": clock_of(request, user) if user else None,
        "ao_shown": ao_shown(request, user.account.ao_id) if user and user.account.ao_id else None,
        **(context or {}),
    }
    return HTMLResponse(TEMPLATES.get_template(template).render(page), status_code=status_code)


async def signed_in(request: Request) -> SignedIn:
    return await _signed_in(request, extend=True)


async def signed_in_unkept(request: Request) -> SignedIn:
    """`signed_in` for what a page's script asks by itself (a batch page following its status): the session read,
    not kept, so that a page left open does not keep its session alive (the page's own clock does not count it
    either: portal.js)."""
    return await _signed_in(request, extend=False)


async def _signed_in(request: Request, *, extend: bool) -> SignedIn:
    portal = portal_of(request)
    cookie = request.cookies.get(portal.cookies.session_cookie)
    user = await portal.auth.session_for(cookie, extend=extend)
    if user is None:
        # A form sent without a session was not acted on, whether its cookie is still held (the session ended
        # while idle) or was cleared (the person signed out in another window): said either way; but signing out
        # again lost nothing.
        if request.method in ("GET", "HEAD"):
            ended = "page" if cookie else None
        else:
            ended = None if request.url.path == "/sign-out" else "form"
        raise SignInRequired(page_to_go_back_to(request), ended)
    if in_sandpit(request):
        if portal.sandpit is None:
            raise PageError("not_found", "This portal has no Sandpit.")
        if user.account.role is not Role.AO:
            raise PageError("forbidden", SANDPIT_FOR_AOS)
        try:
            user = await portal.auth.with_sandpit_key(user)
        except SessionEnded:
            raise SignInRequired(SANDPIT) from None
    request.state.maintenance = await maintenance_schedule(calls(request, user), user.account)
    return user


async def maintenance_schedule(services: ServiceCalls, account: Account) -> dict[str, Any] | None:
    """For the banner on every page: the schedule when a window is scheduled or under way, else None.
    A page never fails for it: without an answer from ingest there is no banner, nor for an operator
    whose duties do not reach the schedule."""
    if account.is_operator and not account.has_duty(OperatorScope.SUPPORT, OperatorScope.MAINTENANCE):
        return None
    try:
        schedule = await services.maintenance()
    except KeyRejected:
        raise  # the person's key was revoked: signed out, not shown the page without its banner
    except ServiceError:
        return None
    return schedule if schedule["active"] or schedule["windows"] else None


async def ao_user(user: Annotated[SignedIn, Depends(signed_in)]) -> SignedIn:
    if user.account.role is not Role.AO:
        raise PageError("forbidden", "This page is for awarding organisation users.")
    return user


async def operator_user(user: Annotated[SignedIn, Depends(signed_in)]) -> SignedIn:
    if user.account.role is not Role.OPERATOR:
        raise PageError("forbidden", "This page is for operators.")
    return user


async def ao_user_unkept(user: Annotated[SignedIn, Depends(signed_in_unkept)]) -> SignedIn:
    return await ao_user(user)


async def operator_user_unkept(user: Annotated[SignedIn, Depends(signed_in_unkept)]) -> SignedIn:
    return await operator_user(user)


def _operator_of(page: str, *, kept: bool = True) -> Any:
    """A page's dependency: the signed-in operator, if their duties reach the operator page `page` (its
    forms included); `kept=False`: their session read, not kept (`signed_in_unkept`)."""
    duties = _OPERATOR_PAGE[page].duties

    def with_duty(user: SignedIn) -> SignedIn:
        if not user.account.has_duty(*duties):
            needed = " or ".join(f"“{duty.value}”" for duty in duties)
            raise PageError(
                "forbidden",
                f"This page needs the {needed} duty, which your account does not have."
                " An operator who manages accounts can give it to you.",
            )
        return user

    # (each names its dependency at module level: FastAPI reads these annotations from the module's names)
    async def operator_with_duty(user: Annotated[SignedIn, Depends(operator_user)]) -> SignedIn:
        return with_duty(user)

    async def operator_with_duty_unkept(user: Annotated[SignedIn, Depends(operator_user_unkept)]) -> SignedIn:
        return with_duty(user)

    return Depends(operator_with_duty if kept else operator_with_duty_unkept)


User = Annotated[SignedIn, Depends(signed_in)]
AoUser = Annotated[SignedIn, Depends(ao_user)]
OperatorUser = Annotated[SignedIn, Depends(operator_user)]
DeadLettersOperator = Annotated[SignedIn, _operator_of("/ops/dead-letters")]
RebuildOperator = Annotated[SignedIn, _operator_of("/ops/rebuild")]
MaintenanceOperator = Annotated[SignedIn, _operator_of("/ops/maintenance")]
AccountsOperator = Annotated[SignedIn, _operator_of("/ops/accounts")]
ErasureOperator = Annotated[SignedIn, _operator_of("/ops/erasures")]
KeysOperator = Annotated[SignedIn, _operator_of("/ops/keyring")]
SupportOperator = Annotated[SignedIn, _operator_of("/ops/batches")]
# A batch page's polling of its status (`status.json`): the person, their session not kept by it.
AoUserFollowing = Annotated[SignedIn, Depends(ao_user_unkept)]
SupportOperatorFollowing = Annotated[SignedIn, _operator_of("/ops/batches", kept=False)]


NOT_UTF8 = "The form holds characters that are not UTF-8 text; nothing in it was used."


class _NotUtf8Text(Exception):
    pass


class FieldTooLarge(PageError):
    """A multipart form's text field (not a file) over the part limit (1 MB): a file sent as a field, say. A page
    that takes a file may say so at its field; any other shows it as a form that could not be accepted."""

    def __init__(self, name: str, limit: int) -> None:
        super().__init__("bad_form", f"A field of the form is larger than {limit:,} bytes; nothing in it was used.")
        self.name = name
        self.limit = limit


class PartHeadersTooLong(PageError):
    """A multipart part whose header line passes the parser's limit (4 KB): from a browser, a file whose name is
    thousands of characters long. A page that takes a file says so at its field."""

    def __init__(self) -> None:
        super().__init__("bad_form")


class _CheckedMultiPartParser(MultiPartParser):
    """Starlette's multipart parser, with a text field's bytes held to UTF-8 (Starlette decodes a field that is not
    UTF-8 as Latin-1: `Sa\\xff\\xfem` would become "Saÿþm", and a UTF-8 surrogate a C1 control) and a text field over
    the part limit named. A file's bytes are the file's own: never decoded."""

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current_part
        if part.file is None and len(part.data) + end - start > self.max_part_size:
            raise FieldTooLarge(part.field_name, self.max_part_size)
        super().on_part_data(data, start, end)

    def on_part_end(self) -> None:
        if self._current_part.file is None:
            try:
                self._current_part.data.decode("utf-8")  # strict: no replacement, no surrogates
            except UnicodeDecodeError:
                raise _NotUtf8Text from None
        super().on_part_end()


class BodyTooLarge(PageError):
    """A form's body longer than its route reads (`posted_form`'s `max_body`): nothing past `limit` was read."""

    def __init__(self, limit: int) -> None:
        super().__init__("bad_form", f"The form is larger than {limit:,} bytes; nothing in it was used.")
        self.limit = limit


async def _bounded(stream: AsyncGenerator[bytes], max_body: int | None) -> AsyncGenerator[bytes]:
    read = 0
    async for chunk in stream:
        read += len(chunk)
        if max_body is not None and read > max_body:
            raise BodyTooLarge(max_body)
        yield chunk


async def _one_chunk(body: bytes) -> AsyncGenerator[bytes]:
    yield body


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


async def posted_form(request: Request, *, max_body: int | None = None) -> FormData:
    """The posted form, refused (400) when it cannot be read as it was typed: a form field whose bytes are not
    UTF-8 (Starlette would keep U+FFFD or Latin-1 in their place), url-encoded or a multipart text field, or a
    multipart body that does not parse; FieldTooLarge for a multipart text field over the part limit.
    `max_body`: for a route the body limit leaves unbounded (decision 0134), the most bytes read, with or without a
    Content-Length: BodyTooLarge as soon as the body passes it, a file not spooled whole first.
    The only reader of a page's form: the body is read once."""
    media_type = _media_type(request)
    try:
        async with aclosing(request.stream()) as sent, aclosing(_bounded(sent, max_body)) as body:
            if media_type == "multipart/form-data":
                return await _CheckedMultiPartParser(request.headers, body).parse()
            if media_type != "application/x-www-form-urlencoded":
                return FormData()  # no form a page sends: nothing of the body is read
            encoded = b"".join([chunk async for chunk in body])
        try:
            # a browser percent-encodes every byte that is not ASCII
            parse_qsl(encoded.decode("ascii"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise PageError("bad_form", NOT_UTF8) from None
        return await FormParser(request.headers, _one_chunk(encoded)).parse()
    except _NotUtf8Text:
        raise PageError("bad_form", NOT_UTF8) from None
    except MultiPartException as error:
        if str(error.__cause__) == "Maximum header size exceeded":  # python-multipart's words
            raise PartHeadersTooLong from error
        raise PageError("bad_form") from error  # a body that won't parse
    except HTTPException as error:  # a body too large for the route
        raise PageError("bad_form") from error


async def checked_form(request: Request, user: SignedIn, *, max_body: int | None = None) -> FormData:
    """The posted form, refused unless it carries this session's CSRF token."""
    form = await posted_form(request, max_body=max_body)
    submitted = form.get(FIELD)
    if not tokens_match(user.csrf_token, submitted if isinstance(submitted, str) else None):
        raise PageError("csrf")
    return form


def calls(request: Request, user: SignedIn) -> ServiceCalls:
    """The services of the page's environment, as the signed-in person (in the Sandpit, with their sandpit key)."""
    portal = portal_of(request)
    if not in_sandpit(request):
        return portal.services.as_principal(user.service_key)
    if portal.sandpit is None or not user.sandpit_key:
        raise PageError("not_found")  # never the live services for a Sandpit page
    return portal.sandpit.as_principal(user.sandpit_key)


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def reason_error(reason: str, *, limit: int, missing: str) -> str | None:
    """What is wrong with a reason an operator gives for an action (`missing`: what to say when none is)."""
    if not reason:
        return missing
    if len(reason) > limit:
        return f"The reason must be {limit} characters or fewer"
    if refused := refused_character(reason, one_line=False):
        return f"The reason holds {refused}: type it again"
    return None


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def see_other_telling(request: Request, user: SignedIn, url: str, **notice: Any) -> RedirectResponse:
    """After an action that did something: the page at `url`, which shows `notice` once (decision 0130).
    Rendering the outcome as the POST's answer would make a reload send the form again: a second email,
    a second key, a second password."""
    await portal_of(request).auth.keep_notice(user, notice_address(url), notice)
    return see_other(url)


def notice_address(url: str) -> str:
    """The page a notice waits for: its full address (its path as the browser's request reads it, and its query),
    so that two actions at once sent to two addresses of one page (`/ops/accounts`, `/ops/accounts?keys_of=…`)
    each find theirs."""
    parts = urlsplit(url)
    return unquote(parts.path) + (f"?{parts.query}" if parts.query else "")


async def notice_for(request: Request, user: SignedIn) -> dict[str, Any]:
    """What the action that sent the browser to this page (at this address) did, once; empty on every other visit."""
    query = request.url.query
    address = request.url.path + (f"?{query}" if query else "")
    return await portal_of(request).auth.take_notice(user, address) or {}


def _has_page_at(request: Request, path: str) -> bool:
    """Whether the portal shows a page at `path`: a route of its pages (not of the admin API, which is in the API's
    schema) answers GET there."""
    scope = {**request.scope, "method": "GET", "path": path, "query_string": b""}
    return path != "/sign-in" and any(
        isinstance(route.original_route, APIRoute)
        and not route.original_route.include_in_schema
        and route.matches(scope)[0] is Match.FULL
        for route in iter_route_contexts(request.app.routes)
    )


def page_to_go_back_to(request: Request) -> str:
    """Where to come back to after signing in: the page itself; for a form, the page the form is on (its own
    address, when that is a page, else the page that sent it, when that is one of the portal's), so that the
    person can send it again rather than land on their start page; "/" when neither is known."""
    query = f"?{request.url.query}" if request.url.query else ""
    if request.method in ("GET", "HEAD"):
        return request.url.path + query
    if _has_page_at(request, request.url.path):
        return request.url.path + query
    sent_from = urlsplit(request.headers.get("referer", ""))
    if sent_from.scheme in ("http", "https") and sent_from.netloc == request.url.netloc:
        path = safe_next(sent_from.path)
        if path != "/" and _has_page_at(request, path):
            return path + (f"?{sent_from.query}" if sent_from.query else "")
    return "/"


def safe_next(path: str | None) -> str:
    """Only a path on this site: never `//elsewhere` or a full URL."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # No page uses the camera, microphone, location, payments or USB devices: nothing on them, or in a frame, may ask.
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    # A page opened from another site's window (or opening one) shares no window with it (`window.opener`).
    "Cross-Origin-Opener-Policy": "same-origin",
    # HTTPS only, for a year, on the portal's host and below it: the portal says so itself, whatever the ingress
    # controller's own settings (deploy/k8s/base/ingress.yaml). A browser ignores it over plain http (`make up`).
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}


def set_cookie(
    portal: Portal,
    response: Response,
    name: str,
    value: str,
    max_age: int | None = None,
    samesite: Literal["lax", "strict"] = "strict",
) -> None:
    """HttpOnly, path /, Secure unless configured for local http; SameSite=Strict unless `samesite` says "lax": the
    session's cookie, so that a link followed from another site (a results email in webmail) arrives signed in. Every
    POST still needs the session's CSRF token, and Lax still keeps the cookie from another site's POSTs and
    sub-requests (decision 0040)."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=portal.cookies.secure, httponly=True, samesite=samesite
    )


def clear_cookie(portal: Portal, response: Response, name: str) -> None:
    samesite: Literal["lax", "strict"] = "lax" if name == portal.cookies.session_cookie else "strict"
    response.delete_cookie(name, path="/", secure=portal.cookies.secure, httponly=True, samesite=samesite)


def told_old_address(response: Response, emails: PasswordEmails | None, change: AddressChange | None) -> Response:
    """`response`, with the notice to the address an account had sent after it (decision 0128)."""
    if emails is not None and change is not None and change.changed:
        response.background = BackgroundTask(emails.tell_old_address, change)
    return response
