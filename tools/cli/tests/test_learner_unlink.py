"""`lrs learners unlink ULN --ukprn N` ends a provider's link to a learner (decision 0121), as `lrs learners link` makes
one: `DELETE /v1/admin/learners/{uln}/providers/{ukprn}` on validation, what it did said in words; a provider not linked is
the service's 404 (exit status 1); a ULN or UKPRN no one can have is a usage error before any service is asked."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli import admin_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

ULN, UKPRN = "1000000043", "10004567"
NOT_LINKED = {
    "type": "/problems/NOT_FOUND",
    "title": "Provider not linked",
    "status": 404,
    "detail": f"Provider {UKPRN} is not linked to this learner under any of their ULNs: nothing was changed.",
    "code": "NOT_FOUND",
}


class Validation:
    """Validation as an operator's key reaches it: answers every request with `status` (and a body for an error)."""

    sandpit = False

    def __init__(self, status: int, keys_revoked: int = 1) -> None:
        self.status = status
        self.keys_revoked = keys_revoked
        self.sent: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if self.status == 200:
            ended = {"ukprn": UKPRN, "links_ended": 2, "learner_keys_revoked": self.keys_revoked}
            return httpx.Response(200, json=ended)
        return httpx.Response(self.status, json=NOT_LINKED, headers={"content-type": "application/problem+json"})


def _lrs(monkeypatch: pytest.MonkeyPatch, validation: Validation, *args: str) -> int:
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: validation)
    return main(["learners", "unlink", *args])


def test_an_unlink_asks_validation_to_end_the_link_and_says_what_follows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    validation = Validation(200)

    assert _lrs(monkeypatch, validation, ULN, "--ukprn", UKPRN) == ExitCode.OK

    [request] = validation.sent
    assert (request.method, request.url.host, request.url.path) == (
        "DELETE",
        "validation",
        f"/v1/admin/learners/{ULN}/providers/{UKPRN}",
    )
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"provider {UKPRN}'s link to learner {ULN} ended (under every ULN of theirs: 2 links)")
    assert "The learner's 1 API key was revoked with it" in out
    assert "lrs learners link" in out and f"lrs credentials create --principal learner:{ULN}" in out


def test_an_unlink_that_revoked_no_learner_key_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _lrs(monkeypatch, Validation(200, keys_revoked=0), ULN, "--ukprn", UKPRN) == ExitCode.OK

    out = " ".join(capsys.readouterr().out.split())
    assert out.endswith("No learner API key was revoked.")
    assert "lrs credentials create" not in out


def test_a_provider_not_linked_is_the_services_404_and_exit_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _lrs(monkeypatch, Validation(404), ULN, "--ukprn", UKPRN) == ExitCode.FAILED

    assert "is not linked to this learner" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [[ULN, "--ukprn", "1000456"], [ULN, "--ukprn", "1000456X"], ["1000000042", "--ukprn", UKPRN], [ULN]],
    ids=["7 digits", "a letter", "a wrong check digit", "no UKPRN"],
)
def test_a_uln_or_ukprn_no_one_can_have_is_a_usage_error_before_validation_is_asked(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    validation = Validation(200)

    assert _lrs(monkeypatch, validation, *args) == ExitCode.USAGE
    assert validation.sent == []
