"""An operator with the accounts duty issues an AO a Sandpit API key (`lrs_sbx_…`) on the accounts page, as easily
as a live one: stored in the Sandpit's identity store (decision 0060), shown once, listed and revocable apart from
the live keys, with the same checks and the same audit. AO users are told that keys come from the operators.

The Sandpit's store here is the real `ServiceKeys` over the real `CredentialStore(environment=SANDPIT)`, on an
in-memory stand-in for its `identity.credentials` table: a key that authenticates there is one the Sandpit's
services accept, and the same table read as live's refuses it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from lrs_contracts.environments import Environment
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal, PrincipalKind
from portal.accounts import AccountChange, Role
from portal.backend import Services
from portal.store import ServiceKeys

AO = "RN9093"  # in the register
UNREGISTERED = "RN0000"
ACCOUNTS = frozenset({"accounts"})
SANDPIT_KEY = re.compile(r"lrs_sbx_[0-9a-f]{16}_[A-Za-z0-9_-]+")


class CredentialsTable:
    """`identity.credentials` of one database, answering the statements `CredentialStore` sends it."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.changes: list[tuple[str, str, str]] = []  # `identity.key_changes`: key id, change, by whom

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[CredentialsTable]:
        yield self

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield

    def _listed(
        self, kind: str | None, include_revoked: bool, not_starting: str | None, principal: str | None
    ) -> list[dict[str, Any]]:
        return [
            row
            for row in self.rows.values()
            if (kind is None or row["principal"].startswith(f"{kind}:"))
            and (include_revoked or row["revoked_at"] is None)
            and (not_starting is None or not (row["label"] or "").startswith(not_starting))
            and (principal is None or row["principal"] == principal)
        ]

    async def execute(self, query: str, *args: Any) -> str:
        if query.startswith("INSERT INTO identity.credentials"):
            key_id, principal, scopes, secret_hash, label = args
            self.rows[key_id] = {
                "key_id": key_id,
                "principal": principal,
                "scopes": scopes,
                "secret_hash": secret_hash,
                "label": label,
                "created_at": datetime.now(UTC),
                "revoked_at": None,
            }
            return "INSERT 0 1"
        if query.startswith("INSERT INTO identity.key_changes"):
            key_ids, change, by = args
            self.changes.extend((key_id, change, by) for key_id in key_ids)
            return f"INSERT 0 {len(key_ids)}"
        if query.startswith("UPDATE identity.credentials SET revoked_at = now() WHERE key_id = ANY"):
            revoked = [self.rows[key_id] for key_id in args[0] if self.rows.get(key_id, {}).get("revoked_at") is None]
            for row in revoked:
                row["revoked_at"] = datetime.now(UTC)
            return f"UPDATE {len(revoked)}"
        raise AssertionError(f"not expected here: {query}")

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        if query.startswith("SELECT principal, scopes, secret_hash"):  # authenticate
            row: dict[str, Any] | None = self.rows.get(args[0])
            return row if row is not None and row["revoked_at"] is None else None
        if query.startswith("UPDATE identity.credentials SET revoked_at = now() WHERE"):  # revoke_listed
            *where, key_id = args
            found = [row for row in self._listed(*where) if row["key_id"] == key_id]
            if not found:
                return None
            found[0]["revoked_at"] = datetime.now(UTC)
            return found[0]
        if query.startswith("SELECT key_id, principal, scopes, label, created_at, revoked_at"):  # revoked_listed
            *where, key_id = args
            revoked = [row for row in self._listed(*where) if row["key_id"] == key_id and row["revoked_at"]]
            return revoked[0] if revoked else None
        raise AssertionError(f"not expected here: {query}")

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        *where, limit = args
        listed = sorted(self._listed(*where), key=lambda row: (row["principal"], -row["created_at"].timestamp()))
        return listed[:limit]

    async def fetchval(self, query: str, *args: Any) -> int:
        return len(self._listed(*args))


@dataclasses.dataclass
class Sandpit:
    table: CredentialsTable
    credentials: CredentialStore

    def authenticates(self, token: str) -> Principal | None:
        return asyncio.run(self.credentials.authenticate(token))

    def authenticates_as_live(self, token: str) -> Principal | None:
        """The same table read as a live service reads its own: a Sandpit key is never one of live's."""
        return asyncio.run(CredentialStore(self.table, environment=Environment.LIVE).authenticate(token))


