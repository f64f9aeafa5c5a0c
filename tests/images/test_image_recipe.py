"""How the images are made, checked without building one (podman faked where needed), and the images built from
this tree checked where they exist: the local Debian base takes bookworm-security and is built again when old; uv
is installed only with the hashes services/uv-requirements.txt pins; the runtime holds no pip to install with; the
revision label says when the tree had uncommitted changes; `make sbom` lists the vendored assets."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "scripts" / "images"
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
SHELL = ["--entrypoint", "/bin/sh"]
DAY = 86400


def _bash(script: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )


# --- the revision label ------------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _revision(repo: Path) -> str:
    return _bash(f'source "{IMAGES}/common.sh" && image_revision "{repo}"', repo).stdout.strip()


def test_the_revision_label_marks_a_tree_with_uncommitted_changes_to_what_the_image_holds(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "services" / "x" / "tests").mkdir(parents=True)
    (repo / "services" / "x" / "code.py").write_text("A = 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t.test", "commit", "-q", "-m", "one")
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert _revision(repo) == commit
    (repo / "services" / "x" / "tests" / "test_x.py").write_text("")  # tests are not in the image
    (repo / "notes.txt").write_text("")  # nor is what lies outside the image's sources
    assert _revision(repo) == commit
    (repo / "services" / "x" / "new.py").write_text("")  # a new file the image would hold
    assert _revision(repo) == f"{commit}-dirty"
    (repo / "services" / "x" / "new.py").unlink()
    (repo / "services" / "x" / "code.py").write_text("A = 2\n")
    assert _revision(repo) == f"{commit}-dirty"


# --- the local Debian base ---------------------------------------------------------------------------------------

FAKE_PODMAN = """#!/usr/bin/env bash
# Stands in for podman: no registry, the debootstrap image present, the Python base created at $FAKE_CREATED, the
# public one pulled before only when $FAKE_PUBLIC_CREATED says when it was made.
echo "$*" >>"$FAKE_LOG"
args=" $* "
case "$args" in
  *" image exists "*docker.io*) [ -n "$FAKE_PUBLIC_CREATED" ] ;;
  *" image inspect "*docker.io*) echo "$FAKE_PUBLIC_CREATED" ;;
  *" pull "*) exit 1 ;;
  *" image exists "*lrs-base/python*) [ -n "$FAKE_CREATED" ] ;;
  *" image exists "*) exit 0 ;;
  *" image inspect "*) echo "$FAKE_CREATED" ;;
  *" build "*) cat >"$FAKE_CONTAINERFILE" ;;
