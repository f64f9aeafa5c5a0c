"""Operators' pages for people: portal accounts (duties, email addresses, password links) and AO API keys."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Annotated, Any, NamedTuple
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.background import BackgroundTask

from lrs_contracts.environments import Environment
from lrs_contracts.text import refused_character
from lrs_platform.clock import time_on_day
from lrs_platform.credential_store import MAX_LABEL_CHARACTERS, StoredKey, label_refusal
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind
from portal.accounts import (
    AO_ID_PATTERN,
    USERNAME_PATTERN,
    Account,
    AccountChange,
    AccountListing,
    AddressChange,
    InvalidAccount,
    LastEveryDutyOperator,
    LastOperatorWithPower,
    NotInRegister,
    PasswordChangedMeanwhile,
    Role,
)
from portal.auth import LinkNotSent, LinkShareUsed, NoSandpit, SandpitUnreachable, SignedIn
from portal.backend import ServiceError
from portal.password_emails import PasswordEmails
from portal.reset_links import PasswordChangedBy, old_address_told
from portal.store import AccountDisabled, AccountExists, AccountNotFound, SentForm
from portal.web.common import (
    AccountsOperator,
    PageError,
    checked_form,
    field,
    notice_address,
    notice_for,
    portal_of,
    reason_error,
    render,
    see_other,
    see_other_telling,
    told_old_address,
    uk_time,
)
from portal.web.key_names import own_key

router = APIRouter(include_in_schema=False)

RECENT_CHANGES = 10  # on the accounts page; the rest a page at a time
CHANGE_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a bigint
CHANGES_PAGE = 50
NEW_FORMS = {"role": "ao", "first_link": "yes", "key_environment": Environment.LIVE.value}  # as first shown


DUTIES = {
    OperatorScope.SUPPORT: "act and read for any AO, learner or provider (with the lrs command or the API)",
    OperatorScope.REGISTRY: "the learner registry and reference data (lrs command)",
    OperatorScope.ERASURE: "erase learners; the erasures' audit",
    OperatorScope.KEYS: "the key wrapping learners' keys; the credential signing keys",
    OperatorScope.DEAD_LETTERS: "every service's dead letters; the projector's state",
    OperatorScope.REBUILD: "the projector's state, rebuilds and replays",
    OperatorScope.MAINTENANCE: "maintenance windows and pauses; the Sandpit's purge",
    OperatorScope.ACCOUNTS: "AO staff's accounts and AO API keys; disabling any account",
}


CONTACT_SECONDS = 5.0  # the notifier's answer a confirmation waits for at most: it is said only when it comes


class ContactOf(NamedTuple):
    """An AO user's account that is its AO's challenge contact: the contact's address, and who set it."""

    ao_id: str
    email: str
    set_by: str | None


async def challenge_contact_of(request: Request, account: Account, service_key: str) -> ContactOf | None:
    """Whether `account` is its AO's challenge contact, read from the notifier with `service_key` (the operator's):
    the contact's address is the account's, or the contact was last set in the portal signed in as it. None too when
    the notifier does not answer (or not in time): a disabling is never held up for it."""
    if account.ao_id is None:
        return None
    service = portal_of(request).services.as_principal(service_key)
    try:
        contact = await service.challenge_contact(account.ao_id, timeout=CONTACT_SECONDS)
    except ServiceError:
        return None
    if contact is None or not contact.get("email"):
        return None
    by = str(contact.get("updated_by") or "")
    by_the_ao = by == f"ao:{account.ao_id}"
    key = await own_key(request, contact.get("updated_with_key"), account.ao_id) if by_the_ao else None
    known = key is not None and bool(key.get("known"))
    person = key.get("person") if key is not None and known else None
    address = str(contact["email"])
    if person != account.username and (not account.email or address.casefold() != account.email.casefold()):
        return None
    if person:
        set_by: str | None = person
    elif key is not None and known and key.get("label"):
        set_by = f"the AO's API key {key['label']}"
    elif by.startswith(f"{PrincipalKind.OPERATOR.value}:"):
        set_by = "an LRS operator"
    else:
        set_by = None
    return ContactOf(account.ao_id, address, set_by)


def contact_said(contact: ContactOf) -> str:
    """What a disabling's confirmation says of an account that is its AO's challenge contact."""
    by = f" (set by {contact.set_by})" if contact.set_by else ""
    return (
        f"{contact.email} is {contact.ao_id}'s challenge contact{by}: ask the AO to set another on its Challenge"
        " contact page"
    )


def key_said(key: StoredKey) -> str:
    """An API key as the accounts pages name it: its label and id (never its secret)."""
    return f"{key.label} (key {key.key_id})" if key.label else f"key {key.key_id}"


def keys_said(keys: Collection[StoredKey]) -> str:
    """How many API keys, and whose: "1 API key of operator:ops2", "2 API keys of operator:ops2"."""
    whose = str(next(iter(keys)).principal) if keys else ""
    return f"{len(keys)} API key{'' if len(keys) == 1 else 's'} of {whose}"


def _ticked_duties(form: Any) -> list[str]:
    ticked = form.getlist("scopes")
    if not all(isinstance(name, str) for name in ticked):
        raise PageError("bad_form")
    return list(ticked)


def _chosen_duties(choice: str, ticked: list[str]) -> list[str]:
    """An operator's duties as the form chose them: [] for every duty, only when "Every duty" was chosen
    (an empty list of ticks never means every duty). Raises InvalidAccount."""
    if choice == "every":
        return []  # boxes ticked as well are not asked for: every duty was chosen
    if choice != "only":
        raise InvalidAccount("Choose the operator's duties: only some, or every duty", "duties")
    if not ticked:
        raise InvalidAccount("Tick at least one duty, or choose every duty", "scopes")
    return ticked


def _hands_out_operator_power(user: SignedIn, what: str) -> None:
    """Operator accounts are made, their passwords reset and their duties changed only by an operator with
    every duty (decision 0124, as decision 0122 for keys): anyone else could give themselves more."""
    if not user.account.has_every_duty:
        raise PageError("forbidden", f"Only an operator with every duty can {what}.")


class Kept(NamedTuple):
    """What the accounts table shows of an operator who cannot be disabled (decision 0153): why, in place of
    the Disable button, and whether their duties can be narrowed at all (not those of the last with every duty)."""

    why: str
    duties_fixed: bool


