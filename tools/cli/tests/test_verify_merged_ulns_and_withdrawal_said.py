"""After a merge a PLR credential names the master ULN and lists every ULN of the learner (the subject's OB 3.0
`identifier`): `lrs plr verify` says the ULNs merged into it on the holder line, so a verifier given the ULN the person
carries can match it. And `lrs credential-keys withdraw` says what an operator can really do: the LRS keeps no list of
who holds what a key signed."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from lrs_cli.client import ExitCode
from lrs_cli.credential_key_commands import withdrawn_text
from lrs_cli.main import main

ISSUER = "https://lrs.example"
MASTER, MERGED, OTHER = "1277971837", "1188603832", "1000000043"
SUBJECT = f"{ISSUER}/v1/learners/{MASTER}"
KID = f"{ISSUER}/.well-known/jwks.json#k1"
KEY = Ed25519PrivateKey.generate()
TAIL = (
    ": it does not show that the person who gave you the file is that learner; anyone holding the file gets this result"
)


def _uln(uln: str) -> dict[str, Any]:
    return {"type": "IdentityObject", "identityHash": uln, "identityType": "identifier", "hashed": False}


def _verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str], identifier: Any) -> str:
    uri = f"{ISSUER}/qualifications/6001166X"
    subject: dict[str, Any] = {
        "id": SUBJECT,
        "type": ["ClrSubject"],
        "verifiableCredential": [
            {
                "awardedDate": "2024-05-20T00:00:00Z",
                "credentialSubject": {
                    "achievement": {
                        "id": uri,
                        "name": "GCSE Mathematics",
                        "humanCode": "600/1166/X",
                        "creator": {"name": "AQA"},
                        "resultDescription": [{"id": f"{uri}#grade", "resultType": "LetterGrade"}],
                    },
                    "result": [{"resultDescription": f"{uri}#grade", "value": "7"}],
                },
            }
        ],
    }
    if identifier is not None:
        subject["identifier"] = identifier
    valid_from = "2026-03-01T12:30:15Z"
    claims = {
        "id": "urn:uuid:00000000-0000-0000-0000-000000000007",
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": "Personal Learning Record",
        "issuer": {"id": ISSUER, "type": ["Profile"], "name": "Learning Records Service"},
        "validFrom": valid_from,
        "credentialSubject": subject,
        "iss": ISSUER,
        "sub": SUBJECT,
        "jti": "urn:uuid:00000000-0000-0000-0000-000000000007",
        "nbf": int(datetime.fromisoformat(valid_from.replace("Z", "+00:00")).timestamp()),
    }
    token = tmp_path / "plr.jwt"
    token.write_text(jwt.encode(claims, KEY, algorithm="EdDSA", headers={"kid": KID}))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**json.loads(OKPAlgorithm.to_jwk(KEY.public_key())), "kid": KID}]}))
    assert main(["plr", "verify", str(token), "--jwks", str(jwks)]) == ExitCode.OK
    (holder,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("it names the learner")]
    return holder


def test_the_holder_line_says_the_ulns_merged_into_the_one_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = _verdict(tmp_path, capsys, [_uln(MASTER), _uln(MERGED)])

    assert holder == (
        f"it names the learner only by ULN {MASTER} and the ULN merged into it, {MERGED} (no name or date of birth)"
        + TAIL
    )


def test_several_merged_ulns_are_said_in_the_credentials_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = _verdict(tmp_path, capsys, [_uln(MASTER), _uln(OTHER), _uln(MERGED)])

    assert f"only by ULN {MASTER} and the ULNs merged into it, {OTHER}, {MERGED} (no name" in holder


@pytest.mark.parametrize("identifier", [None, [_uln(MASTER)]])
def test_a_learner_of_one_uln_is_said_as_before(
    identifier: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A credential issued before the subject listed ULNs, and one of a learner in no merge."""
    holder = _verdict(tmp_path, capsys, identifier)

    assert holder == f"it names the learner only by ULN {MASTER} (no name or date of birth)" + TAIL


@pytest.mark.parametrize(
    "identifier",
    [
        [_uln(MASTER), {"type": "IdentityObject", "identityHash": "Bea Test", "identityType": "name", "hashed": False}],
        [_uln(MASTER), {**_uln(MERGED), "hashed": True}],
        [_uln(MASTER), {**_uln(MERGED), "identityHash": "1188603832\u202e"}],
        "1188603832",
    ],
)
def test_anything_else_in_the_identifier_is_not_called_a_uln(
    identifier: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = _verdict(tmp_path, capsys, identifier)

    assert holder == f"it names the learner by ULN {MASTER} and what else its subject gives" + TAIL


def test_a_withdrawal_says_to_announce_it_not_to_tell_learners_the_lrs_cannot_name() -> None:
    said = withdrawn_text(
        {"withdrawn": {"key_id": "20261206-8c93eb78", "withdrawn_at": "2026-12-06T10:00:00Z"}, "replaced_by": None}
    )

    assert "tell the learners concerned" not in said
    assert "The LRS keeps no list of who holds credentials it signed" in said
    assert "announce" in said
    assert "credentials signed with key 20261206-8c93eb78 no longer verify" in said
    assert "learners should export a new one" in said
