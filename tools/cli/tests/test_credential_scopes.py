"""`lrs credentials ... --scope`: operator keys limited to duties (decision 0122), refused before any database."""

from __future__ import annotations

import pytest

from lrs_cli.admin_commands import credentials
from lrs_cli.client import CommandError


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
