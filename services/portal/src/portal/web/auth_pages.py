"""Sign in and sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from portal.accounts import MIN_PASSWORD_LENGTH, Account, InvalidAccount, PasswordChange, SignInOutcome
from portal.auth import SignedIn
from portal.csrf import FIELD, new_csrf_token, tokens_match
from portal.web.common import (
    UK,
    PageError,
    User,
    checked_form,
    clear_cookie,
    field,
    operator_home,
    portal_of,
    render,
    safe_next,
    see_other,
    set_cookie,
)

router = APIRouter(include_in_schema=False)


def _home(account: Account) -> str:
    """Where a person lands after signing in: an operator on the first page their duties reach."""
    return (operator_home(account) or "/ops") if account.is_operator else "/"


def _sign_in_page(
    request: Request, next_path: str, errors: dict[str, str] | None = None, username: str = "", status_code: int = 200
) -> HTMLResponse:
    portal = portal_of(request)
    form_token = new_csrf_token()
    response = render(
        request,
        "sign_in.html",
        {"next_path": next_path, "errors": errors or {}, "username": username, "form_token": form_token},
        status_code=status_code,
    )
    set_cookie(portal, response, portal.cookies.sign_in_cookie, form_token, max_age=3600)
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request, next: Annotated[str | None, Query()] = None) -> HTMLResponse:
    return _sign_in_page(request, safe_next(next))


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    portal = portal_of(request)
    form = await request.form()
    submitted = form.get(FIELD)
    if not tokens_match(
        request.cookies.get(portal.cookies.sign_in_cookie), submitted if isinstance(submitted, str) else None
    ):
        raise PageError("csrf")
    username, password, next_path = field(form, "username"), form.get("password"), safe_next(field(form, "next"))
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Enter your username"
    if not isinstance(password, str) or not password:
        errors["password"] = "Enter your password"  # noqa: S105 - a message, not a password
    if errors:
        return _sign_in_page(request, next_path, errors, username, 400)
    assert isinstance(password, str)
    result = await portal.auth.sign_in(username, password)
    if result.outcome is SignInOutcome.LOCKED:
        until = result.locked_until
        when = f" after {until.astimezone(UK).strftime('%H:%M')}" if until else " later"
        errors["username"] = f"This account is locked after too many failed attempts. Try again{when}."
        return _sign_in_page(request, next_path, errors, username, 400)
    if result.session is None:
        errors["username"] = "The username or password is not right"
        return _sign_in_page(request, next_path, errors, username, 400)
    destination = next_path if next_path != "/" else _home(result.session.account)
    response = see_other(destination)
    set_cookie(portal, response, portal.cookies.session_cookie, result.session.token)
    clear_cookie(portal, response, portal.cookies.sign_in_cookie)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, user: User) -> Response:
    await checked_form(request, user)
    portal = portal_of(request)
    await portal.auth.sign_out(user.token)
    response = see_other("/sign-in?signed_out=1")
    clear_cookie(portal, response, portal.cookies.session_cookie)
    return response


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
    else:
        response = see_other("/sign-in?password_changed=1")
    clear_cookie(portal, response, portal.cookies.session_cookie)
    return response
