"""Review 2, finding 9: `lrs credentials revoke --key-id` said back whatever it was given, so a whole API key pasted
when revoking a leaked one (`lrs_<id>_<secret>`) had its secret printed to the terminal or a CI log. A whole key is
refused naming the option and its id (no secret of it); a value longer than an id, or shaped as a key's start, is
refused without being quoted; a short wrong value is still quoted. The id's pattern is the key store's own."""

from __future__ import annotations

import inspect

import pytest

from lrs_cli import admin_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform import credential_store

KEY_ID = "0123456789abcdef"
SECRET = "s3cr3tV4lueThatMustNotBePrinted"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        pytest.param(f"lrs_{KEY_ID}_{SECRET}", "--key-id was given a whole API key, not its id", id="live key"),
        pytest.param(f"lrs_sbx_{KEY_ID}_{SECRET}", "--key-id was given a whole API key, not its id", id="sandpit key"),
        pytest.param(f"lrs_{KEY_ID}_{SECRET[:5]}", "--key-id was given a whole API key", id="key cut short"),
        pytest.param(f"{KEY_ID}{SECRET}", "--key-id is not a key id (its value is not printed", id="long value"),
        pytest.param("lrs_0123", "--key-id is not a key id (its value is not printed", id="start of a key"),
    ],
)
def test_a_value_that_may_hold_a_secret_is_not_said_back(
    given: str, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/lrs")  # nothing listens: never reached

    assert main(["credentials", "revoke", "--key-id", given]) == ExitCode.USAGE

    err = " ".join(capsys.readouterr().err.split())
    assert said in err
    assert given not in err and SECRET[:5] not in err


def test_a_whole_key_is_refused_naming_its_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/lrs")

    assert main(["credentials", "revoke", "--key-id", f"lrs_{KEY_ID}_{SECRET}"]) == ExitCode.USAGE

    assert f"Give its id, {KEY_ID}, as `lrs credentials list` shows it" in " ".join(capsys.readouterr().err.split())


def test_a_sandpit_key_is_said_with_the_sandpits_list(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/lrs")

    assert main(["credentials", "revoke", "--key-id", f"lrs_sbx_{KEY_ID}_{SECRET}"]) == ExitCode.USAGE

    said = " ".join(capsys.readouterr().err.split())
    assert f"Give its id, {KEY_ID}, as `lrs --sandpit credentials list` shows it" in said


def test_a_short_wrong_value_is_still_quoted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/lrs")

    assert main(["credentials", "revoke", "--key-id", "not-a-key"]) == ExitCode.USAGE

    assert "--key-id 'not-a-key' is not a key id" in " ".join(capsys.readouterr().err.split())


def test_the_key_id_pattern_is_the_key_stores() -> None:
    """Imported, not copied: `re` caches compiled patterns, so a copy would be the same object; its text is looked for."""
    assert vars(admin_commands)["KEY_ID"] is credential_store.KEY_ID
    assert credential_store.KEY_ID.pattern not in inspect.getsource(admin_commands)
