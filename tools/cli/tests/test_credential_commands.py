"""`lrs plr verify`: offline verification of PLR credentials signed by an independent signer (PyJWT)."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from lrs_cli.credential_commands import CredentialInvalid, verify_credential
from lrs_cli.main import main

ISSUER = "https://lrs.example"
SUBJECT = f"{ISSUER}/v1/learners/1000000043"
NOW = time.time()


def credential(valid_from: str = "2026-03-01T12:30:15Z") -> dict[str, Any]:
    uri = f"{ISSUER}/qualifications/6001166X"
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:00000000-0000-0000-0000-000000000007",
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": "Personal Learning Record",
        "issuer": {"id": ISSUER, "type": ["Profile"], "name": "Learning Records Service"},
        "validFrom": valid_from,
        "credentialSubject": {
            "id": SUBJECT,
            "type": ["ClrSubject"],
            "verifiableCredential": [
                {
                    "awardedDate": "2024-05-20T00:00:00Z",
                    "credentialSubject": {
                        "achievement": {
                            "name": "GCSE Mathematics",
                            "humanCode": "600/1166/X",
                            "creator": {"name": "AQA"},
                            "resultDescription": [
                                {"id": f"{uri}#grade", "resultType": "LetterGrade"},
                                {"id": f"{uri}#status", "resultType": "Status"},
                            ],
                        },
                        "result": [
                            {"resultDescription": f"{uri}#grade", "value": "7"},
                            {"resultDescription": f"{uri}#status", "status": "Provisional"},
                        ],
                    },
                }
            ],
        },
    }


def claims_of(document: dict[str, Any]) -> dict[str, Any]:
    nbf = int(datetime.fromisoformat(document["validFrom"].replace("Z", "+00:00")).timestamp())
    return {**document, "iss": ISSUER, "sub": SUBJECT, "jti": document["id"], "nbf": nbf}


class Issuer:
    """Signs like the projector does, but with PyJWT; publishes its keys as a JWKS."""

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}

    def key(self, name: str) -> str:
        kid = f"{ISSUER}/.well-known/jwks.json#{name}"
        self.keys.setdefault(kid, Ed25519PrivateKey.generate())
        return kid

    def sign(self, claims: dict[str, Any], name: str = "k1") -> str:
        kid = self.key(name)
        return jwt.encode(claims, self.keys[kid], algorithm="EdDSA", headers={"kid": kid})

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, private_key in self.keys.items():
            jwk = json.loads(OKPAlgorithm.to_jwk(private_key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"})
        return {"keys": keys}


def with_payload(token: str, change: dict[str, Any]) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(change)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_a_credential_signed_with_a_key_of_the_jwks_verifies() -> None:
    issuer = Issuer()
    token = issuer.sign(claims_of(credential()))

    kid, verified = verify_credential(token, issuer.jwks(), now=NOW)

    assert kid == f"{ISSUER}/.well-known/jwks.json#k1"
    assert verified == credential()


def test_a_credential_signed_before_a_rotation_verifies_with_the_retired_key_still_published() -> None:
    issuer = Issuer()
    old = issuer.sign(claims_of(credential()), "retired")
    new = issuer.sign(claims_of(credential()), "active")

    assert verify_credential(old, issuer.jwks(), now=NOW)[0].endswith("#retired")
    assert verify_credential(new, issuer.jwks(), now=NOW)[0].endswith("#active")


def test_a_changed_grade_fails() -> None:
    issuer = Issuer()
    token = issuer.sign(claims_of(credential()))
    forged_subject = credential()["credentialSubject"]
    forged_subject["verifiableCredential"][0]["credentialSubject"]["result"][0]["value"] = "9"

    with pytest.raises(CredentialInvalid, match="signature does not verify"):
        verify_credential(with_payload(token, {"credentialSubject": forged_subject}), issuer.jwks(), now=NOW)


def test_a_key_the_jwks_does_not_hold_fails() -> None:
    signer, other = Issuer(), Issuer()
    other.key("k1")  # same kid, different key
    token = signer.sign(claims_of(credential()))

    with pytest.raises(CredentialInvalid, match="signature does not verify"):
        verify_credential(token, other.jwks(), now=NOW)
    with pytest.raises(CredentialInvalid, match="no key"):
        verify_credential(token, {"keys": []}, now=NOW)


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [("HS256", "a shared secret anyone could hold"), ("none", None)],
)
def test_other_algorithms_are_refused(algorithm: str, key: str | None) -> None:
    issuer = Issuer()
    issuer.key("k1")
    token = jwt.encode(
        claims_of(credential()), key or "", algorithm=algorithm, headers={"kid": f"{ISSUER}/.well-known/jwks.json#k1"}
    )

    with pytest.raises(CredentialInvalid, match="algorithm"):
        verify_credential(token, issuer.jwks(), now=NOW)


def test_a_key_embedded_in_the_header_is_not_trusted() -> None:
    forger = Ed25519PrivateKey.generate()
    jwk = json.loads(OKPAlgorithm.to_jwk(forger.public_key()))
    token = jwt.encode(claims_of(credential()), forger, algorithm="EdDSA", headers={"jwk": jwk})

    with pytest.raises(CredentialInvalid, match="kid"):
        verify_credential(token, {"keys": [jwk]}, now=NOW)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"iss": "https://elsewhere.example"}, "claim iss"),
        ({"sub": f"{ISSUER}/v1/learners/1000000051"}, "claim sub"),
        ({"jti": "urn:uuid:00000000-0000-0000-0000-000000000008"}, "claim jti"),
        ({"nbf": 1}, "claim nbf"),
    ],
)
def test_claims_that_disagree_with_the_credential_fail(change: dict[str, Any], message: str) -> None:
    issuer = Issuer()
    token = issuer.sign({**claims_of(credential()), **change})

    with pytest.raises(CredentialInvalid, match=message):
        verify_credential(token, issuer.jwks(), now=NOW)


def test_a_credential_valid_only_from_tomorrow_fails() -> None:
    issuer = Issuer()
    token = issuer.sign(claims_of(credential(valid_from="2026-03-02T00:00:00Z")), "k1")
    day_before = datetime.fromisoformat("2026-03-01T00:00:00+00:00").timestamp()

    with pytest.raises(CredentialInvalid, match="not valid yet"):
        verify_credential(token, issuer.jwks(), now=day_before)


def test_lrs_plr_verify_reads_the_projectors_answer_or_the_bare_jws_and_a_jwks_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token = issuer.sign(claims_of(credential()))
    answer, bare, jwks = tmp_path / "plr.json", tmp_path / "plr.jwt", tmp_path / "jwks.json"
    answer.write_text(json.dumps({"format": "vc+jwt", "credential": token, "achievements": 1}))
    bare.write_text(token + "\n")
    jwks.write_text(json.dumps(issuer.jwks()))

    for file in (answer, bare):
        assert main(["plr", "verify", str(file), "--jwks", str(jwks)]) == 0
        output = capsys.readouterr().out.splitlines()
        assert output[0] == 'valid: "Personal Learning Record" urn:uuid:00000000-0000-0000-0000-000000000007'
        assert output[-1] == '  600/1166/X "GCSE Mathematics": 7, Provisional, "AQA", 2024-05-20'

    bare.write_text(with_payload(token, {"name": "Forged"}))
    assert main(["plr", "verify", str(bare), "--jwks", str(jwks)]) == 1
    assert "signature does not verify" in capsys.readouterr().err


BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _signature_spelt_otherwise(token: str, spelling: str) -> str:
    """The token with its signature written otherwise, its bytes the same as far as a lenient decoder reads them."""
    header, payload, signature = token.split(".")
    if spelling == "padded":
        return f"{header}.{payload}.{signature}=="
    if spelling == "junk":
        return f"{header}.{payload}.{signature[:10]}!!*~{signature[10:40]} {signature[40:]}"
    if spelling == "trailing bits":  # 64 bytes are 86 characters: the last one's 4 low bits are none of them
        last = BASE64URL_ALPHABET.index(signature[-1])
        return f"{header}.{payload}.{signature[:-1]}{BASE64URL_ALPHABET[last | 1]}"
    raise AssertionError(spelling)


@pytest.mark.parametrize("spelling", ["padded", "junk", "trailing bits"])
def test_a_signature_not_written_as_rfc_7515_base64url_is_refused(
    spelling: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of a token that is not the one the issuer wrote must not verify as it: whoever tracks or blocks
    credentials by their text or its hash could be evaded with a re-encoded copy."""
    issuer = Issuer()
    token = issuer.sign(claims_of(credential()))
    altered = _signature_spelt_otherwise(token, spelling)
    assert altered != token
    assert verify_credential(token, issuer.jwks(), now=NOW)[0].endswith("#k1")

    with pytest.raises(CredentialInvalid, match="its signature is not base64url as RFC 7515 writes it"):
        verify_credential(altered, issuer.jwks(), now=NOW)

    bare, jwks = tmp_path / "plr.jwt", tmp_path / "jwks.json"
    bare.write_text(altered)
    jwks.write_text(json.dumps(issuer.jwks()))
    assert main(["plr", "verify", str(bare), "--jwks", str(jwks)]) == 1  # as any credential that does not verify
    error = capsys.readouterr().err
    assert "not a compact JWS: its signature is not base64url" in error
    assert "valid:" not in error