def _with_sandpit(portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch) -> Sandpit:
    table = CredentialsTable()
    credentials = CredentialStore(table, environment=Environment.SANDPIT)
    monkeypatch.setattr(portal.auth, "_sandpit_keys", ServiceKeys(credentials))
    sandpit_urls = {name: f"http://sandpit-{name}" for name in ("ingest", "plr-projector")}
    client = httpx.AsyncClient(transport=httpx.MockTransport(portal.answer))
    portal.app.state.portal = dataclasses.replace(portal.app.state.portal, sandpit=Services(sandpit_urls, client))
    return Sandpit(table, credentials)


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


@pytest.fixture
def sandpit(portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch) -> Sandpit:
    return _with_sandpit(portal, monkeypatch)


def _issued_secret(page: str) -> str:
    found = re.search(r"data-secret>([^<]+)<", page)
    assert found, page
    return found.group(1)


def _table(page: str, name: str) -> str:
    found = re.search(rf'<table class="govuk-table" data-table="{name}".*?</table>', page, re.S)
    assert found, f"no {name} table"
    return found.group(0)


def test_an_operator_issues_a_sandpit_key_shown_once_into_the_sandpits_store(
    portal: StubbedPortal, sandpit: Sandpit
) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)
    offered = client.get("/ops/accounts").text

    issued = client.post("/ops/keys", data=form(session, key_ao_id=AO, label="rehearsals", key_environment="sandpit"))
    shown = shown_after(client, issued)
    token = _issued_secret(shown.text)
    again = client.get(issued.headers["location"]).text

    assert 'name="key_environment" type="radio" value="sandpit"' in offered
    assert issued.headers["location"] == f"/ops/accounts?keys_of={AO}"
    assert SANDPIT_KEY.fullmatch(token), token
    assert f"Sandpit API key for ao:{AO} (shown once)" in shown.text and "data-sandpit-key" in shown.text
    assert "lrs --sandpit" in shown.text
    assert token not in again and "data-secret" not in again  # shown once
    assert sandpit.authenticates(token) == Principal(PrincipalKind.AO, AO)
    assert sandpit.authenticates_as_live(token) is None
    assert "rehearsals" not in portal.keys.labels.values()  # nothing in live's store
    key_id = token.removeprefix("lrs_sbx_").partition("_")[0]
    assert key_id in _table(again, "sandpit-keys") and "rehearsals" in _table(again, "sandpit-keys")
    assert key_id not in _table(again, "keys")
    kept = portal.accounts.changed[-1]
    assert (kept.changed_by, kept.subject, kept.change) == (
        session.account.who,
        f"ao:{AO}",
        AccountChange.AO_KEY_ISSUED,
    )
    assert kept.detail == f"Sandpit key {key_id}"
    # and in the Sandpit's key store, where `lrs --sandpit credentials list` reads who made each key
    assert sandpit.table.changes == [(key_id, "created", f"{session.account.who}, the portal")]


def test_a_live_key_is_still_issued_live(portal: StubbedPortal, sandpit: Sandpit) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)

    chosen = shown_after(client, client.post("/ops/keys", data=form(session, key_ao_id=AO, key_environment="live")))
    unsaid = shown_after(client, client.post("/ops/keys", data=form(session, key_ao_id=AO)))  # a form from before

    for page in (chosen, unsaid):
        token = _issued_secret(page.text)
        assert token.startswith("lrs_") and not token.startswith("lrs_sbx_")
        assert f"Live API key for ao:{AO} (shown once)" in page.text and "Sandpit API key for" not in page.text
        assert "data-sandpit-key" not in page.text
        assert token.removeprefix("lrs_").partition("_")[0] in portal.keys.live
        assert sandpit.authenticates(token) is None
    assert not sandpit.table.rows


@pytest.mark.parametrize(("role", "scopes"), [(Role.OPERATOR, frozenset({"support"})), (Role.AO, frozenset())])
def test_only_the_accounts_duty_issues_a_sandpit_key(
    portal: StubbedPortal, sandpit: Sandpit, role: Role, scopes: frozenset[str]
) -> None:
    client, session = portal.signed_in(role, scopes)

    answer = client.post("/ops/keys", data=form(session, key_ao_id=AO, key_environment="sandpit"))

    assert answer.status_code == 403
    assert not sandpit.table.rows


