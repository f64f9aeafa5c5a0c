"""The portal issues people's Sandpit keys only in a database plainly the Sandpit's: one issued in live's
database would work on live."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from portal.config import PortalSettings


def test_the_sandpit_database_must_be_named_for_the_sandpit() -> None:
    with pytest.raises(ValidationError, match="the Sandpit needs a database of its own"):
        PortalSettings(sandpit_database_url="postgresql://portal@db:5432/lrs?sslmode=require")
    settings = PortalSettings(sandpit_database_url="postgresql://portal@db:5432/lrs_sandpit?sslmode=require")
    assert settings.sandpit_database_url is not None
    assert PortalSettings().sandpit_database_url is None  # no Sandpit at all is fine


def test_the_live_database_must_not_be_the_sandpit_s() -> None:
    """Its mirror image: live keys and accounts issued in the Sandpit's database would work nowhere live."""
    with pytest.raises(ValidationError, match="live needs a database of its own, not the Sandpit's"):
        PortalSettings(DATABASE_URL="postgresql://portal@db:5432/lrs_sandpit?sslmode=require")
    assert PortalSettings(DATABASE_URL="postgresql://portal@db:5432/lrs?sslmode=require").database_url.endswith(
        "/lrs?sslmode=require"
    )
