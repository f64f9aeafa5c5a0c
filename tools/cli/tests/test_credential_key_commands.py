"""`lrs credential-keys list|rotate|withdraw`: the projector's three credential-key routes, said for people (UK
time, what each key's state means) and as the projector's JSON with --json; a withdrawal, which cannot be undone,
asks first on a terminal naming what it costs, wants --yes anywhere else, and sends nothing otherwise. The stubbed
projector answers as docs/openapi/plr-projector.json documents: a stub sending a key the projector does not send, or
leaving out one it does, fails."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import typer

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import ENVIRONMENT_HEADER, Environment

from .answering import answered_by
from .documented_answers import as_documented

ACTIVE: dict[str, Any] = {
    "key_id": "20261201-0a1b2c3d",
    "kid": "https://api.lrs.example/.well-known/jwks.json#20261201-0a1b2c3d",
    "active": True,
    "published": True,
    "created_at": "2026-12-01T09:00:00+00:00",
    "created_by": "plr-projector (first use)",
    "retired_at": None,
    "withdrawn_at": None,
    "withdrawn_by": None,
    "withdrawal_reason": None,
}
RETIRED: dict[str, Any] = ACTIVE | {
    "key_id": "20260601-11112222",
    "kid": "https://api.lrs.example/.well-known/jwks.json#20260601-11112222",
    "active": False,
    "created_at": "2026-06-01T21:30:00+00:00",
    "created_by": "operator:ann",
    "retired_at": "2026-12-01T09:00:00+00:00",
}
WITHDRAWN: dict[str, Any] = RETIRED | {
    "key_id": "20250301-33334444",
    "published": False,
    "withdrawn_at": "2026-07-15T12:05:00+00:00",
    "withdrawn_by": "operator:bob",
    "withdrawal_reason": "KEK seen in [a] shared build log",
}
KEYS = [ACTIVE, RETIRED, WITHDRAWN]


class _Terminal:
    def isatty(self) -> bool:
        return True


def projector(
    monkeypatch: pytest.MonkeyPatch, answer: Callable[[httpx.Request], httpx.Response] | None = None
) -> list[httpx.Request]:
    """The projector answering the three routes (or `answer`); the requests sent."""
    sent: list[httpx.Request] = []

    def answered(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        response = answer(request) if answer is not None else _routes(request)
        as_documented("plr-projector", request, response)
        if request.url.host.startswith("sandpit"):
            response.headers[ENVIRONMENT_HEADER] = Environment.SANDPIT.value
        return response

    def _routes(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/healthz":  # asked first with --sandpit, for its environment
            return httpx.Response(200, json={"status": "alive", "service": "plr-projector"})
        if request.method == "GET" and path == "/v1/admin/credential-keys":
            return httpx.Response(200, json={"keys": KEYS})
        if request.method == "POST" and path == "/v1/admin/credential-keys/rotate":
            return httpx.Response(
                200,
                json={
                    "key_id": "20261206-55556666",
                    "kid": "https://api.lrs.example/.well-known/jwks.json#20261206-55556666",
                    "retired": [ACTIVE["key_id"]],
                },
            )
        if request.method == "POST" and path.endswith("/withdraw"):
            key_id = path.split("/")[-2]
            withdrawn = ACTIVE | {
                "key_id": key_id,
                "kid": f"https://api.lrs.example/.well-known/jwks.json#{key_id}",
                "active": False,
                "published": False,
                "retired_at": "2026-12-06T10:00:00+00:00",
                "withdrawn_at": "2026-12-06T10:00:00+00:00",
                "withdrawn_by": "operator:ann",
                "withdrawal_reason": json.loads(request.content)["reason"],
            }
            return httpx.Response(200, json={"withdrawn": withdrawn, "replaced_by": "20261206-77778888"})
        return httpx.Response(404, json={"title": "Not Found", "detail": f"no route {path}"})

    answered_by(monkeypatch, answered)
    return sent


def _asked(monkeypatch: pytest.MonkeyPatch, *, answer: bool = True) -> list[str]:
    monkeypatch.setattr(sys, "stdin", _Terminal())
    questions: list[str] = []

    def confirm(text: str, **options: Any) -> bool:
        questions.append(text)
        if not answer and options.get("abort"):
            raise typer.Abort()
        return answer

    monkeypatch.setattr(typer, "confirm", confirm)
    return questions


def test_the_list_says_each_keys_state_and_times_in_uk_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = projector(monkeypatch)

    assert main(["credential-keys", "list"]) == ExitCode.OK

    out = capsys.readouterr().out
    assert [f"{request.method} {request.url.path}" for request in sent] == ["GET /v1/admin/credential-keys"]
    lines = out.splitlines()
    active = next(line for line in lines if ACTIVE["key_id"] in line)
    retired = next(line for line in lines if RETIRED["key_id"] in line)
    withdrawn = next(line for line in lines if WITHDRAWN["key_id"] in line)
    assert "active: signs new credentials" in active and "1 Dec 2026, 09:00 by plr-projector (first use)" in active
    assert "retired: signs nothing, what it signed verifies" in retired
    assert "1 Jun 2026, 22:30 by operator:ann" in retired  # BST: 21:30 UTC
    assert "withdrawn: out of the JWKS" in withdrawn
    assert "15 Jul 2026, 13:05 by operator:bob: KEK seen in [a] shared build log" in withdrawn  # brackets kept
    assert "created (UK time)" in out and "withdrawn (UK time)" in out


def test_the_list_in_json_is_the_projectors_with_its_iso_times(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector(monkeypatch)

    assert main(["credential-keys", "list", "--json"]) == ExitCode.OK

    assert json.loads(capsys.readouterr().out) == KEYS


def test_a_rotation_says_which_key_signs_now_and_that_the_retired_one_still_verifies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = projector(monkeypatch)

    assert main(["credential-keys", "rotate"]) == ExitCode.OK

    assert [f"{request.method} {request.url.path}" for request in sent] == [
        "GET /v1/admin/credential-keys",
        "POST /v1/admin/credential-keys/rotate",
    ]
    assert json.loads(sent[1].content) == {"expected_active": ACTIVE["key_id"]}  # the key it read active
    out = capsys.readouterr().out
    assert "new credentials are signed with key 20261206-55556666" in out
    assert f"retired {ACTIVE['key_id']}: it signs nothing more and stays in the JWKS" in out


def test_with_no_key_active_the_rotation_says_it_saw_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"keys": [RETIRED, WITHDRAWN]})
        return httpx.Response(200, json={"key_id": "20261206-55556666", "kid": ACTIVE["kid"], "retired": []})

    sent = projector(monkeypatch, answer)

    assert main(["credential-keys", "rotate"]) == ExitCode.OK

    assert json.loads(sent[-1].content) == {"expected_active": None}


def test_a_rotation_that_another_overtook_says_who_rotated_when_and_the_key_now(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    meanwhile = {
        "title": "Rotated meanwhile",
        "status": 409,
        "detail": f"Credential signing key {ACTIVE['key_id']} is not the active key any more: rotated meanwhile by"
        " operator:bob at 2026-12-07T09:10:36.863871Z, the active key is 20261207-1dfa0a80. Nothing was"
        " rotated (lrs credential-keys list lists the keys).",
        "active_key_id": "20261207-1dfa0a80",
        "rotated_by": "operator:bob",
        "rotated_at": "2026-12-07T09:10:36.863871Z",
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"keys": KEYS})
        return httpx.Response(409, json=meanwhile, headers={"content-type": "application/problem+json"})

    sent = projector(monkeypatch, answer)

    assert main(["credential-keys", "rotate"]) == ExitCode.FAILED  # a 409, as the exit table has it

    assert json.loads(sent[-1].content) == {"expected_active": ACTIVE["key_id"]}
    captured = capsys.readouterr()
    assert captured.out == ""
    said = " ".join(captured.err.split())
    assert f"another rotation happened meanwhile: key {ACTIVE['key_id']} was active when this one began" in said
    assert "operator:bob made key 20261207-1dfa0a80 (7 Dec 2026, 09:10, UK time)" in said
    assert "which signs new credentials now. Nothing was rotated." in said


def test_a_withdrawal_off_a_terminal_without_yes_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = projector(monkeypatch)

    assert main(["credential-keys", "withdraw", RETIRED["key_id"], "--reason", "suspected leak"]) == ExitCode.USAGE

    assert sent == []
    assert "a withdrawal cannot be undone: pass --yes" in capsys.readouterr().err


def test_a_withdrawal_with_yes_sends_the_reason_and_says_what_it_costs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = projector(monkeypatch)
    argv = ["credential-keys", "withdraw", ACTIVE["key_id"], "--reason", "KEK in a build log", "--yes"]

    assert main(argv) == ExitCode.OK

    [withdrawal] = sent
    assert (withdrawal.method, withdrawal.url.path) == (
        "POST",
        f"/v1/admin/credential-keys/{ACTIVE['key_id']}/withdraw",
    )
    assert json.loads(withdrawal.content) == {"reason": "KEK in a build log"}
    out = capsys.readouterr().out
    assert f"withdrew credential signing key {ACTIVE['key_id']} (6 Dec 2026, 10:00, UK time)" in out
    assert "no credential it signed verifies any more" in out and "export a new one" in out
    assert "it was the active key: new credentials are signed with key 20261206-77778888" in out


def test_on_a_terminal_the_withdrawal_asks_first_naming_what_it_costs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = projector(monkeypatch)
    questions = _asked(monkeypatch)

    assert main(["credential-keys", "withdraw", ACTIVE["key_id"], "--reason", "leak"]) == ExitCode.OK

    assert questions == [
        f"Withdraw credential signing key {ACTIVE['key_id']}? Every credential it signed stops verifying, and its"
        " learners must export a new one. It is the active key: a new key is made first and signs from now on."
        " This cannot be undone."
    ]
    assert [request.method for request in sent] == ["GET", "POST"]


def test_a_withdrawal_answered_no_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = projector(monkeypatch)
    _asked(monkeypatch, answer=False)

    assert main(["credential-keys", "withdraw", RETIRED["key_id"], "--reason", "leak"]) == ExitCode.FAILED

    assert [request.method for request in sent] == ["GET"]


def test_a_key_the_projector_does_not_have_is_refused_before_anyone_is_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = projector(monkeypatch)
    questions = _asked(monkeypatch)

    assert main(["credential-keys", "withdraw", "20200101-deadbeef", "--reason", "leak"]) == ExitCode.FAILED

    assert questions == [] and [request.method for request in sent] == ["GET"]
    assert "there is no credential signing key 20200101-deadbeef" in capsys.readouterr().err


def test_a_key_withdrawn_already_is_not_asked_about_and_the_projectors_409_is_said(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    conflict = {
        "title": "Key already withdrawn",
        "status": 409,
        "detail": f"Credential signing key {WITHDRAWN['key_id']} was withdrawn at 2026-07-15T12:05:00+00:00 by"
        " operator:bob: it is out of the JWKS already.",
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"keys": KEYS})
        return httpx.Response(409, json=conflict)

    projector(monkeypatch, answer)
    questions = _asked(monkeypatch)

    assert main(["credential-keys", "withdraw", WITHDRAWN["key_id"], "--reason", "again"]) == ExitCode.FAILED

    assert questions == []
    assert "it is out of the JWKS already" in capsys.readouterr().err


def test_the_kid_a_credential_names_is_taken_for_its_key_id(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = projector(monkeypatch)

    assert main(["credential-keys", "withdraw", RETIRED["kid"], "--reason", "leak", "--yes"]) == ExitCode.OK

    assert sent[0].url.path == f"/v1/admin/credential-keys/{RETIRED['key_id']}/withdraw"


@pytest.mark.parametrize("key_id", ["../rotate", "20260301-0a1b 2c3d", ""])
def test_a_key_id_that_no_key_can_have_is_a_usage_error_before_anything_is_sent(
    key_id: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = projector(monkeypatch)

    assert main(["credential-keys", "withdraw", key_id, "--reason", "leak", "--yes"]) == ExitCode.USAGE

    assert sent == []
    assert "a key id is like 20260301-0a1b2c3d" in capsys.readouterr().err


def test_the_keys_are_read_from_the_sandpits_projector_with_sandpit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = projector(monkeypatch)
    monkeypatch.setenv("LRS_SANDPIT_API_KEY", "lrs_sbx_test_key")
    monkeypatch.setenv("LRS_SANDPIT_PLR_PROJECTOR_URL", "https://sandpit-projector.example")

    assert main(["--sandpit", "credential-keys", "list"]) == ExitCode.OK

    assert sent[0].url.host == "sandpit-projector.example"


def test_a_stubbed_key_the_projector_does_not_send_or_leaves_out_fails() -> None:
    listing = httpx.Request("GET", "http://plr-projector/v1/admin/credential-keys")
    as_documented("plr-projector", listing, httpx.Response(200, json={"keys": KEYS}))
    with pytest.raises(AssertionError, match="'state' was unexpected"):
        as_documented("plr-projector", listing, httpx.Response(200, json={"keys": [ACTIVE | {"state": "active"}]}))
    with pytest.raises(AssertionError, match="'published' is a required property"):
        as_documented(
            "plr-projector",
            listing,
            httpx.Response(200, json={"keys": [{k: v for k, v in ACTIVE.items() if k != "published"}]}),
        )
    withdrawal = httpx.Request("POST", f"http://plr-projector/v1/admin/credential-keys/{ACTIVE['key_id']}/withdraw")
    with pytest.raises(AssertionError, match="'replacement' was unexpected"):
        as_documented(
            "plr-projector", withdrawal, httpx.Response(200, json={"withdrawn": WITHDRAWN, "replacement": None})
        )
