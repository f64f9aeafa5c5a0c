"""What every test process shares: one keyring key per test session (lrs_platform.keyring, decision 0080), and
loggers that are never cached.

Services started in-process read the key from the environment, and the ones started as processes inherit it,
so every service of a test system opens the same learners' keys.

`configure_logging` caches each logger on first use (cheaper in a service), and every app a test starts in-process
configures structlog again: a module logger used once keeps the processors of that configuration, so
`structlog.testing.capture_logs` (which replaces only the current ones) would see nothing from it in a later test,
and whether a log test passes would depend on which tests ran before it. In tests every `structlog.configure`
therefore leaves caching off, and each log call reads the configuration of the moment.
"""

import os
from typing import Any

import structlog

from lrs_platform.keyring import KEYRING_KEY_VARIABLE, KeyringKey

os.environ.setdefault(KEYRING_KEY_VARIABLE, KeyringKey.generate().encoded())

_configure = structlog.configure


def _configure_without_caching(*args: Any, **settings: Any) -> None:
    _configure(*args, **{**settings, "cache_logger_on_first_use": False})


structlog.configure = _configure_without_caching
