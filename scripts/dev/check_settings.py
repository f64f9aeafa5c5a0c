"""`make restart`'s check before it stops anything: would each service it is about to start again take its settings?

Usage: check_settings.py NAME...   (names as services.sh's service_names: notifier, sandpit-notifier, ...)

Run by restart.sh with .run/env sourced. Each named service's settings class is loaded from the environment that
services.sh's start_service gives it (the Sandpit's with its overrides), as the service loads it first thing as it
starts (`<Service>Settings()` in its main). Then what the service checks of those settings later in its start, without
Kafka or PostgreSQL, is checked by the same functions it calls (START_CHECKS): its keys parsed (the learner keyring's,
the credential key-encryption key) and its reference files read. A setting it would refuse is printed on stderr with
the service's own words, one line each, never a key's value, and the exit status is 1: restart.sh then stops nothing
and what runs is left running (an upgrade that refuses a setting an earlier release took, or a key rotated wrongly,
say). Nothing printed and exit status 0: all would start.

One process for all the services; it imports each service's config module, and the bootstrap module of those whose
start checks live there (no service imports another).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from lrs_platform.settings import refusal_lines, setting_named

# The settings class each service's main loads as it starts (services/*/src/*/config.py).
SETTINGS = {
    "ingest": ("ingest.config", "IngestSettings"),
    "validation": ("validation.config", "ValidationSettings"),
    "plr-projector": ("plr_projector.config", "ProjectorSettings"),
    "challenges": ("challenges.config", "ChallengesSettings"),
    "notifier": ("notifier.config", "NotifierSettings"),
    "reporting": ("reporting.config", "ReportingSettings"),
    "portal": ("portal.config", "PortalSettings"),
}
SANDPIT = ("ingest", "validation", "plr-projector", "notifier")  # services.sh's sandpit_services


Check = tuple[str | None, Callable[[Any], object]]
"""A service's start check: the settings field it reads (None: its words name the variable), and the check, given the
loaded settings, which raises in the service's words what the service would refuse."""


def _keyring(settings: Any) -> object:
    """lrs_platform's ServiceSettings.keyring, which ingest, validation, challenges and the notifier call as they start:
    LRS_KEYRING_KEY, LRS_KEYRING_WRAPPING_KEYS and LRS_KEYRING_WRAP_WITH parsed (KeyringNotConfigured naming them)."""
    return settings.keyring()


def _ingest_register(settings: Any) -> object:
    """The AO register the Sandpit's ingest reads as its app is made."""
    from ingest.bootstrap import sandpit_register_of

    return sandpit_register_of(settings) if settings.environment.is_sandpit else None


def _challenges_register(settings: Any) -> object:
    from challenges.bootstrap import ao_names_of

    return ao_names_of(settings)


def _notifier_register(settings: Any) -> object:
    from notifier.bootstrap import register_of

    return register_of(settings)


def _portal_reference(settings: Any) -> object:
    from portal.bootstrap import reference_of

    return reference_of(settings)


def _credential_key_encryption_key(settings: Any) -> object:
    from plr_projector.bootstrap import credential_key_encryption_key

    return credential_key_encryption_key(settings)


# What each service refuses as it starts beyond its settings class, with no Kafka or PostgreSQL: the functions its
# bootstrap calls (services/*/src/*/bootstrap.py), in the order it calls them. Not here: reporting's data directory
# (made, not read), validation's reference files (read only into an empty store) and its Sandpit's
# VALIDATION_LIVE_DATABASE_URL (services.sh always sets it).
START_CHECKS: dict[str, list[Check]] = {
    "ingest": [("reference_dir", _ingest_register), (None, _keyring)],
    "validation": [(None, _keyring)],
    "plr-projector": [("credential_key_encryption_key", _credential_key_encryption_key)],
    "challenges": [("reference_dir", _challenges_register), (None, _keyring)],
    "notifier": [("reference_dir", _notifier_register), (None, _keyring)],
    "reporting": [],
    "portal": [("reference_dir", _portal_reference)],
}


class NotSet(Exception):
    """A variable start_service reads is unset in .run/env: restart.sh (`set -u`) would stop there, after stopping."""


def _url_variable(name: str) -> str:
    """services.sh's service_url: where one of service_names answers (LRS_SANDPIT_PLR_PROJECTOR_URL, say)."""
    return f"LRS_{name.replace('-', '_').upper()}_URL"


