"""Writes docs/credentials/example/: a test vector for anyone writing their own verifier of PLR credentials.

One PLR credential (`credential.jws`, the compact JWS a learner's export carries in its `credential` member, and
`credential.json`, its payload decoded), the JWKS that verifies it (`jwks.json`, as the issuer publishes it at
`<issuer id>/.well-known/jwks.json`), copies a verifier must refuse (`tampered/`), and what each should be told
(`verdicts.json`). The README beside them is written by hand.

Everything is made from fixed data and a fixed TEST key whose private half is this file's to read: anyone can sign
with it, so it proves nothing outside this example, and no LRS ever publishes it. Ed25519 signatures are
deterministic, so the files are the same on every run: `python scripts/dev/export_credential_example.py` rewrites
them; `--check` only says whether they are stale (exit 1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lrs_contracts.plr import AchievementKey
from lrs_domain.achievements import achievement_id
from plr_projector.credentials import CredentialIssuer, SigningKey, plr_credential, public_jwk, sign
from plr_projector.projection import AchievementRow

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "credentials" / "example"

ISSUER = CredentialIssuer.at("https://api.lrs.example")
FORGER = CredentialIssuer.at("https://lrs.example.forger.test")  # names itself "Learning Records Service" too
KEY_ID = "20261201-0e8a3b1c"
TEST_KEY = Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"LRS docs/credentials/example: a published TEST key; it signs nothing real").digest()
)
FORGERS_KEY = Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"LRS docs/credentials/example: a forger's key").digest()
)
ISSUED_AT = datetime(2026, 12, 1, 9, 30, 0, tzinfo=UTC)
CREDENTIAL_ID = uuid.UUID("6f1d3c1e-2b0a-4c6e-9a51-0e8a3b1c0001")
ULN, MERGED_ULN = "1000000043", "1000000051"  # test ULNs: the learner's, and one merged into it


def _row(
    ao_id: str,
    ao_name: str,
    qualification_number: str,
    title: str,
    qualification_type: str,
    level: str,
    grade: str,
    status: str,
    award: date,
    *,
    pathway: str | None = None,
    credits: int | None = None,
    uln: str = ULN,
) -> AchievementRow:
    key = AchievementKey(ao_id=ao_id, uln=uln, qualification_number=qualification_number, award_date=award)
    loaded = datetime(award.year, award.month, award.day, 6, 0, tzinfo=UTC)
    return AchievementRow(
        uln=uln,
        ao_id=ao_id,
        qualification_number=qualification_number,
        award_date=award,
        achievement_id=achievement_id(key),
        status=status,
        withdrawn=False,
        version=1,
        pathway=pathway,
        grade=grade,
        ukprn="10004567",
        language_for_assessment=None,
        credits=credits,
        title=title,
        qualification_type=qualification_type,
        level=level,
        framework="RQF",
        kind="qualification",
        awarding_organisation_name=ao_name,
        date_loaded=loaded,
        last_changed_at=loaded,
    )


ACHIEVEMENTS = [
    _row("RN5133", "AQA", "6001166X", "GCSE Mathematics", "GCSE (9 to 1)", "2", "7", "F", date(2024, 8, 22)),
    _row(
        "RN5160",
        "Pearson Education Ltd",
        "60312345",
        "Pearson BTEC Level 3 National Extended Certificate in Sport",
        "BTEC National",
        "Level 3",
        "Distinction",
        "F",
        date(2025, 8, 14),
        pathway="Sport and Exercise Science",
        credits=60,
        uln=MERGED_ULN,  # recorded under the ULN later merged into the learner's
    ),
    _row("RN5196", "OCR", "60147914", "A Level Physics", "GCE A Level", "3", "B", "P", date(2026, 8, 13)),
]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _compact(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _pretty(document: Any) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def _credential(issuer: CredentialIssuer) -> dict[str, Any]:
    return plr_credential(
        issuer, ULN, ACHIEVEMENTS, credential_id=CREDENTIAL_ID, issued_at=ISSUED_AT, ulns=(ULN, MERGED_ULN)
    )


def _grade_changed(token: str) -> str:
    """The payload with the GCSE's grade 7 made 9, the header and signature as signed."""
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64url(payload))
    for nested in claims["credentialSubject"]["verifiableCredential"]:
        for result in nested["credentialSubject"]["result"]:
            if result.get("value") == "7":
                result["value"] = "9"
    return f"{header}.{_b64url(_compact(claims))}.{signature}"


