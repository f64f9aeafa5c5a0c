"""`lrs plr verify` as a verifier reads it: when the credential was issued on their clock (UK time), that it holds
the record only as it stood then, and that a key missing from the issuer's own JWKS may be one the LRS withdrew
(a genuine credential is then not called forged alone)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from lrs_cli import credential_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

ISSUER = "https://lrs.example"
SUBJECT = f"{ISSUER}/v1/learners/1000000043"
SUMMER_EVENING = "2026-07-01T23:30:15Z"  # 00:30 on 2 July in the UK (BST)


def credential(valid_from: str = "2026-03-01T12:30:15Z") -> dict[str, Any]:
    return {
        "id": "urn:uuid:00000000-0000-0000-0000-000000000007",
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": "Personal Learning Record",
        "issuer": {"id": ISSUER, "type": ["Profile"], "name": "Learning Records Service"},
        "validFrom": valid_from,
        "credentialSubject": {"id": SUBJECT, "type": ["ClrSubject"], "verifiableCredential": []},
    }


def claims_of(document: dict[str, Any]) -> dict[str, Any]:
    nbf = int(datetime.fromisoformat(document["validFrom"].replace("Z", "+00:00")).timestamp())
    return {**document, "iss": ISSUER, "sub": SUBJECT, "jti": document["id"], "nbf": nbf}


class Issuer:
    """Signs as the projector does (EdDSA, the kid under its address), with PyJWT."""

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}

    def sign(self, claims: dict[str, Any], name: str = "k1") -> str:
        kid = f"{ISSUER}/.well-known/jwks.json#{name}"
        self.keys.setdefault(kid, Ed25519PrivateKey.generate())
        return jwt.encode(claims, self.keys[kid], algorithm="EdDSA", headers={"kid": kid})

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**json.loads(OKPAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "EdDSA"}
                for kid, key in self.keys.items()
            ]
        }


def _verified(tmp_path: Path, token: str, jwks: dict[str, Any], source: str) -> int:
    file = tmp_path / "plr.jwt"
    file.write_text(token)
    if source == "file":
        keys = tmp_path / "jwks.json"
        keys.write_text(json.dumps(jwks))
        return main(["plr", "verify", str(file), "--jwks", str(keys)])
    return main(["plr", "verify", str(file), "--jwks", f"{ISSUER}/.well-known/jwks.json"])


@pytest.fixture
def issuers_jwks(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the issuer's /.well-known/jwks.json answers (set its `keys`)."""
    published: dict[str, Any] = {"keys": []}
    monkeypatch.setattr(credential_commands, "_download_bounded", lambda url, issuer: json.dumps(published).encode())
    return published


def test_the_issue_time_is_uk_time_and_the_record_is_said_to_be_as_of_that_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token = issuer.sign(claims_of(credential(valid_from=SUMMER_EVENING)))

    assert _verified(tmp_path, token, issuer.jwks(), "file") == ExitCode.OK

    output = capsys.readouterr().out.splitlines()
    assert output[1].startswith(
        f'issued by {ISSUER} (named "Learning Records Service") on 2 Jul 2026, 00:30 (UK time),'
    )
    assert output[2] == (
        "it states the record as its issuer held it on 2 July 2026 (UK time); later corrections or withdrawals are"
        " not in it: for the record as it is now, ask the learner for a new one"
    )
    assert "2026-07-01T23:30:15Z" not in "\n".join(output)


def test_a_key_missing_from_the_issuers_own_jwks_may_be_one_it_withdrew(
    issuers_jwks: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    withdrawn = issuer.sign(claims_of(credential()), "withdrawn")
    issuers_jwks["keys"] = [key for key in issuer.jwks()["keys"] if not key["kid"].endswith("#withdrawn")]

    assert _verified(tmp_path, withdrawn, issuer.jwks(), "url") == ExitCode.FAILED

    said = capsys.readouterr().err
    assert f"no key {ISSUER}/.well-known/jwks.json#withdrawn in the JWKS: not signed by this issuer," in said
    assert "or the LRS withdrew that key (a suspected leak)" in said and "ask the holder for a new export" in said


def test_a_key_missing_from_a_jwks_file_is_not_said_to_be_withdrawn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file's keys are whoever gave it: the issuer's withdrawal is not what a key missing from it says."""
    issuer = Issuer()
    token = issuer.sign(claims_of(credential()))

    assert _verified(tmp_path, token, {"keys": []}, "file") == ExitCode.FAILED

    said = capsys.readouterr().err
    assert "not signed by this issuer, or the JWKS is not theirs" in said and "withdrew" not in said
