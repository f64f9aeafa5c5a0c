"""Verifiable PLR credentials through the real projector on real Kafka and PostgreSQL.

Every credential is verified with PyJWT against the JWKS the projector publishes (an independent
verifier, not the project's code) and validated against the CLR 2.0 / OB 3.0 schema subset.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import jsonschema
import jwt
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tests.support.projector import (
    LEARNERS,
    PLR,
    App,
    Events,
    Record,
    create_topics,
    envelope_bytes,
    new_prefix,
    project,
    record,
    registered,
    running_projector,
    uln_for,
)

from lrs_cli import credential_commands
from lrs_contracts.plr import ResultStatus
from lrs_platform.credential_store import key_id_of

pytestmark = pytest.mark.integration

ISSUER = "https://lrs.test"
OPERATOR = "operator:credential-tests"
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "credentials" / "clr-v2p0-clrcredential.subset.schema.json").read_text()
)
FORMATS = jsonschema.FormatChecker()


class LogLines:
    """Stands in for a module's logger: the lines it was given, as structlog's `capture_logs` would keep them (which
    cannot see a logger the projector's set-up cached on first use)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def __getattr__(self, level: str) -> Callable[..., None]:
        def log(event: str, **fields: Any) -> None:
            self.lines.append({"event": event, "log_level": level, **fields})

        return log

    def of(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["event"] == event]


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> LogLines:
    from plr_projector import credential_keys, credential_routes

    lines = LogLines()
    monkeypatch.setattr(credential_routes, "_log", lines)
    monkeypatch.setattr(credential_keys, "_log", lines)
    return lines


def _kek() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
async def projector(fresh_database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[App, str, str]]:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    kek = _kek()
    async with running_projector(
        fresh_database_url,
        kafka_bootstrap,
        prefix,
        credential_issuer_url=ISSUER,
        credential_key_encryption_key=kek,
    ) as app:
        yield app, prefix, kek


def _learner() -> tuple[str, str]:
    uln = uln_for(uuid.uuid4().int % 10_000_000)
    return uln, f"learner:{uln}"


async def _learner_with_achievements(app: App, kafka: str, prefix: str) -> tuple[str, str]:
    """A learner with a Final (grade 7), a Provisional (grade B, another AO) and a withdrawn achievement."""
    uln, learner = _learner()
    aqa, pearson = Events(), Events(ao_id="RN5160")
    await project(
        app,
        kafka,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(aqa.recorded(uln, grade="7"), uln, sequence=1),
            record(pearson.recorded(uln, grade="B", status=ResultStatus.PROVISIONAL, qan="60147914"), uln, sequence=2),
            record(aqa.recorded(uln, grade="4", qan="60035208"), uln, sequence=3),
            record(aqa.withdrawn(uln, qan="60035208"), uln, sequence=4),
        ],
    )
    return uln, learner


async def _issue(app: App, principal: str, uln: str) -> dict[str, Any]:
    response = await app.get(principal, f"/v1/learners/{uln}/plr/credential")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _verify(app: App, token: str) -> dict[str, Any]:
    """PyJWT, given only the public JWKS: the way any relying party would verify."""
    jwks = await app.get(None, "/.well-known/jwks.json")
    assert jwks.status_code == 200, jwks.text
    key = jwt.PyJWKSet.from_dict(jwks.json())[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["EdDSA"])
    return claims


