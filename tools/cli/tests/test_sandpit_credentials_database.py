"""`lrs --sandpit credentials ...` makes keys only in a database plainly the Sandpit's: one made in live's
database, re-prefixed, would work on live (the services check their own database the same way)."""

from __future__ import annotations

import pytest

from lrs_cli.admin_commands import _database_url
from lrs_cli.client import CommandError
from lrs_contracts.environments import Environment


def test_a_sandpit_key_is_never_made_in_a_database_not_named_for_the_sandpit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_SANDPIT_DATABASE_URL", "postgresql://lrs@db:5432/lrs?sslmode=require")
    with pytest.raises(CommandError, match="LRS_SANDPIT_DATABASE_URL: the Sandpit needs a database of its own"):
        _database_url(Environment.SANDPIT)

    monkeypatch.setenv("LRS_SANDPIT_DATABASE_URL", "postgresql://lrs@db:5432/lrs_sandpit?sslmode=require")
    assert _database_url(Environment.SANDPIT).endswith("/lrs_sandpit?sslmode=require")


def test_live_keys_go_to_the_database_they_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://lrs@db:5432/lrs")
    assert _database_url(Environment.LIVE) == "postgresql://lrs@db:5432/lrs"


def test_a_live_key_is_never_made_in_the_sandpit_s_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """A live key written to the Sandpit's identity store works nowhere, yet the command said it was made."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://lrs@db:5432/lrs_sandpit?sslmode=require")
    with pytest.raises(CommandError, match="DATABASE_URL: live needs a database of its own, not the Sandpit's"):
        _database_url(Environment.LIVE)
