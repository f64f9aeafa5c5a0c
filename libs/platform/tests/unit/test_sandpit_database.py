"""Each environment refuses a database not plainly its own: a Sandpit service one not named for the Sandpit,
a live service one that is."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lrs_platform.settings import ServiceSettings


def test_a_sandpit_service_refuses_live_s_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_ENVIRONMENT", "sandpit")
    monkeypatch.setenv("DATABASE_URL", "postgresql://lrs@db:5432/lrs")
    with pytest.raises(ValidationError, match="the Sandpit needs a database of its own"):
        ServiceSettings()
    monkeypatch.setenv("DATABASE_URL", "postgresql://lrs@db:5432/lrs_sandpit")
    assert ServiceSettings().database_url.endswith("/lrs_sandpit")


def test_a_live_service_refuses_the_sandpit_s_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LRS_ENVIRONMENT", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://lrs@db:5432/lrs_sandpit?sslmode=require")
    with pytest.raises(ValidationError, match="live needs a database of its own, not the Sandpit's 'lrs_sandpit'"):
        ServiceSettings()
    monkeypatch.setenv("DATABASE_URL", "postgresql://lrs@db:5432/lrs")
    assert ServiceSettings().database_url.endswith("/lrs")