def _kept(refusal: LastOperatorWithPower) -> Kept:
    if isinstance(refusal, LastEveryDutyOperator):
        return Kept(
            "The last operator with every duty cannot be disabled: give another operator every duty first.", True
        )
    return Kept(
        "The last operator with the accounts duty cannot be disabled: give another operator that duty first.", False
    )


async def _accounts_page(
    request: Request,
    user: Any,
    *,
    issued: dict[str, str] | None = None,
    sent: dict[str, str] | None = None,
    revoked: dict[str, str] | None = None,
    done: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
    keys_of: str | None = None,
) -> HTMLResponse:
    portal = portal_of(request)
    keys_principal = Principal(PrincipalKind.AO, keys_of) if keys_of else None
    keys, keys_total = await portal.auth.ao_keys(keys_principal)
    sandpit_keys: list[StoredKey] = []
    sandpit_keys_total, sandpit_away = 0, False
    if portal.auth.has_sandpit:
        try:  # the page is live's first: a Sandpit database away leaves its keys unlisted, not the page unshown
            sandpit_keys, sandpit_keys_total = await portal.auth.ao_keys(
                keys_principal, environment=Environment.SANDPIT
            )
        except SandpitUnreachable:
            sandpit_away = True
    listed, shown, listing_errors = _listing_of(request)
    accounts, next_after = await portal.auth.accounts(listed)
    if listing_errors:
        status = 400
    context = {
        "accounts": accounts,
        "kept": {username: _kept(refusal) for username, refusal in (await portal.auth.operators_kept()).items()},
        "listing": shown,
        "more_accounts": _page_link(listed, next_after) if next_after else None,
        "first_accounts": _page_link(listed, None) if listed.after else None,
        "keys": keys,
        "keys_total": keys_total,
        "issues_sandpit_keys": portal.auth.has_sandpit,
        "sandpit_keys": sandpit_keys,
        "sandpit_keys_total": sandpit_keys_total,
        "sandpit_away": sandpit_away,
        "keys_of": keys_of or "",
        "issued": issued,
        "sent": sent,
        "revoked": revoked,
        "done": done,
        "sends_links": portal.password_emails is not None,
        "errors": {**listing_errors, **(errors or {})},
        "values": values or NEW_FORMS,
        # each form's one-time id (a form shown again after an error keeps the one it was sent with)
        "account_form_id": (values or {}).get("account_form_id") or str(uuid.uuid4()),
        "key_form_id": (values or {}).get("key_form_id") or str(uuid.uuid4()),
        "label_limit": MAX_LABEL_CHARACTERS,  # the key form's label: its hint and its input's maxlength
        "link_form_ids": {account.username: str(uuid.uuid4()) for account in accounts},  # each row's Email a link
        "duties": DUTIES,
        "changes": await portal.auth.changes(limit=RECENT_CHANGES),
    }
    return render(request, "ops_accounts.html", context, user=user, status_code=status)


ACCOUNTS_PAGE = 100
_STARTING = re.compile(r"^[a-z0-9._@-]{1,64}$")


def _listing_of(request: Request) -> tuple[AccountListing, dict[str, str], dict[str, str]]:
    """The accounts the page's filter asks for (`accounts_of`, `role`, `starting`; `after` for a later page),
    what the filter shows, and what in it is not right (then every account is listed)."""
    query = request.query_params
    shown = {name: (query.get(name) or "").strip() for name in ("accounts_of", "role", "starting", "after")}
    shown["accounts_of"] = shown["accounts_of"].upper()
    shown["starting"] = shown["starting"].lower()
    errors: dict[str, str] = {}
    if shown["accounts_of"] and not AO_ID_PATTERN.fullmatch(shown["accounts_of"]):
        errors["accounts_of"] = "Enter an AO recognition number, like RN9037"
    if shown["starting"] and not _STARTING.fullmatch(shown["starting"]):
        errors["starting"] = "A username holds only lower-case letters, digits, dots, dashes, underscores or @"
    role = shown["role"] if shown["role"] in {role.value for role in Role} else ""
    after = shown["after"] if USERNAME_PATTERN.fullmatch(shown["after"]) else ""
    shown |= {"role": role, "after": after}
    if errors:
        return AccountListing(limit=ACCOUNTS_PAGE), shown, errors
    listed = AccountListing(
        ao_id=shown["accounts_of"] or None,
        role=Role(role) if role else None,
        starting=shown["starting"] or None,
        after=after or None,
        limit=ACCOUNTS_PAGE,
    )
    return listed, shown, errors


def _page_link(listed: AccountListing, after: str | None) -> str:
    """The accounts page with the filter it applied, from after `after` (None: the first page)."""
    asked = {
        "accounts_of": listed.ao_id,
        "role": listed.role.value if listed.role else None,
        "starting": listed.starting,
        "after": after,
    }
    return "/ops/accounts?" + urlencode({name: value for name, value in asked.items() if value})


@router.get("/ops/accounts")
async def accounts(
    request: Request, user: AccountsOperator, keys_of: Annotated[str | None, Query(max_length=20)] = None
) -> HTMLResponse:
    """Accounts, and AO API keys: every AO's (the first 500) or, with `keys_of`, one AO's."""
    keys_of = (keys_of or "").strip().upper() or None
    if keys_of and not AO_ID_PATTERN.fullmatch(keys_of):
        errors = {"keys_of": "Enter an AO recognition number, like RN9037"}
        return await _accounts_page(request, user, errors=errors, status=400)
    notice = await notice_for(request, user)
    return await _accounts_page(
        request,
        user,
        keys_of=keys_of,
        issued=notice.get("issued"),
        sent=notice.get("sent"),
        revoked=notice.get("revoked"),
        done=notice.get("done"),
    )


