"""`lrs credentials` meets the key store's limit on a label, as the portal's key form does (report parity, finding 2):
a longer `--label` is a usage error saying so before the database is asked (the portal cut it to 100 characters
unsaid; `lrs` kept it whole), and the label a key made without `--label` gets fits within it, however long the
machine's name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lrs_cli.admin_commands import made_here
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import MAX_LABEL_CHARACTERS, label_refusal

LONG = "MIS-integration-" + "x" * 120 + "-server-B-end"  # 149 characters


@pytest.mark.parametrize("action", ["create", "rotate"])
def test_a_label_over_the_limit_is_a_usage_error_before_the_database(
    action: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/lrs")  # nothing listens: never reached

    code = main(["credentials", action, "--principal", "provider:10001234", "--label", LONG])

    assert code == ExitCode.USAGE
    err = " ".join(capsys.readouterr().err.split())
    assert "--label: The label is 149 characters long: shorten it to 100 or fewer." in err
    assert "Traceback" not in err


def test_a_label_made_for_a_long_machine_name_stays_within_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "ubuntu")
    monkeypatch.setattr("socket.gethostname", lambda: "ip-10-0-12-34.eu-west-2.compute.internal.example.org")

    label = made_here(datetime(2026, 12, 4, 18, 5, tzinfo=UTC))

    assert len(label) == MAX_LABEL_CHARACTERS and label_refusal(label) is None
    assert label.startswith("made with lrs credentials by ubuntu on ip-10-0-12-34.eu-west-2")
    assert label.endswith("…, 2026-12-04 18:05 UTC")
