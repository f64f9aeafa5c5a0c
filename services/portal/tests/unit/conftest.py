"""Every portal unit test reads its settings from what the test says, never from the developer's shell.

The README's shell has sourced `.run/env`, which exports `PORTAL_SANDPIT_DATABASE_URL`, `PORTAL_COOKIE_SECURE=false`,
`PORTAL_PUBLIC_URL` and the services' `LRS_<SERVICE>_URL`s for `make up`'s system: a `PortalSettings()` built in a
test would take them, and a test of the defaults would test that system instead. Each test starts without any
`PORTAL_*` variable and without the `LRS_…_URL` ones the portal falls back to; a test that wants one sets it with
`monkeypatch.setenv`. The shared infrastructure variables (`DATABASE_URL`, `LRS_KEYRING_KEY`, …) are left alone.
"""

from __future__ import annotations

import os

import pytest


def _read_by_the_portal(name: str) -> bool:
    return name.startswith("PORTAL_") or (name.startswith("LRS_") and name.endswith("_URL"))


@pytest.fixture(autouse=True)
def _no_portal_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if _read_by_the_portal(name)]:
        monkeypatch.delenv(name)
