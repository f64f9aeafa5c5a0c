"""Under `make up` the Sandpit's PLR projector seals its credential signing keys under a key-encryption key of its own,
never live's (report "sandpit", finding 5): up.sh makes one for each, and services.sh gives the Sandpit's to the
Sandpit's projector. A `.run/env` written before there was one still starts it, with live's as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAKE = f"""#!{sys.executable}
import os, sys
with open(os.environ["FAKE_OUT"], "w") as out:
    out.write(os.environ.get("PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY", ""))
"""


def _started_with(tmp_path: Path, name: str, **env: str) -> str:
    """The key-encryption key services.sh's start_service gives `name`, in a layout whose programs are fakes."""
    root = tmp_path / name
    (root / ".venv" / "bin").mkdir(parents=True)
    for directory in ("logs", "pids"):
        (root / ".run" / directory).mkdir(parents=True)
    program = root / ".venv" / "bin" / f"lrs-{name.removeprefix('sandpit-')}"
    program.write_text(FAKE)
    program.chmod(0o755)
    out = root / "kek"
    script = (
        f'run="{root}/.run"; source "{ROOT}/scripts/dev/services.sh"; start_service {name}; wait'  # its background job
    )
    base = {
        "PATH": "/usr/bin:/bin",
        "FAKE_OUT": str(out),
        "LRS_PORTAL_URL": "http://127.0.0.1:1",
        "LRS_SANDPIT_PLR_PROJECTOR_URL": "http://127.0.0.1:2",
        "DATABASE_URL": "postgresql://postgres@live.invalid/lrs",
        "LRS_SANDPIT_DATABASE_URL": "postgresql://postgres@sandpit.invalid/lrs_sandpit",
    }
    subprocess.run(["bash", "-c", script], cwd=root, env={**base, **env}, check=True, timeout=30)
    return out.read_text()


def test_the_sandpit_projector_gets_its_own_key_encryption_key(tmp_path: Path) -> None:
    keys = {
        "PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY": "live-kek",
        "LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY": "sandpit-kek",
    }

    assert _started_with(tmp_path, "sandpit-plr-projector", **keys) == "sandpit-kek"
    assert _started_with(tmp_path, "plr-projector", **keys) == "live-kek"
    # a .run/env from before this change: the Sandpit's projector keeps the key its stored keys are sealed under
    older = _started_with(
        tmp_path / "older", "sandpit-plr-projector", PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY="live-kek"
    )
    assert older == "live-kek"


def test_make_up_makes_a_key_encryption_key_for_each_environment() -> None:
    up = (ROOT / "scripts" / "dev" / "up.sh").read_text()
    assert 'echo "export PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)"' in up
    assert 'echo "export LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)"' in up