def _new_account_errors(
    request: Request, user: SignedIn, values: dict[str, Any], emails: PasswordEmails | None
) -> dict[str, str]:
    """Every field's error in the new account's form at once (GOV.UK's error summary), each field's first; what
    only the stores can judge (a username taken, an address the relay refuses) is said after."""
    errors: dict[str, str] = {}
    role: Role | None = None
    try:
        role = Role(values["role"])
    except ValueError:
        errors["role"] = "Choose a role"
    if role is Role.OPERATOR and not user.account.has_every_duty:
        errors["role"] = "Only an operator with every duty can create an operator account"
    if values["first_link"] and emails is None:  # a form from before the relay was taken away
        errors["email"] = "This portal cannot send email now: create the account without a link to be given a password"
    duties = values["scopes"]
    if role is Role.OPERATOR:
        try:
            duties = _chosen_duties(values["duties"], values["scopes"])
        except InvalidAccount as error:
            errors[error.field] = str(error)
    details = (values["username"], values["display_name"], role, values["ao_id"] or None, values["email"] or None)
    for name, said in portal_of(request).auth.new_account_errors(*details, duties).items():
        errors.setdefault(name, said)
    if emails is not None and not values["email"]:
        errors.setdefault("email", "Enter the email address to send the link to.")
    return errors


FORM_WAIT_SECONDS = 20.0  # how long a second send of a form waits for the first to finish acting
_FORM_POLL_SECONDS = 0.1


def _form_id(form: Any) -> uuid.UUID | None:
    """The form's one-time id, made when its page was shown; None for a form from before them (acted on as then)."""
    sent = field(form, "form_id")
    if not sent:
        return None
    try:
        return uuid.UUID(sent)
    except ValueError:
        raise PageError("bad_form") from None


async def _sent_first(request: Request, user: SignedIn, form_id: uuid.UUID | None, name: str) -> SentForm | None:
    """None when this send of the form is its first (or it has no id): this one acts. Otherwise the first send,
    waited for until it has acted (a double-click's second POST arrives while the first is still acting), or
    FORM_WAIT_SECONDS, when its outcome is still None."""
    if form_id is None:
        return None
    forms = portal_of(request).uploads.forms
    deadline = time.monotonic() + FORM_WAIT_SECONDS
    while True:
        first = await forms.claim(user.account.username, form_id, name)
        if first is None:
            return None
        if first.username != user.account.username or first.form != name:
            raise PageError("bad_form")  # not this person's form: a uuid4 is not guessed
        if first.outcome is not None or time.monotonic() >= deadline:
            return first
        await asyncio.sleep(_FORM_POLL_SECONDS)


async def _answer_if_sent_already(
    request: Request, user: SignedIn, form_id: uuid.UUID | None, name: str, still: dict[str, str]
) -> Response | None:
    """None when this send of the form `name` is its first (or it has no id): it acts. Otherwise the answer to a
    form sent again (`_sent_again`), which does nothing; `still`: what it says while the first send is acting."""
    first = await _sent_first(request, user, form_id, name)
    if first is None:
        return None
    assert form_id is not None  # a form without an id is never sent already
    return await _sent_again(request, user, form_id, first, still)


async def _sent_again(
    request: Request, user: SignedIn, form_id: uuid.UUID, first: SentForm, still: dict[str, str]
) -> Response:
    """The answer to a form sent again: the page the first send went to, not an error. When that page has not been
    shown yet (a double-click: the browser shows only the second answer), it shows the first's notice, the password
    or key's secret included, once; otherwise it says that the form was sent already and what it did (`still`: what
    to say when the first send is still acting), never a secret again."""
    url, told = (first.outcome["url"], first.outcome["told"]) if first.outcome else ("/ops/accounts", still)
    auth = portal_of(request).auth
    # the first send's own notice, if its page has not read it (another action's, waiting beside it, stays)
    waiting = await auth.take_notice(user, notice_address(url), form_id=str(form_id))
    if waiting is not None:
        return await see_other_telling(request, user, url, **waiting)  # put back for the page, unread
    return await see_other_telling(request, user, url, done=told)


async def _give_back(request: Request, form_id: uuid.UUID | None) -> None:
    """The form's first send did nothing (refused, or failed): it can be sent again."""
    if form_id is not None:
        await portal_of(request).uploads.forms.give_back(form_id)


async def _told_once(
    request: Request,
    user: SignedIn,
    form_id: uuid.UUID | None,
    url: str,
    told_again: dict[str, str],
    **notice: Any,
) -> Response:
    """`see_other_telling` for a form that acts once: its notice names the form, and what it did (`url`, and
    `told_again`: what a second send of it is told) is kept for the sends after it."""
    if form_id is None:
        return await see_other_telling(request, user, url, **notice)
    response = await see_other_telling(request, user, url, form_id=str(form_id), **notice)
    await portal_of(request).uploads.forms.done(form_id, {"url": url, "told": told_again})
    return response


