"""Every argument naming a learner (ULN) or an awarding organisation (AO id) is judged as `lrs plr show` judges a
ULN: a value no service would take is a usage error (exit status 2) in one line before any service is asked, not
an HTTP 422 (exit status 1) in the API's words; an AO id in lower case is the register's (rn9093 is RN9093). An
unset DATABASE_URL for `lrs credentials` is a usage error, as an unset LRS_API_KEY is."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

WRONG_CHECK_DIGIT = "1000000042"
TEMPORARY = "9999999999"


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Every service answers 200 with an empty page; the requests made."""
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"items": [], "total": 0, "next": None})

    answered_by(monkeypatch, answer)
    return requests


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["plr", "credential", "1000000044"], "the check digit of ULN 1000000044 is wrong (RV002)"),
        (["learners", "link", WRONG_CHECK_DIGIT, "--ukprn", "10000001"], "(RV002)"),
        (["learners", "merge", "6567035160", WRONG_CHECK_DIGIT], "(RV002)"),
        (["learners", "merge", WRONG_CHECK_DIGIT, "6567035160"], "(RV002)"),
        (["learners", "sharing", WRONG_CHECK_DIGIT], "(RV002)"),
        (["learners", "providers", "012345678"], "is badly formed (RV001)"),
        (["learners", "erase", TEMPORARY, "--reason", "x", "--yes"], "is the temporary ULN (RV003)"),
        (["learners", "erasures", "--uln", "12345"], "is badly formed (RV001)"),
        (["plr", "show", TEMPORARY], "is the temporary ULN (RV003)"),
    ],
)
def test_a_uln_no_learner_has_is_a_usage_error_before_any_service_is_asked(
    command: list[str], said: str, asked: list[httpx.Request], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(command) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert said in err and "HTTP 422" not in err
    assert err.strip().count("\n") == 0, err
    assert asked == []


@pytest.mark.parametrize(
    "command",
    [
        ["batch", "list", "--ao", "XX9093"],
        ["challenges", "list", "--ao", "RN-9093"],
        ["challenges", "contact", "9093"],
        ["reports", "submissions", "--period", "2026-11", "--ao", "RN123456789"],
        ["users", "list", "--ao", "ao:RN9093"],
        ["users", "create", "jo", "--name", "Jo", "--role", "ao", "--ao", "R9093"],
        ["sandpit", "reset", "--ao", "RN"],
    ],
)
def test_an_ao_id_no_ao_has_is_a_usage_error_before_any_service_is_asked(
    command: list[str], asked: list[httpx.Request], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(command) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert "is not an AO id: an AO's recognition number is RN and up to 8 digits, like RN9093" in err
    assert asked == []


@pytest.mark.parametrize(
    ("command", "path"),
    [
        (["batch", "list", "--ao", "rn9093", "--json"], "/v1/batches"),
        (["challenges", "list", "--ao", " rn9093", "--json"], "/v1/challenges"),
        (["users", "list", "--ao", "rn9093", "--json"], "/v1/admin/users"),
    ],
)
def test_an_ao_id_in_lower_case_is_sent_as_the_register_writes_it(
    command: list[str], path: str, asked: list[httpx.Request]
) -> None:
    main(command)

    assert [request.url.path for request in asked][:1] == [path]
    assert asked[0].url.params["ao_id"] == "RN9093"


def test_an_unset_database_url_is_a_usage_error_as_an_unset_key_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("LRS_ENVIRONMENT", raising=False)

    assert main(["credentials", "list"]) == ExitCode.USAGE
    assert "DATABASE_URL is not set" in capsys.readouterr().err
