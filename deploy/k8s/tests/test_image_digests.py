"""Images pinned by digest: check-before-apply.sh warns naming each of this repository's images that the render pins
by tag only (a tag pushed again would run another build on the nodes that pull it), stays quiet once the site file
gives each its digest, and with LRS_REQUIRE_DIGESTS=1 refuses instead of warning."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy.k8s.tests.kube import K8S, containers, render_directory

CHECK = "check-before-apply.sh"
SITE = Path("overlays/prod/site/kustomization.yaml")
SERVICES = ("challenges", "ingest", "notifier", "plr-projector", "portal", "reporting", "validation")
DIGEST = "sha256:" + "0123456789abcdef" * 4


def check(manifests: Path, kustomization: str, **env: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("kubectl") is None and shutil.which("kustomize") is None:
        pytest.skip("neither kubectl nor kustomize is installed: the manifests cannot be rendered")
    return subprocess.run(
        ["bash", str(manifests / CHECK), kustomization],
        capture_output=True,
        text=True,
        check=False,
        cwd=manifests,
        env={**os.environ, **env},
    )


def filled_in(tmp_path: Path, *, digests: bool) -> Path:
    """A copy of the manifests whose site file an operator has filled in (with or without the images' digests)."""
    manifests = tmp_path / "k8s"
    for part in ("base", "jobs", "overlays"):
        shutil.copytree(K8S / part, manifests / part)
    shutil.copy2(K8S / CHECK, manifests / CHECK)
    site = (manifests / SITE).read_text()
    site = site.replace("registry.example.invalid", "registry.lrs.gov.test")
    site = site.replace("smtp.example.invalid", "relay.lrs.gov.test").replace("lrs.example", "lrs.gov.test")
    if digests:
        site, pinned = re.subn(r'(newTag: "[^"]+")\}', rf'\1, digest: "{DIGEST}"}}', site)
        assert pinned == len(SERVICES)
    (manifests / SITE).write_text(site)
    return manifests


def _named(stderr: str) -> set[str]:
    return {line.strip() for line in stderr.splitlines()[1:]}


def test_the_check_warns_naming_each_image_pinned_by_tag_only(tmp_path: Path) -> None:
    manifests = filled_in(tmp_path, digests=False)

    passed = check(manifests, "overlays/prod")

    assert passed.returncode == 0, passed.stderr
    assert passed.stderr.startswith("warning: overlays/prod pins these images by tag only")
    assert _named(passed.stderr) == {f"registry.lrs.gov.test/lrs/{service}:1.0.0" for service in SERVICES}
    rebuild = check(manifests, "overlays/prod/rebuild")
    assert rebuild.returncode == 0 and _named(rebuild.stderr) == {"registry.lrs.gov.test/lrs/plr-projector:1.0.0"}


def test_the_check_refuses_a_tag_only_image_when_digests_are_required(tmp_path: Path) -> None:
    refused = check(filled_in(tmp_path, digests=False), "overlays/prod", LRS_REQUIRE_DIGESTS="1")

    assert refused.returncode == 1
    assert refused.stderr.startswith("error: overlays/prod pins these images by tag only")
    assert len(_named(refused.stderr)) == len(SERVICES)


def test_digests_in_the_site_file_pin_every_container_and_silence_the_warning(tmp_path: Path) -> None:
    manifests = filled_in(tmp_path, digests=True)

    for kustomization in ("overlays/prod", "overlays/prod/rebuild"):
        passed = check(manifests, kustomization, LRS_REQUIRE_DIGESTS="1")
        assert passed.returncode == 0 and passed.stderr == "", passed.stderr
    images = {
        container["image"]
        for doc in render_directory(manifests / "overlays/prod")
        if doc["kind"] == "Deployment"
        for container in containers(doc)
    }
    assert {image.split("@", 1)[1] for image in images} == {DIGEST}