@router.post("/ops/accounts")
async def create_account(request: Request, user: AccountsOperator) -> Response:
    form = await checked_form(request, user)
    names = ("username", "display_name", "role", "ao_id", "email", "duties", "first_link")
    values: dict[str, Any] = {name: field(form, name) for name in names}
    values["scopes"] = _ticked_duties(form)
    form_id = _form_id(form)
    values["account_form_id"] = str(form_id) if form_id else ""
    portal = portal_of(request)
    emails = portal.password_emails if values["first_link"] else None
    errors = _new_account_errors(request, user, values, emails)
    if errors:
        return await _accounts_page(request, user, errors=errors, values=values, status=400)
    role = Role(values["role"])
    details = (values["username"], values["display_name"], role, values["ao_id"] or None, values["email"] or None)
    still = {
        "what": f"This form was sent already: the account {values['username']} is still being created",
        "body": "Reload this page in a moment to see it among the accounts. It is created once.",
    }
    if sent_already := await _answer_if_sent_already(request, user, form_id, "create_account", still):
        return sent_already
    try:
        # an AO user's ticks are refused by the account's own check, never dropped unseen
        duties = _chosen_duties(values["duties"], values["scopes"]) if role is Role.OPERATOR else values["scopes"]
        if emails is not None:
            account = await portal.auth.create_account_with_link(*details, duties, by=user.account.who, links=emails)
        else:
            account, password = await portal.auth.create_account(*details, duties, by=user.account.who)
    except InvalidAccount as error:
        await _give_back(request, form_id)
        return await _accounts_page(request, user, errors={error.field: str(error)}, values=values, status=400)
    except AccountExists:
        await _give_back(request, form_id)
        errors = {"username": f"The username {values['username']} is taken"}
        return await _accounts_page(request, user, errors=errors, values=values, status=400)
    except LinkNotSent as error:
        await _give_back(request, form_id)
        if error.about_address:
            errors = {"email": f"The mail relay refused this address ({error}): check it. No account was created"}
            return await _accounts_page(request, user, errors=errors, values=values, status=400)
        errors = {
            "first_link": f"The email could not be sent ({error}), so no account was created. Try again later, or"
            " untick this to be shown a password to give them"
        }
        return await _accounts_page(request, user, errors=errors, values=values, status=503)
    except BaseException:
        await _give_back(request, form_id)
        raise
    told_again = {
        "what": f"This form was sent already: the account {account.username} was created then",
        "body": "It was created once"
        + (
            ", and the link to choose a password emailed once."
            if emails is not None
            else ". Its password was shown once, after the first send: if nobody kept it, reset their password."
        ),
    }
    if emails is not None:
        hours = int(emails.policy.first_valid_for.total_seconds() // 3600)
        sent = {
            "what": f"Account {account.username} created",
            "body": f"A link to choose their password was emailed to {account.email}. It works once, for {hours}"
            " hours; after that they can use \u201cForgotten your password?\u201d on the sign-in page.",
        }
        return await _told_once(request, user, form_id, "/ops/accounts", told_again, sent=sent)
    issued = {
        "title": f"Account {account.username} created",
        "what": f"Password for {account.username}",
        "secret": password,
    }
    return await _told_once(request, user, form_id, "/ops/accounts", told_again, issued=issued)


@router.get("/ops/accounts/changes")
async def account_changes(
    request: Request, user: AccountsOperator, after: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    """The audit of account changes, a page at a time, newest first; `after`: the oldest change shown."""
    if after is not None and not CHANGE_ID.fullmatch(after):
        return see_other("/ops/accounts/changes")  # a position no page handed out: start again at the newest
    page = await portal_of(request).auth.changes(limit=CHANGES_PAGE + 1, older_than=int(after) if after else None)
    context = {
        "changes": page[:CHANGES_PAGE],
        "older": str(page[CHANGES_PAGE - 1].change_id) if len(page) > CHANGES_PAGE else None,
        "newest_first_page": after is None,
    }
    return render(request, "ops_account_changes.html", context, user=user)


async def _someone_elses_account(request: Request, username: str, user: SignedIn, own: str) -> Account:
    """The account `username` names, which is not `user`'s own (`own` says where that is changed)."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise PageError("not_found")
    if username == user.account.username:
        raise PageError("forbidden", own)
    try:
        return await portal_of(request).auth.account(username)
    except AccountNotFound:
        raise PageError("not_found") from None


async def _operator_account(request: Request, username: str, user: SignedIn) -> Account:
    """The operator account whose duties `user` is about to see or change."""
    _hands_out_operator_power(user, "change an operator's duties")
    own = "You cannot change your own duties: ask another operator with every duty."
    account = await _someone_elses_account(request, username, user, own)
    if not account.is_operator:
        raise PageError("not_found")
    return account


def _duties_page(
    request: Request,
    user: SignedIn,
    account: Account,
    own_keys: list[StoredKey],
    *,
    choice: str | None = None,
    ticked: Collection[str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "account": account,
        "own_keys": own_keys,
        "duties": DUTIES,
        "choice": choice or ("only" if account.scopes else "every"),
        "ticked": account.scopes if ticked is None else ticked,
        "errors": errors or {},
    }
    return render(request, "ops_account_duties.html", context, user=user, status_code=status)


@router.get("/ops/accounts/{username}/duties")
async def duties_form(request: Request, username: str, user: AccountsOperator) -> HTMLResponse:
    account = await _operator_account(request, username, user)
    return _duties_page(request, user, account, await portal_of(request).auth.own_keys(account))


@router.post("/ops/accounts/{username}/duties")
async def set_duties(request: Request, username: str, user: AccountsOperator) -> Response:
    form = await checked_form(request, user)
    account = await _operator_account(request, username, user)
    choice, ticked = field(form, "duties"), _ticked_duties(form)
    auth = portal_of(request).auth
    try:
        saved, changed = await auth.change_duties(account.username, _chosen_duties(choice, ticked), by=user.account.who)
    except (InvalidAccount, LastOperatorWithPower) as error:
        if isinstance(error, InvalidAccount):
            errors, status = {error.field: str(error)}, 400
        else:
            errors, status = {"duties": str(error)}, 409
        own_keys = await auth.own_keys(account)
        return _duties_page(
            request, user, account, own_keys, choice=choice, ticked=ticked, errors=errors, status=status
        )
    except AccountNotFound:
        raise PageError("not_found") from None
    told = {
        "what": f"Duties of {saved.username} saved: {_duties_said(saved.scopes)}",
        "body": "Any session of theirs has ended: they sign in again to work with these duties.",
    }
    if not changed:
        told = {
            "what": f"Duties of {saved.username} unchanged: {_duties_said(saved.scopes)}",
            "body": "They had these duties already: their sessions go on.",
        }
    if beyond := await auth.keys_beyond_duties(saved):
        told["body"] += f" {_keys_beyond_said(beyond)}"
    return await see_other_telling(request, user, "/ops/accounts", done=told)


def _keys_beyond_said(keys: list[StoredKey]) -> str:
    """What a change of duties leaves: the operator's own API keys that still do more than their duties."""
    named = "; ".join(f"{key_said(key)}: {_duties_said(key.principal.scopes)}" for key in keys)
    one = len(keys) == 1
    return (
        f"{keys_said(keys)} still {'does' if one else 'do'} more than these duties: {named}."
        f" {'It stays' if one else 'They stay'} as {'it is' if one else 'they are'} until revoked:"
        f" {revoke_command(keys[0].principal)}."
    )


def revoke_command(principal: Principal) -> str:
    """The command that ends an operator's own API keys (every key of the principal)."""
    return f"lrs credentials revoke --principal {Principal(principal.kind, principal.id)}"


def _duties_said(scopes: Collection[str]) -> str:
    """An operator's duties as the duties form lists them; none listed: every duty."""
    if not scopes:
        return "every duty"
    return ", ".join([str(scope) for scope in DUTIES if scope in scopes] + sorted(set(scopes) - set(DUTIES)))


async def _account_for_email(request: Request, username: str, user: SignedIn) -> Account:
    """The account whose email address `user` is about to see or change: an operator's only by an operator
    with every duty (the address receives the links that set its password), and never their own here."""
    own = "Change your own email address on the Your email address page."
    account = await _someone_elses_account(request, username, user, own)
    if account.is_operator:
        _hands_out_operator_power(user, "change an operator's email address")
    return account


def _email_page(
    request: Request,
    user: SignedIn,
    account: Account,
    *,
    email: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    shown = (account.email or "") if email is None else email
    context = {"account": account, "email": shown, "errors": errors or {}}
    return render(request, "ops_account_email.html", context, user=user, status_code=status)


@router.get("/ops/accounts/{username}/email")
async def email_form(request: Request, username: str, user: AccountsOperator) -> HTMLResponse:
    return _email_page(request, user, await _account_for_email(request, username, user))


@router.post("/ops/accounts/{username}/email")
async def set_email(request: Request, username: str, user: AccountsOperator) -> Response:
    form = await checked_form(request, user)
    account = await _account_for_email(request, username, user)
    email = field(form, "email")
    portal = portal_of(request)
    try:
        change = await portal.auth.set_email(account.username, email, by=user.account.who)
    except InvalidAccount as error:
        return _email_page(request, user, account, email=email, errors={error.field: str(error)}, status=400)
    except AccountNotFound:
        raise PageError("not_found") from None
    response = await see_other_telling(
        request, user, "/ops/accounts", done=_email_change_said(change, portal.password_emails)
    )
    return told_old_address(response, portal.password_emails, change)


def _email_change_said(change: AddressChange, emails: PasswordEmails | None) -> dict[str, str]:
    """What the accounts page says of an email address an operator set: the address, and what follows from it."""
    account, previous = change.account, change.previous
    if not change.changed:
        where = f"is {account.email} already" if account.email else "was empty already"
        return {"what": f"Email address of {account.username} not changed", "body": f"Their address {where}."}
    said = []
    if account.email:
        what = f"Email address of {account.username} changed to {account.email}"
        if emails is not None:
            said.append("Links to choose a password now go there.")
    else:
        what = f"Email address of {account.username} removed"
        said.append("No link to choose a password can be emailed to them until they have an address again.")
    if previous:
        told = emails is not None and old_address_told(change)
        tail = f", and {previous} is told of the change" if told else ""
        said.append(f"Any link sent to {previous} no longer works{tail}.")
    else:
        said.append("They had no email address before.")
    # the title names no address: a browser keeps titles in its history
    return {"what": what, "body": " ".join(said), "title": what.partition(" to ")[0]}


OWN_ACCOUNT = {
    "disable": "You cannot disable your own account: ask another operator with the accounts duty",
    # resetting it would end the session that is to show the new password: the person would be locked out
    "reset-password": "You cannot reset your own password here: change it on the Change your password page",
}
CONFIRMED_ACTIONS = ("disable", "enable", "reset-password")  # each asked first on a page of its own


async def _action_refused(request: Request, account: Account, action: str, user: SignedIn) -> tuple[str, int] | None:
    """Why `user` cannot do `action` to `account`, and the status to say it with (None: they can); an account's
    power they may not touch is refused as a page (403)."""
    if account.username == user.account.username and action in OWN_ACCOUNT:
        return OWN_ACCOUNT[action], 400
    if account.is_operator and action == "enable":
        _hands_out_operator_power(user, "enable an operator account again")
    if account.is_operator and action == "reset-password":
        _hands_out_operator_power(user, "reset an operator's password")
    if action == "disable" and (refusal := (await portal_of(request).auth.operators_kept()).get(account.username)):
        return str(refusal), 409
    return None


async def _account_acted_on(request: Request, username: str) -> Account:
    if not USERNAME_PATTERN.fullmatch(username):
        raise PageError("not_found")
    try:
        return await portal_of(request).auth.account(username)
    except AccountNotFound:
        raise PageError("not_found") from None


def _state_refused(account: Account, action: str) -> str | None:
    """Why the account is not in a state the action changes: asked on the confirmation page only, so that a form
    sent twice says what was done rather than that it cannot be done."""
    if action == "disable" and account.disabled_at is not None:
        return f"The account {account.username} is disabled already"
    if action == "enable" and account.disabled_at is None:
        return f"The account {account.username} is not disabled"
    if action == "reset-password" and account.disabled_at is not None:
        return f"The account {account.username} is disabled: enable it again before resetting its password"
    return None


MAX_DISABLE_REASON = 500  # as the other reasons operators give


def disable_reason_error(reason: str) -> str | None:
    missing = "Say why you are disabling the account: it is kept in the record of account changes"
    return reason_error(reason, limit=MAX_DISABLE_REASON, missing=missing)


def _action_page(
    request: Request,
    user: SignedIn,
    account: Account,
    action: str,
    *,
    reason: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
    disabling: dict[str, Any] | None = None,
) -> HTMLResponse:
    context = {
        **(disabling or {}),
        "account": account,
        "action": action,
        # Reset password acts once per form (decision 0190): a second send would set a second password
        "form_id": str(uuid.uuid4()) if action == "reset-password" else "",
        # and sets none when the password was set again after this page was shown (two operators at once)
        "password_set_at": account.password_set_at.isoformat()
        if action == "reset-password" and account.password_set_at
        else "",
        "sends_links": portal_of(request).password_emails is not None,
        "reason": reason,
        "errors": errors or {},
        "max_reason": MAX_DISABLE_REASON,
    }
    return render(request, "ops_account_action.html", context, user=user, status_code=status)


async def _confirm_account_action(request: Request, username: str, action: str, user: SignedIn) -> HTMLResponse:
    """The confirmation step of Disable, Enable again and Reset password: what will happen, then Yes or No (and for
    Disable, why)."""
    account = await _account_acted_on(request, username)
    refused = await _action_refused(request, account, action, user)
    if refused is None and (why := _state_refused(account, action)):
        refused = why, 409
    if refused is not None:
        return await _accounts_page(request, user, errors={"accounts": refused[0]}, status=refused[1])
    disabling = await _what_disabling_does(request, user, account) if action == "disable" else None
    return _action_page(request, user, account, action, disabling=disabling)


async def _what_disabling_does(request: Request, user: SignedIn, account: Account) -> dict[str, Any]:
    """What the confirmation of a disabling says beside the account: an operator's own API keys, revoked with it
    (`own_keys_said`), and whether the account is its AO's challenge contact (`contact_said`), each None when not."""
    own_keys = await portal_of(request).auth.own_keys(account)
    contact = await challenge_contact_of(request, account, user.service_key)
    return {
        "own_keys_said": _own_keys_said(own_keys) if own_keys else None,
        "contact_said": contact_said(contact) if contact else None,
    }


def _own_keys_said(keys: list[StoredKey]) -> str:
    """The confirmation's words on an operator's own API keys, which go with the account."""
    named = ", ".join(key_said(key) for key in keys)
    return f"{keys_said(keys)} ({named}) will be revoked too: keys made under their name go with their account."


@router.get("/ops/accounts/{username}/disable")
async def confirm_disable(request: Request, username: str, user: AccountsOperator) -> HTMLResponse:
    return await _confirm_account_action(request, username, "disable", user)


@router.get("/ops/accounts/{username}/enable")
async def confirm_enable(request: Request, username: str, user: AccountsOperator) -> HTMLResponse:
    return await _confirm_account_action(request, username, "enable", user)


@router.get("/ops/accounts/{username}/reset-password")
async def confirm_reset_password(request: Request, username: str, user: AccountsOperator) -> HTMLResponse:
    return await _confirm_account_action(request, username, "reset-password", user)


@router.post("/ops/accounts/{username}/{action}")
async def account_action(request: Request, username: str, action: str, user: AccountsOperator) -> Response:
    form = await checked_form(request, user)
    if action == "email-link":
        if not USERNAME_PATTERN.fullmatch(username):
            raise PageError("not_found")
        try:
            return await _email_link(request, username, user, _form_id(form))
        except AccountNotFound:
            raise PageError("not_found") from None
    if action not in CONFIRMED_ACTIONS:
        raise PageError("not_found")
    account = await _account_acted_on(request, username)
    if refused := await _action_refused(request, account, action, user):
        return await _accounts_page(request, user, errors={"accounts": refused[0]}, status=refused[1])
    if field(form, "confirmed") != "yes":  # a form from before the confirmation step: ask first
        return see_other(f"/ops/accounts/{quote(username, safe='')}/{action}")
    if action == "reset-password":
        return await _reset_password(request, username, user, _form_id(form), _password_set_at(form))
    auth = portal_of(request).auth
    try:
        if action == "disable":
            reason = field(form, "reason")
            if why := disable_reason_error(reason):
                disabling = await _what_disabling_does(request, user, account)
                return _action_page(
                    request,
                    user,
                    account,
                    action,
                    reason=reason,
                    errors={"reason": why},
                    status=400,
                    disabling=disabling,
                )
            disabled = await auth.disable_account(username, by=user.account.who, reason=reason)
            told = {
                "what": f"Account {username} disabled" if disabled.done else f"Account {username} was disabled already",
                "body": "They cannot sign in, and any session of theirs has ended. Enable it again to undo this.",
            }
            if keys := list(disabled.keys_revoked):
                one = len(keys) == 1
                told["body"] += (
                    f" {keys_said(keys)} {'was' if one else 'were'} revoked with it: {', '.join(map(key_said, keys))}."
                    " Enabling the account does not bring keys back: make new ones if they are needed."
                )
            return await see_other_telling(request, user, "/ops/accounts", done=told)
        done = await auth.enable(username, by=user.account.who)  # the one action left
    except AccountNotFound:
        raise PageError("not_found") from None
    except LastOperatorWithPower as error:
        return await _accounts_page(request, user, errors={"accounts": str(error)}, status=409)
    told = {
        "what": f"Account {username} enabled again" if done else f"Account {username} was not disabled",
        "body": "They can sign in with the password they had.",
    }
    return await see_other_telling(request, user, "/ops/accounts", done=told)


def _password_set_at(form: Any) -> datetime | None:
    """When the account's password was set as the confirmation page found it; None for a form from before it said."""
    sent = field(form, "password_set_at")
    if not sent:
        return None
    try:
        stamp = datetime.fromisoformat(sent)
    except ValueError:
        raise PageError("bad_form") from None
    if stamp.tzinfo is None:
        raise PageError("bad_form")
    return stamp


def _set_meanwhile_said(meanwhile: PasswordChangedMeanwhile) -> str:
    how = {
        AccountChange.PASSWORD_RESET: "reset",
        AccountChange.PASSWORD_CHANGED: "changed by its owner",
        AccountChange.PASSWORD_RESET_BY_LINK: "reset by its owner with an emailed link",
    }.get(meanwhile.change or AccountChange.PASSWORD_RESET, "set")
    by = f" by {meanwhile.by}" if meanwhile.by else ""
    at = f" at {uk_time(meanwhile.at)} (UK time)" if meanwhile.at else ""
    return (
        f"The password of {meanwhile.username} was {how} meanwhile{by}{at}, after this confirmation was shown: no new"
        " password was set, and the one set then still works. If they still need a new one, reset it again."
    )


async def _reset_password(
    request: Request, username: str, user: SignedIn, form_id: uuid.UUID | None, password_set_at: datetime | None
) -> Response:
    """Sets the account a new password, shown once; a second send of the same form (a double-click) sets none
    (decision 0190): it is sent to the first's page, the password shown there if that page is still unread. Nor
    does a form whose confirmation found another password than the account has now (`password_set_at`: another
    operator's reset at once, whose password would stop working unseen): refused, 409, saying who set it, when."""
    still = {
        "what": f"This form was sent already: the password of {username} is still being reset",
        "body": "Reload this page in a moment. It is reset once, and the new password shown once.",
    }
    if sent_already := await _answer_if_sent_already(request, user, form_id, "reset_password", still):
        return sent_already
    portal = portal_of(request)
    try:
        account = await portal.auth.account(username)  # its address, which a reset leaves as it is
        password = await portal.auth.reset_password(username, by=user.account.who, password_set_at=password_set_at)
    except PasswordChangedMeanwhile as meanwhile:
        await _give_back(request, form_id)
        return await _accounts_page(request, user, errors={"accounts": _set_meanwhile_said(meanwhile)}, status=409)
    except AccountNotFound:
        await _give_back(request, form_id)
        raise PageError("not_found") from None
    except AccountDisabled:
        await _give_back(request, form_id)
        why = f"The account {username} is disabled: enable it again before resetting its password"
        return await _accounts_page(request, user, errors={"accounts": why}, status=409)
    except BaseException:
        await _give_back(request, form_id)
        raise
    told = {
        "what": f"Password of {username} reset",
        "body": "Any session of theirs has ended. Their new password is below, shown only this once.",
    }
    issued = {"title": f"Password of {username} reset", "what": f"New password for {username}", "secret": password}
    told_again = {
        "what": f"This form was sent already: the password of {username} was reset then",
        "body": "It was reset once. The new password was shown once, after the first send: if nobody kept it,"
        " reset their password again.",
    }
    response = await _told_once(request, user, form_id, "/ops/accounts", told_again, issued=issued, done=told)
    if portal.password_emails is not None:  # the account's address is told, after the answer
        response.background = BackgroundTask(
            portal.password_emails.tell_password_changed, account, PasswordChangedBy.OPERATOR
        )
    return response


async def _email_link(request: Request, username: str, user: SignedIn, form_id: uuid.UUID | None) -> Response:
    """Emails the account's person a link to choose a password (decision 0129); the page says where it went,
    or why it did not (at the accounts' table, which the error summary links to). A second send of the same form
    (a double-click) emails nothing (decision 0190): it is sent to the first's page."""
    portal = portal_of(request)
    auth = portal.auth
    if (await auth.account(username)).is_operator:
        _hands_out_operator_power(user, "email an operator a link to choose a password")
    if portal.password_emails is None:
        why = "This portal cannot send email now: reset the password of {0} to give them one"
        return await _accounts_page(request, user, errors={"accounts": why.format(username)}, status=400)
    still = {
        "what": f"This form was sent already: the link to {username} is still being emailed",
        "body": "Reload this page in a moment. It is emailed once.",
    }
    if sent_already := await _answer_if_sent_already(request, user, form_id, "email_link", still):
        return sent_already
    try:
        account, expires_at = await auth.email_password_link(
            username, by=user.account.who, links=portal.password_emails
        )
    except InvalidAccount as error:
        await _give_back(request, form_id)
        why = f"No link was sent to {username}: {error}"
        return await _accounts_page(request, user, errors={"accounts": why}, status=400)
    except LinkShareUsed:
        await _give_back(request, form_id)
        why = f"{username} has been sent as many links as an hour allows: try again later, or reset their password"
        return await _accounts_page(request, user, errors={"accounts": why}, status=429)
    except LinkNotSent as error:
        await _give_back(request, form_id)
        if error.about_address:
            why = f"The mail relay refused the email address of {username} ({error}): check it. No link was sent"
        else:
            why = (
                f"The email to {username} could not be sent ({error}), so no link was kept. Try again later, or reset"
                " their password to give them one"
            )
        return await _accounts_page(request, user, errors={"accounts": why}, status=400 if error.about_address else 503)
    except BaseException:
        await _give_back(request, form_id)
        raise
    until = f"{time_on_day(expires_at)} (UK time)"
    sent = {
        "what": f"Link emailed to {account.username}",
        "body": f"A link to choose a password was emailed to {account.email}. It works once, until {until};"
        " until it is used, their password stays as it is.",
    }
    told_again = {
        "what": f"This form was sent already: a link to choose a password was emailed to {account.username} then",
        "body": f"It was emailed once, to {account.email}, and works until {until}. To send another, use"
        " \u201cEmail a password link\u201d below again.",
    }
    return await _told_once(request, user, form_id, "/ops/accounts", told_again, sent=sent)


KEY_ENVIRONMENTS = {Environment.LIVE.value: Environment.LIVE, Environment.SANDPIT.value: Environment.SANDPIT}


def _key_environment(chosen: str) -> Environment:
    """The environment a key form names: live when it names none (a form from before the choice)."""
    found = KEY_ENVIRONMENTS.get(chosen or Environment.LIVE.value)
    if found is None:
        raise PageError("bad_form")
    return found


def _key_kind(environment: Environment, has_sandpit: bool) -> str:
    """What the page calls a key just issued: its environment said whenever the portal issues both."""
    if environment is Environment.SANDPIT:
        return "Sandpit API key"
    return "Live API key" if has_sandpit else "API key"


@router.post("/ops/keys")
async def issue_key(request: Request, user: AccountsOperator) -> Response:
    """Issues an AO an API key, shown once: a live one, or one of the Sandpit's (`lrs_sbx_…`, decision 0060)
    in the Sandpit's identity store, for rehearsing with `lrs --sandpit` or the Sandpit's API."""
    form = await checked_form(request, user)
    ao_id = field(form, "key_ao_id").upper()
    form_id = _form_id(form)
    values = {**NEW_FORMS, "key_ao_id": ao_id, "label": field(form, "label"), "key_form_id": str(form_id or "")}
    values["key_environment"] = field(form, "key_environment") or Environment.LIVE.value
    auth = portal_of(request).auth
    environment = KEY_ENVIRONMENTS.get(values["key_environment"])
    if environment is not Environment.LIVE and (environment is None or not auth.has_sandpit):
        why = "Choose Live or Sandpit" if auth.has_sandpit else "This portal has no Sandpit: issue a live key"
        return await _accounts_page(request, user, errors={"key_environment": why}, values=values, status=400)
    if not AO_ID_PATTERN.fullmatch(ao_id):
        errors = {"key_ao_id": "Enter the AO's recognition number, like RN9037"}
        return await _accounts_page(request, user, errors=errors, values=values, status=400)
    if refused := label_refusal(field(form, "label")):  # the key store's own rule, as `lrs credentials` meets it
        return await _accounts_page(request, user, errors={"label": refused}, values=values, status=400)
    # a label the store takes whole (`label_refusal` refused a longer one above, saying so), never cut here
    label = field(form, "label") or f"issued in the portal by {user.account.username}"
    kind = _key_kind(environment, auth.has_sandpit)
    still = {
        "what": f"This form was sent already: the {kind} for ao:{ao_id} is still being issued",
        "body": "Reload this page in a moment to see it among the AO's keys. It is issued once.",
    }
    if sent_already := await _answer_if_sent_already(request, user, form_id, "issue_key", still):
        return sent_already
    try:
        key = await auth.issue_ao_key(ao_id, label, by=user.account.who, environment=environment)
    except NotInRegister as error:
        await _give_back(request, form_id)
        return await _accounts_page(request, user, errors={"key_ao_id": str(error)}, values=values, status=400)
    except SandpitUnreachable:
        await _give_back(request, form_id)
        why = "The Sandpit's database did not answer, so no key was issued: try again in a few minutes"
        return await _accounts_page(request, user, errors={"key_environment": why}, values=values, status=503)
    except BaseException:
        await _give_back(request, form_id)
        raise
    sandpit = environment is Environment.SANDPIT
    issued = {
        "title": f"{kind} issued for {ao_id}",
        "what": f"{kind} for ao:{ao_id} (shown once)",
        "secret": key.token,
        "sandpit": sandpit,
    }
    told_again = {
        "what": f"This form was sent already: {kind} {key.key_id} ({label}) was issued for ao:{ao_id} then",
        "body": "It was issued once. Its secret was shown once, after the first send: if nobody kept it, revoke"
        " that key and issue another with the form below.",
    }
    url = f"/ops/accounts?keys_of={quote(ao_id)}"
    return await _told_once(request, user, form_id, url, told_again, issued=issued)


def _keys_page(keys_of: str) -> str:
    """The accounts page showing the AO's keys a key was listed among, or every AO's."""
    return f"/ops/accounts?keys_of={quote(keys_of)}" if AO_ID_PATTERN.fullmatch(keys_of) else "/ops/accounts"


@router.get("/ops/keys/{key_id}/revoke")
async def confirm_revoke_key(
    request: Request,
    key_id: str,
    user: AccountsOperator,
    keys_of: Annotated[str | None, Query(max_length=20)] = None,
    environment: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """The confirmation step: the key, whose AO's systems stop reaching the LRS (or its Sandpit) with it; for a key
    revoked already, the keys' page saying so."""
    if refused_character(key_id, one_line=True):  # no key has one: refused before the database is asked
        raise PageError("not_found")
    keys_of = (keys_of or "").strip().upper()
    listed_of = Principal(PrincipalKind.AO, keys_of) if AO_ID_PATTERN.fullmatch(keys_of) else None
    chosen = _key_environment((environment or "").strip())
    try:
        keys, _ = await portal_of(request).auth.ao_keys(listed_of, environment=chosen)
    except NoSandpit:
        raise PageError("not_found", "This portal has no Sandpit.") from None
    except SandpitUnreachable:
        raise PageError("unavailable", "The Sandpit's database did not answer.") from None
    key = next((key for key in keys if key.key_id == key_id), None)
    if key is None:
        if told := await _revoked_already(request, key_id, chosen, keys_of):
            return await see_other_telling(request, user, _keys_page(keys_of), revoked=told)
        raise PageError("not_found", "That key is revoked already, or is not an AO's API key.")
    context = {
        "key": key,
        "keys_of": keys_of if listed_of else "",
        "back": _keys_page(keys_of),
        "sandpit": chosen is Environment.SANDPIT,
    }
    return render(request, "ops_key_revoke.html", context, user=user)


@router.post("/ops/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, user: AccountsOperator) -> Response:
    form = await checked_form(request, user)
    if refused_character(key_id, one_line=True):  # no key has one
        raise PageError("not_found")
    keys_of = field(form, "keys_of")  # back to the AO's keys the key was listed among
    environment = _key_environment(field(form, "environment"))
    if field(form, "confirmed") != "yes":  # a form from before the confirmation step: ask first
        asked = f"/ops/keys/{quote(key_id, safe='')}/revoke"
        query = {"keys_of": keys_of} if keys_of else {}
        if environment is Environment.SANDPIT:
            query["environment"] = environment.value
        return see_other(f"{asked}?{urlencode(query)}" if query else asked)
    try:
        ao = await portal_of(request).auth.revoke_ao_key(key_id, by=user.account.who, environment=environment)
    except NoSandpit:
        raise PageError("not_found", "This portal has no Sandpit.") from None
    except SandpitUnreachable:
        raise PageError("unavailable", "The Sandpit's database did not answer: the key is not revoked yet.") from None
    if ao is None:  # only the AO keys listed; one revoked already (a double-click, the form sent again) is said so
        if told := await _revoked_already(request, key_id, environment, keys_of):
            return await see_other_telling(request, user, _keys_page(keys_of), revoked=told)
        raise PageError("not_found")
    revoked = {"what": f"{_revoked_kind(environment)} {key_id} of {ao} revoked", "body": _cut_off(environment)}
    return await see_other_telling(request, user, _keys_page(keys_of), revoked=revoked)


def _revoked_kind(environment: Environment) -> str:
    return "Sandpit API key" if environment is Environment.SANDPIT else "API key"


def _cut_off(environment: Environment) -> str:
    return f"Systems using it can no longer reach the {'Sandpit' if environment is Environment.SANDPIT else 'LRS'}."


async def _revoked_already(
    request: Request, key_id: str, environment: Environment, keys_of: str
) -> dict[str, str] | None:
    """What the keys' page says of an AO's key revoked already, as of one just revoked: Revoke sent twice changes
    nothing more and is no error. None for a key never issued, not an AO's, or another AO's than the one whose keys
    it was listed among (`keys_of`): those are not found, as before."""
    try:
        key = await portal_of(request).auth.revoked_ao_key(key_id, environment=environment)
    except SandpitUnreachable:
        raise PageError("unavailable", "The Sandpit's database did not answer.") from None
    if key is None or key.revoked_at is None or (AO_ID_PATTERN.fullmatch(keys_of) and key.principal.id != keys_of):
        return None
    when = f"{time_on_day(key.revoked_at)} (UK time)"
    return {
        "what": f"{_revoked_kind(environment)} {key_id} of {key.principal} was revoked already",
        "body": f"This key was revoked at {when}; nothing more was done. {_cut_off(environment)}",
    }
