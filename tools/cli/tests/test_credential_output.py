"""`lrs credentials create|rotate --output FILE`: a file that cannot be written is refused before any key is made
or revoked (a rotation must never lock a caller out), and the key is written whole, readable by its owner only."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lrs_cli.admin_commands import _KeyFile, credentials, made_here
from lrs_cli.client import UsageError


@pytest.mark.parametrize("action", ["create", "rotate"])
def test_an_output_under_a_file_is_refused_before_any_key_is_made_or_revoked(
    action: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)  # were the store reached, this would fail otherwise
    old_key = tmp_path / "operator.key"
    old_key.write_text("lrs_old\n")

    with pytest.raises(UsageError, match=r"cannot be written .*no key was created or revoked"):
        credentials(action, "operator:night-shift", None, str(old_key / "new.key"))

    assert sorted(path.name for path in tmp_path.iterdir()) == ["operator.key"]


def test_the_key_replaces_the_file_whole_and_only_its_owner_reads_it(tmp_path: Path) -> None:
    target = tmp_path / "keys" / "ao.key"
    key_file = _KeyFile.beside(target)
    key_file.keep("lrs_new")

    assert target.read_text() == "lrs_new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [path.name for path in target.parent.iterdir()] == ["ao.key"]


def test_a_key_not_made_leaves_the_output_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "ao.key"
    target.write_text("lrs_in_use\n")
    _KeyFile.beside(target).discard()

    assert target.read_text() == "lrs_in_use\n"
    assert [path.name for path in tmp_path.iterdir()] == ["ao.key"]


def test_a_key_made_without_a_label_says_who_made_it_where_and_when(monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity store keeps no author of its own: operations.md says the label tells."""
    monkeypatch.setattr("getpass.getuser", lambda: "night-shift")
    monkeypatch.setattr("socket.gethostname", lambda: "ops-box")

    label = made_here(datetime(2026, 12, 4, 18, 5, tzinfo=UTC))

    assert label == "made with lrs credentials by night-shift on ops-box, 2026-12-04 18:05 UTC"
