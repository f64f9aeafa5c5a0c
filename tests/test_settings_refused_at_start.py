"""Every service's settings refuse, as the service starts, what would stall or spin it later (config walk, findings
1, 3, 4 and 5): a number of records, a wait, an interval or a port of zero or below is refused, and the refusal is one
line naming the variable, exit status 1, never a secret's value, rather than pydantic's traceback naming the field and
printing the raw input (a credential key's, a relay's password).

Each settings class is walked, so that a numeric setting added later without a lower bound fails here.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from pydantic_settings import BaseSettings
from scripts.dev.check_settings import SETTINGS

from lrs_platform.kafka import KafkaGroupSession, KafkaSecurity
from lrs_platform.settings import ServiceSettings, load_settings

CLASSES: dict[str, type[BaseSettings]] = {
    service: getattr(importlib.import_module(module), name) for service, (module, name) in SETTINGS.items()
}
KEY = "DBLUf7VXYuUjyQtc7qyIoG2T5r31Mv2onqKO7OVRcKA="
# Where 0 has a meaning its comment documents: anything below is still refused.
ZERO_MEANS = {
    "keyring_wrap_with",  # the wrapping key derived from LRS_KEYRING_KEY
    "read_wait_max_ms",  # no wait: a read asking for its writes is checked once
    "rebuild_workers",  # a rebuild replays through the live code path (operations.md)
    "catch_up_wait_ms",  # a raise finds the achievement or not at once
    "max_waiting_records_per_ao",  # no limit (decision 0171)
    "max_waiting_batches_per_ao",  # no limit
    "max_wait_seconds",  # ingest's submit answers at once
}
# A loop that asks the database (or the broker) on each tick: a floor above 0, so a typo (0.0001) cannot spin it.
FLOORS = {
    ("notifier", "deferred_poll_seconds"): 0.1,
    ("plr-projector", "metrics_interval_seconds"): 0.1,
    ("reporting", "broker_commit_interval_seconds"): 0.01,
}


def _variable(settings: type[BaseSettings], field: str) -> str:
    alias = settings.model_fields[field].validation_alias
    if isinstance(alias, str):
        return alias
    return f"{settings.model_config.get('env_prefix') or ''}{field}".upper()


def _numeric_fields() -> list[tuple[str, str]]:
    fields = []
    for service, settings in CLASSES.items():
        for name, field in settings.model_fields.items():
            annotation = str(field.annotation)
            read_under_one_name = field.validation_alias is None or isinstance(field.validation_alias, str)
            if read_under_one_name and ("int" in annotation or "float" in annotation) and "bool" not in annotation:
                fields.append((service, name))
    return fields


NUMERIC = _numeric_fields()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing of a sourced .run/env: each case sets what it tests."""
    prefixes: tuple[str, ...] = (
        "KAFKA_",
        "DATABASE_URL",
        "LRS_",
        "PROJECTOR_",
        "PORTAL_",
        "NOTIFIER_",
        "REPORTING_",
        "INGEST_",
    )
    prefixes = (*prefixes, "VALIDATION_", "CHALLENGES_")
    for variable in list(os.environ):
        if variable.upper().startswith(prefixes):
            monkeypatch.delenv(variable)


def test_the_walk_finds_the_numeric_settings() -> None:
    assert ("plr-projector", "max_batch_records") in NUMERIC
    assert ("notifier", "deferred_poll_seconds") in NUMERIC
    assert {service for service, _ in NUMERIC} == set(CLASSES)


@pytest.mark.parametrize(("service", "field"), NUMERIC, ids=[f"{service}.{field}" for service, field in NUMERIC])
def test_every_number_has_a_lower_bound(service: str, field: str) -> None:
    settings = CLASSES[service]
    bounds = {
        type(bound).__name__: getattr(bound, type(bound).__name__.lower())
        for bound in settings.model_fields[field].metadata
        if type(bound).__name__ in ("Ge", "Gt")
    }
    assert bounds, f"{_variable(settings, field)} has no lower bound: zero or below would be taken"
    lowest = bounds["Ge"] if "Ge" in bounds else bounds["Gt"]
    assert lowest > 0 or (lowest == 0 and "Gt" in bounds) or field in ZERO_MEANS, (
        f"{_variable(settings, field)} takes 0: give it gt=0, or say in its comment what 0 means and list it here"
    )


