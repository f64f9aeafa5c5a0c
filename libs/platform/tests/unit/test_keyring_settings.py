"""Every service reads the keyring key and a rotation's wrapping settings from the same variables (decision 0116)."""

from __future__ import annotations

import base64
import secrets

import pytest

from lrs_platform.keyring import KeyringKey, KeyringNotConfigured
from lrs_platform.settings import ServiceSettings


def test_a_service_reads_the_wrapping_keys_and_the_one_it_wraps_with(monkeypatch: pytest.MonkeyPatch) -> None:
    root = KeyringKey.generate()
    added = secrets.token_bytes(32)
    monkeypatch.setenv("LRS_KEYRING_KEY", root.encoded())
    monkeypatch.setenv("LRS_KEYRING_WRAPPING_KEYS", f"4:{base64.b64encode(added).decode()}")
    monkeypatch.setenv("LRS_KEYRING_WRAP_WITH", "4")
    assert ServiceSettings().keyring() == KeyringKey(root.secret, ((4, added),), 4)

    monkeypatch.delenv("LRS_KEYRING_WRAPPING_KEYS")
    with pytest.raises(KeyringNotConfigured, match="LRS_KEYRING_WRAP_WITH is 4"):
        ServiceSettings().keyring()
    monkeypatch.delenv("LRS_KEYRING_WRAP_WITH")
    assert ServiceSettings().keyring() == root  # no rotation: as before decision 0116
