"""`lrs credentials`: a label is one line of text (the key store's `label_refusal`), refused with a usage error
before the database is asked, and the listing shows every stored label, principal and revoker on its own row as
written, whatever a label stored before the rule holds (door walk, finding 4: a label with a line break forged a
row of an access review; one with ESC sent the terminal its escapes)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lrs_cli.admin_commands import keys_table
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import StoredKey
from lrs_platform.identity import Principal, PrincipalKind

MADE = datetime(2026, 12, 6, 23, 36, tzinfo=UTC)
FORGED_ROW = "ok\n0000000000000000  operator:ghost              every                    6 Dec 2026, 23:29   fake row"


def test_a_stored_label_with_a_line_break_or_an_escape_cannot_forge_a_row_or_reach_the_terminal() -> None:
    keys = [
        StoredKey("1bbfa9e820784d73", Principal.parse("provider:10001234"), FORGED_ROW, MADE, None),
        StoredKey("9db54b840003ccf6", Principal.parse("operator:door"), "a\x1b[31mred", MADE, None),
        StoredKey("00112233aabbccdd", Principal.parse("ao:RN9093"), "sync \u202eevil", MADE, MADE, None, "x\ny"),
        # a principal the store holds from before DEL and C1 controls were refused (Principal.stored)
        StoredKey("feedfacefeedface", Principal(PrincipalKind.OPERATOR, "ops\x9b"), "old", MADE, None),
    ]

    table = keys_table(keys, 4)

    lines = table.splitlines()
    assert len(lines) == 5  # the heading and one row a key: no forged row
    assert [line.split()[0] for line in lines[1:]] == [key.key_id for key in keys]
    assert lines[1].endswith("ok[U+000A]0000000000000000  operator:ghost" + FORGED_ROW.partition("ghost")[2])
    assert lines[2].endswith("a[U+001B][31mred")
    assert lines[3].endswith("sync [U+202E]evil; revoked by x[U+000A]y")
    assert lines[4].split()[1] == "operator:ops[U+009B]"
    assert all(character.isprintable() for character in table.replace("\n", ""))


@pytest.mark.parametrize("action", ["create", "rotate"])
def test_lrs_credentials_refuses_a_label_that_is_not_one_line_before_the_database(
    action: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/lrs")  # nothing listens: never reached

    code = main(["credentials", action, "--principal", "provider:10001234", "--label", FORGED_ROW])

    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "--label: The label holds a line break (U+000A) at character 3" in " ".join(err.split())
    assert "Traceback" not in err