esac
"""


def _base_image(tmp_path: Path, created: int | None, public_created: int | None = None) -> tuple[str, str, str]:
    ran, log, containerfile = _run_base_image(tmp_path, created, public_created)
    return ran.stdout.strip(), log, containerfile


def _run_base_image(
    tmp_path: Path, created: int | None, public_created: int | None = None
) -> tuple[subprocess.CompletedProcess[str], str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "podman").write_text(FAKE_PODMAN)
    (bin_dir / "podman").chmod(0o755)
    log, containerfile = tmp_path / "podman.log", tmp_path / "Containerfile"
    log.write_text("")
    containerfile.write_text("")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LOG": str(log),
        "FAKE_CONTAINERFILE": str(containerfile),
        "FAKE_CREATED": "" if created is None else str(created),
        "FAKE_PUBLIC_CREATED": "" if public_created is None else str(public_created),
        "DEBIAN_MIRROR": "http://mirror.test/debian",
        "DEBIAN_SECURITY_MIRROR": "http://mirror.test/debian-security",
    }
    ran = _bash(f'bash "{IMAGES}/base-image.sh"', tmp_path, env)
    assert ran.returncode == 0, ran.stderr
    return ran, log.read_text(), containerfile.read_text()


def test_the_local_base_takes_the_security_and_updates_suites_and_upgrades(tmp_path: Path) -> None:
    image, log, containerfile = _base_image(tmp_path, created=None)

    assert image.startswith("localhost/lrs-base/python:")
    assert " build " in log and "--no-cache" in log  # a cached upgrade would bring nothing new
    assert "deb http://mirror.test/debian bookworm main" in containerfile
    assert "deb http://mirror.test/debian bookworm-updates main" in containerfile
    assert "deb http://mirror.test/debian-security bookworm-security main" in containerfile
    assert "apt-get upgrade -y" in containerfile
    assert containerfile.index("bookworm-security") < containerfile.index("apt-get update")


def test_the_local_base_is_built_again_once_a_week_old_and_reused_before(tmp_path: Path) -> None:
    _, fresh, _ = _base_image(tmp_path, created=int(time.time()) - 6 * DAY)
    assert " build " not in fresh

    _, old, containerfile = _base_image(tmp_path, created=int(time.time()) - 8 * DAY)
    assert " build " in old and "bookworm-security" in containerfile


def test_a_public_base_that_could_not_be_pulled_again_is_used_with_a_warning_giving_its_age(tmp_path: Path) -> None:
    ran, log, _ = _run_base_image(tmp_path, created=None, public_created=int(time.time()) - 10 * DAY)

    assert ran.stdout.strip() == "docker.io/library/python:3.11-slim-bookworm"
    assert " pull " in log and " build " not in log
    assert (
        "warning: docker.io/library/python:3.11-slim-bookworm could not be pulled again: the 10-day-old one is used"
        in ran.stderr
    )


# --- uv, by hash -------------------------------------------------------------------------------------------------

UV_REQUIREMENTS = ROOT / "services" / "uv-requirements.txt"


def test_uv_is_installed_only_with_the_hashes_of_its_requirements_file() -> None:
    [requirement] = [line for line in UV_REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")]
    assert re.fullmatch(r"uv==\d+\.\d+\.\d+( --hash=sha256:[0-9a-f]{64})+", requirement)
    dockerfile = (ROOT / "services" / "Dockerfile").read_text()
    assert "COPY services/uv-requirements.txt /tmp/uv-requirements.txt" in dockerfile
    assert re.search(r"pip install [^\n]*--require-hashes \\\n\s+-r /tmp/uv-requirements.txt", dockerfile)
    assert "uv==" not in dockerfile
    bootstrap = (ROOT / "scripts" / "dev" / "bootstrap.sh").read_text()
    assert "--require-hashes -r services/uv-requirements.txt" in bootstrap and '"uv==' not in bootstrap


def test_pip_refuses_a_uv_wheel_whose_hash_the_requirements_file_does_not_name(tmp_path: Path) -> None:
    version = re.search(r"^uv==(\S+)", UV_REQUIREMENTS.read_text(), re.MULTILINE)
    assert version
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    dist_info = f"uv-{version[1]}.dist-info"
    with zipfile.ZipFile(wheels / f"uv-{version[1]}-py3-none-any.whl", "w") as wheel:  # a stand-in, not uv's
        wheel.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: uv\nVersion: {version[1]}\n")
        wheel.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{dist_info}/RECORD", "")

    python = shutil.which("python3") or sys.executable  # as scripts/dev/bootstrap.sh runs it
    hashed = ["--require-hashes", "-r", str(UV_REQUIREMENTS)]
    installed = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            str(wheels),
            "--target",
            str(tmp_path / "t"),
            *hashed,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
    )

    if "No module named pip" in installed.stderr:
        pytest.skip("this interpreter has no pip")
    assert installed.returncode != 0
    assert "DO NOT MATCH THE HASHES" in installed.stderr
    assert not (tmp_path / "t" / dist_info).exists()


# --- the runtime has no pip to install with ----------------------------------------------------------------------


def test_the_runtime_stage_purges_the_local_bases_venv_and_pip_wheels() -> None:
    dockerfile = (ROOT / "services" / "Dockerfile").read_text()
    runtime = dockerfile[dockerfile.index("AS runtime") :]
    assert "dpkg --purge python3.11-venv python3-pip-whl python3-setuptools-whl" in runtime


def _built_from_this_tree() -> list[str]:
    if shutil.which("podman") is None:
        return []
    digest = _bash(f'source "{IMAGES}/common.sh" && source_digest "{ROOT}"', ROOT).stdout.strip()
    services = sorted(main.parts[-4] for main in (ROOT / "services").glob("*/src/*/main.py"))
    label = '{{index .Labels "lrs.source-digest"}}'
    built = []
    for service in services:
        inspected = subprocess.run(
            [*PODMAN, "image", "inspect", "--format", label, f"localhost/lrs/{service}:dev"],
            capture_output=True,
            text=True,
            check=False,
        )
        if inspected.returncode == 0 and inspected.stdout.strip() == digest:
            built.append(service)
    return built


@pytest.mark.parametrize("service", _built_from_this_tree() or [pytest.param("none", marks=pytest.mark.skip)])
def test_an_image_built_from_this_tree_has_no_pip_and_a_true_revision(service: str) -> None:
    """Skipped unless `make images` (or build.sh SERVICE) built the image from this tree's code."""
    image = f"localhost/lrs/{service}:dev"
    probe = (
        "/usr/bin/python3.11 -m venv /tmp/v >/dev/null 2>&1; test ! -e /tmp/v/bin/pip && echo no-pip; "
        "python3.11 -m pip --version >/dev/null 2>&1 || echo no-pip-module; "
        "if [ -f /etc/debian_version ] && [ ! -d /usr/local/lib/python3.11 ]; then cat /etc/apt/sources.list; fi"
    )
    ran = subprocess.run(
        [
            *PODMAN,
            "run",
            "--rm",
            *LIMITS,
            "--network=none",
            "--read-only",
            "--tmpfs",
            "/tmp",
            *SHELL,
            image,
            "-c",
            probe,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert "no-pip\n" in ran.stdout and "no-pip-module\n" in ran.stdout
    if "deb " in ran.stdout:  # the local Debian base, not the public image
        assert "bookworm-security main" in ran.stdout and "bookworm-updates main" in ran.stdout
    label = '{{index .Labels "org.opencontainers.image.revision"}}'
    revision = subprocess.run(
        [*PODMAN, "image", "inspect", "--format", label, image], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert revision == _revision(ROOT)


# --- make sbom ---------------------------------------------------------------------------------------------------


def _sbom_module() -> object:
    sys.path.insert(0, str(IMAGES))
    try:
        import sbom

        return sbom
    finally:
        sys.path.remove(str(IMAGES))


def test_the_hand_kept_vendored_list_says_what_the_vendor_readmes_say() -> None:
    vendored = json.loads((IMAGES / "vendored-components.json").read_text())["components"]
    for entry in vendored:
        source = (ROOT / entry["source"]).read_text()
        if entry["type"] == "library":
            row = next(line for line in source.splitlines() if line.startswith("|") and entry["name"] in line)
            assert entry["version"] in row and entry["licence"] in row, (entry["name"], row)
        else:
            assert entry["version"] in source and "Open Government Licence v3.0" in source


def test_make_sbom_writes_each_images_python_packages_and_the_vendored_assets_it_ships(tmp_path: Path) -> None:
    if shutil.which("uv") is None:
        pytest.skip("uv is not installed")
    sbom = _sbom_module()
    sbom.main(["notifier", "portal"], out=tmp_path)  # type: ignore[attr-defined]

    documents = {path.name: json.loads(path.read_text()) for path in tmp_path.iterdir()}
    assert set(documents) == {"notifier.cdx.json", "portal.cdx.json"}
    names = {name: {c["name"]: c for c in document["components"]} for name, document in documents.items()}
    portal, notifier = names["portal.cdx.json"], names["notifier.cdx.json"]
    assert documents["portal.cdx.json"]["specVersion"] == "1.5"
    assert {"jinja2", "argon2-cffi", "lrs-platform"} <= set(portal)
    assert "pytest" not in portal and "ruff" not in portal  # --no-dev
    assert portal["govuk-frontend"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert {"swagger-ui-dist", "redoc", "ofqual-approved-qualifications"} <= set(portal) & set(notifier)
    assert "govuk-frontend" not in notifier and "axe-core" not in portal  # axe-core is test-only
