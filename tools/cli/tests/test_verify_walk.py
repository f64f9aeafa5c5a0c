"""`lrs plr verify` after a verifier's walk (a reviewer who trusts nothing of ours): the verdict says that a file
names no person, a script can refuse a stale credential, malformed input is refused in a sentence, the messages
point the right way, a JWKS file's age is said, pathway and credits are shown, and a file that cannot be read
exits 2 as the docs say."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
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
ULN = "1000000043"
SUBJECT = f"{ISSUER}/v1/learners/{ULN}"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
SUMMER_EVENING = "2026-07-01T23:30:15Z"  # 00:30 on 2 July in the UK (BST)


def achievement(**subject: Any) -> dict[str, Any]:
    uri = f"{ISSUER}/qualifications/60312345/pathways/Sport%20and%20Exercise%20Science"
    return {
        "awardedDate": "2024-05-20T00:00:00Z",
        "credentialSubject": {
            "achievement": {
                "id": uri,
                "name": "Pearson BTEC Level 3 National Award in Sport",
                "humanCode": "603/1234/5",
                "creator": {"name": "Pearson"},
                "resultDescription": [
                    {"id": f"{uri}#grade", "resultType": "LetterGrade"},
                    {"id": f"{uri}#status", "resultType": "Status"},
                ],
            },
            "result": [
                {"resultDescription": f"{uri}#grade", "value": "Distinction"},
                {"resultDescription": f"{uri}#status", "status": "Completed"},
            ],
            **subject,
        },
    }


def credential(valid_from: str = "2026-03-01T12:30:15Z", nested: list[Any] | None = None) -> dict[str, Any]:
    return {
        "id": "urn:uuid:00000000-0000-0000-0000-000000000007",
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": "Personal Learning Record",
        "issuer": {"id": ISSUER, "type": ["Profile"], "name": "Learning Records Service"},
        "validFrom": valid_from,
        "credentialSubject": {
            "id": SUBJECT,
            "type": ["ClrSubject"],
            "verifiableCredential": [achievement()] if nested is None else nested,
        },
    }


def claims_of(document: dict[str, Any]) -> dict[str, Any]:
    nbf = int(datetime.fromisoformat(document["validFrom"].replace("Z", "+00:00")).timestamp())
    return {**document, "iss": ISSUER, "sub": SUBJECT, "jti": document["id"], "nbf": nbf}


class Issuer:
    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}

    def sign(self, claims: dict[str, Any], kid: str = f"{JWKS_URL}#k1") -> str:
        self.keys.setdefault(kid, Ed25519PrivateKey.generate())
        return jwt.encode(claims, self.keys[kid], algorithm="EdDSA", headers={"kid": kid})

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**json.loads(OKPAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "EdDSA"}
                for kid, key in self.keys.items()
            ]
        }


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def write(tmp_path: Path, token: str, jwks: dict[str, Any] | str | bytes) -> tuple[str, str]:
    credential_file, jwks_file = tmp_path / "plr.jwt", tmp_path / "jwks.json"
    credential_file.write_text(token)
    if isinstance(jwks, bytes):
        jwks_file.write_bytes(jwks)
    else:
        jwks_file.write_text(jwks if isinstance(jwks, str) else json.dumps(jwks))
    return str(credential_file), str(jwks_file)


class Jwks:
    """What the issuer's JWKS URL answers, and the URLs fetched."""

    def __init__(self) -> None:
        self.answer = b'{"keys": []}'
        self.urls: list[str] = []

    def download(self, url: str, issuer_id: str) -> bytes:
        self.urls.append(url)
        return self.answer


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> Jwks:
    jwks = Jwks()
    monkeypatch.setattr(credential_commands, "_download_bounded", jwks.download)
    return jwks


# 1. The verdict says that the file names the learner only by ULN, and that whoever holds it passes.


def test_a_valid_verdict_says_it_names_the_learner_only_by_uln_and_anyone_holding_it_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential())), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.OK

    assert (
        f"it names the learner only by ULN {ULN} (no name or date of birth): it does not show that the person who"
        " gave you the file is that learner; anyone holding the file gets this result"
    ) in capsys.readouterr().out.splitlines()


# 2. A script can refuse a credential issued before a date, or more than so many days ago.


