"""The operator-only account API behind `lrs users create|disable|reset-password|duties|email|list|changes`
(JSON, API keys)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from lrs_contracts.codes import ProblemCode
from lrs_contracts.identifiers import AO_ID_SAID, AoIdText
from lrs_contracts.text import OneLineText
from lrs_platform.authentication import operator_caller
from lrs_platform.credential_store import StoredKey
from lrs_platform.identity import OperatorScope, Principal, operator_scope
from lrs_platform.problems import ProblemError, problem_responses
from portal.accounts import (
    AO_ID_PATTERN,
    USERNAME_PATTERN,
    Account,
    AccountChange,
    AccountListing,
    InvalidAccount,
    LastOperatorWithPower,
    PasswordChangedMeanwhile,
    Role,
)
from portal.auth import Authentication, LinkNotSent, LinkShareUsed
from portal.reset_links import PasswordChangedBy
from portal.store import AccountDisabled, AccountExists, AccountNotFound
from portal.web.account_pages import challenge_contact_of
from portal.web.common import portal_of

Operator = Annotated[Principal, Depends(operator_caller("Only operators manage portal accounts."))]

router = APIRouter(prefix="/v1/admin/users", tags=["accounts"])

Username = Annotated[str, Path(pattern=USERNAME_PATTERN.pattern, description="lower-case, like j.smith")]

LINK_SHARE_SECONDS = 3600  # how long the hourly share of password links lasts at most


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: OneLineText = Field(min_length=2, max_length=64)
    display_name: OneLineText = Field(min_length=1, max_length=100)
    role: Role
    ao_id: OneLineText | None = Field(default=None, description="the AO's recognition number, for role `ao` only")
    email: OneLineText | None = Field(default=None, max_length=254)
    scopes: list[OperatorScope] = Field(
        default_factory=list,
        description="an operator's duties (decision 0124), as the scopes of operator keys; an operator needs"
        " some, or `every_duty`",
    )
    every_duty: bool = Field(default=False, description="an operator with every duty (then no `scopes`)")
    first_link: bool = Field(
        default=False,
        description="email the person a link to choose their own password instead of answering with one"
        " (decision 0129): needs `email` and the portal's mail relay; nobody is shown the password. If the email"
        " cannot be sent, the account is not created (503)",
    )


class AccountDuties(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[OperatorScope] = Field(default_factory=list, description="the operator's duties from now on")
    every_duty: bool = Field(default=False, description="every duty instead (then no `scopes`)")


class AccountEmail(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: OneLineText | None = Field(
        max_length=254, description="where forgotten-password links go (decision 0128); null: none"
    )


def _duties(role: Role, scopes: list[OperatorScope], every_duty: bool) -> list[str]:
    """The duties asked for, spelt out: no list left empty by mistake gives an operator every duty."""
    if role is Role.OPERATOR and bool(scopes) == every_duty:
        raise ProblemError(
            422, "Invalid account", "Give an operator's duties in `scopes`, or `every_duty: true`: one of them."
        )
    if role is Role.AO and every_duty:
        raise ProblemError(422, "Invalid account", "Only operators have duties: an AO user acts for its AO.")
    return [scope.value for scope in scopes]


def _account_refused(errors: dict[str, str], ao_user_of: str | None = None) -> ProblemError:
    """422 naming each body field at fault and what is wrong with it (`body.email: …`), as every service names a
    field FastAPI refuses, so `lrs users` can say its option. The rules' own words are the portal form's
    (`portal.accounts`), but for an AO user's AO id (`ao_user_of`) sent in the wrong form: the form's "needs" is
    said of none sent."""
    sent = (ao_user_of or "").strip()
    order = list(AccountCreate.model_fields)  # as the body documents its fields: the register's after the form's
    said = []
    for field, message in sorted(errors.items(), key=lambda fault: order.index(fault[0]) if fault[0] in order else 99):
        if field == "ao_id" and sent and not AO_ID_PATTERN.fullmatch(sent.upper()):
            message = AO_ID_SAID  # as every other API says it
        said.append(f"body.{field}: {message.rstrip('.')}")
    return ProblemError(422, "Invalid account", "; ".join(said), ProblemCode.INVALID_REQUEST)


class AccountPublic(BaseModel):
    username: str
    display_name: str
    role: Role
    ao_id: str | None
    email: str | None
    disabled: bool
    locked: bool
    scopes: list[str] = Field(description="an operator's duties; empty: every duty (an AO user's: always empty)")

    @staticmethod
    def of(account: Account) -> AccountPublic:
        return AccountPublic(
            username=account.username,
            display_name=account.display_name,
            role=account.role,
            ao_id=account.ao_id,
            email=account.email,
            disabled=account.disabled_at is not None,
            locked=account.sign_in.locked_until is not None,
            scopes=sorted(account.scopes),
        )


class OwnKey(BaseModel):
    key_id: str = Field(description="the key's id (the part of `lrs_<key id>_<secret>` that is no secret)")
    label: str | None
    scopes: list[str] = Field(description="the key's duties; empty: every duty")

    @staticmethod
    def of(key: StoredKey) -> OwnKey:
        return OwnKey(key_id=key.key_id, label=key.label, scopes=sorted(key.principal.scopes))


class ChallengeContactOf(BaseModel):
    ao_id: str
    email: str = Field(description="the contact's address, where the AO's challenge emails go")
    set_by: str | None = Field(
        description="who last set it: the portal user (their username), the AO's API key (its label), or an LRS"
        " operator; null when the notifier does not say"
    )


class DisabledAccount(AccountPublic):
    keys_revoked: list[OwnKey] = Field(
        default_factory=list,
        description="an operator's own API keys (`operator:<username>`, not portal sessions'), revoked with the"
        " account; none for an AO user (its AO's keys are the AO's)",
    )
    challenge_contact: ChallengeContactOf | None = Field(
        default=None,
        description="when the account is its AO's challenge contact (the contact's address is the account's, or it"
        " was set in the portal signed in as it), which its challenge emails still reach: ask the AO to set another."
        " Null otherwise, and when the notifier did not answer (or the key may not read contacts: `support`)",
    )


class DutiesSet(AccountPublic):
    keys_beyond_duties: list[OwnKey] = Field(
        default_factory=list,
        description="the operator's own API keys (`operator:<username>`) that do more than these duties: a change of"
        " duties leaves them as they are (`lrs credentials revoke --principal operator:<username>` ends them)",
    )


class AccountList(BaseModel):
    items: list[AccountPublic] = Field(description="by username")
    next: str | None = Field(default=None, description="`after` for the next page; null on the last")


class AccountChangePublic(BaseModel):
    change_id: int
    changed_at: datetime
    changed_by: str = Field(
        description="who made the change: an operator signed in to the portal (`operator:<username>`), an"
        " operator key through this API (`operator:<name> (API key)`), the person themself (for their own"
        " password or email address: `operator:<username>` or `<username> (ao:<id>)`), or `forgotten-password"
        " page` for a reset link asked for (an operator's emailed link to choose a password is `password_link_sent`)"
    )
    subject: str = Field(description="the account's username, or the AO key's principal (ao:<id>)")
    change: AccountChange
    detail: str = Field(description="what it became: the new account, its duties, or the key's id")


class AccountChanges(BaseModel):
    changes: list[AccountChangePublic]
    next: int | None = Field(description="`before` for the next, older page; null on the last")


class IssuedPassword(BaseModel):
    account: AccountPublic
    password: str = Field(description="shown once: give it to the person, who should change it")


class CreatedAccount(BaseModel):
    account: AccountPublic
    password: str | None = Field(
        description="shown once: give it to the person, who should change it; null when a link was emailed"
    )
    first_link_sent_to: str | None = Field(
        default=None, description="where the link to choose a password went (`first_link`); null otherwise"
    )


def _key_sent(request: Request) -> str:
    """The operator key the request was sent with (authenticated already): the portal reads the notifier with it."""
    return request.headers.get("authorization", "").partition(" ")[2].strip()


def _by_key(principal: Principal) -> str:
    """Who made a change through this API, as the audit keeps it: the key's principal, said to be a key. An
    operator key may be named like a portal account (`operator:alice`) and is not that person signed in."""
    return f"{principal} (API key)"


async def _changeable_by(principal: Principal, auth: Authentication, username: str) -> None:
    """Whether the operator key may change the account (AccountNotFound when there is none): an operator's
    only with a key without scopes."""
    if (await auth.account(username)).is_operator:
        _may_hand_out_operator_power(principal)


def _may_hand_out_operator_power(principal: Principal) -> None:
    """An operator account signs in with operator power: a key limited to `accounts` must not make one,
    learn one's password or change its duties (decisions 0122, 0124). It manages AO staff's accounts, and
    may disable any."""
    if principal.scopes:
        raise ProblemError(
            403,
            "Forbidden",
            "Operator accounts are created, enabled again, their passwords reset or emailed a link to choose one, and"
            " their email addresses and duties changed only with an operator key without scopes: they sign in with"
            " operator power.",
            ProblemCode.OPERATOR_SCOPE_MISSING,
        )


@router.post(
    "",
    status_code=201,
    summary="Create a portal account",
    responses=problem_responses(401, 403, 409, 422, 503),
    openapi_extra=operator_scope(OperatorScope.ACCOUNTS),
)
async def create_account(body: AccountCreate, principal: Operator, request: Request) -> CreatedAccount:
    if body.role is Role.OPERATOR:
        _may_hand_out_operator_power(principal)
    duties = _duties(body.role, body.scopes, body.every_duty)
    portal = portal_of(request)
    links = portal.password_emails if body.first_link else None
    if body.first_link and links is None:
        raise ProblemError(
            422,
            "Invalid account",
            "This portal has no mail relay (`PORTAL_SMTP_HOST`, `PORTAL_PUBLIC_URL`), so it cannot email a link:"
            " leave out `first_link` (`lrs users create`: `--email-link`) to be given a password.",
        )
    details = (body.username, body.display_name, body.role, body.ao_id, body.email)
    if errors := portal.auth.new_account_errors(*details, duties):
        raise _account_refused(errors, body.ao_id if body.role is Role.AO else None)
    password: str | None = None
    try:
        if links is not None:
            account = await portal.auth.create_account_with_link(*details, duties, by=_by_key(principal), links=links)
        else:
            account, password = await portal.auth.create_account(*details, duties, by=_by_key(principal))
    except InvalidAccount as error:
        raise _account_refused({error.field: str(error)}, body.ao_id if body.role is Role.AO else None) from error
    except AccountExists as error:
        raise ProblemError(409, "Conflict", f"The username {body.username!r} is taken.") from error
    except LinkNotSent as error:
        if error.about_address:
            raise ProblemError(
                422, "Invalid account", f"The mail relay refused the address ({error}): check it. Nothing was created."
            ) from error
        raise ProblemError(
            503,
            "Email not sent",
            f"The link could not be emailed ({error}), so the account was not created: try again later, or leave"
            " out `first_link` (`lrs users create`: `--email-link`) to be given a password.",
        ) from error
    sent_to = account.email if links is not None else None
    return CreatedAccount(account=AccountPublic.of(account), password=password, first_link_sent_to=sent_to)


@router.get(
    "",
    summary="Portal accounts, a page at a time by username",
    responses=problem_responses(401, 403),
    openapi_extra=operator_scope(OperatorScope.ACCOUNTS),
)
async def list_accounts(
    principal: Operator,
    request: Request,
    ao_id: Annotated[AoIdText | None, Query(description="only this AO's staff")] = None,
    role: Annotated[Role | None, Query(description="only AO users, or only operators")] = None,
    starting: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9._@-]+$", description="username prefix")
    ] = None,
    after: Annotated[
        str | None, Query(pattern=USERNAME_PATTERN.pattern, description="the previous page's `next`")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> AccountList:
    listed = AccountListing(ao_id=ao_id, role=role, starting=starting, after=after, limit=limit)
    page, next_after = await portal_of(request).auth.accounts(listed)
    return AccountList(items=[AccountPublic.of(account) for account in page], next=next_after)


@router.post(
    "/{username}/disable",
    summary="Disable an account and end its sessions",
    description="An operator's own API keys (`operator:<username>`) are revoked with it, in the same step. The answer"
    " says which, and whether the account is its AO's challenge contact. An account that is disabled already answers"
    " 409 and stays as it is.",
    responses=problem_responses(401, 403, 404, 409),
    openapi_extra=operator_scope(OperatorScope.ACCOUNTS),
)
async def disable_account(username: Username, principal: Operator, request: Request) -> DisabledAccount:
    auth = portal_of(request).auth
    try:
        disabled = await auth.disable_account(username, by=_by_key(principal))
        if not disabled.done:
            raise ProblemError(409, "Conflict", f"The account {username!r} is disabled already.")
        account = await auth.account(username)
        contact = await challenge_contact_of(request, account, _key_sent(request))
        return DisabledAccount(
            **AccountPublic.of(account).model_dump(),
            keys_revoked=[OwnKey.of(key) for key in disabled.keys_revoked],
            challenge_contact=ChallengeContactOf(**contact._asdict()) if contact else None,
        )
    except AccountNotFound as error:
        raise ProblemError(404, "Not found", f"No account {username!r}.") from error
    except LastOperatorWithPower as error:
        raise ProblemError(409, "Conflict", f"{error}.") from error


@router.post(
    "/{username}/enable",
    summary="Enable a disabled account again, its password as it was",
    description="Its lock-out is lifted too. An account that is not disabled answers 409 and stays as it is."
    " If its password may be known to someone else, reset it or email the person a link afterwards.",
    responses=problem_responses(401, 403, 404, 409),
    openapi_extra=operator_scope(OperatorScope.ACCOUNTS),
)
async def enable_account(username: Username, principal: Operator, request: Request) -> AccountPublic:
    auth = portal_of(request).auth
    try:
        await _changeable_by(principal, auth, username)
        if not await auth.enable(username, by=_by_key(principal)):
            raise ProblemError(409, "Conflict", f"The account {username!r} is not disabled.")
        return AccountPublic.of(await auth.account(username))
    except AccountNotFound as error:
        raise ProblemError(404, "Not found", f"No account {username!r}.") from error


@router.post(
    "/{username}/reset-password",
    summary="Give an account a new generated password, lift any lock-out and end its sessions",
    description="Of two resets of one account at once, one sets the password and answers it; the other is 409 and"
    " sets none, so the password answered is always one that works.",
    responses=problem_responses(401, 403, 404, 409),
    openapi_extra=operator_scope(OperatorScope.ACCOUNTS),
)
async def reset_password(
    username: Username, principal: Operator, request: Request, after: BackgroundTasks
) -> IssuedPassword:
    portal = portal_of(request)
    auth = portal.auth
    try:
        await _changeable_by(principal, auth, username)
        # compare-and-set, as the portal's confirmation does: of two resets at once one sets the password, and the
        # one answered with a password is the one that works
        seen = await auth.account(username)
        password = await auth.reset_password(username, by=_by_key(principal), password_set_at=seen.password_set_at)
        account = await auth.account(username)
        if portal.password_emails is not None:  # the account's address is told, after the answer
            after.add_task(portal.password_emails.tell_password_changed, account, PasswordChangedBy.OPERATOR)
        return IssuedPassword(account=AccountPublic.of(account), password=password)
    except AccountNotFound as error:
        raise ProblemError(404, "Not found", f"No account {username!r}.") from error
    except AccountDisabled as error:
        raise ProblemError(
            409, "Conflict", f"The account {username!r} is disabled: enable it first (`lrs users enable`)."
        ) from error
    except PasswordChangedMeanwhile as meanwhile:
        by = f" by {meanwhile.by}" if meanwhile.by else ""
        at = f" at {meanwhile.at.isoformat()}" if meanwhile.at else ""
        raise ProblemError(
            409,
            "Conflict",
            f"The password of {username!r} was set meanwhile{by}{at}, while this reset was being made: this reset set"
            " none, and the password set then is the one that works. Reset it again if a new one is still needed.",
        ) from meanwhile


class LinkSent(BaseModel):
    account: AccountPublic
    sent_to: str = Field(description="the account's email address, where the link went")
    expires_at: datetime = Field(description="when the link stops working, if not used before")


@router.post(
    "/{username}/password-link",
    summary="Email the account's person a link to choose a password; their password stays until they use it",
    description="Decision 0129: for a new account whose link ran out, or someone who cannot get in. The link works"
    " once, for `PORTAL_FIRST_LINK_HOURS`, and counts towards the account's hourly share of links. The email goes"
    " before the link is kept: 503 (nothing kept) when it cannot.",
    responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
    openapi_extra=operator_scope(OperatorScope.ACCOUNTS),
)
async def email_password_link(username: Username, principal: Operator, request: Request) -> LinkSent:
    portal = portal_of(request)
    if portal.password_emails is None:
        raise ProblemError(
            409,
            "Conflict",
            "This portal has no mail relay (`PORTAL_SMTP_HOST`, `PORTAL_PUBLIC_URL`): it sends no links.",
        )
    auth = portal.auth
    try:
        await _changeable_by(principal, auth, username)
        account, expires_at = await auth.email_password_link(
            username, by=_by_key(principal), links=portal.password_emails
        )
    except AccountNotFound as error:
        raise ProblemError(404, "Not found", f"No account {username!r}.") from error
    except InvalidAccount as error:
        raise ProblemError(409, "Conflict", str(error)) from error
    except LinkShareUsed as error:
        refused = ProblemError(
            429, "Too many links", f"{username!r} has been sent as many links as an hour allows: try again later."
        )
        refused.headers["Retry-After"] = str(LINK_SHARE_SECONDS)  # the share is an hour's: free again within one
        raise refused from error
    except LinkNotSent as error:
        if error.about_address:
            detail = f"The mail relay refused the account's address ({error}): check it. No link was kept."
            raise ProblemError(422, "Email not sent", detail) from error
        detail = f"The link could not be emailed ({error}), so none was kept: try again later, or reset the password."
        raise ProblemError(503, "Email not sent", detail) from error
    assert account.email is not None  # a link is kept only for an account with an address
    return LinkSent(account=AccountPublic.of(account), sent_to=account.email, expires_at=expires_at)


@router.put(
    "/{username}/scopes",
    summary="Set an operator's duties (or every duty) and end their sessions, unless the duties are theirs already",
    description="Duties set to what the account has already change nothing: no change is recorded and the operator's"
    " sessions go on (a repeat after a lost answer, or a script run again). The operator's own API keys are not"
    " changed: the answer names those that do more than the duties (`keys_beyond_duties`).",
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=operator_scope(OperatorScope.ACCOUNTS),
)
async def set_duties(username: Username, body: AccountDuties, principal: Operator, request: Request) -> DutiesSet:
    _may_hand_out_operator_power(principal)
    auth = portal_of(request).auth
    try:
        if not (await auth.account(username)).is_operator:
            raise ProblemError(422, "Invalid account", "Only operators have duties: this is an AO user's account.")
        duties = _duties(Role.OPERATOR, body.scopes, body.every_duty)
        account = await auth.set_duties(username, duties, by=_by_key(principal))
        beyond = await auth.keys_beyond_duties(account)
        return DutiesSet(
            **AccountPublic.of(account).model_dump(), keys_beyond_duties=[OwnKey.of(key) for key in beyond]
        )
    except AccountNotFound as error:
        raise ProblemError(404, "Not found", f"No account {username!r}.") from error
    except LastOperatorWithPower as error:
        raise ProblemError(409, "Conflict", f"{error}.") from error


@router.put(
    "/{username}/email",
    summary="Set an account's email address, where its forgotten-password links go",
    description="Links already sent stop working, and the address the account had is told (when the portal"
    " sends emails). An operator's address only with an operator key without scopes: the address receives the"
    " links that set the account's password.",
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=operator_scope(OperatorScope.ACCOUNTS),
)
async def set_email(
    username: Username, body: AccountEmail, principal: Operator, request: Request, after: BackgroundTasks
) -> AccountPublic:
    portal = portal_of(request)
    try:
        await _changeable_by(principal, portal.auth, username)
        change = await portal.auth.set_email(username, body.email, by=_by_key(principal))
        if portal.password_emails is not None and change.changed:
            after.add_task(portal.password_emails.tell_old_address, change)
        return AccountPublic.of(change.account)
    except InvalidAccount as error:
        raise _account_refused({error.field: str(error)}) from error
    except AccountNotFound as error:
        raise ProblemError(404, "Not found", f"No account {username!r}.") from error


@router.get(
    "/changes",
    summary="The audit of account and AO key changes, newest first (decision 0126)",
    responses=problem_responses(401, 403, 422),
    openapi_extra=operator_scope(OperatorScope.ACCOUNTS),
)
async def account_changes(
    principal: Operator,
    request: Request,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="only changes older than this change_id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AccountChanges:
    page = await portal_of(request).auth.changes(limit=limit + 1, older_than=before)
    return AccountChanges(
        changes=[AccountChangePublic(**dataclasses.asdict(change)) for change in page[:limit]],
        next=page[limit - 1].change_id if len(page) > limit else None,
    )
