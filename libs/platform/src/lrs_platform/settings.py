"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from functools import cached_property
from ipaddress import ip_address
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.text import refused_character
from lrs_platform.kafka import KafkaGroupSession
from lrs_platform.keyring import KeyringKey, keyring_key_from

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP port a service listens on or connects to: refused as the service starts when out of range, not by the bind."""

Settings = TypeVar("Settings", bound=BaseSettings)


class ServiceSettings(BaseSettings):
    """Read from the environment. Shared infrastructure addresses have no prefix; the rest do.

    `KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL` and `LRS_ENVIRONMENT` are the same for every service of
    one environment, so they are read unprefixed; anything service-specific uses the service's prefix
    (e.g. `INGEST_PORT`).
    """

    # hide_input_in_errors: a refusal's traceback never prints a setting's raw value (a key, an address's password),
    # also where a check of the settings together would print them all; subclasses inherit it.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    database_url: str = Field(default="postgresql://postgres@127.0.0.1:5432/lrs", validation_alias="DATABASE_URL")
    environment: Environment = Field(
        default=Environment.LIVE,
        validation_alias="LRS_ENVIRONMENT",
        description="'sandpit': topics and consumer groups prefixed 'sandpit.', a database of its own",
    )
    keyring_key: SecretStr | None = Field(
        default=None,
        validation_alias="LRS_KEYRING_KEY",
        description="32 bytes in base64: opens the learners' data keys (lrs_platform.keyring); one per environment",
    )
    keyring_wrapping_keys: SecretStr | None = Field(
        default=None,
        validation_alias="LRS_KEYRING_WRAPPING_KEYS",
        description="wrapping keys an operator added, 'ID:BASE64,ID:BASE64' (decision 0116); the same for every"
        " service of one environment",
    )
    keyring_wrap_with: int = Field(
        default=0,
        ge=0,
        validation_alias="LRS_KEYRING_WRAP_WITH",
        description="the id of the wrapping key new learner keys are wrapped with (0: the one derived from"
        " LRS_KEYRING_KEY)",
    )
    host: str = "127.0.0.1"
    port: Port = 8000
    log_level: str = "info"
    log_json: bool | None = None  # None: JSON unless stdout is a terminal

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_is_one_of_pythons(cls, value: object) -> object:
        """`<PREFIX>_LOG_LEVEL`, in any case. Another word stops the service as it starts with one line naming the
        variable and the values it takes, exit status 1 (SystemExit, which pydantic does not wrap), rather than a
        ValueError traceback from `logging` once the settings were read (`verbose`: "Unknown level: 'VERBOSE'").
        Set but empty (the usual way to unset it in an env file) is the default, info."""
        if isinstance(value, str) and not value.strip():
            return "info"
        if isinstance(value, str) and value.strip().lower() in LOG_LEVELS:
            return value.strip().lower()
        variable = f"{cls.model_config.get('env_prefix') or ''}LOG_LEVEL"
        raise SystemExit(f"{variable}={value!r} is not a log level: set it to one of {', '.join(LOG_LEVELS)}")

    @model_validator(mode="after")
    def _kafka_group_session_holds(self) -> ServiceSettings:
        # refused as the service starts, not by each consumer loop as it builds its client (and again, and again)
        KafkaGroupSession()
        return self

    @model_validator(mode="after")
    def _each_environment_has_its_own_database(self) -> ServiceSettings:
        if self.environment.is_sandpit:
            check_sandpit_database(self.database_url)
        else:
            try:
                check_live_database(self.database_url)
            except ValueError as error:
                raise ValueError(f"{error}: a Sandpit service sets LRS_ENVIRONMENT=sandpit") from error
        return self

    @cached_property
    def topics(self) -> TopicNames:
        """The physical topic names and consumer groups of this environment."""
        return TopicNames(self.environment)

    def keyring(self) -> KeyringKey:
        """The keyring key, or KeyringNotConfigured saying how to set it."""
        key = keyring_key_from(self.keyring_key.get_secret_value() if self.keyring_key else None)
        wrapping = self.keyring_wrapping_keys.get_secret_value() if self.keyring_wrapping_keys else None
        return key.with_wrapping(wrapping, self.keyring_wrap_with)


def _database_name(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def check_sandpit_database(url: str) -> str:
    """`url`, if it names a database plainly the Sandpit's (`*sandpit*`): the Sandpit's isolation rests on its
    database, whoever connects to it (a service, the portal issuing Sandpit keys, the `lrs` command).
    Raises ValueError otherwise."""
    database = _database_name(url)
    if "sandpit" not in database:
        raise ValueError(f"the Sandpit needs a database of its own (named '*sandpit*'), not {database!r}")
    return url


def check_live_database(url: str) -> str:
    """`url`, if it names a database that is not plainly the Sandpit's: the mirror image of
    `check_sandpit_database`, so a copy-pasted Sandpit URL cannot put live keys or live facts in the Sandpit.
    Raises ValueError otherwise."""
    database = _database_name(url)
    if "sandpit" in database:
        raise ValueError(f"live needs a database of its own, not the Sandpit's {database!r} (named '*sandpit*')")
    return url


def one_line_setting(value: str | None) -> str | None:
    """A setting people read in a page or an email footer: its spaces folded, None when blank."""
    text = " ".join((value or "").split())
    if refused := refused_character(text, one_line=True):
        raise ValueError(f"holds {refused}")
    return text or None


def absolute_http_url_setting(value: str, setting: str | None = None) -> str:
    """A base URL links are built on: absolute http(s), no spaces, without its trailing slash. Refused in words that
    name `setting` when given; a field's validator gives none, as its refusal line names the variable already."""
    if not value.startswith(("https://", "http://")) or any(char.isspace() for char in value):
        raise ValueError(f"{setting} must be an absolute http(s) URL" if setting else "not an absolute http(s) URL")
    return value.rstrip("/")


