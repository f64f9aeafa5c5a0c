"""The sample files are generated (`samples/generate.py`, "do not edit by hand"): the generator still runs, its
`--check` still finds every record's expected outcome, and what it writes is what is committed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_generator_writes_the_committed_samples_and_its_check_passes(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    shutil.copytree(ROOT / "reference", tmp_path / "reference")
    for written in (tmp_path / "samples").iterdir():
        if written.name != "generate.py":
            written.unlink()

    run = subprocess.run(
        [sys.executable, str(tmp_path / "samples" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    generated = sorted(path.name for path in (tmp_path / "samples").iterdir() if path.name != "generate.py")
    assert generated, "the generator wrote nothing"
    for name in generated:
        assert (tmp_path / "samples" / name).read_bytes() == (ROOT / "samples" / name).read_bytes(), name