@pytest.mark.parametrize(
    ("required", "code"),
    [
        (["--issued-after", "2026-07-02"], ExitCode.OK),  # a UK date: the credential was issued at 00:30 on 2 July
        (["--issued-after", "2 July 2026"], ExitCode.OK),  # as the verdict writes a date
        (["--issued-after", "2026-07-03"], ExitCode.FAILED),
        (["--issued-after", "2026-07-01T23:30:00Z"], ExitCode.OK),
        (["--issued-after", "2026-07-02T00:31:00+01:00"], ExitCode.FAILED),
    ],
)
def test_issued_after_refuses_a_credential_issued_before_a_uk_date(
    required: list[str], code: ExitCode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential(valid_from=SUMMER_EVENING))), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks, *required]) == code

    said = capsys.readouterr()
    if code == ExitCode.FAILED:
        assert said.out == ""
        assert said.err.startswith(
            "lrs: the credential verifies, but was issued on 2 Jul 2026, 00:30 (UK time), before the date you require"
            " (--issued-after "
        )
        assert said.err.rstrip().endswith("): ask the holder for a new export")
    else:
        assert said.out.startswith("valid: ")


def test_issued_after_names_the_day_it_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential(valid_from=SUMMER_EVENING))), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks, "--issued-after", "2026-07-03"]) == ExitCode.FAILED

    assert "(--issued-after 3 July 2026 (UK time)): ask the holder for a new export" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["01/07/2026", "yesterday", "2026-07-01T23:30:00"])
def test_issued_after_that_is_no_date_is_a_usage_error(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential())), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks, "--issued-after", text]) == ExitCode.USAGE

    assert "is not a date such as 2026-12-01 (a UK date)" in capsys.readouterr().err


def test_max_age_days_refuses_a_credential_older_than_that(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    issuer = Issuer()
    now = datetime.now(UTC).replace(microsecond=0)
    recent = (now - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    old = (now - timedelta(days=40)).isoformat().replace("+00:00", "Z")

    token, jwks = write(tmp_path, issuer.sign(claims_of(credential(valid_from=recent))), issuer.jwks())
    assert main(["plr", "verify", token, "--jwks", jwks, "--max-age-days", "30"]) == ExitCode.OK
    capsys.readouterr()

    token, jwks = write(tmp_path, issuer.sign(claims_of(credential(valid_from=old))), issuer.jwks())
    assert main(["plr", "verify", token, "--jwks", jwks, "--max-age-days", "30"]) == ExitCode.FAILED
    said = capsys.readouterr().err
    assert "the credential verifies, but was issued on " in said
    assert "before the date you require (--max-age-days 30: not before " in said
    assert said.rstrip().endswith("): ask the holder for a new export")

    assert main(["plr", "verify", token, "--jwks", jwks, "--max-age-days", "0"]) == ExitCode.USAGE


def test_a_stale_credential_that_is_also_forged_is_refused_as_forged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    signed = issuer.sign(claims_of(credential(valid_from=SUMMER_EVENING)))
    header, payload, signature = signed.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["name"] = "Forged"
    token, jwks = write(tmp_path, f"{header}.{b64(json.dumps(forged).encode())}.{signature}", issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks, "--issued-after", "2027-01-01"]) == ExitCode.FAILED

    assert "signature does not verify" in capsys.readouterr().err


# 3. Malformed input is refused in a sentence, never a traceback.


DEEP = 100_000
DEEP_ARRAY = b64(b"[" * DEEP + b"]" * DEEP)
DEEP_OBJECT = b64(b'{"a":' * DEEP + b"1" + b"}" * DEEP)
HEADER = b64(json.dumps({"alg": "EdDSA", "kid": f"{JWKS_URL}#k1"}).encode())


@pytest.mark.parametrize(
    "token",
    [
        "{" + '"credential":' + "[" * DEEP + "]" * DEEP + "}",
        f"{DEEP_ARRAY}.{b64(b'{}')}.c2ln",
        f"{DEEP_OBJECT}.{b64(b'{}')}.c2ln",
        f"{HEADER}.{DEEP_ARRAY}.c2ln",
    ],
    ids=["credential file", "header array", "header object", "payload"],
)
def test_json_nested_too_deep_is_refused_in_a_sentence(
    token: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credential_file, jwks = write(tmp_path, token, {"keys": []})

    assert main(["plr", "verify", credential_file, "--jwks", jwks]) == ExitCode.FAILED

    said = capsys.readouterr().err
    assert "is JSON nested too deep to read" in said and "Traceback" not in said


def test_a_jwks_file_nested_too_deep_is_refused_in_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential())), '{"keys":' + "[" * DEEP + "]" * DEEP + "}")

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.FAILED

    assert f"the JWKS {jwks} is JSON nested too deep to read" in capsys.readouterr().err


