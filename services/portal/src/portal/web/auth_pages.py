"""Sign in and sign out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.datastructures import FormData

from lrs_contracts.text import OneLineText
from portal.accounts import MIN_PASSWORD_LENGTH, Account, InvalidAccount, PasswordChange, checked_email
from portal.auth import SignedIn
from portal.csrf import FIELD, new_csrf_token, tokens_match
from portal.password_emails import PasswordEmails
from portal.reset_links import PasswordChangedBy
from portal.web.common import (
    SANDPIT,
    PageError,
    User,
    checked_form,
    clear_cookie,
    clock_of,
    field,
    operator_home,
    portal_of,
    posted_form,
    render,
    safe_next,
    see_other,
    set_cookie,
    told_old_address,
)

router = APIRouter(include_in_schema=False)
FORM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")  # what `new_csrf_token` makes
FORM_COOKIE_SECONDS = 3600  # how long a signed-out form's token cookie lasts (the privacy page says so)


def _home(account: Account) -> str:
    """Where a person lands after signing in: an operator on the first page their duties reach."""
    return (operator_home(account) or "/ops") if account.is_operator else "/"


def _signed_out_form(
    request: Request, template: str, context: Mapping[str, object], status_code: int = 200
) -> HTMLResponse:
    """A page whose form is sent by someone not signed in: its CSRF token is in a cookie of its own
    (double submit), as there is no session to hold it."""
    portal = portal_of(request)
    # The browser's token if it has one, so that opening another of these pages (the sign-in page in another
    # tab) leaves the form already open valid; a new one otherwise.
    kept = request.cookies.get(portal.cookies.sign_in_cookie)
    form_token = kept if kept and FORM_TOKEN.fullmatch(kept) else new_csrf_token()
    response = render(request, template, {**context, "form_token": form_token}, status_code=status_code)
    set_cookie(portal, response, portal.cookies.sign_in_cookie, form_token, max_age=FORM_COOKIE_SECONDS)
    return response


def _check_signed_out_form(request: Request, form: FormData) -> None:
    submitted = form.get(FIELD)
    if not tokens_match(
        request.cookies.get(portal_of(request).cookies.sign_in_cookie),
        submitted if isinstance(submitted, str) else None,
    ):
        raise PageError("csrf")


ENDED = ("page", "form")  # how a session that ended is said: at a page, or at a form not acted on
# The pages of an upload (live or the Sandpit's): a session that ended at their forms lost a file chosen, not typing.
UPLOAD_PAGES = frozenset({"/batches/new", "/batches/check", "/batches/submit"})


def _at_upload(next_path: str) -> bool:
    """Whether the page signing in leads back to is an upload's: its form sent a file."""
    path = next_path.partition("?")[0]
    return path.removeprefix(SANDPIT) in UPLOAD_PAGES


def _sign_in_page(
    request: Request,
    next_path: str,
    errors: dict[str, str] | None = None,
    username: str = "",
    status_code: int = 200,
    ended: str | None = None,
) -> HTMLResponse:
    context = {
        "next_path": next_path,
        "errors": errors or {},
        "username": username,
        "ended": ended if ended in ENDED else None,
        "ended_at_upload": ended == "form" and _at_upload(next_path),
        "idle_minutes": portal_of(request).settings.session_idle_minutes,
    }
    return _signed_out_form(request, "sign_in.html", context, status_code)


