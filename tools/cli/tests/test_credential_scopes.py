"""`lrs credentials ... --scope`: operator keys limited to duties (decision 0122), refused before any database."""

from __future__ import annotations

import pytest

from lrs_cli.admin_commands import credentials
from lrs_cli.client import CommandError, ExitCode
from lrs_cli.main import main


@pytest.mark.parametrize(
    ("action", "principal", "scopes", "message"),
    [
        ("create", "ao:RN5133", ["support"], "limits operator keys only"),
        ("create", "operator:oncall", ["dead-letters", "everything"], "unknown scope.*everything.*the scopes are"),
        ("revoke", "operator:oncall", ["dead-letters"], "--scope is for create and rotate"),
    ],
)
def test_a_scope_the_key_cannot_have_is_refused_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, action: str, principal: str, scopes: list[str], message: str
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)  # no database is reached: the command stops first
    with pytest.raises(CommandError, match=message):
        credentials(action, principal, None, None, scopes=scopes)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["credentials", "create", "--principal", "bogus:x"], "--principal must be kind:id, the kind one of ao"),
        (["credentials", "create", "--principal", "operator"], "got 'operator'"),
        (["credentials", "create", "--principal", "operator:a\nb"], "holds a line break"),
        (["credentials", "create", "--principal", "operator:x", "--scope", "nonsense"], "unknown scope(s) nonsense"),
        (["credentials", "create", "--principal", "ao:RN9093", "--scope", "support"], "limits operator keys only"),
        (["users", "create", "xy", "--name", "X", "--role", "ao"], "an AO user needs --ao"),
    ],
)
def test_a_value_the_command_refuses_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_PORTAL_URL", "http://127.0.0.1:9")  # nothing listens: nothing may be sent

    assert main(argv) == ExitCode.USAGE
    assert said in capsys.readouterr().err