def _headed(token: str, header: dict[str, Any], secret: bytes | None) -> str:
    """The token's payload under another JOSE header: no signature (`alg` none), or an HMAC with `secret`."""
    payload = token.split(".")[1]
    signing_input = f"{_b64url(_compact(header))}.{payload}"
    if secret is None:
        return f"{signing_input}."
    return f"{signing_input}.{_b64url(hmac.new(secret, signing_input.encode('ascii'), hashlib.sha256).digest())}"


def render() -> dict[str, bytes]:
    """Every generated file of the example, by its path under docs/credentials/example/."""
    document = _credential(ISSUER)
    token = sign(document, ISSUER, SigningKey(KEY_ID, TEST_KEY))
    public = TEST_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk = public_jwk(ISSUER, KEY_ID, public)
    kid = ISSUER.key_uri(KEY_ID)
    forged = _credential(FORGER)
    tampered = {
        "tampered/grade-changed.jws": (
            _grade_changed(token),
            "InvalidSignatureError",
            "a grade in the payload was changed (7 to 9) after signing: the signature does not verify",
        ),
        "tampered/signed-by-another-key.jws": (
            sign(document, ISSUER, SigningKey(KEY_ID, FORGERS_KEY)),
            "InvalidSignatureError",
            "the same payload and kid, signed with another key: the issuer's key does not verify it",
        ),
        "tampered/forged-issuer.jws": (
            sign(forged, FORGER, SigningKey(KEY_ID, FORGERS_KEY)),
            "PyJWKClientError",
            'signed by someone else\'s key under their own address, naming itself "Learning Records Service": its'
            " kid is in no JWKS of the issuer you pinned (and its iss is not that issuer)",
        ),
        "tampered/alg-none.jws": (
            _headed(token, {"alg": "none", "kid": kid, "typ": "JWT"}, None),
            "InvalidAlgorithmError",
            "the signature taken off and alg set to none: only EdDSA is allowed",
        ),
        "tampered/hs256-with-the-public-key.jws": (
            _headed(token, {"alg": "HS256", "kid": kid, "typ": "JWT"}, jwk["x"].encode("ascii")),
            "InvalidAlgorithmError",
            "an HMAC keyed with the published public key (algorithm confusion): only EdDSA is allowed",
        ),
    }
    verdicts: dict[str, dict[str, str]] = {
        "credential.jws": {
            "verdict": "valid",
            "why": f"signed by the issuer {ISSUER.url} with the key {kid} of jwks.json",
        },
        **{path: {"verdict": "refused", "pyjwt": error, "why": why} for path, (_token, error, why) in tampered.items()},
    }
    return {
        "credential.jws": f"{token}\n".encode("ascii"),
        "credential.json": _pretty(json.loads(_unb64url(token.split(".")[1]))),
        "jwks.json": _pretty({"keys": [jwk]}),
        "verdicts.json": _pretty(verdicts),
        **{path: f"{value}\n".encode("ascii") for path, (value, _error, _why) in tampered.items()},
    }


def stale(directory: Path = EXAMPLE) -> list[str]:
    """The generated files missing from `directory` or differing from what `render` makes."""
    return [
        path
        for path, content in render().items()
        if not (directory / path).is_file() or (directory / path).read_bytes() != content
    ]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        if found := stale():
            sys.stderr.write(
                f"docs/credentials/example is stale ({', '.join(found)}): run scripts/dev/export_credential_example.py\n"
            )
            return 1
        return 0
    for path, content in render().items():
        (EXAMPLE / path).parent.mkdir(parents=True, exist_ok=True)
        (EXAMPLE / path).write_bytes(content)
        sys.stdout.write(f"docs/credentials/example/{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