def loopback_host(url: str) -> bool:
    """Whether `url`'s host is this machine's own (`localhost`, 127.0.0.0/8, ::1): plain http stays on it."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def service_url_setting(value: str) -> str:
    """Another service's base URL (`http://ingest:8001`): absolute http(s) with a host, no spaces, without its
    trailing slash. One missing its scheme is refused as the service starts (the line naming the variable), rather
    than failing every request made with it."""
    url = value.rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number, or out of range
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(char.isspace() for char in value)
    ):
        raise ValueError("not an absolute http(s) URL with a host, like http://ingest:8001")
    return url


ServiceUrl = Annotated[str, AfterValidator(service_url_setting)]
"""Another service's base URL, checked as the service starts (service_url_setting)."""


# The start-up refusals: one line per bad setting, naming its variable (never a secret's value, never an address's
# password), as the services print them as they start (load_settings) and `make restart` before it stops anything
# (scripts/dev/check_settings.py).


def lookup(environ: Mapping[str, str], variable: str) -> str | None:
    """A variable's value as pydantic-settings reads it: the name in any case."""
    for key, value in environ.items():
        if key.upper() == variable.upper():
            return value
    return None


def _variable(settings: type[BaseSettings], where: str, environ: Mapping[str, str]) -> tuple[str, bool]:
    """The environment variable an error's location names, and whether its value is secret (not to be printed).
    `where` is a field's name or, for a field read under other names, the first of them."""
    prefix = settings.model_config.get("env_prefix") or ""
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        names = (
            [choice for choice in alias.choices if isinstance(choice, str)]
            if isinstance(alias, AliasChoices)
            else [alias]
            if isinstance(alias, str)
            else [f"{prefix}{field_name}".upper()]
        )
        if where == field_name or where in names:
            secret = "SecretStr" in str(field.annotation)
            return next((variable for variable in names if lookup(environ, variable) is not None), names[0]), secret
    return where, False  # a setting a nested settings class reads (KafkaGroupSession's, say), under its own name


def _secret(variable: str) -> bool:
    return any(word in variable.upper() for word in ("PASSWORD", "SECRET", "KEY"))


_PASSWORD_IN_ADDRESS = re.compile(r"(?<=://)([^/@:\s]*):[^/@\s]*@")


def _said(value: str) -> str:
    """A setting's value as a line may print it: an address's password (`postgresql://lrs:PASSWORD@host/db`, a
    database URL) hidden, so that the line can go into a ticket or a pod's log."""
    return _PASSWORD_IN_ADDRESS.sub(r"\1:***@", value)


def setting_named(
    settings: type[BaseSettings],
    where: str,
    given: Mapping[str, str],
    sources: Mapping[str, str] | None = None,
    value: object = None,
) -> str:
    """The setting a line names: its variable, with its value unless secret, and where the Sandpit's comes from
    (`sources`: make restart's overrides)."""
    variable, secret = _variable(settings, where, given)
    said = lookup(given, variable)
    if said is None:
        said = value if isinstance(value, str) else None
    setting = variable if secret or _secret(variable) or said is None else f"{variable}={_said(said)!r}"
    return f"{setting} ({sources[variable]})" if sources and variable in sources else setting


def refusal_lines(
    settings: type[BaseSettings],
    error: ValidationError,
    given: Mapping[str, str],
    sources: Mapping[str, str] | None = None,
) -> list[str]:
    """`error`'s refusals, one line each: `VARIABLE='value': why` (the variable alone when its value is secret), or
    the words alone for a check of the settings together, whose words name the variables."""
    lines = []
    for problem in error.errors(include_url=False):
        words = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:
            lines.append(words)
            continue
        lines.append(
            f"{setting_named(settings, str(problem['loc'][0]), given, sources, problem.get('input'))}: {words}"
        )
    return lines


def load_settings(settings: type[Settings]) -> Settings:
    """`settings` read from the environment, as each service's main (and a rebuild worker) does first thing. A
    setting it refuses stops the process with one line on stderr per refusal, naming the variable and why (never a
    secret's value or an address's password), exit status 1, rather than pydantic's traceback, which names the field
    and prints the raw values."""
    try:
        return settings()
    except ValidationError as error:
        lines = refusal_lines(settings, error, os.environ)
        print("\n".join(lines), file=sys.stderr, flush=True)
        raise SystemExit(1) from None
