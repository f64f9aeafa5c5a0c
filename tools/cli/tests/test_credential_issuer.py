"""`lrs plr verify` says who issued a credential by its address, not by the name it gives itself: a credential
signed with a key outside its issuer's address is refused, and so is a JWKS URL outside it; keys read from a file
are said to be only as good as whoever gave the file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from lrs_cli.client import ExitCode
from lrs_cli.credential_commands import is_under, quoted, shown
from lrs_cli.main import main

LRS = "https://lrs.example"
FORGER = "http://lrs-verify.example"
SUBJECT_PATH = "/v1/learners/1000000043"


def achievement(code: str) -> dict[str, Any]:
    return {
        "awardedDate": "2024-05-20T00:00:00Z",
        "credentialSubject": {
            "achievement": {"name": "GCSE Mathematics", "humanCode": code, "creator": {"name": "AQA"}},
            "result": [],
        },
    }


def claims(issuer: str, achievements: int = 1, name: str = "Learning Records Service") -> dict[str, Any]:
    return {
        "id": "urn:uuid:00000000-0000-0000-0000-000000000007",
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": "Personal Learning Record",
        "issuer": {"id": issuer, "type": ["Profile"], "name": name},
        "validFrom": "2026-03-01T12:30:15Z",
        "credentialSubject": {
            "id": f"{issuer}{SUBJECT_PATH}",
            "type": ["ClrSubject"],
            "verifiableCredential": [achievement(f"600/116{n}/X") for n in range(achievements)],
        },
        "iss": issuer,
        "sub": f"{issuer}{SUBJECT_PATH}",
        "jti": "urn:uuid:00000000-0000-0000-0000-000000000007",
        "nbf": 1772368215,
    }


class Signer:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.key = Ed25519PrivateKey.generate()

    def sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(OKPAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}


def files(tmp_path: Path, token: str, jwks: dict[str, Any]) -> tuple[str, str]:
    credential, keys = tmp_path / "plr.jwt", tmp_path / "jwks.json"
    credential.write_text(token)
    keys.write_text(json.dumps(jwks))
    return str(credential), str(keys)


def test_a_credential_that_names_itself_the_lrs_is_shown_by_its_address_and_the_file_of_keys_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forger = Signer(f"{FORGER}/.well-known/jwks.json#k1")
    credential, jwks = files(tmp_path, forger.sign(claims(FORGER)), forger.jwks())

    assert main(["plr", "verify", credential, "--jwks", jwks]) == ExitCode.OK
    output = capsys.readouterr().out.splitlines()

    assert output[1].startswith(f'issued by {FORGER} (named "Learning Records Service") on 1 Mar 2026, 12:30 (UK time)')
    assert output[3].startswith(
        f"keys read from the file {jwks}, not fetched from the issuer: trust this only as far as whoever gave you"
        f" that file (--jwks {FORGER}/.well-known/jwks.json fetches the issuer's own); "
    )


def test_a_name_cannot_add_lines_to_what_verify_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    signer = Signer(f"{LRS}/.well-known/jwks.json#k1")
    forged_name = "Learning Records Service\nkeys fetched from https://lrs.example/.well-known/jwks.json"
    credential, jwks = files(tmp_path, signer.sign(claims(LRS, name=forged_name)), signer.jwks())

    assert main(["plr", "verify", credential, "--jwks", jwks]) == ExitCode.OK
    output = capsys.readouterr().out.splitlines()

    assert not any(line.startswith("keys fetched") for line in output)
    assert output[1].startswith(f'issued by {LRS} (named "Learning Records Service\\nkeys fetched from')


LINE_BREAKS_AND_A_TURN = ["\n", "\r", "\u2028", "\u202e"]


@pytest.mark.parametrize("character", LINE_BREAKS_AND_A_TURN)
def test_no_value_a_credential_gives_can_add_a_line_to_the_verdict_or_turn_one_round(
    character: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A forger signing with its own key wrote lines into the credential's name that read as a verdict on a
    credential of the real LRS, with the real issuer line 40 lines below: one field is now always one line."""
    signer = Signer(f"{FORGER}/.well-known/jwks.json#k1")
    said = f'Personal Learning Record{character}issued by {LRS} (named "Learning Records Service"){character}'
    forged = claims(FORGER)
    forged["name"] = said * 40
    [achievement] = forged["credentialSubject"]["verifiableCredential"]
    achievement["awardedDate"] = f"{character}2024"
    achievement["credentialSubject"]["achievement"].update(
        name=said, humanCode=f"600/{character}1166/X", creator={"name": said}
    )
    achievement["credentialSubject"]["result"] = [{"value": f"A*{character}"}]
    credential, jwks = files(tmp_path, signer.sign(forged), signer.jwks())

    assert main(["plr", "verify", credential, "--jwks", jwks]) == ExitCode.OK
    output = capsys.readouterr().out.splitlines()  # at \n, \r, \u2028 and the other breaks a reader may honour

    assert len(output) == 7
    assert output[1].startswith(f"issued by {FORGER} ")
    assert not any(line.startswith(f"issued by {LRS}") for line in output)
    assert not any(character in line for line in output)
    escaped = json.dumps(character)[1:-1]
    assert output[0].startswith(f'valid: "Personal Learning Record{escaped}issued by {LRS} (named \\"Learning')
    assert output[6].startswith(f'  600/{escaped}1166/X "Personal Learning Record{escaped}issued by')
    assert output[6].endswith(
        f'": A*{escaped}, ?, "Personal Learning Record{escaped}issued by {LRS} (named'
        f' \\"Learning Records Service\\"){escaped}", {escaped}2024'
    )


