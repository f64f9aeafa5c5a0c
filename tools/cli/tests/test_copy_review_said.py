"""The content review's CLI findings (walk "copy"): each outcome, refusal and usage line in the words the rest of
`lrs` uses. A record already recorded is "unchanged" on its line as in the counts above it; a second challenge and a
closed one say what to do; arguments are named as their help names them (`FILE`, `ULN`), never `{file}`; a file sent
again says how to send it as a new batch; a service's parameter names read as the command's options; and help cites
no bare decision number."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from tools.cli.tests.test_challenge_ack_and_batches_said import CHALLENGE_ID, _Challenges, _run
from tools.cli.tests.test_submit_resent_not_a_replay import BATCH_ID, _KeptThenReplayed, _last_line, _submit

from lrs_cli import user_commands
from lrs_cli.batch_commands import record_line
from lrs_cli.client import ExitCode, problem_text
from lrs_cli.main import app, main

OPEN_ONE = "be07d370-fa7c-4902-a1ac-ee569526e937"


class _DecidedBefore(_KeptThenReplayed):
    """The file's earlier batch, decided (`completed`): sending it as a new batch is what is said. (One not decided
    yet is on its way, and is said so: test_submit_on_a_poor_network.)"""

    def _answer(self, request: httpx.Request) -> httpx.Response:
        answer = super()._answer(request)
        return httpx.Response(202, json={**answer.json(), "status": "completed"}, headers=answer.headers)


def test_a_record_already_recorded_is_said_unchanged_on_its_line() -> None:
    record = {"line": 6, "status": "no_op", "mis_identifier": "SHOW-003:no-op", "errors": [], "warnings": []}

    said = record_line(record).plain

    assert said == "  line     6  unchanged SHOW-003:no-op       "
    assert "no_op" not in said.replace("SHOW-003:no-op", "")


def test_a_second_challenge_says_what_it_means_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = httpx.Response(
        409,
        json={
            "title": "Challenge already open",
            "status": 409,
            "detail": "There is an open challenge on this achievement already.",
            "code": "CHALLENGE_ALREADY_OPEN",
            "challenge_id": OPEN_ONE,
        },
    )

    code, _, err = _run(monkeypatch, capsys, _Challenges(refused), "raise", CHALLENGE_ID, "--reason", "again")

    assert code == ExitCode.FAILED
    assert err == (
        f"lrs: you already have an open challenge on this achievement: challenge {OPEN_ONE}. Wait for the awarding"
        " organisation's answer (`lrs challenges list --open` shows it), or withdraw that challenge first (`lrs"
        f" challenges withdraw {OPEN_ONE}`) and raise a new one"
    )


def _command_paths(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub_command in getattr(command, "commands", {}).items():
        yield from _command_paths(sub_command, (*path, name))


EVERY_COMMAND = sorted(_command_paths(typer.main.get_command(app)))


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=lambda path: " ".join(("lrs", *path)))
def test_no_usage_line_shows_an_argument_in_braces_or_lower_case(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main([*path, "--help"]) == ExitCode.OK

    usage = next(line for line in capsys.readouterr().out.splitlines() if "Usage:" in line)

    assert "{" not in usage
    assert not re.search(r"\[OPTIONS\].*\b[a-z_]+\b(?<!COMMAND)", usage.split("[OPTIONS]", 1)[-1].replace("[ARGS]", ""))


def test_the_usage_line_and_a_missing_argument_name_it_as_the_help_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plr", "show"]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert "Usage: lrs plr show [OPTIONS] ULN" in err
    assert "Missing argument 'ULN'." in err


def test_a_file_sent_before_says_how_to_send_it_as_a_new_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    batch_file = tmp_path / "rules-showcase.csv"
    batch_file.write_bytes(b"ULN\r\n")

    assert _submit(_DecidedBefore(busy=0), str(batch_file), monkeypatch=monkeypatch) == ExitCode.OK

    assert _last_line(capsys.readouterr().err) == (
        f"lrs: rules-showcase.csv was sent before, as batch {BATCH_ID}: nothing new was submitted. To send the same"
        " file again as a new batch, add --idempotency-key with a value not used before (a new UUID, say)"
    )


def test_a_key_used_before_says_to_give_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    batch_file = tmp_path / "rules-showcase.csv"
    batch_file.write_bytes(b"ULN\r\n")

    code = _submit(_DecidedBefore(busy=0), str(batch_file), "--idempotency-key", "run-1", monkeypatch=monkeypatch)

    assert code == ExitCode.OK
    assert _last_line(capsys.readouterr().err) == (
        f"lrs: this --idempotency-key was used before, for batch {BATCH_ID}: nothing new was submitted. To send"
        " rules-showcase.csv as a new batch, give a new --idempotency-key value (a new UUID, say)"
    )


@pytest.mark.parametrize(
    ("detail", "said"),
    [
        (
            "query.period: not a calendar month: write yyyy-mm, such as 2026-11.",
            "--period: not a calendar month: write yyyy-mm, such as 2026-11.",
        ),
        (
            "Read the record again in a while without after_batch, or ask the awarding organisation.",
            "read the record again in a while without --after-batch, or ask the awarding organisation.",
        ),
        ("query.ao_id: not an AO.", "--ao: not an AO."),
        ("body.note: too long.", "--note: too long."),
        ("There is no batch b1 for this caller.", "there is no batch b1 that your API key can see."),
    ],
)
def test_a_service_problem_names_the_commands_options_not_the_requests_parameters(detail: str, said: str) -> None:
    answer = httpx.Response(
        422, json={"title": "Invalid request", "detail": detail}, request=httpx.Request("GET", "http://lrs/v1/x")
    )

    assert problem_text(answer) == f"HTTP 422: Invalid request: {said}"


def test_credentials_help_says_what_a_rotation_spares_in_a_whole_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["credentials", "--help"]) == ExitCode.OK

    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "revoked but people's portal sessions" not in out
    assert "the old ones revoked: people signed in to the portal stay signed in" in out


@pytest.mark.parametrize("path", [("learners", "sharing"), ("learners", "link"), ("learners", "unlink")], ids=" ".join)
def test_learner_and_provider_help_cites_no_bare_decision_number(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    assert main([*path, "--help"]) == ExitCode.OK

    assert not re.search(r"\(0\d{3}\)", capsys.readouterr().out)


def test_a_parameter_a_command_names_otherwise_is_said_as_that_command_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lrs users email USERNAME ADDRESS` sends ADDRESS as `email`: the portal's refusal names ADDRESS, not an
    option `--email` the command does not have; `correcting_batch_id` is sent by `--correcting-batch`."""
    refusal = {"title": "Invalid request", "detail": "body.email: String should have at most 254 characters"}
    portal = httpx.Client(
        base_url="http://portal", transport=httpx.MockTransport(lambda _: httpx.Response(422, json=refusal))
    )
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(user_commands, "_portal", lambda connection: portal)

    assert main(["users", "email", "nia", "nia@" + "a" * 260 + ".example"]) == ExitCode.FAILED

    err = " ".join(capsys.readouterr().err.split())
    assert "ADDRESS: String should have at most 254 characters" in err and "--email" not in err
    answer = httpx.Response(
        422,
        json={"title": "Invalid request", "detail": "body.correcting_batch_id: not a batch of yours."},
        request=httpx.Request("POST", "http://lrs/v1/batches"),
    )
    assert problem_text(answer) == "HTTP 422: Invalid request: --correcting-batch: not a batch of yours."