def refuse_query_not_typed(request: Request) -> None:
    """The page not found for an address whose query is not UTF-8 text, percent-encoded as a browser sends it:
    Starlette would read U+FFFD (or Latin-1) in place of its bytes, and the page would show or send back what nobody
    typed. (A value's characters are checked as `OneLineText`, a query parameter's type.)"""
    try:
        parse_qsl(request.scope["query_string"].decode("ascii"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise PageError("not_found") from None


@router.get("/sign-in")
async def sign_in_form(
    request: Request,
    next: Annotated[OneLineText | None, Query()] = None,
    ended: Annotated[OneLineText | None, Query()] = None,
) -> Response:
    """`ended`: the person's session ended (at a page, or at a form), said above the form. A browser whose session
    is live has nothing to sign in to: it goes on to `next` (a tab left at this page while another tab signed in,
    or a link followed from another site). Asking for this page is not using the portal: it reads the session
    without keeping it, so that a page's "signed out" never keeps an idle session."""
    refuse_query_not_typed(request)
    next_path = safe_next(next)
    portal = portal_of(request)
    if live := await portal.auth.session_for(request.cookies.get(portal.cookies.session_cookie), extend=False):
        return see_other(next_path if next_path != "/" else _home(live.account))
    return _sign_in_page(request, next_path, ended=ended)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    portal = portal_of(request)
    form = await posted_form(request)
    _check_signed_out_form(request, form)
    username, password, next_path = field(form, "username"), form.get("password"), safe_next(field(form, "next"))
    ended = field(form, "ended")
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Enter your username"
    if not isinstance(password, str) or not password:
        errors["password"] = "Enter your password"  # noqa: S105 - a message, not a password
    if errors:
        return _sign_in_page(request, next_path, errors, username, 400, ended)
    assert isinstance(password, str)
    with portal.auth.client_turn(request.client.host if request.client else "") as checked_now:
        if not checked_now:
            errors["username"] = (
                "Other sign-ins from your network are being checked at this moment: wait a few seconds, then sign in"
                " again."
            )
            return _sign_in_page(request, next_path, errors, username, 429, ended)
        earlier = request.cookies.get(portal.cookies.session_cookie)
        # the session the browser holds, if live: signing in again as its account keeps it (other tabs use it)
        held = await portal.auth.session_for(earlier)
        result = await portal.auth.sign_in(username, password, held)
    if result.session is None:
        # Said alike of a locked account and of a wrong password or username: saying "locked" would tell
        # anyone trying names which of them are accounts (the forgotten-password page tells nobody either).
        settings = portal.settings
        errors["username"] = (
            f"The username or password is not right. After {settings.lockout_failures} wrong passwords in a row an"
            f" account is locked for {settings.lockout_minutes} minutes: if yours may be, wait, or use"
            " \u201cForgotten your password?\u201d. If the right password still fails, your account may have been"
            " disabled: ask an LRS operator through the LRS service desk (\u201cContact the LRS service desk\u201d, at"
            " the foot of this page)."
        )
        return _sign_in_page(request, next_path, errors, username, 400, ended)
    if earlier and result.session is not held:
        # another account's session, or one that ended: it ends with its keys, its cookie is replaced by the new
        # session's (a new token: a cookie planted before sign-in names nothing after it), and nobody may use it again
        await portal.auth.sign_out(earlier)
    destination = next_path if next_path != "/" else _home(result.session.account)
    response = see_other(destination)
    set_cookie(portal, response, portal.cookies.session_cookie, result.session.token, samesite="lax")
    # The sign-in form's cookie is kept until it expires: another tab's sign-in form (every tab is sent to one when
    # the session's clock ends) still carries its token.
    return response


@router.post("/sign-out")
async def sign_out(request: Request, user: User) -> Response:
    await checked_form(request, user)
    portal = portal_of(request)
    await portal.auth.sign_out(user.token)
    response = see_other("/sign-in?signed_out=1")
    clear_cookie(portal, response, portal.cookies.session_cookie)
    return response


@router.post("/session/keep-alive")
async def keep_alive(request: Request, user: User) -> JSONResponse:
    """A page's "Stay signed in" (the warning before a session ends, base.html): like every request of the session,
    it keeps the session for the idle limit again, never past the absolute one; answers when the session now ends
    and whether that end is the absolute one (`final`), which nothing puts off."""
    await checked_form(request, user)
    clock = clock_of(request, user)
    return JSONResponse({"ends_in": clock.ends_in, "final": clock.final})


def _password_page(
    request: Request, user: SignedIn, errors: dict[str, str] | None = None, status_code: int = 200
) -> HTMLResponse:
    context = {"errors": errors or {}, "min_length": MIN_PASSWORD_LENGTH}
    return render(request, "account_password.html", context, user=user, status_code=status_code)


@router.get("/account/password")
async def password_form(request: Request, user: User) -> HTMLResponse:
    return _password_page(request, user)


@router.post("/account/password")
async def change_password(request: Request, user: User) -> Response:
    """The person's own new password (decision 0127); every session of theirs ends, this one too."""
    form = await checked_form(request, user)
    current, new, again = (form.get(name) for name in ("current_password", "new_password", "new_password_again"))
    if not all(isinstance(value, str) for value in (current, new, again)):
        raise PageError("bad_form")
    assert isinstance(current, str) and isinstance(new, str) and isinstance(again, str)
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = "Enter the password you have now"  # noqa: S105 - a message
    if not new:
        errors["new_password"] = "Enter a new password"  # noqa: S105 - a message
    elif new != again:
        errors["new_password_again"] = "The new password is not the same both times"  # noqa: S105 - a message
    if errors:
        return _password_page(request, user, errors, 400)
    portal = portal_of(request)
    try:
        outcome = await portal.auth.change_own_password(user.account.username, current, new)
    except InvalidAccount as error:
        return _password_page(request, user, {"new_password": str(error)}, 400)
    if outcome is PasswordChange.WRONG_PASSWORD:
        return _password_page(request, user, {"current_password": "That is not your password now"}, 400)
    if outcome is PasswordChange.LOCKED:
        locked = "Your account is locked after too many wrong passwords: try again later"
        return _password_page(request, user, {"current_password": locked}, 400)
    if outcome is PasswordChange.CHANGED_MEANWHILE:  # reset, disabled or changed elsewhere first: start again
        await portal.auth.sign_out(user.token)
        response = see_other("/sign-in?password_not_changed=1")
    elif outcome is PasswordChange.CHANGED_ALREADY:  # the form sent twice: the first request's answer told them
        response = see_other("/sign-in?password_changed=1")
    else:
        response = see_other("/sign-in?password_changed=1")
        _told_password_changed(response, portal.password_emails, user.account, PasswordChangedBy.OWNER)
    clear_cookie(portal, response, portal.cookies.session_cookie)
    return response


def _told_password_changed(
    response: Response, emails: PasswordEmails | None, account: Account, by: PasswordChangedBy
) -> Response:
    """`response`, with the notice to the account's address that its password changed sent after it (as
    `told_old_address` tells of an address changed)."""
    if emails is not None:
        response.background = BackgroundTask(emails.tell_password_changed, account, by)
    return response


def _email_page(
    request: Request, user: SignedIn, errors: dict[str, str] | None = None, email: str | None = None, status: int = 200
) -> HTMLResponse:
    context = {
        "errors": errors or {},
        "email": (user.account.email or "") if email is None else email,
        "sends_links": portal_of(request).password_emails is not None,
        "changed": request.query_params.get("changed") == "1",
    }
    return render(request, "account_email.html", context, user=user, status_code=status)


@router.get("/account/email")
async def email_form(request: Request, user: User) -> HTMLResponse:
    return _email_page(request, user)


@router.post("/account/email")
async def change_email(request: Request, user: User) -> Response:
    """The person's own email address, where forgotten-password links go (decision 0128): their password
    confirms it, as a session left open must not be enough to redirect those links."""
    form = await checked_form(request, user)
    email, current = form.get("email"), form.get("current_password")
    if not isinstance(email, str) or not isinstance(current, str):
        raise PageError("bad_form")
    errors: dict[str, str] = {}
    try:
        checked_email(email)
    except InvalidAccount as error:
        errors["email"] = str(error)
    if not current:
        errors["current_password"] = "Enter your password"  # noqa: S105 - a message, not a password
    if errors:  # both at once: a bad address is not left to be said after the password is given
        return _email_page(request, user, errors, email, 400)
    portal = portal_of(request)
    try:
        outcome, change = await portal.auth.change_own_email(user.account.username, current, email)
    except InvalidAccount as error:
        return _email_page(request, user, {"email": str(error)}, email, 400)
    if outcome is PasswordChange.WRONG_PASSWORD:
        return _email_page(request, user, {"current_password": "That is not your password"}, email, 400)
    if outcome is PasswordChange.LOCKED:
        locked = "Your account is locked after too many wrong passwords: try again later"
        return _email_page(request, user, {"current_password": locked}, email, 400)
    return told_old_address(see_other("/account/email?changed=1"), portal.password_emails, change)


# --- forgotten passwords (decision 0128) ------------------------------------------------------------------


def _forgotten_page(
    request: Request, errors: dict[str, str] | None = None, username: str = "", status_code: int = 200
) -> HTMLResponse:
    forgotten = portal_of(request).password_emails
    context = {
        "errors": errors or {},
        "username": username,
        "sends_links": forgotten is not None,
        "minutes": 0 if forgotten is None else int(forgotten.policy.valid_for.total_seconds() // 60),
        "most_per_hour": 0 if forgotten is None else forgotten.policy.most_per_hour,
        "most_per_client": 0 if forgotten is None else forgotten.policy.most_requests_per_client,
    }
    return _signed_out_form(request, "forgotten_password.html", context, status_code)


@router.get("/account/forgotten-password")
async def forgotten_password_form(request: Request) -> HTMLResponse:
    return _forgotten_page(request)


@router.post("/account/forgotten-password")
async def send_reset_link(request: Request) -> Response:
    """Answers at once, the same whatever the username: the link is looked for and sent after the answer,
    so neither the page nor the time it takes says whether the account exists or has an email address."""
    form = await posted_form(request)
    _check_signed_out_form(request, form)
    forgotten = portal_of(request).password_emails
    if forgotten is None:
        return _forgotten_page(request, status_code=404)
    username = field(form, "username")
    if not username:
        return _forgotten_page(request, {"username": "Enter your username"}, status_code=400)
    response = see_other("/account/forgotten-password?sent=1")
    client = request.client.host if request.client else "unknown"  # as uvicorn has it: FORWARDED_ALLOW_IPS
    response.background = BackgroundTask(forgotten.send_link, username, client=client)
    return response


def _reset_page(
    request: Request, token: str, account: Account | None, errors: dict[str, str] | None = None, status_code: int = 200
) -> HTMLResponse:
    context = {"errors": errors or {}, "token": token, "holder": account, "min_length": MIN_PASSWORD_LENGTH}
    response = _signed_out_form(request, "reset_password.html", context, status_code)
    response.headers["Referrer-Policy"] = "no-referrer"  # the address holds the link's token
    return response


@router.get("/account/reset/{token}")
async def reset_form(request: Request, token: str) -> HTMLResponse:
    """Only shows the form: opening the link (a mail scanner may) uses nothing up."""
    account = await portal_of(request).auth.reset_link_holder(token)
    return _reset_page(request, token, account, status_code=200 if account else 404)


@router.post("/account/reset/{token}")
async def reset_password(request: Request, token: str) -> Response:
    form = await posted_form(request)
    _check_signed_out_form(request, form)
    portal = portal_of(request)
    new, again = form.get("new_password"), form.get("new_password_again")
    if not isinstance(new, str) or not isinstance(again, str):
        raise PageError("bad_form")
    account = await portal.auth.reset_link_holder(token)
    if account is None:
        # the form sent twice (a double-click): the second finds the link used by the first, and is answered as
        # the first was when the password it gives is the one the first set
        if new and new == again and await portal.auth.link_used_for(token, new) is not None:
            return _password_set(request)
        return _reset_page(request, token, None, status_code=404)
    errors: dict[str, str] = {}
    if not new:
        errors["new_password"] = "Enter a new password"  # noqa: S105 - a message
    elif new != again:
        errors["new_password_again"] = "The new password is not the same both times"  # noqa: S105 - a message
    if errors:
        return _reset_page(request, token, account, errors, 400)
    try:
        reset = await portal.auth.set_password_by_link(token, new)
    except InvalidAccount as error:
        return _reset_page(request, token, account, {"new_password": str(error)}, 400)
    if reset.account is None:  # used (for another password) or changed meanwhile
        return _reset_page(request, token, None, status_code=404)
    if reset.repeated:  # the form sent twice: the notice went with the first
        return _password_set(request)
    return _told_password_changed(_password_set(request), portal.password_emails, reset.account, PasswordChangedBy.LINK)


def _password_set(request: Request) -> Response:
    """Where a password chosen through a link sends the browser: to sign in with it."""
    portal = portal_of(request)
    response = see_other("/sign-in?password_reset=1")
    clear_cookie(portal, response, portal.cookies.session_cookie)
    clear_cookie(portal, response, portal.cookies.sign_in_cookie)
    return response
