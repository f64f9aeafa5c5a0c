"""A Sandpit service refuses a database not plainly the Sandpit's: its isolation rests on its database."""

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
