"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from functools import cached_property
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lrs_contracts.environments import Environment, TopicNames
from lrs_contracts.text import refused_character
from lrs_platform.kafka import KafkaGroupSession
from lrs_platform.keyring import KeyringKey, keyring_key_from

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class ServiceSettings(BaseSettings):
    """Read from the environment. Shared infrastructure addresses have no prefix; the rest do.

    `KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL` and `LRS_ENVIRONMENT` are the same for every service of
    one environment, so they are read unprefixed; anything service-specific uses the service's prefix
    (e.g. `INGEST_PORT`).
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

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
        validation_alias="LRS_KEYRING_WRAP_WITH",
        description="the id of the wrapping key new learner keys are wrapped with (0: the one derived from"
        " LRS_KEYRING_KEY)",
    )
    host: str = "127.0.0.1"
    port: int = 8000
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


def absolute_http_url_setting(value: str, setting: str) -> str:
    """A base URL links are built on: absolute http(s), no spaces, without its trailing slash."""
    if not value.startswith(("https://", "http://")) or any(char.isspace() for char in value):
        raise ValueError(f"{setting} must be an absolute http(s) URL")
    return value.rstrip("/")