def _summary(claims: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    described = {}
    for vc in claims["credentialSubject"]["verifiableCredential"]:
        subject = vc["credentialSubject"]
        results = {result["resultDescription"].rsplit("#", 1)[1]: result for result in subject["result"]}
        described[subject["achievement"]["humanCode"]] = (
            subject["achievement"]["creator"]["id"].rsplit("/", 1)[1],
            results["grade"]["value"],
            results["status"]["status"],
        )
    return described


def _key_id(issued: dict[str, Any]) -> str:
    key_id: str = issued["kid"].rsplit("#", 1)[1]
    return key_id


async def _can_sign(app: App, *issued: dict[str, Any]) -> list[bool]:
    """Whether the key of each credential still has its (sealed) private half in PostgreSQL."""
    connection = await asyncpg.connect(app.database_url)
    try:
        rows = await connection.fetch(
            "SELECT key_id, sealed_private_key IS NOT NULL AS sealed FROM plr_ops.credential_keys"
        )
    finally:
        await connection.close()
    sealed = {row["key_id"]: row["sealed"] for row in rows}
    return [sealed[_key_id(credential)] for credential in issued]


def _with_grade_changed(token: str, old: str, new: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for vc in claims["credentialSubject"]["verifiableCredential"]:
        for result in vc["credentialSubject"]["result"]:
            if result.get("value") == old:
                result["value"] = new
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_learner_gets_a_signed_clr_credential_that_an_independent_verifier_accepts(
    projector: tuple[App, str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    app, prefix, _ = projector
    uln, learner = await _learner_with_achievements(app, kafka_bootstrap, prefix)

    issued = await _issue(app, learner, uln)
    claims = await _verify(app, issued["credential"])

    assert _summary(claims) == {
        "600/1166/X": ("RN5133", "7", "Completed"),
        "601/4791/4": ("RN5160", "B", "Provisional"),
    }
    assert "600/3520/8" not in json.dumps(claims)  # the withdrawn achievement is absent
    credential = {key: value for key, value in claims.items() if key not in ("iss", "sub", "jti", "nbf")}
    assert {"uri", "date-time"} <= set(FORMATS.checkers)  # else `format` would pass anything
    jsonschema.Draft201909Validator(SCHEMA, format_checker=FORMATS).validate(credential)
    assert claims["iss"] == claims["issuer"]["id"] == ISSUER
    assert claims["sub"] == claims["credentialSubject"]["id"] == f"{ISSUER}/v1/learners/{uln}"
    assert claims["jti"] == claims["id"] == issued["credential_id"]
    assert (issued["achievements"], issued["jwks_uri"]) == (2, f"{ISSUER}/.well-known/jwks.json")
    assert jwt.get_unverified_header(issued["credential"])["kid"] == issued["kid"]

    operator_copy = await _issue(app, OPERATOR, uln)
    assert _summary(await _verify(app, operator_copy["credential"])) == _summary(claims)

    # and offline, as `lrs plr verify FILE --jwks FILE` does
    (tmp_path / "plr.json").write_text(json.dumps(issued))
    (tmp_path / "jwks.json").write_text((await app.get(None, "/.well-known/jwks.json")).text)
    verified = credential_commands.verify_file(str(tmp_path / "plr.json"), str(tmp_path / "jwks.json"))
    assert verified.splitlines()[0] == f'valid: "Personal Learning Record" {issued["credential_id"]}'


async def test_the_issue_is_logged_by_credential_id_and_the_callers_key_and_never_the_learner(
    projector: tuple[App, str, str], kafka_bootstrap: str, logged: LogLines
) -> None:
    app, prefix, _ = projector
    uln, learner = await _learner_with_achievements(app, kafka_bootstrap, prefix)

    issued = await _issue(app, learner, uln)

    (line,) = logged.of("plr_credential_issued")
    assert line["credential_id"] == issued["credential_id"]
    assert line["key_id"] == key_id_of(app.keys[learner])
    assert line["signing_key_id"] == issued["kid"].rsplit("#", 1)[1]
    assert uln not in json.dumps(line, default=str)


async def test_changing_one_grade_breaks_the_signature(projector: tuple[App, str, str], kafka_bootstrap: str) -> None:
    app, prefix, _ = projector
    uln, learner = await _learner_with_achievements(app, kafka_bootstrap, prefix)
    token = (await _issue(app, learner, uln))["credential"]

    with pytest.raises(jwt.InvalidSignatureError):
        await _verify(app, _with_grade_changed(token, "7", "9"))


async def test_only_the_learner_or_an_operator_gets_the_credential(
    projector: tuple[App, str, str], kafka_bootstrap: str
) -> None:
    app, prefix, _ = projector
    uln, _ = await _learner_with_achievements(app, kafka_bootstrap, prefix)
    stranger_uln, stranger = _learner()
    path = f"/v1/learners/{uln}/plr/credential"

    refused = {
        principal: (await app.get(principal, path)).status_code
        for principal in ("ao:RN5133", "provider:10005555", stranger)
    }
    assert refused == {"ao:RN5133": 403, "provider:10005555": 403, stranger: 403}
    assert (await app.get(None, path)).status_code == 401
    unknown = await app.get(stranger, f"/v1/learners/{stranger_uln}/plr/credential")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "PLR_HAS_NO_ACHIEVEMENTS")


async def test_after_rotation_new_credentials_use_the_new_key_and_old_ones_still_verify(
    projector: tuple[App, str, str], kafka_bootstrap: str
) -> None:
    app, prefix, _ = projector
    uln, learner = await _learner_with_achievements(app, kafka_bootstrap, prefix)
    before = await _issue(app, learner, uln)

    assert (await app.post("ao:RN5133", "/v1/admin/credential-keys/rotate")).status_code == 403
    rotated = await app.post(OPERATOR, "/v1/admin/credential-keys/rotate")
    assert rotated.status_code == 200, rotated.text
    after = await _issue(app, learner, uln)

    assert rotated.json()["kid"] == after["kid"] != before["kid"]
    assert [before["kid"].rsplit("#", 1)[1]] == rotated.json()["retired"]
    assert _summary(await _verify(app, before["credential"])) == _summary(await _verify(app, after["credential"]))
    listed = (await app.get(OPERATOR, "/v1/admin/credential-keys")).json()["keys"]
    assert [(key["kid"], key["active"]) for key in listed] == [(after["kid"], True), (before["kid"], False)]
    # the retired key can no longer sign, whoever later reads the database and the key-encryption key
    assert await _can_sign(app, before, after) == [False, True]


async def test_a_withdrawn_key_leaves_the_jwks_and_nothing_it_signed_verifies_any_more(
    projector: tuple[App, str, str], kafka_bootstrap: str, tmp_path: Path, logged: LogLines
) -> None:
    app, prefix, _ = projector
    uln, learner = await _learner_with_achievements(app, kafka_bootstrap, prefix)
    before = await _issue(app, learner, uln)
    withdraw = f"/v1/admin/credential-keys/{_key_id(before)}/withdraw"
    reason = {"reason": "suspected leak: the KEK was in a shared build log"}

    refused = {
        principal: (await app.post(principal, withdraw, reason)).status_code for principal in ("ao:RN5133", learner)
    }
    assert refused == {"ao:RN5133": 403, learner: 403}
    assert (await app.post(OPERATOR, withdraw, {})).status_code == 422
    assert (await app.post(OPERATOR, withdraw, {"reason": " \n"})).status_code == 422
    missing = await app.post(OPERATOR, "/v1/admin/credential-keys/20260301-00000000/withdraw", reason)
    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")

    withdrawn = await app.post(OPERATOR, withdraw, reason)
    assert withdrawn.status_code == 200, withdrawn.text
    after = await _issue(app, learner, uln)

    # the active key was rotated first: credentials go on being signed, with a new key
    assert withdrawn.json()["replaced_by"] == _key_id(after) != _key_id(before)
    assert withdrawn.json()["withdrawn"]["withdrawal_reason"] == reason["reason"]
    (audit,) = logged.of("credential_key_withdrawn")
    assert (audit["key_id"], audit["operator"], audit["reason"]) == (_key_id(before), OPERATOR, reason["reason"])

    jwks = (await app.get(None, "/.well-known/jwks.json")).json()
    assert [key["kid"] for key in jwks["keys"]] == [after["kid"]]
    with pytest.raises(KeyError):
        await _verify(app, before["credential"])  # PyJWT finds no key for its kid
    (tmp_path / "plr.json").write_text(json.dumps(before))
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    with pytest.raises(credential_commands.CredentialInvalid, match=r"no key .* in the JWKS"):
        credential_commands.verify_file(str(tmp_path / "plr.json"), str(tmp_path / "jwks.json"))
    assert _summary(await _verify(app, after["credential"]))  # a new export verifies

    listed = {key["key_id"]: key for key in (await app.get(OPERATOR, "/v1/admin/credential-keys")).json()["keys"]}
    old = listed[_key_id(before)]
    assert (old["active"], old["published"], old["withdrawn_by"], old["withdrawal_reason"]) == (
        False,
        False,
        OPERATOR,
        reason["reason"],
    )
    assert old["withdrawn_at"] is not None and old["retired_at"] is not None
    assert (listed[_key_id(after)]["active"], listed[_key_id(after)]["published"]) == (True, True)
    assert await _can_sign(app, before, after) == [False, True]

    again = await app.post(OPERATOR, withdraw, reason)
    assert (again.status_code, again.json()["title"]) == (409, "Key already withdrawn")
    assert f"{_key_id(before)} was withdrawn at" in again.json()["detail"]


async def test_withdrawing_a_retired_key_leaves_the_active_one_signing(
    projector: tuple[App, str, str], kafka_bootstrap: str
) -> None:
    app, prefix, _ = projector
    uln, learner = await _learner_with_achievements(app, kafka_bootstrap, prefix)
    first = await _issue(app, learner, uln)
    assert (await app.post(OPERATOR, "/v1/admin/credential-keys/rotate")).status_code == 200
    second = await _issue(app, learner, uln)

    withdrawn = await app.post(
        OPERATOR, f"/v1/admin/credential-keys/{_key_id(first)}/withdraw", {"reason": "found in an old backup"}
    )

    assert (withdrawn.status_code, withdrawn.json()["replaced_by"]) == (200, None)
    assert _key_id(await _issue(app, learner, uln)) == _key_id(second)
    jwks = (await app.get(None, "/.well-known/jwks.json")).json()
    assert [key["kid"] for key in jwks["keys"]] == [second["kid"]]
    await _verify(app, second["credential"])


async def test_keys_are_kept_in_postgresql_sealed_and_survive_a_restart(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    kek = _kek()
    settings = {"credential_issuer_url": ISSUER, "credential_key_encryption_key": kek}
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, **settings) as app:
        uln, learner = await _learner_with_achievements(app, kafka_bootstrap, prefix)
        first = await _issue(app, learner, uln)

    connection = await asyncpg.connect(fresh_database_url)
    try:
        (row,) = await connection.fetch("SELECT key_id, public_key, sealed_private_key FROM plr_ops.credential_keys")
    finally:
        await connection.close()
    sealed = bytes(row["sealed_private_key"])
    private = AESGCM(base64.b64decode(kek)).decrypt(sealed[:12], sealed[12:], row["key_id"].encode())
    assert private not in sealed  # sealed at rest: AES-GCM under the key-encryption key, the key id bound in

    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, **settings) as restarted:
        second = await _issue(restarted, learner, uln)
        assert second["kid"] == first["kid"]
        await _verify(restarted, first["credential"])


async def test_without_a_key_encryption_key_no_credential_is_issued(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        uln, learner = await _learner_with_achievements(app, kafka_bootstrap, prefix)
        refused = await app.get(learner, f"/v1/learners/{uln}/plr/credential")
        jwks = await app.get(None, "/.well-known/jwks.json")

    assert (refused.status_code, refused.json()["code"]) == (503, "CREDENTIAL_SIGNING_UNAVAILABLE")
    assert jwks.json() == {"keys": []}


async def test_no_credential_while_the_learners_events_are_held_in_dead_letters(
    projector: tuple[App, str, str], kafka_bootstrap: str
) -> None:
    app, prefix, _ = projector
    uln, learner = _learner()
    events = Events()
    poison = json.loads(envelope_bytes(events.withdrawn(uln), sequence=2))
    del poison["data"]["key"]  # a withdrawal nobody can apply: parked, not skipped
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(events.recorded(uln, grade="5"), uln, sequence=1),
            Record(PLR, uln, json.dumps(poison).encode()),
        ],
    )

    held = await app.get(learner, f"/v1/learners/{uln}/plr/credential")
    assert (held.status_code, held.json()["code"]) == (409, "EVENTS_HELD_IN_DEAD_LETTERS")


async def test_results_not_achieved_are_left_out_unless_the_learner_asks_and_then_say_failed(
    projector: tuple[App, str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    app, prefix, _ = projector
    uln, learner = _learner()
    events = Events()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(events.recorded(uln, grade="7"), uln, sequence=1),
            record(events.recorded(uln, grade="U", qan="60147914"), uln, sequence=2),
            record(events.recorded(uln, grade="X", qan="60035208"), uln, sequence=3),
        ],
    )

    shared = await _issue(app, learner, uln)
    assert _summary(await _verify(app, shared["credential"])) == {"600/1166/X": ("RN5133", "7", "Completed")}

    asked = await app.get(learner, f"/v1/learners/{uln}/plr/credential", include_unsuccessful="true")
    assert asked.status_code == 200, asked.text
    claims = await _verify(app, asked.json()["credential"])
    assert _summary(claims) == {
        "600/1166/X": ("RN5133", "7", "Completed"),
        "601/4791/4": ("RN5133", "U", "Failed"),
    }  # the grade X, no result, is in neither
    credential = {key: value for key, value in claims.items() if key not in ("iss", "sub", "jti", "nbf")}
    jsonschema.Draft201909Validator(SCHEMA, format_checker=FORMATS).validate(credential)
    (tmp_path / "plr.json").write_text(asked.text)
    (tmp_path / "jwks.json").write_text((await app.get(None, "/.well-known/jwks.json")).text)
    verified = credential_commands.verify_file(str(tmp_path / "plr.json"), str(tmp_path / "jwks.json"))
    assert verified.splitlines()[0] == f'valid: "Personal Learning Record" {asked.json()["credential_id"]}'
    assert "U, Failed" in verified


async def test_no_credential_while_a_learner_event_is_held_in_dead_letters(
    projector: tuple[App, str, str], kafka_bootstrap: str
) -> None:
    app, prefix, _ = projector
    uln, learner = _learner()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            record(registered(uln), uln, topic=LEARNERS),
            record(Events().recorded(uln, grade="5"), uln, sequence=1),
            Record(LEARNERS, uln, b"{not an envelope"),
        ],
    )

    held = await app.get(learner, f"/v1/learners/{uln}/plr/credential")
    assert (held.status_code, held.json()["code"]) == (409, "EVENTS_HELD_IN_DEAD_LETTERS")