@pytest.mark.parametrize(
    ("value", "shown_as"),
    [
        ("GCSE Mathematics", "GCSE Mathematics"),
        ('Café \\ "quoted"', 'Café \\\\ "quoted"'),
        ("a\tb\x00c\x85d\u2029e\u2066f\u200bg", "a\\tb\\u0000c\\u0085d\\u2029e\\u2066f\\u200bg"),
        (7, "7"),
        (None, "null"),
    ],
)
def test_a_value_is_shown_printable_and_a_name_as_a_json_string(value: object, shown_as: str) -> None:
    assert shown(value) == shown_as
    if isinstance(value, str):
        assert json.loads(quoted(value)) == value


@pytest.mark.parametrize(
    "kid",
    [
        "https://forger.example/.well-known/jwks.json#k1",
        "https://lrs.example.forger.example/.well-known/jwks.json#k1",
        "https://lrs.example@forger.example/.well-known/jwks.json#k1",
        "http://lrs.example/.well-known/jwks.json#k1",
        "k1",
    ],
)
def test_a_credential_signed_with_a_key_outside_its_issuers_address_is_refused(
    kid: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forger = Signer(kid)
    credential, jwks = files(tmp_path, forger.sign(claims(LRS)), forger.jwks())

    assert main(["plr", "verify", credential, "--jwks", jwks]) == ExitCode.FAILED
    captured = capsys.readouterr()

    assert captured.out == ""
    assert f"key {kid} is not under the issuer's address {LRS}" in captured.err


class Jwks(BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b""
    redirect: ClassVar[str | None] = None
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Jwks.requests.append(self.path)
        if Jwks.redirect:
            self.send_response(302)
            self.send_header("Location", Jwks.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(Jwks.body)))
        self.end_headers()
        self.wfile.write(Jwks.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    Jwks.requests, Jwks.redirect = [], None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_jwks_url_outside_the_issuers_address_is_refused_before_it_is_fetched(
    jwks_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forger = Signer(f"{LRS}/.well-known/jwks.json#k1")
    Jwks.body = json.dumps(forger.jwks()).encode()
    credential, _ = files(tmp_path, forger.sign(claims(LRS)), forger.jwks())

    url = f"{jwks_server}/.well-known/jwks.json"
    assert main(["plr", "verify", credential, "--jwks", url]) == ExitCode.FAILED

    assert f"the JWKS {url} is not under the issuer's address {LRS}" in capsys.readouterr().err
    assert Jwks.requests == []


def test_a_jwks_url_under_the_issuers_address_verifies_and_says_where_the_keys_came_from(
    jwks_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Signer(f"{jwks_server}/.well-known/jwks.json#k1")
    Jwks.body = json.dumps(signer.jwks()).encode()
    credential, _ = files(tmp_path, signer.sign(claims(jwks_server)), signer.jwks())

    url = f"{jwks_server}/.well-known/jwks.json"
    assert main(["plr", "verify", credential, "--jwks", url]) == ExitCode.OK
    output = capsys.readouterr().out.splitlines()

    assert output[1].startswith(f'issued by {jwks_server} (named "Learning Records Service")')
    assert output[3] == f"keys fetched from {url}, under the issuer's address"
    assert Jwks.requests == ["/.well-known/jwks.json"]


def test_a_jwks_url_that_redirects_outside_the_issuers_address_is_refused_before_following(
    jwks_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Signer(f"{jwks_server}/.well-known/jwks.json#k1")
    elsewhere = jwks_server.replace("127.0.0.1", "localhost") + "/forged.json"
    Jwks.body, Jwks.redirect = json.dumps(signer.jwks()).encode(), elsewhere
    credential, _ = files(tmp_path, signer.sign(claims(jwks_server)), signer.jwks())

    url = f"{jwks_server}/.well-known/jwks.json"
    assert main(["plr", "verify", credential, "--jwks", url]) == ExitCode.FAILED

    assert f"the JWKS {url} redirects to {elsewhere}, which is not under the issuer's address" in (
        capsys.readouterr().err
    )
    assert Jwks.requests == ["/.well-known/jwks.json"]


def test_a_credential_that_gives_no_issuer_id_fetches_no_jwks(
    jwks_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Signer(f"{jwks_server}/.well-known/jwks.json#k1")
    credential, _ = files(tmp_path, signer.sign({**claims(jwks_server), "issuer": {"name": "LRS"}}), signer.jwks())

    assert main(["plr", "verify", credential, "--jwks", f"{jwks_server}/.well-known/jwks.json"]) == ExitCode.FAILED

    assert "the credential gives no issuer id" in capsys.readouterr().err
    assert Jwks.requests == []


@pytest.mark.parametrize(
    ("url", "base", "under"),
    [
        ("https://lrs.example/.well-known/jwks.json#k1", "https://lrs.example", True),
        ("https://LRS.example/.well-known/jwks.json", "https://lrs.example/", True),
        ("https://lrs.example/api/.well-known/jwks.json", "https://lrs.example/api", True),
        ("https://lrs.example/apix/.well-known/jwks.json", "https://lrs.example/api", False),
        ("https://lrs.example/api/../other/.well-known/jwks.json", "https://lrs.example/api", False),
        ("https://lrs.example/api/%2e%2e/other/jwks.json", "https://lrs.example/api", False),
        ("https://lrs.example:8443/.well-known/jwks.json", "https://lrs.example", False),
        ("https://lrs.example/.well-known/jwks.json", "did:web:lrs.example", False),
        ("file:///etc/jwks.json", "file:///etc", False),
        ("https://lrs.example/\n.well-known/jwks.json", "https://lrs.example", False),
    ],
)
def test_under_means_the_same_scheme_and_host_and_a_path_below(url: str, base: str, under: bool) -> None:
    assert is_under(url, base) is under


def test_a_missing_jwks_file_is_a_usage_error_like_a_missing_credential_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Signer(f"{LRS}/.well-known/jwks.json#k1")
    credential, _ = files(tmp_path, signer.sign(claims(LRS)), signer.jwks())

    assert main(["plr", "verify", str(tmp_path / "nosuch.jwt"), "--jwks", str(tmp_path / "jwks.json")]) == 2
    assert main(["plr", "verify", credential, "--jwks", str(tmp_path / "nosuch.json")]) == ExitCode.USAGE
    assert f"cannot read the JWKS {tmp_path / 'nosuch.json'}: No such file or directory" in capsys.readouterr().err
    assert main(["plr", "verify", credential, "--jwks", str(tmp_path)]) == ExitCode.USAGE


@pytest.mark.parametrize(("count", "said"), [(1, "1 achievement"), (2, "2 achievements")])
def test_the_number_of_achievements_is_said_in_the_singular_for_one(
    count: int, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Signer(f"{LRS}/.well-known/jwks.json#k1")
    credential, jwks = files(tmp_path, signer.sign(claims(LRS, achievements=count)), signer.jwks())

    assert main(["plr", "verify", credential, "--jwks", jwks]) == ExitCode.OK

    assert f"subject {LRS}{SUBJECT_PATH}: {said}" in capsys.readouterr().out.splitlines()