def test_a_sandpit_key_meets_the_checks_of_a_live_one(portal: StubbedPortal, sandpit: Sandpit) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)

    no_csrf = client.post("/ops/keys", data={"key_ao_id": AO, "key_environment": "sandpit"})
    unregistered = client.post("/ops/keys", data=form(session, key_ao_id=UNREGISTERED, key_environment="sandpit"))
    malformed = client.post("/ops/keys", data=form(session, key_ao_id="nine", key_environment="sandpit"))
    bad_label = client.post("/ops/keys", data=form(session, key_ao_id=AO, label="a\x07b", key_environment="sandpit"))
    elsewhere = client.post("/ops/keys", data=form(session, key_ao_id=AO, key_environment="staging"))

    assert no_csrf.status_code == 403
    assert (
        unregistered.status_code == 400
        and "RN0000 is not an awarding organisation in the register" in unregistered.text
    )
    assert malformed.status_code == 400 and "Enter the AO&#39;s recognition number, like RN9037" in malformed.text
    assert bad_label.status_code == 400 and "The label holds" in bad_label.text
    assert elsewhere.status_code == 400 and "Choose Live or Sandpit" in elsewhere.text
    for refused in (unregistered, bad_label):  # the form as it was sent, the Sandpit still chosen
        assert 'value="sandpit" aria-describedby="key_environment-sandpit-hint" checked' in refused.text
    assert not sandpit.table.rows and Principal(PrincipalKind.AO, AO) not in portal.keys.live.values()
    assert AccountChange.AO_KEY_ISSUED not in {change.change for change in portal.accounts.changed}


def test_a_portal_without_a_sandpit_offers_none_and_issues_none(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)

    page = client.get("/ops/accounts").text
    asked = client.post("/ops/keys", data=form(session, key_ao_id=AO, key_environment="sandpit"))
    confirm = client.get("/ops/keys/0123456789abcdef/revoke?environment=sandpit")

    assert "key_environment" not in page and 'data-table="sandpit-keys"' not in page
    assert asked.status_code == 400 and "This portal has no Sandpit: issue a live key" in asked.text
    assert confirm.status_code == 404
    assert AccountChange.AO_KEY_ISSUED not in {change.change for change in portal.accounts.changed}


def test_a_sandpit_key_whose_audit_cannot_be_kept_is_revoked_again(
    portal: StubbedPortal, sandpit: Sandpit, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def audit_away(*_: Any, **__: Any) -> None:
        raise ConnectionError("the portal's database went away")

    monkeypatch.setattr(portal.accounts, "record_change", audit_away)

    with pytest.raises(ConnectionError):
        asyncio.run(portal.auth.issue_ao_key(AO, "rehearsals", by="operator:ops", environment=Environment.SANDPIT))

    [row] = sandpit.table.rows.values()
    assert row["revoked_at"] is not None


def test_a_sandpit_key_is_revoked_after_a_confirmation(portal: StubbedPortal, sandpit: Sandpit) -> None:
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)
    shown = shown_after(client, client.post("/ops/keys", data=form(session, key_ao_id=AO, key_environment="sandpit")))
    token = _issued_secret(shown.text)
    key_id = token.removeprefix("lrs_sbx_").partition("_")[0]
    listed = client.get(f"/ops/accounts?keys_of={AO}").text
    link = f"/ops/keys/{key_id}/revoke?keys_of={AO}&amp;environment=sandpit"

    as_live = client.post(f"/ops/keys/{key_id}/revoke", data=form(session, confirmed="yes", keys_of=AO))
    unconfirmed = client.post(f"/ops/keys/{key_id}/revoke", data=form(session, keys_of=AO, environment="sandpit"))
    asked = client.get(unconfirmed.headers["location"])
    still_works = sandpit.authenticates(token)
    confirmed = client.post(
        f"/ops/keys/{key_id}/revoke", data=form(session, confirmed="yes", keys_of=AO, environment="sandpit")
    )
    told = shown_after(client, confirmed)
    again = client.post(
        f"/ops/keys/{key_id}/revoke", data=form(session, confirmed="yes", keys_of=AO, environment="sandpit")
    )

    assert link in listed
    assert as_live.status_code == 404  # not a live key: the live store revokes nothing
    assert unconfirmed.headers["location"] == f"/ops/keys/{key_id}/revoke?keys_of={AO}&environment=sandpit"
    assert asked.status_code == 200 and "Revoke this Sandpit API key?" in asked.text and "rehearsal" in asked.text
    assert 'name="environment" value="sandpit"' in asked.text and 'name="confirmed" value="yes"' in asked.text
    assert still_works == Principal(PrincipalKind.AO, AO)
    assert confirmed.headers["location"] == f"/ops/accounts?keys_of={AO}"
    assert f"Sandpit API key {key_id} of ao:{AO} revoked" in told.text and "no longer reach the Sandpit" in told.text
    assert sandpit.authenticates(token) is None
    assert key_id not in _table(told.text, "sandpit-keys")
    assert again.headers["location"] == f"/ops/accounts?keys_of={AO}"  # sent twice: said so, not a 404
    assert f"Sandpit API key {key_id} of ao:{AO} was revoked already" in shown_after(client, again).text
    assert [change.change for change in portal.accounts.changed].count(AccountChange.AO_KEY_REVOKED) == 1
    kept = portal.accounts.changed[-1]
    assert (kept.subject, kept.change, kept.detail) == (
        f"ao:{AO}",
        AccountChange.AO_KEY_REVOKED,
        f"Sandpit key {key_id}",
    )
    assert sandpit.table.changes == [
        (key_id, "created", f"{session.account.who}, the portal"),
        (key_id, "revoked", f"{session.account.who}, the portal"),  # once: the second Revoke revoked nothing
    ]


