"""`lrs users create` and `lrs users duties` say a portal refusal of a body field as the option or argument the
operator typed (`--name`, `--scope`, `USERNAME`), not as the admin API's field (`body.display_name`) nor an option
the command does not have (`--display-name`)."""

from __future__ import annotations

import json

import httpx
import pytest

from lrs_cli import user_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

CREATE = ["users", "create", "nia", "--name", "Nia Jones", "--role", "ao", "--ao", "RN5133"]
CREATE_OPERATOR = ["users", "create", "ops2", "--name", "Ops Two", "--role", "operator", "--scope", "support"]


def _refusing(monkeypatch: pytest.MonkeyPatch, detail: str) -> list[dict[str, object]]:
    """The portal refuses every request with `detail`; the bodies sent are kept."""
    sent: list[dict[str, object]] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        problem = {"title": "Invalid account", "status": 422, "detail": detail, "code": "INVALID_REQUEST"}
        return httpx.Response(422, json=problem, headers={"content-type": "application/problem+json"})

    portal = httpx.Client(base_url="http://portal", transport=httpx.MockTransport(refuse))
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(user_commands, "_portal", lambda connection: portal)
    return sent


@pytest.mark.parametrize(
    ("argv", "detail", "said", "not_said"),
    [
        (
            CREATE,
            "body.display_name: The name holds a no-break space (U+00A0) at position 4: type it again",
            "--name: The name holds a no-break space",
            "display",
        ),
        (
            CREATE,
            "body.username: A username is 2 to 64 lower-case letters, digits, dots, dashes, underscores or @",
            "USERNAME: A username is 2 to 64",
            "--username",
        ),
        (CREATE, "body.ao_id: RN5133 is not in the AO register", "--ao: RN5133 is not in the AO register", "ao_id"),
        (CREATE_OPERATOR, "body.scopes: Only operators have duties", "--scope: Only operators have duties", "--scopes"),
        (
            [*CREATE, "--email", "nia@ao.example", "--email-link"],
            "body.first_link: Input should be a valid boolean",
            "--email-link: Input should be a valid boolean",
            "first",
        ),
        (
            ["users", "duties", "oncall", "--scope", "support"],
            "body.scopes: Only operators have duties",
            "--scope: Only operators have duties",
            "--scopes",
        ),
    ],
)
def test_a_refused_field_is_named_as_the_option_that_sent_it(
    argv: list[str],
    detail: str,
    said: str,
    not_said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sent = _refusing(monkeypatch, detail)

    assert main(argv) == ExitCode.FAILED

    err = " ".join(capsys.readouterr().err.split())
    assert sent, "the portal was asked"
    assert said in err
    assert "body." not in err and not_said not in err