@pytest.mark.parametrize("keys", ["5", '"k1"', '{"kid": "k1"}', "null"])
def test_a_jwks_whose_keys_is_not_a_list_says_it_has_no_list_of_keys(
    keys: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential())), f'{{"keys": {keys}}}')

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.FAILED

    assert f"{jwks} is not a JWKS: it has no list of keys" in capsys.readouterr().err


def test_verify_credential_given_no_list_of_keys_says_so() -> None:
    issuer = Issuer()
    token = issuer.sign(claims_of(credential()))

    with pytest.raises(credential_commands.CredentialInvalid, match="the JWKS has no list of keys"):
        credential_commands.verify_credential(token, {"keys": 5})


def test_members_of_a_signed_credential_that_are_not_objects_print_safely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A forger signing with its own key (and giving its own JWKS file) can put anything anywhere."""
    odd = achievement()
    odd["credentialSubject"]["result"] = ["x", 5, None]
    odd["credentialSubject"]["achievement"]["resultDescription"] = ["y", {"id": ["z"]}]
    odd["credentialSubject"]["achievement"]["creator"] = "Pearson"
    other = {"awardedDate": "2024-05-20T00:00:00Z", "credentialSubject": ["a"]}
    nested = [odd, other, "not an object", 7, {"credentialSubject": {"achievement": "GCSE"}}]
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential(nested=nested))), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.OK

    output = capsys.readouterr().out.splitlines()
    assert f"subject {SUBJECT}: 5 achievements" in output
    lines = output[output.index(f"subject {SUBJECT}: 5 achievements") + 1 :]
    assert lines == [
        '  603/1234/5 "Pearson BTEC Level 3 National Award in Sport" (pathway "Sport and Exercise Science"): ?, ?,'
        ' "?", 2024-05-20',
        '  ? "?": ?, ?, "?", 2024-05-20',
        "  ? (not an achievement credential: not an object)",
        "  ? (not an achievement credential: 7)",
        '  ? "?": ?, ?, "?", ',
    ]


def test_a_subject_that_is_not_an_object_prints_safely(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    issuer = Issuer()
    document = {**credential(), "credentialSubject": {"id": SUBJECT, "verifiableCredential": "many"}}
    token, jwks = write(tmp_path, issuer.sign(claims_of(document)), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.OK

    assert f"subject {SUBJECT}: 0 achievements" in capsys.readouterr().out.splitlines()


# 4. Messages point the verifier the right way.


@pytest.mark.parametrize("kid", ["https://evil.example/.well-known/jwks.json#x", "x"])
def test_a_kid_outside_the_issuer_is_refused_before_the_jwks_is_fetched_or_its_keys_looked_up(
    kid: str, fetched: Jwks, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, _ = write(tmp_path, issuer.sign(claims_of(credential()), kid=kid), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", JWKS_URL]) == ExitCode.FAILED

    said = capsys.readouterr().err
    assert f"key {kid} is not under the issuer's address {ISSUER}: the issuer did not sign this credential" in said
    assert "withdrew" not in said and "no key" not in said
    assert fetched.urls == []


def test_a_kid_outside_the_issuer_is_refused_whatever_the_jwks_file_holds() -> None:
    issuer = Issuer()
    kid = "https://evil.example/.well-known/jwks.json#x"
    token = issuer.sign(claims_of(credential()), kid=kid)

    with pytest.raises(credential_commands.CredentialInvalid, match="is not under the issuer's address"):
        credential_commands.verify_credential(token, {"keys": []}, jwks_from_issuer=True)


def test_a_jwks_url_that_answers_something_else_says_it_is_not_a_jwks(
    fetched: Jwks, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, _ = write(tmp_path, issuer.sign(claims_of(credential())), issuer.jwks())
    fetched.answer = b'{"status": "alive", "service": "plr-projector"}'
    healthz = f"{ISSUER}/healthz"

    assert main(["plr", "verify", token, "--jwks", healthz]) == ExitCode.FAILED

    said = capsys.readouterr().err
    assert f"{healthz} is not a JWKS: it has no list of keys" in said
    assert "withdrew" not in said and "not signed by this issuer" not in said


def test_a_token_with_its_signature_stripped_says_it_has_no_signature(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    header, payload, _ = issuer.sign(claims_of(credential())).split(".")
    token, jwks = write(tmp_path, f"{header}.{payload}.", issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.FAILED

    said = capsys.readouterr().err
    assert "the credential has no signature" in said and "changed after signing" not in said


def test_not_valid_yet_says_the_verifiers_clock_may_be_behind() -> None:
    issuer = Issuer()
    token = issuer.sign(claims_of(credential(valid_from="2026-03-02T00:00:00Z")))
    day_before = datetime.fromisoformat("2026-03-01T00:00:00+00:00").timestamp()

    with pytest.raises(credential_commands.CredentialInvalid) as refused:
        credential_commands.verify_credential(token, issuer.jwks(), now=day_before)

    assert str(refused.value) == (
        "the credential is not valid yet (or your clock is behind): it is valid from 2 Mar 2026, 00:00 (UK time),"
        " and your clock says 1 Mar 2026, 00:00 (UK time)"
    )


# 7. A JWKS file's age is said: a key withdrawn since it was saved still passes.


def test_the_keys_line_of_a_jwks_file_says_when_it_was_saved_and_that_withdrawals_since_are_not_seen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential())), issuer.jwks())
    saved = datetime.fromisoformat(SUMMER_EVENING.replace("Z", "+00:00")).timestamp()
    os.utime(jwks, (saved, saved))

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.OK

    keys_line = capsys.readouterr().out.splitlines()[3]
    assert keys_line.endswith(
        "; a key the LRS withdrew after the file was saved (it was last changed on 2 Jul 2026, 00:30 (UK time))"
        " still passes: fetch the JWKS again to see withdrawals"
    )


def test_the_keys_line_of_a_jwks_url_says_nothing_of_a_file(
    fetched: Jwks, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, _ = write(tmp_path, issuer.sign(claims_of(credential())), issuer.jwks())
    fetched.answer = json.dumps(issuer.jwks()).encode()

    assert main(["plr", "verify", token, "--jwks", JWKS_URL]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines()[3] == f"keys fetched from {JWKS_URL}, under the issuer's address"


# 8. Pathway and credits, signed, are shown.


@pytest.mark.parametrize(
    ("credits", "shown"),
    [({"creditsEarned": 17.0}, ", 17 credits"), ({"creditsEarned": 1}, ", 1 credit"), ({}, "")],
)
def test_an_achievement_line_shows_its_pathway_and_credits(
    credits: dict[str, Any], shown: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential(nested=[achievement(**credits)]))), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines()[-1] == (
        '  603/1234/5 "Pearson BTEC Level 3 National Award in Sport" (pathway "Sport and Exercise Science"):'
        f' Distinction, Completed, "Pearson", 2024-05-20{shown}'
    )


def test_a_pathway_the_name_already_gives_is_not_said_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    named = achievement()
    named["credentialSubject"]["achievement"]["name"] += " (pathway: Sport and Exercise Science)"
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential(nested=[named]))), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines()[-1] == (
        '  603/1234/5 "Pearson BTEC Level 3 National Award in Sport (pathway: Sport and Exercise Science)":'
        ' Distinction, Completed, "Pearson", 2024-05-20'
    )


def test_an_achievement_with_no_pathway_shows_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = achievement()
    plain["credentialSubject"]["achievement"]["id"] = f"{ISSUER}/qualifications/60312345"
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential(nested=[plain]))), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines()[-1] == (
        '  603/1234/5 "Pearson BTEC Level 3 National Award in Sport": Distinction, Completed, "Pearson", 2024-05-20'
    )


# 9. A credential or JWKS file that cannot be read exits 2, as the docs say.


def test_a_jwks_file_that_is_not_text_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential())), '{"keys": []}'.encode("utf-16"))

    assert main(["plr", "verify", token, "--jwks", jwks]) == ExitCode.USAGE

    assert f"cannot read the JWKS {jwks}: it is not text (UTF-8)" in capsys.readouterr().err


def test_a_credential_file_in_utf_16_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    issuer = Issuer()
    credential_file, jwks = write(tmp_path, "", issuer.jwks())
    Path(credential_file).write_bytes(issuer.sign(claims_of(credential())).encode("utf-16"))

    assert main(["plr", "verify", credential_file, "--jwks", jwks]) == ExitCode.USAGE

    assert f"cannot read {credential_file}: it is not text (UTF-8)" in capsys.readouterr().err