def environment_of(name: str, environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The environment start_service (services.sh) starts `name` with from `environ` (restart.sh's, .run/env
    sourced), and for each variable it sets for the Sandpit, where that value comes from. Kept as services.sh
    writes it: tests/test_check_settings.py compares the two."""
    service = name.removeprefix("sandpit-")
    if name == service:
        return dict(environ), {}

    def given(variable: str) -> str:
        if variable not in environ:
            raise NotSet(f"{variable} is not set in .run/env, and the Sandpit's {service} is started with it")
        return environ[variable]

    prefix = _settings_class(service).model_config.get("env_prefix") or ""
    overrides = {
        "LRS_ENVIRONMENT": ("sandpit", "the Sandpit's"),
        "DATABASE_URL": (given("LRS_SANDPIT_DATABASE_URL"), "the Sandpit's, LRS_SANDPIT_DATABASE_URL"),
        f"{prefix}PORT": (given(_url_variable(name)).rsplit(":", 1)[-1], f"the Sandpit's, {_url_variable(name)}'s"),
        "VALIDATION_LIVE_DATABASE_URL": (given("DATABASE_URL"), "the Sandpit's, live's DATABASE_URL"),
        "NOTIFIER_PUBLIC_BASE_URL": (f"{given('LRS_PORTAL_URL')}/sandpit", "the Sandpit's, LRS_PORTAL_URL/sandpit"),
        "PROJECTOR_CREDENTIAL_ISSUER_URL": (
            given("LRS_SANDPIT_PLR_PROJECTOR_URL"),
            "the Sandpit's, LRS_SANDPIT_PLR_PROJECTOR_URL",
        ),
    }
    own_key = environ.get("LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY")
    if service == "plr-projector" and own_key:
        overrides["PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY"] = (
            own_key,
            "the Sandpit's, LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY",
        )
    return (
        {**environ, **{variable: value for variable, (value, _) in overrides.items()}},
        {variable: source for variable, (_, source) in overrides.items()},
    )


def _settings_class(service: str) -> type[BaseSettings]:
    module, name = SETTINGS[service]
    settings: type[BaseSettings] = getattr(importlib.import_module(module), name)
    return settings


@contextlib.contextmanager
def _environment(environ: Mapping[str, str]) -> Iterator[None]:
    """os.environ as `environ` meanwhile: pydantic-settings reads it as the settings are made."""
    before = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


def _start_refusals(name: str, loaded: BaseSettings, given: Mapping[str, str], sources: Mapping[str, str]) -> list[str]:
    """What the service refuses of its loaded settings later in its start (START_CHECKS), in its words."""
    lines = []
    for where, check in START_CHECKS[name.removeprefix("sandpit-")]:
        try:
            check(loaded)
        except Exception as error:  # what the service would stop with; the checks never quote a key
            words = str(error) or type(error).__name__
            lines.append(words if where is None else f"{setting_named(type(loaded), where, given, sources)}: {words}")
    return lines


def refusals(name: str, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """What `name` (one of service_names) would refuse as it starts with `environ` (restart.sh's): (service name,
    line) each, the line in its words ('' for a line that names its setting and is printed as it is)."""
    try:
        settings = _settings_class(name.removeprefix("sandpit-"))
        given, sources = environment_of(name, environ)
        with _environment(given):
            loaded = settings()
            return [(name, line) for line in _start_refusals(name, loaded, given, sources)]
    except NotSet as error:
        return [(name, str(error))]
    except SystemExit as error:  # the line the service stops with (a log level), naming its variable and value
        return [("", str(error.code))]
    except ValidationError as error:  # in the lines the service itself stops with (lrs_platform.settings)
        return [(name, line) for line in refusal_lines(settings, error, given, sources)]


def main(names: list[str]) -> int:
    known = {*SETTINGS, *(f"sandpit-{service}" for service in SANDPIT)}
    if not names or not known.issuperset(names):
        print(f"usage: check_settings.py NAME... (as services.sh's service_names), not {names}", file=sys.stderr)
        return 2
    refused: dict[str, list[str]] = {}  # each line once, with every service that refuses it
    for name in names:
        for service, line in refusals(name, os.environ):
            refused.setdefault(line, [])
            if service:
                refused[line].append(service)
    for line, services in refused.items():
        print(f"{', '.join(services)} would not start: {line}" if services else line, file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
