"""`lrs plr verify FILE --jwks FILE|URL`: checks a PLR credential offline, needing no API key.

FILE holds what `GET /v1/learners/{uln}/plr/credential` returns (its JSON, or just the compact JWS in
`credential`). The signature is checked with the Ed25519 key the JOSE header's `kid` names in the JWKS
given (a file, or a URL such as the projector's /.well-known/jwks.json; retired keys stay in it), then
the Open Badges 3.0 / CLR 2.0 VC-JWT rules: `iss`, `sub`, `jti` and `nbf` match the credential, which
is valid from now on (docs/decisions/0050-verifiable-plr-credentials.md). A key embedded in the
header is not trusted: anyone can sign with their own key.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lrs_cli.client import CommandError
from lrs_cli.files import read_bounded

ALGORITHM = "EdDSA"
ALLOWED_HEADERS = {"alg", "kid", "jwk", "typ"}  # OB 3.0 §8.2: additional JOSE headers are not allowed
CLOCK_SKEW_SECONDS = 60
JWT_CLAIMS = {"iss", "sub", "jti", "nbf", "exp", "iat"}
CREDENTIAL_FILE_BYTES = 16 * 1_048_576
"""The most read of a credential or JWKS file: a credential takes a few kilobytes an achievement and a JWKS a few
hundred bytes a key, so a larger file is some other file (or a device, or a pipe), and is not read whole."""


class CredentialInvalid(CommandError):
    """The credential does not verify; the message says which check failed."""


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as error:
        raise CredentialInvalid("not a compact JWS: a segment is not base64url") from error


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise CredentialInvalid(f"the {what} is not JSON") from error
    if not isinstance(value, dict):
        raise CredentialInvalid(f"the {what} is not a JSON object")
    return value


def _public_key(jwks: Mapping[str, Any], kid: str) -> Ed25519PublicKey:
    keys = [key for key in jwks.get("keys", []) if isinstance(key, dict) and key.get("kid") == kid]
    if not keys:
        raise CredentialInvalid(f"no key {kid} in the JWKS: not signed by this issuer, or the JWKS is not theirs")
    (jwk,) = keys[:1]
    if (jwk.get("kty"), jwk.get("crv")) != ("OKP", "Ed25519") or jwk.get("alg", ALGORITHM) != ALGORITHM:
        raise CredentialInvalid(f"key {kid} is not an Ed25519 (EdDSA) key")
    try:
        return Ed25519PublicKey.from_public_bytes(_b64decode(str(jwk.get("x", ""))))
    except ValueError as error:
        raise CredentialInvalid(f"key {kid} is not a valid Ed25519 public key") from error


def _epoch(timestamp: Any, what: str) -> int:
    try:
        return int(datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp())
    except ValueError as error:
        raise CredentialInvalid(f"{what} is not a date-time: {timestamp!r}") from error


def _check_claims(claims: dict[str, Any], now: float) -> dict[str, Any]:
    # A VC Data Model 1.1 style token carries the credential in `vc`; OB 3.0 puts it at the top level.
    if isinstance(claims.get("vc"), dict):
        credential: dict[str, Any] = claims["vc"]
    else:
        credential = {name: value for name, value in claims.items() if name not in JWT_CLAIMS}
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    subject = credential.get("credentialSubject")
    subject_id = subject.get("id") if isinstance(subject, dict) else None
    types = credential.get("type")
    if "VerifiableCredential" not in (types if isinstance(types, list) else [types]):
        raise CredentialInvalid("the payload is not a verifiable credential (type lacks VerifiableCredential)")
    for claim, expected, name in (
        ("iss", issuer_id, "issuer.id"),
        ("sub", subject_id, "credentialSubject.id"),
        ("jti", credential.get("id"), "id"),
    ):
        if claims.get(claim) is None or claims.get(claim) != expected:
            raise CredentialInvalid(f"claim {claim} ({claims.get(claim)!r}) does not match the credential's {name}")
    valid_from = credential.get("validFrom", credential.get("issuanceDate"))
    if not isinstance(claims.get("nbf"), int) or claims["nbf"] != _epoch(valid_from, "validFrom"):
        raise CredentialInvalid("claim nbf does not match the credential's validFrom")
    if claims["nbf"] > now + CLOCK_SKEW_SECONDS:
        raise CredentialInvalid(f"the credential is not valid yet (valid from {valid_from})")
    if "exp" in claims and (not isinstance(claims["exp"], int) or claims["exp"] <= now - CLOCK_SKEW_SECONDS):
        raise CredentialInvalid("the credential has expired")
    return credential


def verify_credential(token: str, jwks: Mapping[str, Any], *, now: float | None = None) -> tuple[str, dict[str, Any]]:
    """(kid, credential) of a VC-JWT whose EdDSA signature verifies with a key of `jwks`; else raises."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise CredentialInvalid("not a compact JWS (header.payload.signature)")
    header = _json_object(_b64decode(parts[0]), "JOSE header")
    if header.get("alg") != ALGORITHM:
        raise CredentialInvalid(f"algorithm {header.get('alg')!r} refused: PLR credentials are signed with EdDSA")
    if unexpected := set(header) - ALLOWED_HEADERS:
        raise CredentialInvalid(f"JOSE header has parameters OB 3.0 does not allow: {sorted(unexpected)}")
    if header.get("typ", "JWT") != "JWT":
        raise CredentialInvalid(f"JOSE header typ must be JWT, not {header['typ']!r}")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise CredentialInvalid("JOSE header names no key (kid); an embedded jwk proves nothing")
    try:
        _public_key(jwks, kid).verify(_b64decode(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
    except (InvalidSignature, UnicodeEncodeError) as error:
        raise CredentialInvalid(
            "signature does not verify: the credential was changed after signing, or another key signed it"
        ) from error
    claims = _json_object(_b64decode(parts[1]), "JWT payload")
    return kid, _check_claims(claims, time.time() if now is None else now)


def read_token(path: Path) -> str:
    read = read_bounded(path, CREDENTIAL_FILE_BYTES)
    if read.too_large:
        raise CommandError(
            f"cannot read {path}: it is more than the {CREDENTIAL_FILE_BYTES:,} bytes lrs reads of a credential file"
        )
    try:
        text = read.content.decode("utf-8-sig").strip()
    except UnicodeDecodeError as error:
        raise CredentialInvalid(f"{path} is not text: a credential is a compact JWS or the projector's JSON") from error
    if text.startswith("{"):
        document = _json_object(text.encode(), "credential file")
        if not isinstance(document.get("credential"), str):
            raise CredentialInvalid(f"{path} holds JSON without a 'credential' (compact JWS) field")
        return str(document["credential"])
    return text


def _download_bounded(url: str) -> bytes:
    """The body at `url`, read as it arrives and refused once it passes the JWKS limit (a wrong URL may name a
    large file, or a server that never stops sending)."""
    received = bytearray()
    try:
        with httpx.stream("GET", url, timeout=30.0, follow_redirects=True) as response:
            if response.status_code != 200:
                raise CommandError(f"cannot fetch the JWKS from {url}: HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) > CREDENTIAL_FILE_BYTES:
                    raise CommandError(
                        f"cannot fetch the JWKS from {url}: it sends more than the {CREDENTIAL_FILE_BYTES:,} bytes"
                        " lrs reads of a JWKS"
                    )
    except httpx.HTTPError as error:
        raise CommandError(f"cannot fetch the JWKS from {url}: {error}") from error
    return bytes(received)


def load_jwks(source: str) -> dict[str, Any]:
    if source.startswith(("https://", "http://")):
        return _json_object(_download_bounded(source), "JWKS")
    try:
        read = read_bounded(Path(source), CREDENTIAL_FILE_BYTES)
    except OSError as error:
        raise CommandError(f"cannot read the JWKS {source}: {error.strerror}") from error
    if read.too_large:
        raise CommandError(
            f"cannot read the JWKS {source}: it is more than the {CREDENTIAL_FILE_BYTES:,} bytes lrs reads of a"
            " JWKS file"
        )
    return _json_object(read.content, "JWKS")


def _achievement_line(achievement_credential: Mapping[str, Any]) -> str:
    subject = achievement_credential.get("credentialSubject", {})
    achievement = subject.get("achievement", {})
    kinds = {item.get("id"): item.get("resultType") for item in achievement.get("resultDescription", [])}
    grade = status = "?"
    for result in subject.get("result", []):
        if kinds.get(result.get("resultDescription")) == "Status":
            status = result.get("status", "?")
        elif "value" in result:
            grade = result["value"]
    awarded = str(achievement_credential.get("awardedDate", ""))[:10]
    creator = achievement.get("creator", {}).get("name", "?")
    return (
        f"  {achievement.get('humanCode', '?')} {achievement.get('name', '?')}: {grade}, {status}, {creator}, {awarded}"
    )


def summary(kid: str, credential: Mapping[str, Any]) -> str:
    issuer = credential.get("issuer")
    issuer_name = issuer.get("name", issuer.get("id")) if isinstance(issuer, dict) else issuer
    subject = credential.get("credentialSubject", {})
    nested = subject.get("verifiableCredential", []) if isinstance(subject, dict) else []
    lines = [
        f"valid: {credential.get('name', 'credential')} {credential.get('id')}",
        f"issued by {issuer_name} on {credential.get('validFrom')}, signed with {kid}",
        f"subject {subject.get('id') if isinstance(subject, dict) else '?'}: {len(nested)} achievements",
    ]
    return "\n".join(lines + [_achievement_line(item) for item in nested if isinstance(item, dict)])


def verify_file(path: str, jwks_source: str) -> str:
    try:
        token = read_token(Path(path))
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from error
    kid, credential = verify_credential(token, load_jwks(jwks_source))
    return summary(kid, credential)
