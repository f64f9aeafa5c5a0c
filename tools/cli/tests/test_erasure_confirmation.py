"""`lrs learners erase` asks validation what the erasure would erase before asking the operator: every ULN merged
with the learner is erased with them, so the question names them all; with --yes nothing is asked, and when what
would be erased cannot be read nothing is erased."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import typer

from lrs_cli.client import ExitCode
from lrs_cli.erasure_commands import confirmation_question
from lrs_cli.main import main

ULN = "4751158642"
MERGED = ["1000000043", "5449721047"]
ERASED = {"erasure_id": "7", "uln": ULN, "erased_by": "operator:dpo", "erased_at": "2026-12-03T09:00:00Z"}


class _Terminal:
    def isatty(self) -> bool:
        return True


def _validation(
    monkeypatch: pytest.MonkeyPatch, answer: Callable[[httpx.Request], httpx.Response]
) -> list[httpx.Request]:
    """Validation answering with `answer`, on a terminal whose questions are answered yes; the requests sent."""
    sent: list[httpx.Request] = []
    real_client = httpx.Client

    def recorded(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer(request)

    def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
        return real_client(*args, **{**kwargs, "transport": httpx.MockTransport(recorded)})

    monkeypatch.setattr(httpx, "Client", fake_client)
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    return sent


def _asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    questions: list[str] = []

    def confirm(text: str, **options: Any) -> bool:
        questions.append(text)
        return True

    monkeypatch.setattr(typer, "confirm", confirm)
    return questions


def _reach(erased_with: list[str], *, erased: bool = False) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            reach = {"uln": ULN, "erased_with": erased_with, "erased": erased, "erasure": None}
            return httpx.Response(200, json=reach)
        return httpx.Response(200 if erased else 201, json={**ERASED, "erased_with": erased_with})

    return answer


def test_the_question_names_every_uln_merged_with_the_learner_before_anything_is_erased(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = _validation(monkeypatch, _reach(MERGED))
    questions = _asked(monkeypatch)

    code = main(["learners", "erase", ULN, "--reason", "duplicate"])

    assert code == ExitCode.OK
    assert questions == [
        f"Erase learner {ULN}'s names, date of birth and gender for good, and those of the 2 ULNs merged with them"
        " (the same person): 1000000043, 5449721047? This cannot be undone."
    ]
    assert [(r.method, r.url.path) for r in sent] == [
        ("GET", f"/v1/admin/learners/{ULN}/erasure"),
        ("POST", f"/v1/admin/learners/{ULN}/erasure"),
    ]


def test_one_merged_uln_is_named_in_the_singular_and_a_learner_merged_with_nobody_as_before() -> None:
    assert "and those of the ULN merged with them (the same person): 1000000043?" in confirmation_question(
        ULN, ["1000000043"]
    )
    assert confirmation_question(ULN, []) == (
        f"Erase learner {ULN}'s names, date of birth and gender for good? This cannot be undone."
    )


def test_with_yes_nothing_is_asked_nor_read_first(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _validation(monkeypatch, _reach(MERGED))
    questions = _asked(monkeypatch)

    assert main(["learners", "erase", ULN, "--reason", "duplicate", "--yes"]) == ExitCode.OK

    assert questions == []
    assert [r.method for r in sent] == ["POST"]


def test_a_learner_erased_already_is_not_asked_about_for_erasing_again_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _validation(monkeypatch, _reach(MERGED, erased=True))
    questions = _asked(monkeypatch)

    assert main(["learners", "erase", ULN, "--reason", "duplicate"]) == ExitCode.OK

    assert questions == []
    assert f"learner {ULN} was already erased" in capsys.readouterr().out


def test_when_what_would_be_erased_cannot_be_read_nothing_is_asked_or_erased(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = {"title": "Service Unavailable", "status": 503, "detail": "the learner key store cannot be reached"}
    sent = _validation(monkeypatch, lambda _: httpx.Response(503, json=failing))
    questions = _asked(monkeypatch)

    code = main(["learners", "erase", ULN, "--reason", "duplicate"])

    assert code == ExitCode.UNREACHABLE  # an LRS unavailable for now, as every command says it
    assert questions == [] and [r.method for r in sent] == ["GET"]
    said = capsys.readouterr().err
    assert "validation could not say which ULNs the erasure would erase" in said
    assert "the learner key store cannot be reached" in said and "nothing was erased" in said


def test_when_validation_cannot_be_reached_for_what_would_be_erased_nothing_is_erased(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sent = _validation(monkeypatch, unreachable)
    questions = _asked(monkeypatch)

    assert main(["learners", "erase", ULN, "--reason", "duplicate"]) == ExitCode.UNREACHABLE

    assert questions == [] and [r.method for r in sent] == ["GET"]
    said = capsys.readouterr().err
    assert "validation could not say which ULNs the erasure would erase" in said and "Nothing was erased" in said


def test_a_uln_validation_holds_nothing_about_is_refused_before_the_question(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    not_held = {"title": "No learner held with this ULN", "status": 404, "detail": "Nothing was erased."}
    sent = _validation(monkeypatch, lambda _: httpx.Response(404, json=not_held))
    questions = _asked(monkeypatch)

    assert main(["learners", "erase", ULN, "--reason", "duplicate"]) == ExitCode.FAILED

    assert questions == [] and [r.method for r in sent] == ["GET"]
    assert "No learner held with this ULN" in capsys.readouterr().err