def test_a_portal_sessions_sandpit_key_is_neither_listed_nor_revoked_here(
    portal: StubbedPortal, sandpit: Sandpit
) -> None:
    person = Principal(PrincipalKind.AO, AO)
    session_key = asyncio.run(sandpit.credentials.issue_for_session(person, "nia"))
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)

    listed = client.get("/ops/accounts").text
    asked = client.get(f"/ops/keys/{session_key.key_id}/revoke?environment=sandpit")
    revoked = client.post(
        f"/ops/keys/{session_key.key_id}/revoke", data=form(session, confirmed="yes", environment="sandpit")
    )

    assert session_key.key_id not in _table(listed, "sandpit-keys")
    assert asked.status_code == 404 and revoked.status_code == 404
    assert sandpit.authenticates(session_key.token) == person


@pytest.mark.parametrize("with_sandpit", [True, False])
def test_an_ao_user_is_told_the_operators_issue_api_keys(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch, with_sandpit: bool
) -> None:
    if with_sandpit:
        _with_sandpit(portal, monkeypatch)
    client, _ = portal.signed_in(Role.AO)
    listed = {"items": [], "total": 0, "page": 1, "page_size": 8}
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=listed))

    home = client.get("/")

    said = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", home.text))
    assert home.status_code == 200 and "data-api-keys" in home.text
    assert "are issued only by the LRS operators, not in this portal: ask them for one." in said
    assert ("live and Sandpit" in said) is with_sandpit


class AwayTable(CredentialsTable):
    """The Sandpit's database, not answering."""

    async def execute(self, query: str, *args: Any) -> str:
        raise ConnectionRefusedError("the Sandpit's database is away")

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        raise ConnectionRefusedError("the Sandpit's database is away")

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        raise ConnectionRefusedError("the Sandpit's database is away")


def test_a_sandpit_database_away_leaves_the_live_keys_working(
    portal: StubbedPortal, sandpit: Sandpit, monkeypatch: pytest.MonkeyPatch
) -> None:
    away = CredentialStore(AwayTable(), environment=Environment.SANDPIT)
    monkeypatch.setattr(portal.auth, "_sandpit_keys", ServiceKeys(away))
    client, session = portal.signed_in(Role.OPERATOR, ACCOUNTS)

    page = client.get("/ops/accounts")
    issued = client.post("/ops/keys", data=form(session, key_ao_id=AO, key_environment="sandpit"))
    confirm = client.get("/ops/keys/0123456789abcdef/revoke?environment=sandpit")
    revoke = client.post(
        "/ops/keys/0123456789abcdef/revoke", data=form(session, confirmed="yes", environment="sandpit")
    )
    live = shown_after(client, client.post("/ops/keys", data=form(session, key_ao_id=AO, key_environment="live")))

    assert page.status_code == 200 and "data-sandpit-away" in page.text
    assert issued.status_code == 503 and "no key was issued" in issued.text
    assert confirm.status_code == 503 and revoke.status_code == 503
    assert _issued_secret(live.text).startswith("lrs_")
    assert [change.detail.split()[0] for change in portal.accounts.changed if change.subject == f"ao:{AO}"] == ["key"]
