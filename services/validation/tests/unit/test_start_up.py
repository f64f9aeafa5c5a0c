"""What validation refuses to start without: the keyring key, and in the Sandpit live's key store."""

from __future__ import annotations

import pytest

from lrs_platform.keyring import KEYRING_KEY_VARIABLE, KeyringNotConfigured
from validation.bootstrap import create_app
from validation.config import ValidationSettings


async def _start(settings: ValidationSettings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pass


async def test_validation_does_not_start_without_the_keyring_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEYRING_KEY_VARIABLE, raising=False)
    with pytest.raises(KeyringNotConfigured, match=f"{KEYRING_KEY_VARIABLE} is not set"):
        await _start(ValidationSettings())


async def test_the_sandpits_validation_does_not_start_without_lives_key_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_ENVIRONMENT", "sandpit")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/lrs_sandpit")
    monkeypatch.delenv("VALIDATION_LIVE_DATABASE_URL", raising=False)
    with pytest.raises(KeyringNotConfigured, match="VALIDATION_LIVE_DATABASE_URL is not set"):
        await _start(ValidationSettings())
