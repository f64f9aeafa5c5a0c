"""What `make up`, `make test` and the scripts under scripts/infra leave on disk is for the user who ran them
alone (security review, finding 1): the keys in .run/env, the Maildir's reset links, the cluster's socket."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
OTHERS = stat.S_IRWXG | stat.S_IRWXO

pytestmark = pytest.mark.integration


def _open_to_others(work: Path) -> list[str]:
    """Everything under `work` a group member or another user could read, write or enter: mode and path."""
    found = []
    for path in [work, *work.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & OTHERS:
            found.append(f"{stat.filemode(mode)} {path.relative_to(work)}")
    return found


@pytest.mark.parametrize(
    "script", ["dev/up.sh", "dev/restart.sh", "dev/with-infra.sh", "infra/pg-start.sh", "infra/kafka-start.sh"]
)
def test_each_script_that_writes_run_files_closes_them_first(script: str) -> None:
    lines = (SCRIPTS / script).read_text().splitlines()
    umask = next((number for number, line in enumerate(lines) if re.match(r"umask 077\b", line)), None)
    writes = next(
        number for number, line in enumerate(lines) if re.search(r"\bmkdir\b|\bmktemp\b|>>? ?\"\$|\bnohup\b", line)
    )
    assert umask is not None and umask < writes, f"{script}: `umask 077` before line {writes + 1}"


def test_a_cluster_from_pg_start_is_its_owners_alone() -> None:
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not binaries:
        pytest.skip("no Debian PostgreSQL binaries here (pg-start.sh would install them)")
    psql = str(binaries[-1].parent / "psql")
    work = Path(tempfile.mkdtemp(prefix="lrs-test-pg-private."))
    started = subprocess.run(
        ["bash", str(SCRIPTS / "infra" / "pg-start.sh")],
        env={**os.environ, "PG_WORK": str(work)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        umask=0o022,  # a caller's usual umask: the script must not rely on a stricter one
    )
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        url = started.stdout.strip().splitlines()[-1]
        # still reached as before, over TCP on 127.0.0.1
        reached = subprocess.run(
            [psql, "-Atc", "SELECT current_database()", url], capture_output=True, text=True, timeout=60, check=False
        )
        assert reached.stdout.strip() == "lrs", reached.stderr
        (socket,) = work.glob(".s.PGSQL.*[0-9]")
        assert stat.S_ISSOCK(socket.lstat().st_mode)
        assert stat.S_IMODE(socket.lstat().st_mode) == 0o700
        assert _open_to_others(work) == []
    finally:
        subprocess.run(["bash", str(SCRIPTS / "infra" / "pg-stop.sh"), str(work)], check=False, timeout=120)
        shutil.rmtree(work, ignore_errors=True)