@pytest.mark.parametrize(("service", "field"), NUMERIC, ids=[f"{service}.{field}" for service, field in NUMERIC])
def test_zero_or_below_is_refused_in_one_line_naming_the_variable(
    service: str,
    field: str,
    clean_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = CLASSES[service]
    variable = _variable(settings, field)
    value = "-1" if field in ZERO_MEANS else "0"
    monkeypatch.setenv(variable, value)

    with pytest.raises(SystemExit) as stopped:
        load_settings(settings)

    assert stopped.value.code == 1
    lines = capsys.readouterr().err.splitlines()
    named = variable if "KEY" in variable else f"{variable}='{value}'"  # a key's setting: named, its value not said
    assert len(lines) == 1 and lines[0].startswith(f"{named}: Input should be greater than"), lines


@pytest.mark.parametrize(("service", "field"), FLOORS, ids=[f"{service}.{field}" for service, field in FLOORS])
def test_a_polling_interval_below_its_floor_is_refused_and_the_floor_taken(
    service: str,
    field: str,
    clean_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = CLASSES[service]
    variable, floor = _variable(settings, field), FLOORS[service, field]
    monkeypatch.setenv(variable, "0.0001")

    with pytest.raises(SystemExit):
        load_settings(settings)

    assert capsys.readouterr().err.splitlines() == [
        f"{variable}='0.0001': Input should be greater than or equal to {floor}"
    ]
    monkeypatch.setenv(variable, str(floor))
    assert getattr(load_settings(settings), field) == floor


@pytest.mark.parametrize("service", CLASSES)
@pytest.mark.parametrize("port", ["0", "70000"])
def test_a_port_out_of_range_is_refused_before_the_bind(
    service: str,
    port: str,
    clean_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = CLASSES[service]
    variable = f"{settings.model_config.get('env_prefix')}PORT"
    monkeypatch.setenv(variable, port)

    with pytest.raises(SystemExit):
        load_settings(settings)

    assert capsys.readouterr().err.startswith(f"{variable}='{port}': Input should be")


@pytest.mark.parametrize(
    "settings", [*CLASSES.values(), ServiceSettings, KafkaGroupSession, KafkaSecurity], ids=lambda cls: cls.__name__
)
def test_no_traceback_prints_a_settings_input(settings: type[BaseSettings]) -> None:
    assert settings.model_config.get("hide_input_in_errors") is True


def test_the_projectors_credential_key_is_not_printed_when_its_settings_are_refused_together(
    clean_environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 1: a live projector on the Sandpit's database printed the end of its key-encryption key."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://lrs:DBPASSWORD@127.0.0.1:1/lrs_sandpit")
    monkeypatch.setenv("PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY", KEY)
    settings = CLASSES["plr-projector"]

    with pytest.raises(Exception) as refused:  # noqa: PT011 - what a bootstrap calling the class directly prints
        settings()
    with pytest.raises(SystemExit):
        load_settings(settings)

    printed = capsys.readouterr().err
    assert printed.splitlines() == [
        "live needs a database of its own, not the Sandpit's 'lrs_sandpit' (named '*sandpit*'): a Sandpit service"
        " sets LRS_ENVIRONMENT=sandpit"
    ]
    for said in (printed, str(refused.value)):
        assert KEY[-12:] not in said and "DBPASSWORD" not in said


@pytest.mark.parametrize(
    ("service", "variable", "value", "secret"),
    [
        ("notifier", "NOTIFIER_SMTP_PASSWORD", "SMTPPASS", "SMTPPASS"),
        ("portal", "PORTAL_SANDPIT_DATABASE_URL", "postgresql://portal:Xk29sPq7Lm@lrs-db-rw/lrs", "Xk29sPq7Lm"),
        ("plr-projector", "PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY", KEY, KEY[-12:]),
    ],
)
def test_a_secret_is_never_in_the_refusal(
    service: str,
    variable: str,
    value: str,
    secret: str,
    clean_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The secret set beside a setting refused (an interval of 0), and refused itself where it can be."""
    settings = CLASSES[service]
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv(f"{settings.model_config.get('env_prefix')}PORT", "0")

    with pytest.raises(Exception) as refused:  # noqa: PT011 - what a bootstrap calling the class directly prints
        settings()
    with pytest.raises(SystemExit):
        load_settings(settings)

    printed = capsys.readouterr().err
    assert secret not in printed and secret not in str(refused.value), printed
    assert f"{settings.model_config.get('env_prefix')}PORT='0': Input should be" in printed


def test_a_key_setting_refused_is_named_without_its_value(
    clean_environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv("LRS_KEYRING_WRAP_WITH", "secret-ish")

    with pytest.raises(SystemExit):
        load_settings(CLASSES["plr-projector"])

    assert capsys.readouterr().err.splitlines() == [
        "LRS_KEYRING_WRAP_WITH: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_a_service_stops_with_the_line_and_exit_status_1() -> None:
    """As Kubernetes runs it: the service's own command, its settings refused, no traceback."""
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "INGEST_PORT": "abc"}
    done = subprocess.run(
        [sys.executable, "-c", "from ingest.main import main; main()"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [
        "INGEST_PORT='abc': Input should be a valid integer, unable to parse string as an integer"
    ]
